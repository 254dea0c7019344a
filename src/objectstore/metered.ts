/** Counts and times every object store request for the broker's metrics; behaviour is unchanged. */
import type { BrokerMetrics } from '../observability/metrics.ts';
import type { ByteRange, ObjectInfo, ObjectStore } from './object-store.ts';

export class MeteredObjectStore implements ObjectStore {
  constructor(private readonly inner: ObjectStore, private readonly metrics: BrokerMetrics) {}

  put(key: string, body: Buffer | readonly Buffer[], crc32c?: number): Promise<void> {
    const bytes = Buffer.isBuffer(body) ? body.length : body.reduce((n, b) => n + b.length, 0);
    return this.time('put', this.inner.put(key, body, crc32c), () => bytes);
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    return this.time('get', this.inner.get(key, range), (b) => b.length);
  }

  deleteMany(keys: readonly string[]): Promise<void> {
    return this.time('delete', this.inner.deleteMany(keys), () => 0);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.metrics.objectStoreRequests.inc({ op: 'list' });
    yield* this.inner.list(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async time<T>(op: string, pending: Promise<T>, bytesOf: (value: T) => number): Promise<T> {
    const end = this.metrics.objectStoreSeconds.startTimer({ op });
    this.metrics.objectStoreRequests.inc({ op });
    try {
      const value = await pending;
      const bytes = bytesOf(value);
      if (bytes > 0) this.metrics.objectStoreBytes.inc({ op }, bytes);
      return value;
    } catch (err) {
      this.metrics.objectStoreErrors.inc({ op });
      throw err;
    } finally {
      end();
    }
  }
}
