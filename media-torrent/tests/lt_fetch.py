"""libtorrent (libtorrent-rasterbar, the engine of qBittorrent and Deluge) as a standard client.

usage: lt_fetch.py OUTDIR PEER TORRENT...
Adds every .torrent, connects each to PEER (ip:port) directly (no DHT, LSD, UPnP or
trackers), waits until all are complete and prints one JSON line per torrent:
{"torrent": PATH, "name": NAME, "sha256": HEX, "length": N}. Exits 3 after 120 s.
"""
import hashlib
import json
import sys
import time

import libtorrent as lt


def main():
    out, peer, *torrents = sys.argv[1:]
    host, port = peer.rsplit(":", 1)
    session = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # Our seeder listens on TCP only; libtorrent would try uTP first and wait for it.
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        # Plain BitTorrent: librqbit does not speak MSE/PE.
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.disabled),
        "alert_mask": lt.alert.category_t.error_notification,
    })
    handles = []
    for path in torrents:
        info = lt.torrent_info(path)
        params = lt.add_torrent_params()
        params.ti = info
        params.save_path = out
        handle = session.add_torrent(params)
        handle.connect_peer((host, int(port)))
        handles.append((path, info, handle))
    deadline = time.time() + 120
    while not all(h.status().is_seeding for _, _, h in handles):
        if time.time() > deadline:
            states = [str(h.status().state) for _, _, h in handles]
            print(f"timed out: {states}", file=sys.stderr)
            sys.exit(3)
        time.sleep(0.2)
    for path, info, _ in handles:
        name = info.files().file_path(0)
        digest = hashlib.sha256()
        with open(f"{out}/{name}", "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        print(json.dumps({"torrent": path, "name": name, "sha256": digest.hexdigest(),
                          "length": info.total_size()}, separators=(",", ":")))


if __name__ == "__main__":
    main()
