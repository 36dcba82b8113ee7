// Load with `node --import ./no-webrtc.mjs`: answers `import 'webrtc-polyfill'` with a module
// that has no WebRTC, so WebTorrent runs over TCP (and web seeds) without the native
// node-datachannel module, which cannot be downloaded offline.
import { register } from 'node:module'

const hooks = `
export async function resolve (specifier, context, next) {
  if (specifier === 'webrtc-polyfill') {
    return {
      shortCircuit: true,
      url: 'data:text/javascript,export const RTCPeerConnection = undefined; export const RTCSessionDescription = undefined; export const RTCIceCandidate = undefined; export default {}'
    }
  }
  return next(specifier, context)
}
`
register('data:text/javascript,' + encodeURIComponent(hooks))
