/**
 * The object-store seam. Objects are immutable blobs written once (one PUT per WAL object) and read by
 * byte range. Backends: `fs.ts` (a folder, the embedded default) and `s3.ts` (any S3-speaking server);
 * `faulty.ts` wraps either with latency and faults for tests and benchmarks; `open.ts` picks from config.
 */
export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, exclusive. */
  end: number;
}

export interface ObjectStore {
  /**
   * Stores the object atomically: readers see all of it or nothing. The body may be given in chunks. `crc32c`:
   * the body's CRC-32C when the caller knows it (a store that sends a checksum then need not read the body for it).
   */
  put(key: string, body: Buffer | readonly Buffer[], crc32c?: number): Promise<void>;
  /** Reads the whole object, or `range` of it. Rejects with ObjectNotFoundError when the key does not exist. */
  get(key: string, range?: ByteRange): Promise<Buffer>;
  /** Deletes the keys that exist; missing keys are not an error. */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  close(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}

/**
 * A request the store could not complete (network error, 5xx, throttling, timeout). `retriable`: trying
 * again later may succeed; the broker answers producers and consumers a retriable error either way.
 */
export class ObjectStoreError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    readonly status?: number,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ObjectStoreError';
  }
}

/** An object store call that did not finish within its deadline (the request may still complete). */
export class ObjectStoreTimeoutError extends ObjectStoreError {
  constructor(op: string, key: string, ms: number) {
    super(`object store ${op} ${key} timed out after ${ms} ms`, true, undefined, 'Timeout');
    this.name = 'ObjectStoreTimeoutError';
  }
}
