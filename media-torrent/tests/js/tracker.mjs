// A local BitTorrent tracker (npm `bittorrent-tracker`), HTTP only, on 127.0.0.1 with a port
// the OS picks. Prints {"announce": URL} when listening; stops when stdin closes.
import { Server } from 'bittorrent-tracker'

const server = new Server({ udp: false, http: true, ws: false, stats: false })
server.on('error', (err) => { console.error('tracker error:', err.message); process.exit(2) })
server.on('warning', (err) => console.error('tracker warning:', err.message))
server.listen(0, '127.0.0.1', () => {
  const { port } = server.http.address()
  console.log(JSON.stringify({ announce: `http://127.0.0.1:${port}/announce` }))
})
process.stdin.resume()
process.stdin.on('end', () => server.close(() => process.exit(0)))
