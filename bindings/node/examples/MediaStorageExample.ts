// The seed's MediaStorageExample.ts: start a manager, store a photo on every store, read it
// back peer-first, show the stats. Run it with `node examples/MediaStorageExample.ts`
// (Node ≥ 22.18 runs TypeScript as is) after `npm run build`.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaStorageManager, MediaNotFoundError } from '../ts/index.ts';

const dataDir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'media-example-'));
const manager = new MediaStorageManager({ dataDir, allowPrivateAddresses: true });

manager.on('uploadProgress', (e) => console.log(`  ${e.store}: ${e.bytes}/${e.total} bytes`));
manager.on('uploadComplete', (e) => console.log(`stored on ${e.stores.join(', ')}`));
manager.on('fallback', (e) => console.log(`  ${e.from} failed (${e.error?.message}), trying ${e.to}`));
manager.on('downloadComplete', (e) => console.log(`verified ${e.bytes} bytes from ${e.stores.join(', ')}`));

await manager.initialize();
try {
  const photo = Buffer.from('a photo from the dating app, '.repeat(4000));
  const file = await manager.uploadMedia(photo, { name: 'profile.jpg', mimeType: 'image/jpeg' });
  console.log(`id        ${file.id}`);
  console.log(`url       ${file.url}`);
  console.log(`magnet    ${file.torrentMagnet}`);
  console.log(`ipfs      ${file.ipfsCid}`);
  console.log(`reference ${file.reference}`);

  const back = await manager.downloadMedia(file, { preferP2P: true });
  console.log(`read back ${back.length} bytes, ${back.equals(photo) ? 'identical' : 'DIFFERENT'}`);

  try {
    await manager.downloadMedia('0'.repeat(64));
  } catch (error) {
    if (error instanceof MediaNotFoundError) console.log(`unknown id: ${error.kind}`);
    else throw error;
  }

  const stats = await manager.getStats();
  console.log(`files ${stats.totalFiles}, uploads ${stats.uploadsCompleted}, downloads ${stats.downloadsCompleted}`);
} finally {
  await manager.destroy();
  if (!process.argv[2]) rmSync(dataDir, { recursive: true, force: true });
}
