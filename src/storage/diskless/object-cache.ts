/**
 * Object cache: whole recent objects, LRU bounded by bytes, shared by every consumer of any partition in
 * them. Concurrent misses for one key share one GET. Old data (lagging consumers) is read by exact range
 * and not cached, so a backfill cannot evict the tail.
 */
import type { ByteRange, ObjectStore } from '../../objectstore/object-store.ts';

export interface ObjectCacheStats {
  hits: number;
  misses: number;
  rangeReads: number;
  bytes: number;
  objects: number;
}

export class ObjectCache {
  // Map iteration order is insertion order: re-inserting on hit makes it an LRU.
  private readonly entries = new Map<string, Buffer>();
  private readonly loading = new Map<string, Promise<Buffer>>();
  private bytes = 0;
  readonly stats: ObjectCacheStats = { hits: 0, misses: 0, rangeReads: 0, bytes: 0, objects: 0 };

  constructor(private readonly store: ObjectStore, private readonly maxBytes: number) {}

  /** Adds an object this broker just wrote (write-through: its own tail is never read back). */
  put(key: string, body: Buffer): void {
    if (body.length > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) this.bytes -= old.length;
    this.entries.delete(key);
    this.entries.set(key, body);
    this.bytes += body.length;
    this.evict();
  }

  /** Whole object, cached. */
  async getWhole(key: string): Promise<Buffer> {
    const hit = this.entries.get(key);
    if (hit) {
      this.stats.hits++;
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const inFlight = this.loading.get(key);
    if (inFlight) {
      this.stats.hits++;
      return inFlight;
    }
    this.stats.misses++;
    const load = this.store.get(key).then(
      (body) => {
        this.loading.delete(key);
        this.put(key, body);
        return body;
      },
      (err: unknown) => {
        this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, load);
    return load;
  }

  /** A byte range, from the cache when the object is there, else read exactly and not cached. */
  async getRange(key: string, range: ByteRange): Promise<Buffer> {
    const hit = this.entries.get(key) ?? (await this.loading.get(key));
    if (hit) {
      this.stats.hits++;
      return hit.subarray(range.start, range.end);
    }
    this.stats.rangeReads++;
    return this.store.get(key, range);
  }

  drop(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.bytes -= old.length;
    this.entries.delete(key);
  }

  snapshot(): ObjectCacheStats {
    return { ...this.stats, bytes: this.bytes, objects: this.entries.size };
  }

  private evict(): void {
    for (const [key, body] of this.entries) {
      if (this.bytes <= this.maxBytes) return;
      this.entries.delete(key);
      this.bytes -= body.length;
    }
  }
}
