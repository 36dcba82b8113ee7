// WebTorrent (npm `webtorrent`) against our seeder, offline: no DHT, no LSD, no NAT mapping.
//   download MAGNET OUTDIR [PEER]  fetch a magnet (x.pe, tr and ws are honoured), print JSON
//                                  {sha256, length} of the file when done
//   seed FILE [TRACKER]            seed FILE, print JSON {magnet, infoHash, port} once ready,
//                                  keep seeding until stdin closes
// Options via env: WT_SECURE (0 = plain, default 0: librqbit drops MSE/PE), WT_PEERS=0 to
// refuse every peer connection (a stock client that can only use web seeds).
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import WebTorrent from 'webtorrent'

const [mode, ...args] = process.argv.slice(2)
const client = new WebTorrent({
  dht: false,
  lsd: false,
  natUpnp: false,
  natPmp: false,
  utp: false,
  secure: Number(process.env.WT_SECURE ?? 0),
  tracker: {}
})
client.on('error', (err) => { console.error('webtorrent error:', err.message); process.exit(2) })
const deadline = setTimeout(() => { console.error('webtorrent: timed out'); process.exit(3) }, 120000)

function sha256File (path) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject)
  })
}

if (mode === 'download') {
  const [magnet, out, peer] = args
  const torrent = client.add(magnet, { path: out, announce: [] })
  torrent.on('error', (err) => { console.error('torrent error:', err.message); process.exit(2) })
  if (process.env.WT_PEERS === '0') {
    // Refuse every peer: only the web seed can deliver.
    torrent.on('wire', (wire) => wire.destroy())
    torrent._addPeer = () => null
  } else if (peer) {
    torrent.on('infoHash', () => torrent.addPeer(peer))
  }
  torrent.on('done', async () => {
    const file = torrent.files[0]
    const sha256 = await sha256File(`${out}/${file.path}`)
    console.log(JSON.stringify({ sha256, length: file.length, webSeedBytes: torrent.wires.filter(w => w.type === 'webSeed').reduce((n, w) => n + w.downloaded, 0) }))
    clearTimeout(deadline)
    client.destroy(() => process.exit(0))
  })
} else if (mode === 'seed') {
  const [file, tracker] = args
  client.seed(file, { announce: tracker ? [tracker] : [], private: false }, (torrent) => {
    const port = client.address().port
    console.log(JSON.stringify({ magnet: torrent.magnetURI, infoHash: torrent.infoHash, port }))
    clearTimeout(deadline)
  })
  process.stdin.resume()
  process.stdin.on('end', () => client.destroy(() => process.exit(0)))
} else {
  console.error('usage: webtorrent.mjs download MAGNET OUTDIR [PEER] | seed FILE [TRACKER]')
  process.exit(64)
}
