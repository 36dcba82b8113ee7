// A stranger's words reach the package as MediaFile records (a chat message, a profile):
// each attack here hands the manager what a stranger would, and checks that nothing but the
// bytes of the id asked for comes out, nothing the stranger names on this host is
// contacted, and nothing of the owner's is removed.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { MediaInvalidInputError, MediaStorageError, type MediaFile } from '../ts/index.ts';
import { bytes, sha256, started } from './helpers.ts';

/** An HTTP server on 127.0.0.1 that answers every request with `body`, and counts them. */
async function decoy(t: import('node:test').TestContext, body: Buffer) {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return { port: (server.address() as AddressInfo).port, seen };
}

function withRecord(file: MediaFile, change: (record: any) => void): MediaFile {
  const record = JSON.parse(file.record);
  change(record);
  return { ...file, record: JSON.stringify(record) };
}

describe('a stranger\'s record', () => {
  test('naming other bytes under a genuine id releases nothing', async (t) => {
    const owner = await started(t);
    const reader = await started(t);
    const genuine = await owner.uploadMedia(bytes(300_000), { name: 'genuine.bin' });
    const swapped = await owner.uploadMedia(bytes(300_000), { name: 'swap.bin' });
    const forged = withRecord(genuine, (r) => {
      r.locations = JSON.parse(swapped.record).locations;
    });
    await assert.rejects(reader.downloadMedia(forged, { timeout: 2000 }), MediaStorageError);
    const stream = reader.createReadStream(forged, { timeout: 2000 });
    const got: Buffer[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) got.push(chunk);
      })(),
      MediaStorageError,
    );
    assert.equal(Buffer.concat(got).length, 0, 'unverified bytes were pushed');
  });

  test('pointing at this host is refused without a request (default reach)', async (t) => {
    const data = bytes(50_000);
    const trap = await decoy(t, data);
    const owner = await started(t);
    const file = await owner.uploadMedia(data);
    // A manager as an app runs it: no allowPrivateAddresses.
    const reader = await started(t, { allowPrivateAddresses: false });
    const lure = withRecord(file, (r) => {
      r.locations = [{ kind: 'cdn', uri: `http://127.0.0.1:${trap.port}/${file.id}`, hints: { key: file.id } }];
    });
    await assert.rejects(reader.downloadMedia(lure, { timeout: 2000 }), MediaStorageError);
    assert.equal(trap.seen.length, 0, 'the node fetched a loopback address a stranger named');
  });

  test('with a forged reference cannot anchor a range', async (t) => {
    const owner = await started(t);
    const reader = await started(t);
    const file = await owner.uploadMedia(bytes(2_500_000));
    const forged = { ...file, reference: file.reference.replace(/root=[0-9a-f]{8}/, 'root=00000000') };
    assert.notEqual(forged.reference, file.reference);
    await assert.rejects(reader.downloadMedia(forged, { start: 1_100_000, end: 1_200_000 }), MediaStorageError);
    // The genuine reference anchors it, and the range verifies.
    const part = await reader.downloadMedia(file, { start: 1_100_000, end: 1_199_999 });
    assert.equal(part.length, 100_000);
  });

  test('imported and deleted removes nothing from the owner\'s stores', async (t) => {
    const owner = await started(t);
    const stranger = await started(t);
    const data = bytes(80_000);
    const file = await owner.uploadMedia(data);
    await stranger.importMedia(file);
    assert.equal(await stranger.deleteMedia(file), true);
    const still = await fetch(file.url!);
    assert.equal(still.status, 200);
    assert.equal(sha256(Buffer.from(await still.arrayBuffer())), file.id);
    assert.equal(sha256(await owner.downloadMedia(file)), file.id);
  });

  test('huge or deeply nested records are refused before any work', async (t) => {
    const manager = await started(t);
    const huge = { id: 'x', record: `{"pad":"${'a'.repeat(5 << 20)}"}` } as MediaFile;
    await assert.rejects(manager.downloadMedia(huge), MediaInvalidInputError);
    const nested = { id: 'x', record: '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000) } as MediaFile;
    await assert.rejects(manager.downloadMedia(nested), MediaInvalidInputError);
    await assert.rejects(manager.importMedia(nested), MediaInvalidInputError);
    // Inconsistent records (a chunk list too short for the size; a SHA-256 that is not the
    // id) are not catalogued.
    const real = await manager.uploadMedia(bytes(10_000));
    const other = await started(t);
    const tooShort = withRecord(real, (r) => {
      r.size = r.size + (2 << 20);
    });
    await assert.rejects(other.importMedia(tooShort), MediaStorageError);
    const otherHash = withRecord(real, (r) => {
      r.sha256 = 'ff'.repeat(32);
    });
    await assert.rejects(other.importMedia(otherHash), MediaStorageError);
    assert.equal(await other.getMedia(real.id), null);
  });
});
