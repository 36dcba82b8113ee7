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

/** What the addon reads `target` from: the record's JSON (or the id given), and the id the
 *  caller holds it under, which the engine checks is the record's. */
function targetOf(target: MediaTarget, operation: string): [string, string | undefined] {
  if (typeof target === 'string') return [target, undefined];
  if (target !== null && typeof target === 'object') {
    const { record, id } = target as Partial<MediaFile>;
    if (typeof record === 'string' && record.length > 0) return [record, typeof id === 'string' ? id : undefined];
    if (typeof id === 'string') return [id, undefined];
  }
  throw mediaError('invalid_input', operation, 'expected a MediaFile or a media id');
}

/** Run an addon call: its errors (thrown while converting the arguments, or rejected) as
 *  typed errors. */
async function call<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw fromNative(error);
  }
}

function withOptions<O>([what, id]: [string, string | undefined], options: O): [string, O, string | undefined] {
  return [what, options, id];
}

/** A chunk of a stream upload as bytes: strings (a `Readable` of text) as UTF-8. */
function chunkBytes(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw mediaError('invalid_input', 'upload', `a stream upload yields bytes or strings, not ${chunk === null ? 'null' : typeof chunk}`);
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
      const manager = await call(() => native.openManager(this.options));
      await call(() => manager.subscribe((event: Native.MediaEvent) => this.#deliver(event)));
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
    if (typeof input === 'string') return call(() => manager.uploadPath(input, options));
    if (typeof input === 'object' && input !== null && 'path' in input && typeof input.path === 'string') {
      return call(() => manager.uploadPath(input.path, options));
    }
    if (input instanceof Uint8Array) {
      const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      return call(() => manager.uploadBuffer(bytes, options));
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
    const upload = await call(() => manager.beginUpload(options));
    // The engine stops reading on its own (idle timeout, destroy()): then the outcome is its
    // error, even while the source has not yielded again.
    const stopped: unique symbol = Symbol('stopped');
    const engineStopped: Promise<typeof stopped> = upload.closed().then(() => stopped);
    const source = chunks[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await Promise.race([source.next(), engineStopped]);
        if (next === stopped) {
          void source.return?.()?.catch?.(() => {});
          return await call(() => upload.finish());
        }
        if (next.done) break;
        await call(() => upload.write(chunkBytes(next.value)));
      }
      return await call(() => upload.finish());
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
    const [what, id] = targetOf(target, 'download');
    let download: Native.MediaDownload | undefined;
    const stream: Readable = new Readable({
      highWaterMark: 2 * 1024 * 1024,
      construct(done) {
        call(() => manager.openDownload(what, options, id)).then(
          (opened) => {
            download = opened;
            done();
          },
          (error: unknown) => done(error as Error),
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
    const download = await call(() => manager.openDownload(...withOptions(targetOf(target, 'download'), read)));
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
      const piece = await call(() => download.read());
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
    const [what, id] = targetOf(target, 'download');
    return call(() => this.#manager().downloadToFile(what, path, options, id));
  }

  /** Add a peer's `MediaFile` to this manager's catalog (checked against its digests). */
  async importMedia(file: MediaFile): Promise<MediaFile> {
    const [record, id] = targetOf(file, 'catalog');
    return call(() => this.#manager().importMedia(record, id));
  }

  /** The stored file with this id, or `null`. */
  async getMedia(id: string): Promise<MediaFile | null> {
    return (await call(() => this.#manager().get(id))) ?? null;
  }

  /** Every stored file. */
  async listMedia(): Promise<MediaFile[]> {
    return call(() => this.#manager().list());
  }

  /** Delete `target` from every store this node holds it on: `false` when it was unknown. */
  async deleteMedia(target: MediaTarget): Promise<boolean> {
    try {
      const [what, id] = targetOf(target, 'delete');
      await call(() => this.#manager().delete(what, id));
      return true;
    } catch (error) {
      if (error instanceof Error && (error as { kind?: string }).kind === 'not_found') return false;
      throw error;
    }
  }

  /** Counters (uploads, downloads, fallbacks, per store) and what the catalog holds. */
  async getStats(): Promise<Native.MediaStorageStats> {
    return call(() => this.#manager().stats());
  }

  /** Ask every store whether it answers. */
  async health(): Promise<Native.StoreHealth[]> {
    return call(() => this.#manager().health());
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
      await call(() => manager.close());
      this.emit('destroyed');
    }
  }
}

export default MediaStorageManager;
