// The seed's MediaStorage.integration.test.ts, ported: a full workflow between two managers
// (two nodes with their own stores, on 127.0.0.1), concurrent transfers, a P2P failure the
// CDN recovers from, and a large file streamed both ways.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { MediaStorageError, type MediaEvent, type MediaFile } from '../ts/index.ts';
import { ageKeys, bytes, sha256, started, tempDir } from './helpers.ts';

describe('two managers', () => {
  test('a file uploaded by one is read, verified, by the other from its stores', async (t) => {
    const alice = await started(t);
    const bob = await started(t);
    const data = bytes(1_200_000);
    const shared = await alice.uploadMedia(data, { name: 'beach.bin' });
    // What travels between the apps is the MediaFile (JSON, as a chat message would carry).
    const received: MediaFile = JSON.parse(JSON.stringify(shared));
    const seen: MediaEvent[] = [];
    bob.on('event', (e) => seen.push(e));
    const back = await bob.downloadMedia(received);
    assert.ok(back.equals(data));
    const verified = seen.find((e) => e.name === 'downloadComplete');
    assert.ok(verified && verified.id === shared.id, JSON.stringify(seen.map((e) => e.name)));
    // Importing makes it Bob's to list and read by id.
    await bob.importMedia(received);
    assert.equal((await bob.getMedia(shared.id))?.name, 'beach.bin');
    assert.equal(sha256(await bob.downloadMedia(shared.id)), shared.id);
  });

  test('private media shared with the other manager opens only with its identity', async (t) => {
    const alice = await started(t);
    const bob = await started(t);
    const keys = ageKeys();
    const data = bytes(300_000);
    const file = await alice.uploadMedia(data, { privateTo: [keys.recipient] });
    // Without the owner's reference nothing anchors the record's chunk list: refused.
    await assert.rejects(bob.downloadMedia(file, { identity: keys.identity }), /anchored|reference/);
    // The reference as it came from Alice (the app's trusted channel) anchors it.
    const plain = await bob.downloadMedia(file, { identity: keys.identity, reference: file.reference });
    assert.ok(plain.equals(data));
    await assert.rejects(bob.downloadMedia(file, { identity: ageKeys().identity }), MediaStorageError);
  });
});

describe('concurrency', () => {
  test('eight uploads and eight downloads at once, each verified', async (t) => {
    const manager = await started(t);
    const inputs = Array.from({ length: 8 }, (_, i) => bytes(200_000 + i * 50_000));
    const files = await Promise.all(inputs.map((data, i) => manager.uploadMedia(data, { name: `c${i}.bin` })));
    files.forEach((file, i) => assert.equal(file.id, sha256(inputs[i])));
    const reads = await Promise.all(files.map((file) => manager.downloadMedia(file)));
    reads.forEach((read, i) => assert.ok(read.equals(inputs[i])));
    const stats = await manager.getStats();
    assert.equal(stats.uploadsCompleted, 8);
    assert.equal(stats.activeOperations, 0);
  });
});

describe('P2P failure with CDN recovery', () => {
  test('a peer-first read whose peers fail falls back to the CDN and says so', async (t) => {
    const alice = await started(t);
    const bob = await started(t, { attemptTimeoutMs: 1500 });
    const data = bytes(600_000);
    const file = await alice.uploadMedia(data, { name: 'fallback.bin' });
    // The record as a peer that went offline left it: its swarm and IPFS provider are gone
    // (a torrent no one seeds, an IPFS location without its provider), its CDN copy is not.
    const record = JSON.parse(file.record);
    const dead = 'f'.repeat(40);
    record.locations = record.locations
      .filter((l: { kind: string }) => l.kind !== 'ipfs' && l.kind !== 'blossom')
      .map((l: { kind: string; uri: string; hints?: Record<string, string> }) =>
        l.kind === 'torrent'
          ? { ...l, uri: `magnet:?xt=urn:btih:${dead}`, hints: { ...l.hints, info_hash: dead } }
          : l,
      );
    const offline: MediaFile = { ...file, record: JSON.stringify(record) };
    const fallbacks: MediaEvent[] = [];
    bob.on('fallback', (e) => fallbacks.push(e));
    const completed = new Promise<MediaEvent>((resolve) => bob.once('downloadComplete', resolve));
    const back = await bob.downloadMedia(offline, { preferP2P: true, timeout: 1500 });
    assert.ok(back.equals(data));
    assert.ok(fallbacks.length > 0, 'no fallback event');
    assert.equal(fallbacks[0].from, 'torrent', JSON.stringify(fallbacks[0]));
    const done = await completed;
    assert.deepEqual(done.stores, ['cdn']);
    assert.equal((await bob.getStats()).fallbacks, fallbacks.length);
  });
});

describe('a large file', () => {
  test('64 MiB streamed in from a file and out to a file, hashes equal', async (t) => {
    const manager = await started(t);
    const dir = tempDir(t);
    const source = join(dir, 'large.bin');
    const size = 64 * 1024 * 1024;
    const digest = createHash('sha256');
    await pipeline(
      Readable.from((function* () {
        for (let sent = 0; sent < size; sent += 1 << 20) yield bytes(1 << 20);
      })()),
      new Transform({
        transform(chunk, _enc, done) {
          digest.update(chunk);
          done(null, chunk);
        },
      }),
      createWriteStream(source),
    );
    const id = digest.digest('hex');
    const file = await manager.uploadMedia(createReadStream(source, { highWaterMark: 1 << 20 }), { name: 'large.bin' });
    assert.equal(file.id, id);
    assert.equal(file.size, size);
    const out = join(dir, 'back.bin');
    const check = createHash('sha256');
    await pipeline(
      manager.createReadStream(file),
      new Transform({
        transform(chunk, _enc, done) {
          check.update(chunk);
          done(null, chunk);
        },
      }),
      createWriteStream(out),
    );
    assert.equal(check.digest('hex'), id);
    assert.equal(statSync(out).size, size);
  });
});
