// MediaStorageExample.ts runs as the README shows, and prints what it stored and read.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { tempDir } from './helpers.ts';

test('the example stores, reads back and counts', async (t) => {
  const example = fileURLToPath(new URL('../examples/MediaStorageExample.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [example, tempDir(t)], { timeout: 120_000 });
  assert.match(stdout, /^id {8}[0-9a-f]{64}$/m);
  assert.match(stdout, /^url {7}http:\/\/127\.0\.0\.1:\d+\//m);
  assert.match(stdout, /^magnet {4}magnet:\?xt=urn:btih:/m);
  assert.match(stdout, /^read back 116000 bytes, identical$/m);
  assert.match(stdout, /^unknown id: not_found$/m);
  assert.match(stdout, /^files 1, uploads 1, downloads 1$/m);
  assert.match(stdout, /^verified 116000 bytes from /m);
});
