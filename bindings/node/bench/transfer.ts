// `cargo xtask bench node`: a file uploaded and downloaded through the package against the
// `media` CLI doing the same in the same run, alternating, median of the rounds; and the
// longest the event loop was blocked while the package moved the bytes
// (`perf_hooks.monitorEventLoopDelay`, 1 ms resolution).
//
//   node bench/transfer.ts <media binary> <file> [rounds]
//
// Each side starts its node, moves the bytes and stops, from a fresh data directory per
// round: `media put` / `media get` against `initialize` + `uploadMedia` / `downloadToFile`
// or a `createReadStream` piped to a file + `destroy`. Prints one JSON line last.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { MediaStorageManager } from '../ts/index.ts';

const [media, file, roundsArg] = process.argv.slice(2);
if (!media || !file) {
  console.error('usage: node bench/transfer.ts <media binary> <file> [rounds]');
  process.exit(2);
}
const rounds = Number(roundsArg ?? 3);
const id = createHash('sha256').update(readFileSync(file)).digest('hex');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

let maxDelayMs = 0;
const maxDelayByStep: Record<string, number> = {};
// The share of the transfer the event loop spent running JavaScript (not waiting).
const utilization: Record<string, number> = {};

/** Run the CLI with the event loop idle but watched: the baseline of how late timers fire
 *  on this machine while the same bytes move in another process. */
async function cli(args: string[]): Promise<number> {
  const monitor = monitorEventLoopDelay({ resolution: 1 });
  monitor.enable();
  const start = performance.now();
  await promisify(execFile)(media, args, { maxBuffer: 1 << 20 });
  const elapsed = (performance.now() - start) / 1000;
  monitor.disable();
  maxDelayByStep.cli_idle = Math.max(maxDelayByStep.cli_idle ?? 0, monitor.max / 1e6);
  return elapsed;
}

async function secondsAsync<T>(work: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const result = await work();
  return [(performance.now() - start) / 1000, result];
}

function sha256Of(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

const figures = {
  cli_put: [] as number[],
  cli_get: [] as number[],
  package_put_path: [] as number[],
  package_put_stream: [] as number[],
  package_get_file: [] as number[],
  package_get_stream: [] as number[],
};

async function packageRun(
  step: string,
  dir: string,
  work: (m: MediaStorageManager) => Promise<unknown>,
): Promise<number> {
  const monitor = monitorEventLoopDelay({ resolution: 1 });
  let busy = 0;
  const [elapsed] = await secondsAsync(async () => {
    const manager = new MediaStorageManager({ dataDir: dir });
    await manager.initialize();
    monitor.enable();
    const before = performance.eventLoopUtilization();
    try {
      await work(manager);
    } finally {
      busy = performance.eventLoopUtilization(before).utilization;
      monitor.disable();
      await manager.destroy();
    }
  });
  utilization[step] = Math.max(utilization[step] ?? 0, busy);
  const max = monitor.max / 1e6;
  maxDelayMs = Math.max(maxDelayMs, max);
  maxDelayByStep[step] = Math.max(maxDelayByStep[step] ?? 0, max);
  return elapsed;
}

for (let round = 0; round < rounds; round++) {
  const base = mkdtempSync(join(tmpdir(), 'media-bench-node-'));
  try {
    // The CLI.
    const cliData = join(base, 'cli');
    figures.cli_put.push(await cli(['--data', cliData, '--local', '--quiet', 'put', file]));
    const cliOut = join(base, 'cli.out');
    figures.cli_get.push(await cli(['--data', cliData, '--local', '--quiet', 'get', id, '-o', cliOut]));
    if (sha256Of(cliOut) !== id) throw new Error('the CLI read back other bytes');

    // The package: a path, then a stream, each into a fresh directory.
    const byPath = join(base, 'pkg-path');
    figures.package_put_path.push(
      await packageRun('put_path', byPath, async (m) => {
        const stored = await m.uploadMedia(file);
        if (stored.id !== id) throw new Error(`stored ${stored.id}, not ${id}`);
      }),
    );
    const byStream = join(base, 'pkg-stream');
    figures.package_put_stream.push(
      await packageRun('put_stream', byStream, async (m) => {
        const stored = await m.uploadMedia(createReadStream(file, { highWaterMark: 1 << 20 }), { name: 'bench.bin' });
        if (stored.id !== id) throw new Error(`stored ${stored.id}, not ${id}`);
      }),
    );
    const fileOut = join(base, 'pkg-file.out');
    figures.package_get_file.push(await packageRun('get_file', byPath, (m) => m.downloadToFile(id, fileOut)));
    if (sha256Of(fileOut) !== id) throw new Error('downloadToFile read back other bytes');
    const streamOut = join(base, 'pkg-stream.out');
    figures.package_get_stream.push(
      await packageRun('get_stream', byStream, (m) => pipeline(m.createReadStream(id), createWriteStream(streamOut))),
    );
    if (sha256Of(streamOut) !== id) throw new Error('createReadStream read back other bytes');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

const result: Record<string, number> = { rounds };
for (const [name, values] of Object.entries(figures)) result[`${name}_s`] = median(values);
result.max_event_loop_delay_ms = Math.round(maxDelayMs * 100) / 100;
for (const [step, max] of Object.entries(maxDelayByStep)) result[`max_delay_${step}_ms`] = Math.round(max * 100) / 100;
for (const [step, share] of Object.entries(utilization)) result[`loop_busy_${step}`] = Math.round(share * 1000) / 1000;
console.log(JSON.stringify(result));
