// The node's web page in headless Chromium (Debian's, driven by playwright-core), as a person
// uses it: open the URL `media serve` printed, wait for the grid, upload a photo, see it
// appear with its checked thumbnail, open it, read its links, play the video. Prints one JSON
// line; saves screenshots in OUT_DIR.
//   node page.mjs CONFIG.json OUT_DIR
// CONFIG: { page, photo, clipId, hostileId, hostileName, heicId, heicDisplayId, reportedId }
import { chromium } from 'playwright-core'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const out = process.argv[3]
let step = 'start'
const deadline = setTimeout(() => { console.error(`page test timed out during: ${step}`); process.exit(3) }, 120000)

const browser = await chromium.launch({
  executablePath: process.env.MEDIA_CHROMIUM,
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required']
})
const result = {}
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } })
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
  step = 'open the page'
  await page.goto(cfg.page)

  // The grid: every public tile's thumbnail checked against its record.
  step = 'the grid'
  await page.waitForSelector('#grid[data-count]')
  result.addressBar = page.url()
  result.before = Number(await page.getAttribute('#grid', 'data-count'))
  await page.waitForFunction(() => [...document.querySelectorAll('.tile')]
    .every((t) => t.dataset.verified === 'true' || t.dataset.verified === 'private'), null, { timeout: 30000 })
  await page.screenshot({ path: join(out, 'page-grid.png') })

  // A stranger's record named like markup is shown as text.
  result.hostile = await page.evaluate((id) => {
    const t = document.querySelector(`.tile[data-id="${id}"]`)
    return {
      caption: t.querySelector('.caption').textContent,
      children: t.querySelector('.caption').children.length,
      pwned: window.pwned === 1,
      strayImages: document.querySelectorAll('img[src="x"]').length
    }
  }, cfg.hostileId)

  // Upload from the page: the progress bar fills, the tile appears with its thumbnail.
  step = 'upload'
  await page.setInputFiles('#file', cfg.photo)
  await page.waitForSelector('#upload-status[data-last-id]', { timeout: 60000 })
  const id = await page.getAttribute('#upload-status', 'data-last-id')
  result.uploaded = {
    id,
    progress: await page.$eval('#progress', (p) => p.value)
  }
  step = 'the uploaded tile'
  await page.waitForSelector(`.tile[data-id="${id}"][data-verified="true"]`, { timeout: 30000 })
  result.after = Number(await page.getAttribute('#grid', 'data-count'))
  await page.screenshot({ path: join(out, 'page-uploaded.png') })

  step = 'the photo viewer'
  // Open it: the photo from the node, and its links.
  await page.click(`.tile[data-id="${id}"]`)
  await page.waitForFunction(() => {
    const img = document.querySelector('#viewer-content')
    return img && img.complete && img.naturalWidth > 0
  }, null, { timeout: 30000 })
  result.viewer = await page.evaluate(() => {
    const img = document.querySelector('#viewer-content')
    const links = {}
    for (const dd of document.querySelectorAll('#viewer-links dd[data-link]')) links[dd.dataset.link] = dd.textContent
    return { width: img.naturalWidth, height: img.naturalHeight, title: document.querySelector('#viewer-title').textContent, links }
  })
  await page.screenshot({ path: join(out, 'page-viewer.png') })
  await page.click('#viewer-close')

  step = 'the video'
  // The video: plays from the node by Range, and seeks.
  await page.click(`.tile[data-id="${cfg.clipId}"]`)
  result.video = await page.evaluate(async () => {
    const v = document.querySelector('#viewer-content')
    v.muted = true
    const ready = new Promise((resolve, reject) => {
      v.addEventListener('loadeddata', resolve, { once: true })
      v.addEventListener('error', () => reject(new Error('video error ' + (v.error && v.error.code))), { once: true })
    })
    await ready
    const seeked = new Promise((resolve) => v.addEventListener('seeked', resolve, { once: true }))
    v.currentTime = v.duration / 2
    await seeked
    return { width: v.videoWidth, height: v.videoHeight, duration: v.duration, at: v.currentTime }
  })
  await page.screenshot({ path: join(out, 'page-video.png') })
  await page.click('#viewer-close')

  step = 'the HEIC'
  // A HEIC: the viewer shows its JPEG rendition, media of its own that Chromium decodes.
  await page.click(`.tile[data-id="${cfg.heicId}"]`)
  await page.waitForFunction(() => {
    const img = document.querySelector('#viewer-content')
    return img && img.complete && img.naturalWidth > 0
  }, null, { timeout: 30000 })
  result.heic = await page.evaluate(() => {
    const img = document.querySelector('#viewer-content')
    return { width: img.naturalWidth, height: img.naturalHeight, rendition: img.dataset.rendition || null }
  })
  await page.screenshot({ path: join(out, 'page-heic.png') })
  await page.click('#viewer-close')

  // The owner's review queue: a stranger's report (its words are markup), taken down.
  step = 'the review queue'
  await page.waitForSelector(`#report-list .report[data-id="${cfg.reportedId}"]`, { timeout: 30000 })
  result.report = await page.evaluate((id) => {
    const item = document.querySelector(`#report-list .report[data-id="${id}"]`)
    return {
      text: item.querySelector('span').textContent,
      children: item.querySelector('span').children.length,
      pwned: window.pwnedReport === 1
    }
  }, cfg.reportedId)
  await page.screenshot({ path: join(out, 'page-reports.png') })
  await page.click(`#report-list .report[data-id="${cfg.reportedId}"] .takedown`)
  await page.waitForFunction((id) => !document.querySelector(`.tile[data-id="${id}"]`) &&
    !document.querySelector(`#report-list .report[data-id="${id}"]`), cfg.reportedId, { timeout: 30000 })
  result.reportTakenDown = true

  result.errors = errors.slice()
  // The read cookie reads; it does not write (the browser logs the refusal).
  step = 'the cookie'
  result.cookie = await page.evaluate(async () => {
    const list = await fetch('/api/v1/media')
    const put = await fetch('/api/v1/media?name=x.bin', { method: 'PUT', body: 'x' })
    return { list: list.status, put: put.status }
  })
} catch (e) {
  result.error = String(e && e.stack || e)
} finally {
  await browser.close()
  clearTimeout(deadline)
}
console.log(JSON.stringify(result))
