// Engine errors as Error subclasses. The addon's errors carry the engine's kind and
// operation in a `[media:<kind>:<operation>] ` prefix (napi-rs cannot attach fields to an
// async function's error); this file is the one place that reads it.

/** Any error the media engine reports. `kind` is the engine's error kind. */
export class MediaStorageError extends Error {
  /** The engine's error kind: `not_found`, `timeout`, `integrity`, `unavailable`, ... */
  readonly kind: string;
  /** The operation it happened in: `upload`, `download`, `delete`, `catalog`, ... */
  readonly operation: string;
  constructor(message: string, kind = 'internal', operation = 'unknown', options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.kind = kind;
    this.operation = operation;
  }
}

/** No such media, file, or store. */
export class MediaNotFoundError extends MediaStorageError {}
/** A store or the whole read took longer than allowed. */
export class MediaTimeoutError extends MediaStorageError {}
/** Bytes did not match the id asked for; nothing unverified was released. */
export class MediaIntegrityError extends MediaStorageError {}
/** A store, or the manager, is not available (destroyed, busy data directory). */
export class MediaUnavailableError extends MediaStorageError {}
/** A bad argument or input (unknown policy, malformed id, undecodable image). */
export class MediaInvalidInputError extends MediaStorageError {}
/** The engine does not support this. */
export class MediaUnsupportedError extends MediaStorageError {}
/** Not allowed (address out of reach, a store's credentials refused). */
export class MediaPermissionDeniedError extends MediaStorageError {}
/** Refused by the safety policy (a listed picture). */
export class MediaRefusedError extends MediaStorageError {}
/** The media expired. */
export class MediaExpiredError extends MediaStorageError {}
/** A file system or network error. */
export class MediaIoError extends MediaStorageError {}
/** The read or write policy could not be satisfied by any store. */
export class MediaPolicyError extends MediaStorageError {}
/** The operation was cancelled. */
export class MediaCancelledError extends MediaStorageError {}

const byKind: Record<string, typeof MediaStorageError> = {
  not_found: MediaNotFoundError,
  timeout: MediaTimeoutError,
  integrity: MediaIntegrityError,
  unavailable: MediaUnavailableError,
  invalid_input: MediaInvalidInputError,
  unsupported: MediaUnsupportedError,
  permission_denied: MediaPermissionDeniedError,
  refused: MediaRefusedError,
  expired: MediaExpiredError,
  io: MediaIoError,
  policy_unsatisfied: MediaPolicyError,
  cancelled: MediaCancelledError,
};

const prefix = /^\[media:([a-z_]+):([a-z_]+)\] /s;

/** The typed error for an error raised by the engine (anything else is returned as is). */
// What napi-rs raises when a JavaScript value has the wrong type for the Rust side.
const argumentCodes = new Set([
  'InvalidArg',
  'ObjectExpected',
  'StringExpected',
  'NameExpected',
  'FunctionExpected',
  'NumberExpected',
  'BooleanExpected',
  'ArrayExpected',
  'BigintExpected',
  'DateExpected',
  'ArrayBufferExpected',
  'DetachableArraybufferExpected',
]);

export function fromNative(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof MediaStorageError) return error;
  const found = prefix.exec(error.message);
  if (!found) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && argumentCodes.has(code)) {
      return new MediaInvalidInputError(error.message, 'invalid_input', 'unknown', { cause: error });
    }
    return error;
  }
  const [, kind, operation] = found;
  const Class = byKind[kind] ?? MediaStorageError;
  return new Class(error.message.slice(found[0].length), kind, operation, { cause: error });
}

/** An error of `kind` raised by the package itself. */
export function mediaError(kind: string, operation: string, message: string): MediaStorageError {
  const Class = byKind[kind] ?? MediaStorageError;
  return new Class(message, kind, operation);
}
