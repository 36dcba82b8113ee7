// tus-js-client (npm) uploads a file to a node's resumable endpoint, retrying through cuts.
// Usage: node tus.mjs ENDPOINT TOKEN FILE PROTOCOL(tus-v1|ietf-draft-03|ietf-draft-05)
// Prints one JSON line: {"url": …, "mediaId": …, "retries": n}.
import fs from 'node:fs'
import * as tus from 'tus-js-client'

const [endpoint, token, path, protocol] = process.argv.slice(2)
const size = fs.statSync(path).size
let retries = 0
const result = await new Promise((resolve, reject) => {
  const upload = new tus.Upload(fs.createReadStream(path), {
    endpoint,
    protocol,
    uploadSize: size,
    chunkSize: 8 * 1024 * 1024,
    headers: { Authorization: `Bearer ${token}` },
    metadata: { filename: 'phone-video.bin', filetype: 'application/octet-stream' },
    // A phone retries for as long as it takes the node to come back.
    retryDelays: [0, 250, 500, 1000, 1000, 2000, 2000, 3000, 3000, 5000, 5000, 5000, 5000],
    onShouldRetry: (err) => {
      retries += 1
      const status = err.originalResponse ? err.originalResponse.getStatus() : 0
      return status === 0 || status >= 500 || status === 409 || status === 423
    },
    onSuccess: (payload) => {
      resolve({
        url: upload.url,
        mediaId: payload?.lastResponse?.getHeader('Media-Id') ?? null,
        retries,
      })
    },
    onError: reject,
  })
  upload.start()
})
console.log(JSON.stringify(result))
