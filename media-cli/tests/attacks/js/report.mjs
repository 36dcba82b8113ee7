// BUD-09 reports signed by nostr-tools, as a stranger's client files them.
// Usage: node report.mjs BLOSSOM_URL SHA256
// Prints one JSON line per attempt: {step, status}.
import { generateSecretKey, finalizeEvent } from "nostr-tools/pure";

const [server, sha256] = process.argv.slice(2);
const sk = generateSecretKey();
const out = (o) => console.log(JSON.stringify(o));
const report = (content, tags) =>
  finalizeEvent({ kind: 1984, created_at: Math.floor(Date.now() / 1000), tags, content }, sk);
const put = async (event) =>
  (await fetch(`${server}/report`, { method: "PUT", body: JSON.stringify(event), headers: { "content-type": "application/json" } })).status;

const first = report("this is me, posted without my consent", [["x", sha256, "nudity"], ["server", server]]);
out({ step: "report", status: await put(first), id: first.id, pubkey: first.pubkey });

const forged = { ...report("forged", [["x", sha256, "spam"]]) };
forged.content = "changed after signing";
out({ step: "forged", status: await put(forged) });

const wrongKind = finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [["x", sha256, "spam"]], content: "" }, sk);
out({ step: "wrong-kind", status: await put(wrongKind) });

const unknown = report("not here", [["x", "00".repeat(32), "spam"]]);
out({ step: "unknown-blob", status: await put(unknown) });

// The same key, many times: the node bounds reports per reporter.
const statuses = [];
for (let i = 0; i < 12; i++) statuses.push(await put(report(`again ${i}`, [["x", sha256, "spam"]])));
out({ step: "flood", statuses });
