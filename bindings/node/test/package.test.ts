// The package as an app gets it: `npm pack`, installed into a fresh app, imported by name
// from plain JavaScript (the compiled dist/, not the TypeScript sources the other tests
// use), and type-checked from a TypeScript app against the shipped declarations.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { tempDir } from './helpers.ts';

const run = promisify(execFile);
const pkg = fileURLToPath(new URL('..', import.meta.url));

test('npm pack, npm install, import from JavaScript and TypeScript', async (t) => {
  assert.ok(existsSync(join(pkg, 'dist/index.js')), 'dist/ is missing: run `npm run build` (cargo xtask test does)');
  const packed = tempDir(t, 'media-pack');
  await run('npm', ['pack', '--silent', '--pack-destination', packed], { cwd: pkg, maxBuffer: 1 << 24 });
  const tarball = readdirSync(packed).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack wrote no tarball');

  const app = tempDir(t, 'media-app');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', join(packed, tarball)], {
    cwd: app,
    maxBuffer: 1 << 24,
  });

  writeFileSync(
    join(app, 'app.mjs'),
    `import { createHash } from 'node:crypto';
import { MediaStorageManager, MediaNotFoundError } from 'media-store';
const manager = new MediaStorageManager({ dataDir: process.argv[2] });
await manager.initialize();
const bytes = Buffer.from('installed from a tarball '.repeat(1000));
const file = await manager.uploadMedia(bytes, { name: 'a.bin' });
const back = await manager.downloadMedia(file);
let missing = '';
try { await manager.downloadMedia('0'.repeat(64)); } catch (e) { missing = e instanceof MediaNotFoundError ? e.kind : String(e); }
console.log(JSON.stringify({ id: file.id, sha256: createHash('sha256').update(back).digest('hex'), missing }));
await manager.destroy();
`,
  );
  const { stdout } = await run(process.execPath, ['app.mjs', tempDir(t)], { cwd: app, timeout: 120_000 });
  const result = JSON.parse(stdout.trim().split('\n').pop()!);
  assert.equal(result.sha256, result.id);
  assert.equal(result.missing, 'not_found');

  // A TypeScript app type-checks against the shipped .d.ts (the seed's type names included).
  writeFileSync(
    join(app, 'app.ts'),
    `import { MediaStorageManager, type MediaFile, type MediaUploadOptions, type MediaDownloadOptions, type MediaStorageStats } from 'media-store';
const manager = new MediaStorageManager({ dataDir: './data' });
manager.on('uploadProgress', (e) => { const n: number | undefined = e.bytes; void n; });
manager.on('error', (error, event) => { const m: string = error.message + event.name; void m; });
export async function use(options: MediaUploadOptions, read: MediaDownloadOptions): Promise<MediaStorageStats> {
  const file: MediaFile = await manager.uploadMedia(Buffer.from('x'), options);
  const url: string | undefined = file.url;
  const when: number = file.uploadedAt;
  void url; void when;
  await manager.downloadMedia(file, read);
  return manager.getStats();
}
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(pkg, 'node_modules/@types')] },
      files: ['app.ts'],
    }),
  );
  await run(process.execPath, [join(pkg, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: app }).catch((e) => {
    assert.fail(`tsc on the app: ${e.stdout}${e.stderr}`);
  });
});
