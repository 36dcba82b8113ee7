// Shared by the tests: temporary data directories, seeded bytes, hashes, managers that
// are destroyed when the test ends.

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { MediaStorageManager, type ManagerOptions } from '../ts/index.ts';

export function tempDir(t: TestContext, label = 'media'): string {
  const dir = mkdtempSync(join(tmpdir(), `${label}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `size` random bytes (every call different, so no upload is deduplicated by accident). */
export function bytes(size: number): Buffer {
  return randomBytes(size);
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A started manager over a fresh data directory, destroyed after the test. */
export async function started(
  t: TestContext,
  options: Partial<ManagerOptions> = {},
): Promise<MediaStorageManager> {
  const manager = new MediaStorageManager({
    dataDir: tempDir(t),
    allowPrivateAddresses: true,
    attemptTimeoutMs: 5000,
    ...options,
  });
  await manager.initialize();
  t.after(() => manager.destroy());
  return manager;
}

/** A fresh age identity and its recipient, from `age-keygen` (Debian's `age`). */
export function ageKeys(): { identity: string; recipient: string } {
  const out = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const identity = out.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'));
  const recipient = /public key: (age1\S+)/.exec(out)?.[1];
  if (!identity || !recipient) throw new Error(`age-keygen printed no key: ${out}`);
  return { identity, recipient };
}
