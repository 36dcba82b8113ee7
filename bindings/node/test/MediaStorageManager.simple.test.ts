// The seed's MediaStorageManager.simple.test.ts, ported: basic functionality, error
// scenarios, CDN operations, statistics and lifecycle, over the real embedded stores
// (S3 server, IPFS node, BitTorrent node, Blossom server) on 127.0.0.1.

import assert from 'node:assert/strict';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import {
  MediaIntegrityError,
  MediaInvalidInputError,
  MediaNotFoundError,
  MediaPermissionDeniedError,
  MediaStorageError,
  MediaStorageManager,
  MediaUnavailableError,
  type MediaEvent,
  type MediaFile,
} from '../ts/index.ts';
import { ageKeys, bytes, sha256, started, tempDir } from './helpers.ts';

describe('basic functionality', () => {
  test('a Buffer goes to every store and comes back verified', async (t) => {
    const manager = await started(t);
    const data = bytes(300_000);
    const file = await manager.uploadMedia(data, { name: 'clip.bin' });
    assert.equal(file.id, sha256(data));
    assert.equal(file.hash, file.id);
    assert.equal(file.size, data.length);
    assert.equal(file.name, 'clip.bin');
    assert.match(file.url ?? '', /^http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(file.torrentMagnet ?? '', /^magnet:\?xt=urn:btih:/);
    assert.match(file.ipfsCid ?? '', /^b/);
    assert.ok(file.uploadedAt > Date.now() - 60_000 && file.uploadedAt <= Date.now());
    assert.ok(file.reference.length > 0);
    const kinds = file.locations.map((l) => l.kind).sort();
    assert.deepEqual(kinds, ['cdn', 'ipfs', 'torrent']);
    const back = await manager.downloadMedia(file);
    assert.equal(sha256(back), file.id);
    assert.ok(back.equals(data));
  });

  test('a path, a Readable, an async iterable and a Blob upload the same way', async (t) => {
    const manager = await started(t);
    const dir = tempDir(t);
    const data = bytes(200_000);
    const path = join(dir, 'photo.bin');
    writeFileSync(path, data);
    const fromPath = await manager.uploadMedia(path);
    assert.equal(fromPath.id, sha256(data));
    assert.equal(fromPath.name, 'photo.bin');

    const streamed = bytes(3 * 1024 * 1024 + 17);
    const fromStream = await manager.uploadMedia(Readable.from([streamed.subarray(0, 1000), streamed.subarray(1000)]), {
      name: 'stream.bin',
    });
    assert.equal(fromStream.id, sha256(streamed));
    assert.equal(fromStream.size, streamed.length);

    const fromFileStream = await manager.uploadMedia(createReadStream(path), { name: 'again.bin' });
    assert.equal(fromFileStream.id, fromPath.id);

    async function* generated() {
      yield new Uint8Array(streamed.subarray(0, 5));
      yield new Uint8Array(streamed.subarray(5));
    }
    assert.equal((await manager.uploadMedia(generated(), { name: 'gen.bin' })).id, fromStream.id);

    const blob = new File([new Uint8Array(data)], 'blob.bin', { type: 'application/x-test' });
    const fromBlob = await manager.uploadMedia(blob);
    assert.equal(fromBlob.id, fromPath.id);

    const back = Buffer.concat(await manager.createReadStream(fromStream).toArray());
    assert.equal(sha256(back), fromStream.id);
  });

  test('events: progress, completion and verified downloads carry the id', async (t) => {
    const manager = await started(t);
    const seen: MediaEvent[] = [];
    manager.on('event', (e) => seen.push(e));
    const completed = new Promise<MediaEvent>((resolve) => manager.once('uploadComplete', resolve));
    const data = bytes(2 * 1024 * 1024);
    const file = await manager.uploadMedia(data, { name: 'events.bin' });
    const done = await completed;
    assert.equal(done.id, file.id);
    assert.ok(done.stores.includes('cdn'), JSON.stringify(done));
    const progress = seen.filter((e) => e.name === 'uploadProgress' && e.id === file.id);
    assert.ok(progress.length > 0, 'no uploadProgress events');
    assert.ok(progress.every((e) => (e.bytes ?? -1) <= (e.total ?? 0)));
    const verified = new Promise<MediaEvent>((resolve) => manager.once('downloadComplete', resolve));
    await manager.downloadMedia(file);
    const read = await verified;
    assert.equal(read.id, file.id);
    assert.equal(read.bytes, data.length);
    assert.ok(read.stores.length > 0);
    assert.ok(seen.some((e) => e.name === 'downloadStart' && e.id === file.id));
    // Every engine event has its own name (none fell through to `other`).
    const unnamed = seen.filter((e) => e.name === 'other').map((e) => e.event);
    assert.deepEqual(unnamed, []);
  });

  test('ranges stream only the bytes asked for, verified', async (t) => {
    const manager = await started(t);
    const data = bytes(1_500_000);
    const file = await manager.uploadMedia(data);
    const part = await manager.downloadMedia(file, { start: 1_000_000, end: 1_299_999 });
    assert.ok(part.equals(data.subarray(1_000_000, 1_300_000)));
    const tail = Buffer.concat(await manager.createReadStream(file, { start: 1_400_000 }).toArray());
    assert.ok(tail.equals(data.subarray(1_400_000)));
  });

  test('private media: age-encrypted before any store sees it, read back with the identity', async (t) => {
    const manager = await started(t);
    const { identity, recipient } = ageKeys();
    const data = bytes(100_000);
    const file = await manager.uploadMedia(data, { name: 'secret.bin', privateTo: [recipient] });
    assert.equal(file.encryption, 'age');
    assert.notEqual(file.id, sha256(data), 'the id is the ciphertext hash');
    // The CDN holds an age file, and the engine will not hand it out as the media.
    const stored = Buffer.from(await (await fetch(file.url!)).arrayBuffer());
    assert.ok(stored.subarray(0, 21).toString() === 'age-encryption.org/v1', 'stores hold an age file');
    assert.equal(sha256(stored), file.id);
    assert.ok(!stored.includes(data.subarray(0, 64)), 'stores hold ciphertext');
    await assert.rejects(manager.downloadMedia(file), MediaPermissionDeniedError);
    const plain = await manager.downloadMedia(file, { identity });
    assert.ok(plain.equals(data));
  });
});

describe('error scenarios', () => {
  test('unknown media is a MediaNotFoundError', async (t) => {
    const manager = await started(t);
    const missing = sha256(Buffer.from('never stored'));
    await assert.rejects(manager.downloadMedia(missing), (e: unknown) => {
      assert.ok(e instanceof MediaNotFoundError, String(e));
      assert.ok(e instanceof MediaStorageError);
      assert.equal(e.kind, 'not_found');
      assert.equal(e.operation, 'download');
      assert.match(e.message, new RegExp(missing));
      return true;
    });
    await assert.rejects(manager.uploadMedia('/no/such/file.jpg'), MediaNotFoundError);
    assert.equal(await manager.getMedia(missing), null);
    assert.equal(await manager.deleteMedia(missing), false);
  });

  test('bad arguments are MediaInvalidInputError', async (t) => {
    const manager = await started(t);
    const file = await manager.uploadMedia(bytes(10_000));
    await assert.rejects(manager.downloadMedia(file, { policy: 'carrier-pigeon' }), MediaInvalidInputError);
    await assert.rejects(manager.downloadMedia('not-an-id'), MediaInvalidInputError);
    await assert.rejects(manager.downloadMedia(file, { start: 10, end: 5 }), MediaInvalidInputError);
    await assert.rejects(manager.uploadMedia(bytes(10), { privateTo: ['age1nope'] }), MediaInvalidInputError);
    await assert.rejects(manager.uploadMedia(42 as never), MediaInvalidInputError);
    await assert.rejects(manager.downloadMedia(file, { maxBytes: 100 }), MediaInvalidInputError);
  });

  test('bytes that are not the expected hash are refused and not stored', async (t) => {
    const manager = await started(t);
    const data = bytes(50_000);
    await assert.rejects(
      manager.uploadMedia(data, { expectedHash: sha256(Buffer.from('other')) }),
      (e: unknown) => e instanceof MediaStorageError && ['integrity', 'invalid_input'].includes(e.kind),
    );
    assert.deepEqual(await manager.listMedia(), []);
  });

  test('a forged record never releases other bytes under its id', async (t) => {
    const manager = await started(t);
    const real = await manager.uploadMedia(bytes(400_000), { name: 'real.bin' });
    const other = await manager.uploadMedia(bytes(400_000), { name: 'other.bin' });
    // The stranger's record: the real id, but the other file's locations.
    const record = JSON.parse(other.record);
    record.id = real.id;
    record.sha256 = real.id;
    const forged: MediaFile = { ...real, record: JSON.stringify(record) };
    await assert.rejects(
      manager.downloadMedia(forged, { timeout: 2000 }),
      (e: unknown) => e instanceof MediaStorageError && e.kind !== 'not_found',
    );
    // The genuine record still reads.
    assert.equal(sha256(await manager.downloadMedia(real)), real.id);
  });

  test('a failing stream input aborts the upload and stores nothing', async (t) => {
    const manager = await started(t);
    async function* broken() {
      yield bytes(100_000);
      throw new Error('the camera went away');
    }
    await assert.rejects(manager.uploadMedia(broken(), { name: 'broken.bin' }), /camera went away/);
    assert.deepEqual(await manager.listMedia(), []);
  });

  test('a failed read rejects the call, and reaches `error` listeners only when there are some', async (t) => {
    const manager = await started(t);
    const file = await manager.uploadMedia(bytes(20_000));
    // The record as a peer whose only store is gone left it.
    const record = JSON.parse(file.record);
    record.locations = [{ kind: 'cdn', uri: `http://127.0.0.1:1/${file.id}`, hints: { key: file.id } }];
    const gone: MediaFile = { ...file, record: JSON.stringify(record) };
    assert.equal(manager.listenerCount('error'), 0);
    const failed = new Promise<MediaEvent>((resolve) => manager.once('downloadError', resolve));
    await assert.rejects(manager.downloadMedia(gone, { policy: 'cdn', timeout: 2000 }), MediaStorageError);
    assert.equal((await failed).id, file.id);
    // With a listener, the failure also arrives as a typed error with its event.
    const errors: [Error, MediaEvent][] = [];
    manager.on('error', (error, event) => errors.push([error, event]));
    const again = new Promise<MediaEvent>((resolve) => manager.once('downloadError', resolve));
    await assert.rejects(manager.downloadMedia(gone, { policy: 'cdn', timeout: 2000 }), MediaStorageError);
    await again;
    const [error, event] = errors.find(([, e]) => e.name === 'downloadError') ?? [];
    assert.ok(error instanceof MediaStorageError, String(error));
    assert.equal(event?.id, file.id);
  });
});

describe('CDN operations', () => {
  test('the CDN URL serves the bytes and a CDN-only read verifies them', async (t) => {
    const manager = await started(t);
    const data = bytes(700_000);
    const file = await manager.uploadMedia(data, { name: 'cdn.bin' });
    const response = await fetch(file.url!);
    assert.equal(response.status, 200);
    assert.equal(sha256(Buffer.from(await response.arrayBuffer())), file.id);
    const viaCdn = await manager.downloadMedia(file, { policy: 'cdn', onlyStore: 'cdn' });
    assert.ok(viaCdn.equals(data));
    const stats = await manager.getStats();
    const cdn = stats.stores.find((s) => s.name === 'cdn');
    assert.ok(cdn && cdn.getsOk >= 1 && cdn.bytesServed >= data.length, JSON.stringify(stats.stores));
  });

  test('downloadToFile writes the verified bytes', async (t) => {
    const manager = await started(t);
    const data = bytes(900_000);
    const file = await manager.uploadMedia(data);
    const out = join(tempDir(t), 'out.bin');
    assert.equal(await manager.downloadToFile(file, out, { preferP2P: false }), data.length);
    assert.equal(sha256(readFileSync(out)), file.id);
  });

  test('delete removes it from every store and the catalog', async (t) => {
    const manager = await started(t);
    const file = await manager.uploadMedia(bytes(30_000));
    const deleted = new Promise<MediaEvent>((resolve) => manager.once('deleted', resolve));
    assert.equal(await manager.deleteMedia(file), true);
    const event = await deleted;
    assert.equal(event.id, file.id);
    assert.ok(event.stores.includes('cdn'), JSON.stringify(event));
    assert.equal((await fetch(file.url!)).status, 404);
    assert.equal(await manager.getMedia(file.id), null);
    await assert.rejects(manager.downloadMedia(file.id), MediaNotFoundError);
  });
});

describe('statistics', () => {
  test('counts uploads, downloads and what the catalog holds', async (t) => {
    const manager = await started(t);
    const empty = await manager.getStats();
    assert.equal(empty.totalFiles, 0);
    assert.equal(empty.uploadsCompleted, 0);
    const a = await manager.uploadMedia(bytes(10_000));
    const b = await manager.uploadMedia(bytes(20_000));
    await manager.uploadMedia(bytes(10_000), { privateTo: [ageKeys().recipient] });
    await manager.uploadMedia(Buffer.from(await manager.downloadMedia(a)));
    await manager.downloadMedia(b);
    const stats = await manager.getStats();
    assert.equal(stats.totalFiles, 3);
    assert.ok(stats.totalSize >= 40_000);
    assert.equal(stats.privateFiles, 1);
    assert.equal(stats.cdnFiles, 3);
    assert.ok(stats.p2pFiles >= 2);
    assert.equal(stats.uploadsStarted, 4);
    assert.equal(stats.uploadsCompleted, 4);
    assert.equal(stats.deduplicated, 1);
    assert.ok(stats.downloadsCompleted >= 2);
    assert.ok(stats.bytesDownloaded >= 30_000);
    assert.equal(stats.uploadsFailed, 0);
    assert.ok(stats.stores.length >= 3);
  });
});

describe('lifecycle', () => {
  test('initialize is idempotent; calls before it and after destroy fail clearly', async (t) => {
    const dataDir = tempDir(t);
    const manager = new MediaStorageManager({ dataDir });
    await assert.rejects(manager.uploadMedia(bytes(10)), MediaUnavailableError);
    const events: string[] = [];
    manager.on('initialized', () => events.push('initialized'));
    manager.on('destroyed', () => events.push('destroyed'));
    await Promise.all([manager.initialize(), manager.initialize()]);
    assert.ok(manager.initialized);
    const file = await manager.uploadMedia(bytes(5000));
    await manager.destroy();
    await manager.destroy();
    assert.ok(!manager.initialized);
    assert.deepEqual(events, ['initialized', 'destroyed']);
    await assert.rejects(manager.getStats(), MediaUnavailableError);

    // The catalog survives: a new manager over the same directory reads the file back.
    const again = new MediaStorageManager({ dataDir });
    await again.initialize();
    t.after(() => again.destroy());
    assert.equal((await again.getMedia(file.id))?.id, file.id);
    assert.equal(sha256(await again.downloadMedia(file)), file.id);
  });

  test('one data directory has one manager at a time', async (t) => {
    const dataDir = tempDir(t);
    const first = new MediaStorageManager({ dataDir });
    await first.initialize();
    t.after(() => first.destroy());
    const second = new MediaStorageManager({ dataDir });
    await assert.rejects(second.initialize(), MediaUnavailableError);
  });

  test('stores and P2P consent are chosen at initialize', async (t) => {
    const manager = await started(t, { stores: ['cdn'], p2p: 'off' });
    const file = await manager.uploadMedia(bytes(10_000));
    assert.deepEqual(file.locations.map((l) => l.kind), ['cdn']);
    assert.equal(file.torrentMagnet ?? null, null);
    await assert.rejects(started(t, { stores: ['floppy'] }), MediaInvalidInputError);
  });
});
