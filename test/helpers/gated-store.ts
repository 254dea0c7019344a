/**
 * An in-memory object store whose PUTs wait until the test releases them, one `pending` entry per PUT call
 * (a hedged upload's second PUT too): the diskless writer's ordering, failure and hedging tests hold and
 * release uploads in any order. The real stores have their own conformance suite.
 */
import type { ByteRange, ObjectInfo, ObjectStore } from '../../src/objectstore/object-store.ts';

export class GatedStore implements ObjectStore {
  readonly objects = new Map<string, Buffer>();
  readonly pending: { key: string; crc32c: number | undefined; release: (fail?: Error) => void }[] = [];
  put(key: string, body: Buffer | readonly Buffer[], crc32c?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({
        key,
        crc32c,
        release: (fail) => {
          if (fail) return reject(fail);
          this.objects.set(key, Buffer.isBuffer(body) ? body : Buffer.concat(body as Buffer[]));
          resolve();
        },
      });
    });
  }
  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const body = this.objects.get(key)!;
    return range ? body.subarray(range.start, range.end) : body;
  }
  async deleteMany(): Promise<void> {}
  async *list(): AsyncIterable<ObjectInfo> {}
  async close(): Promise<void> {}
}
