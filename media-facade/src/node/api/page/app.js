// The node's web page. Records may come from strangers (imported or shared): every field is
// shown with textContent or as an attribute value, never parsed as markup, and thumbnails are
// shown only once their SHA-256 matches the record.
'use strict'

const $ = (id) => document.getElementById(id)
const state = { token: null, endpoints: {}, files: [] }

// ---- token and session -------------------------------------------------------------------

function tokenFromUrl () {
  const m = /(?:^|&)token=([0-9a-f]+)/.exec(location.hash.slice(1))
  if (!m) return null
  // Out of the address bar and the history as soon as it is read.
  history.replaceState(null, '', location.pathname)
  return m[1]
}

async function api (method, path, body, extra = {}) {
  const res = await fetch('/api/v1/' + path, {
    method,
    body,
    headers: { authorization: 'Bearer ' + state.token, ...extra }
  })
  if (!res.ok) {
    let message = res.statusText
    try { message = (await res.json()).message || message } catch (_) {}
    const err = new Error(message)
    err.status = res.status
    throw err
  }
  return res.status === 204 ? null : res.json()
}

async function start () {
  state.token = tokenFromUrl() || sessionStorage.getItem('media-token')
  if (!state.token) return showLogin()
  try {
    await api('POST', 'session')
  } catch (e) {
    sessionStorage.removeItem('media-token')
    return showLogin(e.status === 401 ? 'wrong token' : e.message)
  }
  sessionStorage.setItem('media-token', state.token)
  $('login').hidden = true
  $('upload').hidden = false
  state.endpoints = await api('GET', 'endpoints')
  await refresh()
}

function showLogin (why) {
  $('login').hidden = false
  $('status').textContent = why ? 'not connected: ' + why : 'not connected'
}

// ---- BlurHash (https://blurha.sh), decoded onto a canvas -----------------------------------

const B83 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~'

function decode83 (s) {
  let v = 0
  for (const c of s) {
    const d = B83.indexOf(c)
    if (d < 0) throw new Error('not a BlurHash')
    v = v * 83 + d
  }
  return v
}

const toLinear = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4) }
const toSrgb = (v) => {
  v = Math.max(0, Math.min(1, v))
  return Math.round((v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055) * 255)
}
const signPow = (v, e) => Math.sign(v) * Math.pow(Math.abs(v), e)

function paintBlurhash (canvas, hash) {
  const size = decode83(hash[0])
  const nx = (size % 9) + 1
  const ny = Math.floor(size / 9) + 1
  if (hash.length !== 4 + 2 * nx * ny) throw new Error('BlurHash length')
  const max = (decode83(hash[1]) + 1) / 166
  const colors = []
  const dc = decode83(hash.slice(2, 6))
  colors.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)])
  for (let i = 1; i < nx * ny; i++) {
    const v = decode83(hash.slice(4 + i * 2, 6 + i * 2))
    colors.push([Math.floor(v / 361), Math.floor(v / 19) % 19, v % 19].map((q) => signPow((q - 9) / 9, 2) * max))
  }
  const w = (canvas.width = 32)
  const h = (canvas.height = 32)
  const ctx = canvas.getContext('2d')
  const img = ctx.createImageData(w, h)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r = 0; let g = 0; let b = 0
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const basis = Math.cos((Math.PI * x * i) / w) * Math.cos((Math.PI * y * j) / h)
          const c = colors[i + j * nx]
          r += c[0] * basis; g += c[1] * basis; b += c[2] * basis
        }
      }
      const at = 4 * (x + y * w)
      img.data[at] = toSrgb(r); img.data[at + 1] = toSrgb(g); img.data[at + 2] = toSrgb(b); img.data[at + 3] = 255
    }
  }
  ctx.putImageData(img, 0, 0)
}

// ---- the grid ------------------------------------------------------------------------------

function hexBytes (hex) {
  if (typeof hex !== 'string' || hex.length % 2 || !/^[0-9a-f]*$/i.test(hex)) throw new Error('not hex')
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16)
  return out
}

async function sha256Hex (bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('')
}

const SHOWN = /^(image\/(jpeg|png|webp|gif|avif)|video\/(mp4|quicktime|webm))$/

/// The thumbnail, once its bytes hash to what the record says.
async function verifiedThumbnail (thumb) {
  if (!crypto.subtle || !SHOWN.test(thumb.mime)) return null
  const bytes = hexBytes(thumb.bytes)
  if ((await sha256Hex(bytes)) !== String(thumb.sha256).toLowerCase()) return null
  return URL.createObjectURL(new Blob([bytes], { type: thumb.mime }))
}

function duration (ms) {
  const s = Math.round(ms / 1000)
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0')
}

function tile (file) {
  const t = document.createElement('button')
  t.type = 'button'
  t.className = 'tile'
  t.dataset.id = file.id
  t.title = file.name
  const caption = document.createElement('span')
  caption.className = 'caption'
  caption.textContent = file.name
  if (file.encryption) {
    t.classList.add('private')
    t.append('🔒', caption)
    t.dataset.verified = 'private'
  } else {
    const thumb = file.thumbnail
    if (thumb && thumb.blurhash) {
      const canvas = document.createElement('canvas')
      try { paintBlurhash(canvas, thumb.blurhash); t.append(canvas) } catch (_) {}
    }
    if (file.video) {
      const badge = document.createElement('span')
      badge.className = 'badge'
      badge.textContent = '▶ ' + duration(file.video.duration_ms)
      t.append(badge)
    }
    t.append(caption)
    if (thumb) {
      verifiedThumbnail(thumb).then((url) => {
        if (!url) { t.dataset.verified = 'false'; return }
        const img = document.createElement('img')
        img.alt = ''
        img.src = url
        img.onload = () => { t.dataset.verified = 'true' }
        t.insertBefore(img, caption)
      }).catch(() => { t.dataset.verified = 'false' })
    }
  }
  t.addEventListener('click', () => openViewer(file))
  return t
}

async function refresh () {
  state.files = await api('GET', 'media')
  state.files.sort((a, b) => b.uploaded_at - a.uploaded_at)
  // A HEIC's display rendition is shown in its place, not as media of its own.
  const renditions = new Set(state.files.filter((f) => f.display).map((f) => f.display.id))
  const shown = state.files.filter((f) => !renditions.has(f.id))
  $('grid').replaceChildren(...shown.map(tile))
  $('grid').dataset.count = String(shown.length)
  $('status').textContent = shown.length + ' media'
  await refreshReports()
}

// ---- review queue: strangers' reports (Blossom BUD-09), for the owner ------------------------

async function refreshReports () {
  const reports = await api('GET', 'reports')
  $('reports').hidden = reports.length === 0
  $('report-list').replaceChildren(...reports.flatMap((r) => r.media.map((m) => reportItem(r, m))))
}

function reportItem (report, media) {
  const li = document.createElement('li')
  li.className = 'report'
  li.dataset.id = media.id
  const what = document.createElement('span')
  // A stranger's words: text only.
  what.textContent = media.id.slice(0, 12) + '… reported as ' + media.kind + ': ' + report.content
  const takedown = document.createElement('button')
  takedown.type = 'button'
  takedown.textContent = 'Take down'
  takedown.className = 'takedown'
  takedown.onclick = async () => {
    await api('POST', 'media/' + media.id + '/takedown', JSON.stringify({ reason: 'report: ' + media.kind }), { 'content-type': 'application/json' })
    await api('DELETE', 'reports/' + report.id)
    await refresh()
  }
  const dismiss = document.createElement('button')
  dismiss.type = 'button'
  dismiss.textContent = 'Dismiss'
  dismiss.className = 'dismiss'
  dismiss.onclick = async () => {
    await api('DELETE', 'reports/' + report.id)
    await refreshReports()
  }
  li.append(what, ' ', takedown, ' ', dismiss)
  return li
}

// ---- upload ----------------------------------------------------------------------------------

// Uploads are resumable (tus 1.0, the node's /api/v1/uploads): parts of 8 MiB, and after a
// dropped connection or a node restart the page asks the node where it stands and goes on
// from there instead of starting over.
const PART = 8 * 1024 * 1024

function b64 (text) {
  const bytes = new TextEncoder().encode(text)
  let bin = ''
  for (const b of bytes) bin += String.fromCharCode(b)
  return btoa(bin)
}

function send (method, url, headers, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open(method, url)
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v)
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded)
    xhr.onload = () => resolve({
      status: xhr.status,
      header: (name) => xhr.getResponseHeader(name),
      message: () => { try { return JSON.parse(xhr.responseText).message } catch (_) { return '' } }
    })
    xhr.onerror = () => {
      const err = new Error('upload failed: the node did not answer')
      err.retry = true
      reject(err)
    }
    xhr.send(body === undefined ? null : body)
  })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function upload (file) {
  const tus = { 'tus-resumable': '1.0.0', authorization: 'Bearer ' + state.token }
  const bar = $('progress')
  bar.hidden = false
  bar.value = 0
  const shown = (bytes) => { bar.value = file.size ? Math.round((100 * bytes) / file.size) : 100 }
  let meta = 'filename ' + b64(file.name)
  if (file.type) meta += ',filetype ' + b64(file.type)
  const created = await send('POST', '/api/v1/uploads', {
    ...tus, 'upload-length': String(file.size), 'upload-metadata': meta
  })
  if (created.status !== 201) throw new Error(created.message() || 'upload failed: ' + created.status)
  const url = created.header('location')
  let offset = 0
  let failures = 0
  while (offset < file.size) {
    const end = Math.min(file.size, offset + PART)
    const from = offset
    try {
      const r = await send('PATCH', url, {
        ...tus, 'upload-offset': String(from), 'content-type': 'application/offset+octet-stream'
      }, file.slice(from, end), (loaded) => shown(from + loaded))
      if (r.status === 204 || r.status === 409) {
        offset = Number(r.header('upload-offset'))
        if (offset > from) failures = 0
        continue
      }
      if (r.status < 500 && r.status !== 423) throw new Error(r.message() || 'upload failed: ' + r.status)
      const err = new Error('upload failed: ' + r.status)
      err.retry = true
      throw err
    } catch (e) {
      if (!e.retry) throw e
      failures += 1
      if (failures > 8) throw e
      await sleep(250 * 2 ** Math.min(failures, 5))
      const head = await send('HEAD', url, tus).catch(() => null)
      if (head && head.status === 404) throw new Error('upload failed: the node no longer has this upload')
      if (head && head.status === 200) offset = Number(head.header('upload-offset'))
    }
  }
  shown(file.size)
  const status = await api('GET', url.replace(/^\/api\/v1\//, ''))
  return status.media
}

async function uploadAll (files) {
  const status = $('upload-status')
  for (const f of files) {
    status.textContent = 'uploading ' + f.name + '…'
    try {
      const record = await upload(f)
      status.textContent = 'stored ' + record.name
      status.dataset.lastId = record.id
    } catch (e) {
      status.textContent = e.message
    }
  }
  await refresh()
}

// ---- viewer ------------------------------------------------------------------------------------

function links (file) {
  const out = []
  for (const loc of file.locations || []) {
    const uri = String(loc.uri || '')
    if (loc.kind === 'cdn') out.push(['CDN URL', uri])
    if (loc.kind === 'ipfs') out.push(['CID', uri.replace(/^ipfs:\/\//, '')])
    if (loc.kind === 'torrent') out.push(['magnet', uri])
  }
  if (state.endpoints.blossom) out.push(['Blossom', state.endpoints.blossom.replace(/\/$/, '') + '/' + file.sha256])
  return out
}

function copy (text, button) {
  const done = () => { button.textContent = 'copied' }
  if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, () => {})
}

function openViewer (file) {
  const media = $('viewer-media')
  const src = '/api/v1/media/' + encodeURIComponent(file.id) + '/content'
  let el
  if (file.encryption) {
    el = document.createElement('p')
    el.textContent = 'Private: encrypted to its recipients. Read it with their identity.'
  } else if (/^video\//.test(file.mime)) {
    el = document.createElement('video')
    el.controls = true
    el.preload = 'metadata'
    el.src = src
  } else if (file.display && SHOWN.test(file.display.mime) && !SHOWN.test(file.mime)) {
    // A HEIC: browsers show its JPEG rendition, itself verified media of its own.
    el = document.createElement('img')
    el.alt = file.name
    el.dataset.rendition = file.display.id
    el.src = '/api/v1/media/' + encodeURIComponent(file.display.id) + '/content'
  } else if (SHOWN.test(file.mime)) {
    el = document.createElement('img')
    el.alt = file.name
    el.src = src
  } else {
    el = document.createElement('p')
    el.textContent = file.mime + ', ' + file.size + ' bytes'
  }
  el.id = 'viewer-content'
  media.replaceChildren(el)
  $('viewer-title').textContent = file.name
  const list = $('viewer-links')
  list.replaceChildren()
  for (const [name, value] of links(file)) {
    const dt = document.createElement('dt')
    dt.textContent = name
    const dd = document.createElement('dd')
    dd.textContent = value
    dd.title = value
    dd.dataset.link = name
    const action = document.createElement('dd')
    const button = document.createElement('button')
    button.type = 'button'
    button.textContent = 'copy'
    button.addEventListener('click', () => copy(value, button))
    action.append(button)
    list.append(dt, dd, action)
  }
  $('viewer').dataset.id = file.id
  $('viewer').showModal()
}

function closeViewer () {
  const el = $('viewer-content')
  if (el && el.pause) el.pause()
  $('viewer-media').replaceChildren()
  $('viewer').close()
}

// ---- wiring ------------------------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', () => {
  $('file').addEventListener('change', (e) => uploadAll(Array.from(e.target.files)))
  $('viewer-close').addEventListener('click', closeViewer)
  $('login-go').addEventListener('click', () => {
    state.token = $('token').value.trim()
    sessionStorage.setItem('media-token', state.token)
    start()
  })
  start().catch((e) => { $('status').textContent = e.message })
})
