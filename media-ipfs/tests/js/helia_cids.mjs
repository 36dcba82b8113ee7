// Prints, for each file path given, one line "PATH CID" with the CID that Helia's
// @helia/unixfs `addByteStream` (same defaults as `addBytes`) gives the file's bytes.
// Blocks are discarded: only the CIDs matter here.
import { createReadStream } from 'node:fs'
import { unixfs } from '@helia/unixfs'

const discard = {
  put: async (cid) => cid,
  has: async () => false,
  get: async () => { throw new Error('discarding blockstore') }
}
const fs = unixfs({ blockstore: discard })
for (const path of process.argv.slice(2)) {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 })
  const cid = await fs.addByteStream(stream)
  console.log(`${path} ${cid.toString()}`)
}
