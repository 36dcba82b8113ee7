// A real Helia node (helia's createHeliaLight), offline, fetches CIDs from one trustless gateway through
// its trustless-gateway block broker, then @helia/verified-fetch reads them as file bytes,
// as raw blocks and as a CAR. Prints one JSON line per CID with the SHA-256 of what came back.
// usage: node helia_fetch.mjs GATEWAY_URL CID...
import { createHash } from 'node:crypto'
import { createHeliaLight } from 'helia'
import { trustlessGatewayBlockBroker } from '@helia/trustless-gateway-client'
import { fallbackRouter } from '@helia/fallback-router'
import { unixfs } from '@helia/unixfs'
import { createVerifiedFetch } from '@helia/verified-fetch'

const [gateway, ...cids] = process.argv.slice(2)
// Only our gateway: no delegated routing, no libp2p, nothing beyond 127.0.0.1. Helia waits
// for its non-fallback routers before asking fallback ones, so an offline node needs one
// router that finds nothing.
const noopRouter = {
  name: 'offline-noop',
  async * findProviders () {}
}
const helia = await createHeliaLight({
  blockBrokers: [trustlessGatewayBlockBroker({ allowInsecure: true, allowLocal: true })],
  routers: [noopRouter, fallbackRouter({ gateways: [gateway] })]
})
await helia.start()
const fs = unixfs(helia)
const verifiedFetch = await createVerifiedFetch(helia)
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')

try {
  for (const text of cids) {
    const { CID } = await import('multiformats/cid')
    const cid = CID.parse(text)
    const hash = createHash('sha256')
    let size = 0
    for await (const chunk of fs.cat(cid, { signal: AbortSignal.timeout(60000) })) {
      hash.update(chunk)
      size += chunk.length
    }
    const file = await verifiedFetch(`ipfs://${text}`, { signal: AbortSignal.timeout(60000) })
    const fileBytes = new Uint8Array(await file.arrayBuffer())
    const raw = await verifiedFetch(`ipfs://${text}`, { headers: { accept: 'application/vnd.ipld.raw' }, signal: AbortSignal.timeout(60000) })
    const rawBytes = new Uint8Array(await raw.arrayBuffer())
    const car = await verifiedFetch(`ipfs://${text}`, { headers: { accept: 'application/vnd.ipld.car' }, signal: AbortSignal.timeout(60000) })
    const carBytes = new Uint8Array(await car.arrayBuffer())
    console.log(JSON.stringify({
      cid: text,
      size,
      cat_sha256: hash.digest('hex'),
      fetch_status: file.status,
      fetch_sha256: sha256(fileBytes),
      raw_status: raw.status,
      raw_sha256: sha256(rawBytes),
      car_status: car.status,
      car_content_type: car.headers.get('content-type'),
      car_bytes: carBytes.length
    }))
  }
} finally {
  await verifiedFetch.stop()
  await helia.stop()
}
