// Prints, for each file path given, one line "PATH CID" with the CID that Helia's
// @helia/unixfs gives the file's bytes with default options. Blocks are discarded: only the
// CIDs matter here. With HELIA_ADD_BYTES=1 the file is read whole and given to `addBytes`
// (the benchmark's reference) and the line ends with the milliseconds addBytes took;
// otherwise it is streamed to `addByteStream` (same defaults, bounded memory).
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { unixfs } from '@helia/unixfs'

const discard = {
  put: async (cid) => cid,
  has: async () => false,
  get: async () => { throw new Error('discarding blockstore') }
}
const fs = unixfs({ blockstore: discard })
for (const path of process.argv.slice(2)) {
  if (process.env.HELIA_ADD_BYTES === '1') {
    const bytes = await readFile(path)
    const started = performance.now()
    const cid = await fs.addBytes(bytes)
    console.log(`${path} ${cid.toString()} ${(performance.now() - started).toFixed(1)}`)
  } else {
    const stream = createReadStream(path, { highWaterMark: 1 << 20 })
    const cid = await fs.addByteStream(stream)
    console.log(`${path} ${cid.toString()}`)
  }
}
