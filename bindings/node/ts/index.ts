// The `media-store` package: `MediaStorageManager`, an EventEmitter over the Rust engine
// (the napi-rs addon in ../src). This file adapts shapes only: JavaScript inputs to the
// addon's calls, the addon's reads to Node streams, its events to `emit`, its errors to
// Error subclasses. Verification, policies, stores and events are the engine's.

import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { fromNative, mediaError } from './errors.ts';
import type * as Native from '../native/index.cjs';

export * from './errors.ts';
export type {
  Endpoint,
  EventError,
  ManagerOptions,
  MediaDownloadOptions,
  MediaEvent,
  MediaEventName,
  MediaFile,
  MediaLocation,
  MediaStorageStats,
  MediaUploadOptions,
  StoreHealth,
  StoreStats,
} from '../native/index.cjs';

const native: typeof Native = createRequire(import.meta.url)('../native/index.cjs');

type MediaFile = Native.MediaFile;

/** What `uploadMedia` takes: a path, bytes, a Blob/File, or any stream of bytes. */
export type UploadInput =
  | string
  | { path: string }
  | Uint8Array
  | Blob
  | NodeJS.ReadableStream
  | AsyncIterable<Uint8Array>;

/** A stored file, its id, or its engine record: what the read and delete calls take. */
export type MediaTarget = MediaFile | string;

/** `downloadMedia`'s options: the engine's, plus a bound on what it holds in memory. */
export interface DownloadOptions extends Native.MediaDownloadOptions {
  /** The most `downloadMedia` collects into one Buffer (default 64 MiB); larger media
   *  need `createReadStream` or `downloadToFile`. */
  maxBytes?: number;
}

/** Events a manager emits: every engine event under its `MediaEventName` (generated from
 *  the Rust enum), each listener receiving the engine's `MediaEvent`. */
export type MediaStorageEvents = { [K in Native.MediaEventName]: [Native.MediaEvent] } & {
  /** Every engine event, under its engine name in `event.event`. */
  event: [Native.MediaEvent];
  /** Failures (`uploadError`, `downloadError`, `storeFailed`, `integrityFailure`), as
   *  typed errors; emitted only while someone listens, so an app that does not listen for
   *  `error` is not crashed by a store that failed while another succeeded. */
  error: [Error, Native.MediaEvent];
  initialized: [];
  destroyed: [];
};

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

function targetOf(target: MediaTarget): string {
  if (typeof target === 'string') return target;
  if (target && typeof target.record === 'string' && target.record.length > 0) return target.record;
  if (target && typeof target.id === 'string') return target.id;
  throw mediaError('invalid_input', 'download', 'expected a MediaFile or a media id');
}

/** The read options for `target`: a `MediaFile` brings the reference its sender shared. */
function readOptions<T extends Native.MediaDownloadOptions>(target: MediaTarget, options: T): T {
  if (typeof target === 'string' || options.reference || !target.reference) return options;
  return { ...options, reference: target.reference };
}

function idOf(target: MediaTarget): string {
  return typeof target === 'string' ? target : target.id;
}

async function call<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw fromNative(error);
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return value != null && typeof (value as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function';
}

/**
 * Stores media on every configured store (CDN over S3, IPFS, BitTorrent, Blossom) and reads
 * it back from whichever answers, every byte verified against its id.
 *
 * ```ts
 * const manager = new MediaStorageManager({ dataDir: '/var/lib/app/media' });
 * await manager.initialize();
 * manager.on('uploadProgress', (e) => console.log(e.store, e.bytes, e.total));
 * const file = await manager.uploadMedia('photo.jpg');
 * const bytes = await manager.downloadMedia(file, { preferP2P: true });
 * await manager.destroy();
 * ```
 */
export class MediaStorageManager extends EventEmitter<MediaStorageEvents> {
  readonly options: Native.ManagerOptions;
  #native: Native.NativeManager | undefined;
  #opening: Promise<void> | undefined;

  constructor(options: Native.ManagerOptions) {
    super();
    this.options = { ...options };
  }

  /** Whether `initialize()` finished and `destroy()` was not called. */
  get initialized(): boolean {
    return this.#native !== undefined;
  }

  /** Start the stores. Calling it again returns the same start. */
  initialize(): Promise<void> {
    this.#opening ??= (async () => {
      const manager = await call(native.openManager(this.options));
      await call(manager.subscribe((event: Native.MediaEvent) => this.#deliver(event)));
      this.#native = manager;
      this.emit('initialized');
    })().catch((error: unknown) => {
      this.#opening = undefined;
      throw error;
    });
    return this.#opening;
  }

  #deliver(event: Native.MediaEvent): void {
    this.emit(event.name, event);
    this.emit('event', event);
    if (event.isError && this.listenerCount('error') > 0) {
      const failure = event.error
        ? mediaError(event.error.kind, event.error.operation, event.error.message)
        : mediaError('internal', 'unknown', event.name);
      this.emit('error', failure, event);
    }
  }

  #manager(): Native.NativeManager {
    if (!this.#native) {
      throw mediaError('unavailable', 'configure', 'call initialize() first (or the manager was destroyed)');
    }
    return this.#native;
  }

  /** Store `input` on every store; resolves with the stored file once a store has it. */
  async uploadMedia(input: UploadInput, options: Native.MediaUploadOptions = {}): Promise<MediaFile> {
    const manager = this.#manager();
    if (typeof input === 'string') return call(manager.uploadPath(input, options));
    if (typeof input === 'object' && input !== null && 'path' in input && typeof input.path === 'string') {
      return call(manager.uploadPath(input.path, options));
    }
    if (input instanceof Uint8Array) {
      const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      return call(manager.uploadBuffer(bytes, options));
    }
    let chunks: AsyncIterable<Uint8Array>;
    if (typeof Blob !== 'undefined' && input instanceof Blob) {
      const named = input as Blob & { name?: string };
      options = { name: named.name, mimeType: input.type || undefined, ...options };
      chunks = input.stream() as unknown as AsyncIterable<Uint8Array>;
    } else if (isAsyncIterable(input)) {
      chunks = input;
    } else {
      throw mediaError('invalid_input', 'upload', 'uploadMedia takes a path, bytes, a Blob or a stream');
    }
    const upload = await call(manager.beginUpload(options));
    try {
      for await (const chunk of chunks) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        await call(upload.write(bytes));
      }
      return await call(upload.finish());
    } catch (error) {
      await upload.abort(error instanceof Error ? error.message : String(error)).catch(() => {});
      throw error;
    }
  }

  /**
   * A Node `Readable` of the verified bytes of `target` (or of `start`..`end`): nothing the
   * stores sent is pushed before it matched its hash. Private media need `identity`.
   */
  createReadStream(target: MediaTarget, options: Native.MediaDownloadOptions = {}): Readable {
    const manager = this.#manager();
    const what = targetOf(target);
    options = readOptions(target, options);
    let download: Native.MediaDownload | undefined;
    const stream: Readable = new Readable({
      highWaterMark: 2 * 1024 * 1024,
      construct(done) {
        manager.openDownload(what, options).then(
          (opened) => {
            download = opened;
            done();
          },
          (error: unknown) => done(fromNative(error) as Error),
        );
      },
      read() {
        download!.read().then(
          (piece) => {
            stream.push(piece ?? null);
          },
          (error: unknown) => stream.destroy(fromNative(error) as Error),
        );
      },
      destroy(error, done) {
        if (!download) return done(error);
        download.cancel().then(() => done(error), () => done(error));
      },
    });
    return stream;
  }

  /** The verified bytes of `target` in one Buffer (at most `maxBytes`, default 64 MiB). */
  async downloadMedia(target: MediaTarget, options: DownloadOptions = {}): Promise<Buffer> {
    const { maxBytes = DEFAULT_MAX_BYTES, ...read } = options;
    const manager = this.#manager();
    const download = await call(manager.openDownload(targetOf(target), readOptions(target, read)));
    if (download.length != null && download.length > maxBytes) {
      await download.cancel();
      throw mediaError(
        'invalid_input',
        'download',
        `${download.length} bytes is more than maxBytes (${maxBytes}): use createReadStream or downloadToFile`,
      );
    }
    const pieces: Buffer[] = [];
    let total = 0;
    for (;;) {
      const piece = await call(download.read());
      if (!piece) break;
      total += piece.length;
      if (total > maxBytes) {
        await download.cancel();
        throw mediaError('invalid_input', 'download', `more than maxBytes (${maxBytes}): use createReadStream`);
      }
      pieces.push(piece);
    }
    return Buffer.concat(pieces, total);
  }

  /** Write the verified bytes of `target` to `path` (renamed into place once verified). */
  async downloadToFile(target: MediaTarget, path: string, options: Native.MediaDownloadOptions = {}): Promise<number> {
    return call(this.#manager().downloadToFile(targetOf(target), path, options));
  }

  /** Add a peer's `MediaFile` to this manager's catalog (checked against its digests). */
  async importMedia(file: MediaFile): Promise<MediaFile> {
    return call(this.#manager().importMedia(targetOf(file)));
  }

  /** The stored file with this id, or `null`. */
  async getMedia(id: string): Promise<MediaFile | null> {
    return (await call(this.#manager().get(id))) ?? null;
  }

  /** Every stored file. */
  async listMedia(): Promise<MediaFile[]> {
    return call(this.#manager().list());
  }

  /** Delete `target` from every store this node holds it on: `false` when it was unknown. */
  async deleteMedia(target: MediaTarget): Promise<boolean> {
    try {
      await call(this.#manager().delete(idOf(target)));
      return true;
    } catch (error) {
      if (error instanceof Error && (error as { kind?: string }).kind === 'not_found') return false;
      throw error;
    }
  }

  /** Counters (uploads, downloads, fallbacks, per store) and what the catalog holds. */
  async getStats(): Promise<Native.MediaStorageStats> {
    return call(this.#manager().stats());
  }

  /** Ask every store whether it answers. */
  async health(): Promise<Native.StoreHealth[]> {
    return call(this.#manager().health());
  }

  /** The node's endpoints (S3 server, IPFS gateway, Blossom, ...). */
  endpoints(): Native.Endpoint[] {
    return this.#manager().endpoints();
  }

  /** Stop every store and release the data directory. Safe to call twice. */
  async destroy(): Promise<void> {
    const manager = this.#native;
    this.#native = undefined;
    this.#opening = undefined;
    if (manager) {
      await call(manager.close());
      this.emit('destroyed');
    }
  }
}

export default MediaStorageManager;
