/**
 * Object cache: whole recent objects, LRU bounded by bytes, shared by every consumer of any partition in
 * them. Concurrent misses for one key share one GET. Old data (lagging consumers) is read through the
 * lagging read cache (lagging-read-cache.ts), a budget of its own, so a backfill cannot evict the tail.
 *
 * An object is held as the parts it was built from: the batches this broker wrote, as views into their
 * produce requests (write-through, no copy), or the one buffer a GET returned. Reads answer a byte range
 * as views of those parts; a range that covers several parts is several views, sent back to back.
 */
import type { ByteRange, ObjectStore } from '../../objectstore/object-store.ts';

export interface ObjectCacheStats {
  hits: number;
  misses: number;
  rangeReads: number;
  bytes: number;
  objects: number;
}

interface CachedObject {
  parts: readonly Buffer[];
  /** Object offset at which each part starts. */
  starts: number[];
  size: number;
}

export class ObjectCache {
  // Map iteration order is insertion order: re-inserting on hit makes it an LRU.
  private readonly entries = new Map<string, CachedObject>();
  private readonly loading = new Map<string, Promise<CachedObject>>();
  private bytes = 0;
  readonly stats: ObjectCacheStats = { hits: 0, misses: 0, rangeReads: 0, bytes: 0, objects: 0 };

  constructor(private readonly store: ObjectStore, private readonly maxBytes: number) {}

  /** Adds an object this broker just wrote, given as its parts in order (write-through: its own tail is never read back). */
  put(key: string, parts: readonly Buffer[]): void {
    this.insert(key, cachedObject(parts));
  }

  /** The bytes `range` of an object, as views of its cached parts; the whole object is fetched and cached on a miss. */
  async getRecent(key: string, range: ByteRange): Promise<Buffer[]> {
    const hit = this.entries.get(key);
    if (hit) {
      this.stats.hits++;
      this.entries.delete(key);
      this.entries.set(key, hit);
      return slices(hit, range);
    }
    const inFlight = this.loading.get(key);
    if (inFlight) {
      this.stats.hits++;
      return slices(await inFlight, range);
    }
    this.stats.misses++;
    const load = this.store.get(key).then(
      (body) => {
        this.loading.delete(key);
        const object = cachedObject([body]);
        this.insert(key, object);
        return object;
      },
      (err: unknown) => {
        this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, load);
    return slices(await load, range);
  }

  /** A byte range of an object held here (counted as a hit), else undefined. */
  cached(key: string, range: ByteRange): Buffer[] | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.stats.hits++;
    return slices(hit, range);
  }

  /** A byte range, from the cache when the object is there, else read exactly and not cached. */
  async getRange(key: string, range: ByteRange): Promise<Buffer[]> {
    const hit = this.entries.get(key) ?? (await this.loading.get(key));
    if (hit) {
      this.stats.hits++;
      return slices(hit, range);
    }
    this.stats.rangeReads++;
    return [await this.store.get(key, range)];
  }

  drop(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.bytes -= old.size;
    this.entries.delete(key);
  }

  snapshot(): ObjectCacheStats {
    return { ...this.stats, bytes: this.bytes, objects: this.entries.size };
  }

  private insert(key: string, object: CachedObject): void {
    if (object.size > this.maxBytes) return;
    this.drop(key);
    this.entries.set(key, object);
    this.bytes += object.size;
    this.evict();
  }

  private evict(): void {
    for (const [key, object] of this.entries) {
      if (this.bytes <= this.maxBytes) return;
      this.entries.delete(key);
      this.bytes -= object.size;
    }
  }
}

function cachedObject(parts: readonly Buffer[]): CachedObject {
  const starts: number[] = new Array(parts.length);
  let size = 0;
  for (let i = 0; i < parts.length; i++) {
    starts[i] = size;
    size += parts[i]!.length;
  }
  return { parts, starts, size };
}

/** Views of the parts covering [start, end). */
function slices(object: CachedObject, { start, end }: ByteRange): Buffer[] {
  const { parts, starts } = object;
  if (start < 0 || end > object.size || start > end) throw new RangeError(`range [${start}, ${end}) outside an object of ${object.size} bytes`);
  // The last part starting at or before `start` (binary search).
  let lo = 0;
  let hi = parts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid]! <= start) lo = mid;
    else hi = mid - 1;
  }
  const out: Buffer[] = [];
  for (let i = lo; i < parts.length && starts[i]! < end; i++) {
    const from = Math.max(start - starts[i]!, 0);
    const to = Math.min(end - starts[i]!, parts[i]!.length);
    if (to > from) out.push(parts[i]!.subarray(from, to));
  }
  return out;
}
