/**
 * The object-store seam. Objects are immutable blobs written once (one PUT per WAL object) and read by
 * byte range. Backends: `fs.ts` (a folder, the embedded default); `s3.ts` later.
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
  /** Stores the object atomically: readers see all of it or nothing. The body may be given in chunks. */
  put(key: string, body: Buffer | readonly Buffer[]): Promise<void>;
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
