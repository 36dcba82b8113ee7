// Time to first frame in headless Chromium (Debian's, driven by playwright-core) of two URLs
// of the same video: as-is and faststart. Each goes through its own proxy that passes at most
// RATE bytes/s and answers each request RTT ms late (a phone's link), and counts what the
// browser took. Each run opens a fresh
// browser context (no cache) with `<video muted preload=auto>` and times `src` → `loadeddata`
// (the first frame decoded). Runs alternate between the two. Prints one JSON line.
//   node ttff.mjs CONFIG.json      CONFIG: { asIs, faststart, rate, rtt, runs }
import { chromium } from 'playwright-core'
import http from 'node:http'
import { readFileSync } from 'node:fs'

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const deadline = setTimeout(() => { console.error('ttff timed out'); process.exit(3) }, 900000)

function listen (server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)))
}

function throttledProxy (target, counter) {
  return http.createServer((req, res) => {
    const headers = {}
    for (const h of ['range', 'if-range']) if (req.headers[h]) headers[h] = req.headers[h]
    counter.requests.push(req.headers.range || 'whole')
    let up = null
    req.on('close', () => up && up.destroy())
    res.on('close', () => up && up.destroy())
    // One round trip before the first byte, as on a mobile link.
    setTimeout(() => {
      if (res.destroyed) return
      up = forward(target, req, res, headers, counter)
    }, cfg.rtt || 0)
  })
}

function forward (target, req, res, headers, counter) {
  {
    const up = http.request(target, { method: req.method, headers }, (u) => {
      res.writeHead(u.statusCode, u.headers)
      u.on('data', (d) => {
        counter.bytes += d.length
        res.write(d)
        u.pause()
        setTimeout(() => u.resume(), (d.length / cfg.rate) * 1000)
      })
      u.on('end', () => res.end())
    })
    up.on('error', () => res.destroy())
    up.end()
    return up
  }
}

const page = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' })
  res.end('<!doctype html><html><body></body></html>')
})
const pageUrl = await listen(page)
const counters = { asIs: { bytes: 0, requests: [] }, faststart: { bytes: 0, requests: [] } }
const proxies = {}
const servers = []
for (const name of ['asIs', 'faststart']) {
  const s = throttledProxy(cfg[name], counters[name])
  servers.push(s)
  proxies[name] = await listen(s)
}

const browser = await chromium.launch({ executablePath: process.env.MEDIA_CHROMIUM, args: ['--no-sandbox'] })
const result = { asIs: [], faststart: [], asIsBytes: [], faststartBytes: [], asIsRequests: [], faststartRequests: [] }
try {
  for (let i = 0; i < cfg.runs; i++) {
    for (const name of i % 2 ? ['faststart', 'asIs'] : ['asIs', 'faststart']) {
      const context = await browser.newContext()
      const tab = await context.newPage()
      await tab.goto(pageUrl)
      counters[name].bytes = 0
      counters[name].requests = []
      const ms = await tab.evaluate(async (src) => {
        const v = document.createElement('video')
        v.muted = true
        v.preload = 'auto'
        document.body.append(v)
        const t0 = performance.now()
        await new Promise((resolve, reject) => {
          v.addEventListener('loadeddata', resolve, { once: true })
          v.addEventListener('error', () => reject(new Error('video error ' + (v.error && v.error.code))), { once: true })
          v.src = src
        })
        return performance.now() - t0
      }, proxies[name])
      result[name].push(ms)
      result[name + 'Bytes'].push(counters[name].bytes)
      result[name + 'Requests'].push(counters[name].requests.length)
      await context.close()
    }
  }
} catch (e) {
  result.error = String(e && e.stack || e)
} finally {
  await browser.close()
  for (const s of servers) s.close()
  page.close()
  clearTimeout(deadline)
}
console.log(JSON.stringify(result))
