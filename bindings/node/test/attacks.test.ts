// A stranger's words reach the package as MediaFile records (a chat message, a profile):
// each attack here hands the manager what a stranger would, and checks that nothing but the
// bytes of the id asked for comes out, nothing the stranger names on this host is
// contacted, and nothing of the owner's is removed.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  MediaCancelledError,
  MediaInvalidInputError,
  MediaStorageError,
  MediaStorageManager,
  MediaTimeoutError,
  type MediaFile,
} from '../ts/index.ts';
import { ageKeys, bytes, sha256, started, tempDir } from './helpers.ts';

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
    const forged = file.reference.replace(/root=[0-9a-f]{8}/, 'root=00000000');
    assert.notEqual(forged, file.reference);
    await assert.rejects(
      reader.downloadMedia(file, { start: 1_100_000, end: 1_200_000, reference: forged }),
      MediaStorageError,
    );
    // The genuine reference anchors it, and the range verifies.
    const part = await reader.downloadMedia(file, { start: 1_100_000, end: 1_199_999, reference: file.reference });
    assert.equal(part.length, 100_000);
  });

  test('vouching for itself (its own reference) anchors nothing and poisons nothing', async (t) => {
    const owner = await started(t);
    const stranger = await started(t);
    const reader = await started(t);
    const genuine = await owner.uploadMedia(bytes(2_500_000), { name: 'genuine.bin' });
    const junk = await stranger.uploadMedia(Buffer.alloc(2_500_000, 0x41), { name: 'junk.bin' });
    // The stranger's MediaFile: the genuine id over his own chunk list, with a reference
    // that matches his record (his size and chunk root) under the genuine id.
    const root = /root=([0-9a-f]+)/.exec(junk.reference)![1];
    const forged = withRecord({ ...junk, id: genuine.id }, (r) => {
      r.id = genuine.id;
      r.sha256 = genuine.id;
    });
    forged.reference = `media:${genuine.id}?size=${junk.size}&root=${root}`;
    await assert.rejects(reader.downloadMedia(forged, { start: 0, end: 999 }), MediaStorageError);
    const pushed: Buffer[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of reader.createReadStream(forged)) pushed.push(chunk);
      })(),
      MediaStorageError,
    );
    assert.equal(Buffer.concat(pushed).length, 0, 'unverified bytes were pushed');
    // The genuine media still reads, whole and by range with its owner's reference.
    assert.equal(sha256(await reader.downloadMedia(genuine)), genuine.id);
    const part = await reader.downloadMedia(genuine, { start: 0, end: 999, reference: genuine.reference });
    assert.equal(part.length, 1000);
  });

  test('whose id is not its record\'s is refused, and deletes nothing', async (t) => {
    const owner = await started(t);
    const stranger = await started(t);
    const mine = await owner.uploadMedia(bytes(60_000), { name: 'mine.bin' });
    const his = await stranger.uploadMedia(bytes(60_000), { name: 'his.bin' });
    const evil: MediaFile = { ...his, id: mine.id };
    await assert.rejects(owner.downloadMedia(evil), MediaInvalidInputError);
    await assert.rejects(owner.deleteMedia(evil), MediaInvalidInputError);
    await assert.rejects(owner.importMedia(evil), MediaInvalidInputError);
    const still = await fetch(mine.url!);
    assert.equal(still.status, 200);
    assert.equal((await owner.getMedia(mine.id))?.id, mine.id);
  });

  test('claiming terabytes is refused before anything is spooled', async (t) => {
    const owner = await started(t);
    const reader = await started(t);
    const file = await owner.uploadMedia(bytes(100_000));
    // (8 TiB would need 8 Mi chunk hashes: over the 4 MiB record bound, tested above.)
    const big = withRecord(file, (r) => {
      r.size = 5 * 2 ** 30;
      r.chunks = Array.from({ length: 5 * 2 ** 10 }, () => r.chunks[0]);
    });
    // 5 GiB (a 350 KB record) is over the node's 4 GiB bound for a record nothing anchors.
    await assert.rejects(
      (async () => {
        for await (const _ of reader.createReadStream(big)) void _;
      })(),
      /more than this node accepts/,
    );
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

describe('a stranger\'s slow store, a quiet upload, a destroyed manager', () => {
  /** A store that sends headers, then one byte a second. */
  async function trickle(t: import('node:test').TestContext) {
    const sockets = new Set<import('node:net').Socket>();
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(1 << 20) });
      const timer = setInterval(() => res.write('x'), 1000);
      res.on('close', () => clearInterval(timer));
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      server.close();
      for (const s of sockets) s.destroy();
    });
    return { port: (server.address() as AddressInfo).port, sockets };
  }

  test('a read past its deadline fails, and destroy() ends a stalled read and frees the directory', async (t) => {
    const owner = await started(t);
    const file = await owner.uploadMedia(bytes(200_000));
    const slow = await trickle(t);
    const lure = withRecord(file, (r) => {
      r.locations = [{ kind: 'cdn', uri: `http://127.0.0.1:${slow.port}/${file.id}`, hints: { key: file.id } }];
    });
    const dataDir = tempDir(t);
    const reader = new MediaStorageManager({ dataDir, allowPrivateAddresses: true, attemptTimeoutMs: 60_000 });
    await reader.initialize();
    t.after(() => reader.destroy());
    await assert.rejects(reader.downloadMedia(lure, { policy: 'cdn', deadline: 1500 }), MediaTimeoutError);

    const stream = reader.createReadStream(lure, { policy: 'cdn' });
    const ended = new Promise<unknown>((resolve) => {
      stream.on('error', resolve);
      stream.on('close', () => resolve('closed'));
    });
    stream.resume();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await reader.destroy();
    const outcome = await ended;
    assert.ok(outcome instanceof MediaCancelledError || outcome === 'closed', String(outcome));
    // A paused stream holding buffered bytes ends with an error after destroy(), never with
    // an end that would pass a truncated file for a whole one.
    const paused = new MediaStorageManager({ dataDir: tempDir(t) });
    await paused.initialize();
    const big = await paused.uploadMedia(bytes(6 << 20));
    const partial = paused.createReadStream(big);
    let got = 0;
    const finished = new Promise<unknown>((resolve) => {
      partial.on('end', () => resolve('end'));
      partial.on('error', resolve);
    });
    await new Promise<void>((resolve) =>
      partial.once('data', (c: Buffer) => {
        got += c.length;
        partial.pause();
        resolve();
      }),
    );
    await paused.destroy();
    partial.on('data', (c: Buffer) => (got += c.length));
    partial.resume();
    const finish = await finished;
    assert.ok(finish instanceof MediaCancelledError, `ended with ${String(finish)} after ${got} of ${big.size} bytes`);
    // The directory opens again at once: nothing of the old node is held.
    const again = new MediaStorageManager({ dataDir });
    await again.initialize();
    await again.destroy();
  });

  test('a stream upload that goes quiet fails at its idle timeout and stores nothing', async (t) => {
    const manager = await started(t);
    async function* quiet() {
      yield bytes(100_000);
      await new Promise(() => {});
    }
    const started_ = Date.now();
    await assert.rejects(manager.uploadMedia(quiet(), { idleTimeout: 1000 }), /timed out/);
    assert.ok(Date.now() - started_ < 30_000);
    assert.deepEqual(await manager.listMedia(), []);
  });

  test('destroy() settles an upload whose source never ends', async (t) => {
    const dataDir = tempDir(t);
    const manager = new MediaStorageManager({ dataDir });
    await manager.initialize();
    async function* forever() {
      yield bytes(100_000);
      await new Promise(() => {});
    }
    const outcome = manager.uploadMedia(forever()).then(
      () => 'stored',
      (e: unknown) => e,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await manager.destroy();
    const settled = await outcome;
    assert.ok(settled instanceof MediaStorageError, String(settled));
    const again = new MediaStorageManager({ dataDir });
    await again.initialize();
    assert.deepEqual(await again.listMedia(), []);
    await again.destroy();
  });

  test('out-of-range numbers and wrong types are typed errors, never a crash', async (t) => {
    const manager = await started(t);
    const file = await manager.uploadMedia(bytes(1000));
    for (const options of [{ expiresIn: 1e20 }, { expiresIn: -1 }, { expiresIn: Number.NaN }, { idleTimeout: 0 }]) {
      await assert.rejects(manager.uploadMedia(bytes(10), options), MediaInvalidInputError, JSON.stringify(options));
    }
    for (const options of [{ timeout: 0.4 }, { timeout: -1 }, { timeout: 2 ** 40 }, { deadline: Number.NaN }, { hedgeAfterMs: -5 }]) {
      await assert.rejects(manager.downloadMedia(file, options), MediaInvalidInputError, JSON.stringify(options));
    }
    await assert.rejects(manager.downloadMedia(file, { start: 'x' } as never), MediaInvalidInputError);
    await assert.rejects(manager.downloadMedia(file, { reference: 5 } as never), MediaInvalidInputError);
    await assert.rejects(manager.deleteMedia(null as never), MediaInvalidInputError);
    await assert.rejects(manager.uploadMedia((async function* () { yield 5; })() as never), MediaInvalidInputError);
    const text = await manager.uploadMedia(Readable.from(['abc', 'def']), { name: 'text.txt' });
    assert.equal(text.id, sha256(Buffer.from('abcdef')));
  });

  test('identities pasted in the wrong field are not echoed', async (t) => {
    const manager = await started(t);
    const { identity } = ageKeys();
    const errors: string[] = [];
    for (const attempt of [
      () => manager.uploadMedia(bytes(10), { privateTo: [identity] }),
      () => manager.downloadMedia(sha256(Buffer.from('x')), { policy: identity }),
    ]) {
      await attempt().then(
        () => assert.fail('accepted'),
        (e: Error) => errors.push(e.message),
      );
    }
    const configFile = join(tempDir(t), 'media.toml');
    writeFileSync(configFile, `# created by age-keygen\n${identity}\n`);
    const configured = new MediaStorageManager({ dataDir: tempDir(t), configFile });
    await configured.initialize().then(
      () => assert.fail('a key file was taken for a configuration'),
      (e: Error) => errors.push(e.message),
    );
    for (const message of errors) assert.ok(!message.includes(identity.slice(16)), message);
  });

  test('downloadToFile replaces only its target, never a sibling, a link or a device', async (t) => {
    const manager = await started(t);
    const file = await manager.uploadMedia(bytes(50_000));
    const dir = tempDir(t);
    const sibling = join(dir, 'report.part1');
    writeFileSync(sibling, 'keep me');
    const target = join(dir, 'report.pdf');
    await manager.downloadToFile(file, target);
    assert.equal(readFileSync(sibling, 'utf8'), 'keep me');
    assert.equal(sha256(readFileSync(target)), file.id);
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'untouched');
    symlinkSync(victim, join(dir, 'link.bin'));
    await assert.rejects(manager.downloadToFile(file, join(dir, 'link.bin')), MediaInvalidInputError);
    assert.equal(readFileSync(victim, 'utf8'), 'untouched');
    await assert.rejects(manager.downloadToFile(file, dir), MediaInvalidInputError);
    await assert.rejects(manager.downloadToFile(file, '/dev/null'), MediaInvalidInputError);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.part')), []);
  });
});
