// blossom-client-sdk (npm) against our Blossom server: upload, download (whole and by Range),
// list, mirror to a second server, delete — with events signed by nostr-tools — and the
// refusals of forged, expired, wrong-verb, wrong-x and wrong-server events.
// Usage: node blossom_client.mjs SERVER_A SERVER_B
// Prints one JSON line per check; the Rust test asserts on them.
import { Actions, createUploadAuth, createDeleteAuth, createMirrorAuth, encodeAuthorizationHeader } from "blossom-client-sdk";
import { generateSecretKey, getPublicKey, finalizeEvent } from "nostr-tools/pure";
import { createHash } from "node:crypto";

const [serverA, serverB] = process.argv.slice(2);
const sk = generateSecretKey();
const pubkey = getPublicKey(sk);
const signer = async (draft) => finalizeEvent(draft, sk);
const sha = (bytes) => createHash("sha256").update(bytes).digest("hex");
const out = (o) => console.log(JSON.stringify(o));

const bytes = new Uint8Array(700_000);
for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 9)) & 0xff;
const blob = new Blob([bytes], { type: "image/png" });
const hash = sha(bytes);

const descriptor = await Actions.uploadBlob(serverA, blob, {
  onAuth: (server, sha256) => createUploadAuth(signer, sha256),
});
out({ step: "upload", sha256: descriptor.sha256, size: descriptor.size, type: descriptor.type, url: descriptor.url, expected: hash });

const whole = new Uint8Array(await (await Actions.downloadBlob(serverA, hash)).arrayBuffer());
out({ step: "download", sha256: sha(whole) });

const ranged = await fetch(`${serverA}/${hash}`, { headers: { Range: "bytes=1000-1999" } });
const part = new Uint8Array(await ranged.arrayBuffer());
out({ step: "range", status: ranged.status, sha256: sha(part), expected: sha(bytes.slice(1000, 2000)), contentRange: ranged.headers.get("content-range") });

const listed = await Actions.listBlobs(serverA, pubkey);
out({ step: "list", sha256s: listed.map((d) => d.sha256) });

const mirrored = await Actions.mirrorBlob(serverB, descriptor, {
  onAuth: (server, sha256) => createMirrorAuth(signer, sha256),
});
const fromB = new Uint8Array(await (await Actions.downloadBlob(serverB, hash)).arrayBuffer());
out({ step: "mirror", sha256: mirrored.sha256, fetched: sha(fromB) });

// Refusals: each with its status and X-Reason.
const other = new Uint8Array(1000).fill(9);
const otherHash = sha(other);
const now = Math.floor(Date.now() / 1000);
const upload = async (event, label) => {
  const r = await fetch(`${serverA}/upload`, {
    method: "PUT",
    body: other,
    headers: { "X-SHA-256": otherHash, Authorization: encodeAuthorizationHeader(event) },
  });
  out({ step: "refused", label, status: r.status, reason: r.headers.get("x-reason") });
};
const good = await createUploadAuth(signer, otherHash);
await upload({ ...good, sig: good.sig.slice(0, -2) + (good.sig.endsWith("00") ? "11" : "00") }, "forged signature");
await upload(finalizeEvent({ kind: 24242, created_at: now - 7200, content: "old", tags: [["t", "upload"], ["x", otherHash], ["expiration", String(now - 3600)]] }, sk), "expired");
await upload(finalizeEvent({ kind: 24242, created_at: now, content: "verb", tags: [["t", "delete"], ["x", otherHash], ["expiration", String(now + 600)]] }, sk), "wrong verb");
await upload(finalizeEvent({ kind: 24242, created_at: now, content: "x", tags: [["t", "upload"], ["x", hash], ["expiration", String(now + 600)]] }, sk), "wrong x");
await upload(finalizeEvent({ kind: 24242, created_at: now, content: "srv", tags: [["t", "upload"], ["x", otherHash], ["server", "blossom.example.com"], ["expiration", String(now + 600)]] }, sk), "wrong server");

const deleted = await Actions.deleteBlob(serverA, hash, {
  onAuth: (server, sha256) => createDeleteAuth(signer, sha256),
});
const after = await fetch(`${serverA}/${hash}`, { method: "HEAD" });
out({ step: "delete", deleted, status: after.status });
