// Headless Chromium (Debian's, driven by playwright-core) on a page whose origin is not any
// store's: it reads one node's media the ways browsers do and prints one JSON line.
//   node browser.mjs CONFIG.json
// CONFIG: { urls: {name: url}, sha256, size, magnet, gateway, cid, video: {url, size} }
//   fetch:       fetch() with Range, then whole, from each URL (S3 public read, gateway, Blossom)
//   webtorrent:  the stock WebTorrent browser bundle downloads the magnet through xs= and ws=
//   verified:    @helia/verified-fetch's browser bundle reads the CID from our gateway
//   video:       a <video crossorigin> plays the MP4 by Range, then seeks to the middle; a
//                counting proxy on a third origin tells how many bytes each phase cost
// Bundles are served by the page's own origin from node_modules (no CDN, works offline).
import { chromium } from 'playwright-core'
import http from 'node:http'
import { readFileSync } from 'node:fs'

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const modules = new URL('./node_modules/', import.meta.url)
const bundles = {
  '/webtorrent.min.js': 'webtorrent/dist/webtorrent.min.js',
  '/helia.js': 'helia/dist/index.min.js',
  '/gateway-client.js': '@helia/trustless-gateway-client/dist/index.min.js',
  '/fallback-router.js': '@helia/fallback-router/dist/index.min.js',
  '/verified-fetch.js': '@helia/verified-fetch/dist/index.min.js'
}
const deadline = setTimeout(() => { console.error('browser test timed out'); process.exit(3) }, 240000)

function listen (server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)))
}

const page = http.createServer((req, res) => {
  const bundle = bundles[req.url]
  if (bundle) {
    res.writeHead(200, { 'content-type': 'text/javascript' })
    res.end(readFileSync(new URL(bundle, modules)))
    return
  }
  res.writeHead(200, { 'content-type': 'text/html' })
  res.end('<!doctype html><html><body><video id="v" crossorigin="anonymous" muted playsinline preload="auto"></video></body></html>')
})
const pageUrl = await listen(page)

// The video goes through a proxy that counts the bytes it hands the browser, at most
// PROXY_RATE bytes per second (a phone's link; on loopback the browser would have buffered
// the whole clip before any seek); the store's own headers (CORS included) pass through.
const PROXY_RATE = 4e6
let videoBytes = 0
const videoRanges = []
const proxy = http.createServer((req, res) => {
  const headers = {}
  for (const h of ['range', 'origin', 'if-range']) if (req.headers[h]) headers[h] = req.headers[h]
  if (req.headers.range) videoRanges.push(req.headers.range)
  const upstream = http.request(cfg.video.url, { method: req.method, headers }, (up) => {
    res.writeHead(up.statusCode, up.headers)
    up.on('data', (d) => {
      videoBytes += d.length
      res.write(d)
      up.pause()
      setTimeout(() => up.resume(), (d.length / PROXY_RATE) * 1000)
    })
    up.on('end', () => res.end())
  })
  upstream.on('error', () => res.destroy())
  res.on('close', () => upstream.destroy())
  upstream.end()
})
const proxyUrl = await listen(proxy)

const browser = await chromium.launch({
  executablePath: process.env.MEDIA_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required']
})
const result = { pageOrigin: pageUrl }
try {
  const tab = await browser.newPage()
  tab.on('console', (m) => console.error('page:', m.text()))
  tab.on('pageerror', (e) => console.error('page error:', e.message))
  await tab.goto(pageUrl)
  await tab.evaluate(() => {
    window.sha256 = async (buf) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))]
      .map((b) => b.toString(16).padStart(2, '0')).join('')
  })

  result.fetch = await tab.evaluate(async (urls) => {
    const out = {}
    for (const [name, url] of Object.entries(urls)) {
      try {
        const part = await fetch(url, { headers: { Range: 'bytes=100-199' } })
        const partBytes = await part.arrayBuffer()
        const whole = await fetch(url)
        out[name] = {
          partStatus: part.status,
          partLength: partBytes.byteLength,
          contentRange: part.headers.get('content-range'),
          sha256: await window.sha256(await whole.arrayBuffer())
        }
      } catch (e) {
        out[name] = { error: String(e) }
      }
    }
    return out
  }, cfg.urls)

  result.webtorrent = await tab.evaluate(async (magnet) => {
    try {
      const { default: WebTorrent } = await import('/webtorrent.min.js')
      const client = new WebTorrent({ dht: false, tracker: false })
      return await new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ error: 'timed out' }), 90000)
        client.on('error', (e) => resolve({ error: String(e) }))
        client.add(magnet, { announce: [] }, (torrent) => {
          const finish = async () => {
            clearTimeout(timer)
            const file = torrent.files[0]
            const buf = await file.arrayBuffer()
            resolve({
              sha256: await window.sha256(buf),
              length: buf.byteLength,
              webSeeds: torrent.wires.filter((w) => w.type === 'webSeed').length,
              peers: torrent.wires.filter((w) => w.type !== 'webSeed').length
            })
          }
          if (torrent.done) finish(); else torrent.on('done', finish)
        })
      })
    } catch (e) {
      return { error: String(e) }
    }
  }, cfg.magnet)

  for (const src of ['/helia.js', '/gateway-client.js', '/fallback-router.js', '/verified-fetch.js']) {
    await tab.addScriptTag({ url: src })
  }
  result.verified = await tab.evaluate(async ({ gateway, cid }) => {
    try {
      // Only our gateway: no delegated routing, no libp2p; Helia waits for its non-fallback
      // routers before asking fallback ones, so it gets one that finds nothing.
      const noopRouter = { name: 'offline-noop', async * findProviders () {} }
      const helia = await window.Helia.createHeliaLight({
        blockBrokers: [window.HeliaTrustlessGatewayClient.trustlessGatewayBlockBroker({ allowInsecure: true, allowLocal: true })],
        routers: [noopRouter, window.HeliaFallbackRouter.fallbackRouter({ gateways: [gateway] })]
      })
      await helia.start()
      const verifiedFetch = await window.HeliaVerifiedFetch.createVerifiedFetch(helia)
      const response = await verifiedFetch(`ipfs://${cid}`, { signal: AbortSignal.timeout(60000) })
      const buf = await response.arrayBuffer()
      await helia.stop()
      return { status: response.status, sha256: await window.sha256(buf), length: buf.byteLength }
    } catch (e) {
      return { error: String(e) }
    }
  }, { gateway: cfg.gateway, cid: cfg.cid })

  // Video: play from the start, then seek to the middle.
  result.video = await tab.evaluate(async (src) => {
    const v = document.getElementById('v')
    const once = (name) => new Promise((resolve, reject) => {
      v.addEventListener(name, resolve, { once: true })
      v.addEventListener('error', () => reject(new Error(`media error ${v.error && v.error.code}`)), { once: true })
    })
    try {
      v.src = src
      await once('loadedmetadata')
      const playing = once('playing')
      await v.play()
      await playing
      while (v.currentTime < 0.5) await new Promise((resolve) => setTimeout(resolve, 50))
      v.pause()
      return { duration: v.duration, width: v.videoWidth, height: v.videoHeight, started: v.currentTime }
    } catch (e) {
      return { error: String(e) }
    }
  }, `${proxyUrl}/video.mp4`)
  if (!result.video.error) {
    // Let the first phase's requests settle, then count what the seek costs.
    await new Promise((resolve) => setTimeout(resolve, 500))
    result.video.startBytes = videoBytes
    const before = videoBytes
    const seek = await tab.evaluate(async () => {
      const v = document.getElementById('v')
      const target = v.duration / 2
      const seeked = new Promise((resolve) => v.addEventListener('seeked', resolve, { once: true }))
      v.currentTime = target
      await seeked
      const playing = new Promise((resolve) => v.addEventListener('playing', resolve, { once: true }))
      await v.play()
      await playing
      while (v.currentTime < target + 0.5) await new Promise((resolve) => setTimeout(resolve, 50))
      v.pause()
      return { seekedTo: target, at: v.currentTime }
    })
    Object.assign(result.video, seek)
    result.video.seekBytes = videoBytes - before
    result.video.ranges = videoRanges
  }
  await tab.screenshot({ path: process.argv[3] || 'browser.png' })
} finally {
  await browser.close()
  page.close()
  proxy.close()
  clearTimeout(deadline)
}
console.log(JSON.stringify(result))
process.exit(0)
