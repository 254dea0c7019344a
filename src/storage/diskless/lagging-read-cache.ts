/**
 * Lagging read cache: byte ranges of objects read for consumers behind the tail (and read ahead of them),
 * in a budget of their own (`diskless.lagging.cache.max.bytes`), apart from the object cache of recent
 * objects, so a backfill can never evict what tail consumers read.
 *
 * Ranges asked for in one turn of the event loop (every partition of a fetch, and the read-ahead planned
 * with it) are gathered per object, sorted, and read with as few ranged GETs as possible: ranges closer
 * than `coalesceGapBytes` are read as one GET (the gap is read and dropped), up to `maxGetBytes` per GET.
 * A range inside a held segment or a GET in flight is answered from it, so a consumer's next fetch finds
 * what was read ahead for it.
 *
 * Memory: held segments plus GETs in flight stay within `maxBytes` for read-ahead (a prefetch that does
 * not fit is skipped, after evicting segments already read); a read a fetch waits for is always made, and
 * evicts the least recently used segments once its bytes arrive.
 */
import type { ByteRange, ObjectStore } from '../../objectstore/object-store.ts';

export interface LaggingReadCacheOptions {
  maxBytes: number;
  coalesceGapBytes: number;
  maxGetBytes: number;
}

export interface LaggingReadStats {
  /** Ranges answered from a held segment or a GET in flight. */
  hits: number;
  /** Ranges that needed a GET of their own or one shared with others of their turn. */
  misses: number;
  /** Ranged GETs made. */
  gets: number;
  /** Bytes those GETs read. */
  getBytes: number;
  /** Read-ahead ranges asked for, and those skipped for want of room. */
  prefetches: number;
  prefetchesSkipped: number;
  /** Segments evicted before any of their bytes were read (read-ahead that was wasted). */
  evictedUnread: number;
  /** Most GETs in flight at once, and most bytes held plus in flight at once. */
  maxGetsInFlight: number;
  peakBytes: number;
}

interface Segment {
  key: string;
  start: number;
  end: number;
  /** Set once the GET arrived. */
  body: Buffer | null;
  /** Until then, the GET. */
  loading: Promise<Buffer> | null;
  /** Whether any fetch read from it (unread read-ahead is evicted last). */
  read: boolean;
}

interface Wanted {
  start: number;
  end: number;
  waiters: { resolve: (b: Buffer[]) => void; reject: (e: unknown) => void }[];
  prefetch: boolean;
}

export class LaggingReadCache {
  /** Per object, its segments sorted by start (they do not overlap). */
  private readonly objects = new Map<string, Segment[]>();
  /** Segments holding bytes, least recently used first (Map order; re-inserted on use). */
  private readonly lru = new Map<Segment, true>();
  private heldBytes = 0;
  private loadingBytes = 0;
  /** Ranges asked for this turn, per object, read when the turn ends. */
  private pending = new Map<string, Wanted[]>();
  private flushScheduled = false;
  readonly stats: LaggingReadStats = { hits: 0, misses: 0, gets: 0, getBytes: 0, prefetches: 0, prefetchesSkipped: 0, evictedUnread: 0, maxGetsInFlight: 0, peakBytes: 0 };
  private getsInFlight = 0;

  constructor(private readonly store: ObjectStore, readonly options: LaggingReadCacheOptions) {}

  /** Bytes held plus bytes of GETs in flight (what the budget bounds). */
  get bytes(): number {
    return this.heldBytes + this.loadingBytes;
  }

  /** The bytes `range` of object `key`, as views (one, or several back to back). */
  read(key: string, range: ByteRange): Promise<Buffer[]> {
    const found = this.find(key, range);
    if (found) {
      this.stats.hits++;
      return found;
    }
    this.stats.misses++;
    return new Promise<Buffer[]>((resolve, reject) => this.want(key, { start: range.start, end: range.end, waiters: [{ resolve, reject }], prefetch: false }));
  }

  /** Reads `range` ahead of a consumer, when it is not held already and there is room for it. */
  prefetch(key: string, range: ByteRange): void {
    if (this.options.maxBytes <= 0 || this.covered(key, range)) return;
    const size = range.end - range.start;
    let queued = 0;
    for (const wanted of this.pending.values()) for (const w of wanted) queued += w.end - w.start;
    if (this.bytes + queued + size > this.options.maxBytes && !this.evictRead(this.bytes + queued + size - this.options.maxBytes)) {
      this.stats.prefetchesSkipped++;
      return;
    }
    this.stats.prefetches++;
    this.want(key, { start: range.start, end: range.end, waiters: [], prefetch: true });
  }

  /** An object left the store's live set (retention, merge, compaction): forget its segments. */
  drop(key: string): void {
    const segments = this.objects.get(key);
    if (!segments) return;
    for (const s of segments) {
      if (s.body && this.lru.delete(s)) this.heldBytes -= s.end - s.start;
    }
    this.objects.delete(key);
  }

  snapshot(): LaggingReadStats & { bytes: number; segments: number } {
    return { ...this.stats, bytes: this.bytes, segments: this.lru.size };
  }

  /** A held or loading segment containing `range`, as a promise of its views. */
  private find(key: string, range: ByteRange): Promise<Buffer[]> | undefined {
    const segment = this.segmentFor(key, range);
    if (!segment) return undefined;
    segment.read = true;
    if (segment.body) {
      this.lru.delete(segment);
      this.lru.set(segment, true);
      return Promise.resolve([segment.body.subarray(range.start - segment.start, range.end - segment.start)]);
    }
    return segment.loading!.then((body) => [body.subarray(range.start - segment.start, range.end - segment.start)]);
  }

  private covered(key: string, range: ByteRange): boolean {
    if (this.segmentFor(key, range)) return true;
    for (const w of this.pending.get(key) ?? []) if (w.start <= range.start && range.end <= w.end) return true;
    return false;
  }

  private segmentFor(key: string, { start, end }: ByteRange): Segment | undefined {
    const segments = this.objects.get(key);
    if (!segments) return undefined;
    // The last segment starting at or before `start` (binary search).
    let lo = 0;
    let hi = segments.length - 1;
    if (hi < 0 || segments[0]!.start > start) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (segments[mid]!.start <= start) lo = mid;
      else hi = mid - 1;
    }
    const s = segments[lo]!;
    return s.end >= end ? s : undefined;
  }

  private want(key: string, wanted: Wanted): void {
    let list = this.pending.get(key);
    if (!list) this.pending.set(key, (list = []));
    list.push(wanted);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // One turn's ranges (a fetch's partitions are planned and loaded in one turn) are read together.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    for (const [key, wanted] of pending) {
      wanted.sort((a, b) => a.start - b.start);
      let group: Wanted[] = [];
      let start = 0;
      let end = 0;
      const issue = () => {
        if (group.length > 0) this.get(key, start, end, group);
      };
      for (const w of wanted) {
        // A range asked for twice this turn, or already held (read ahead by an earlier turn): no new GET.
        const found = this.find(key, w);
        if (found) {
          found.then((b) => { for (const x of w.waiters) x.resolve(b); }, (e: unknown) => { for (const x of w.waiters) x.reject(e); });
          continue;
        }
        if (group.length > 0 && w.start - end <= this.options.coalesceGapBytes && Math.max(end, w.end) - start <= this.options.maxGetBytes) {
          group.push(w);
          end = Math.max(end, w.end);
          continue;
        }
        issue();
        group = [w];
        start = w.start;
        end = w.end;
      }
      issue();
    }
  }

  /** One ranged GET for [start, end), answering every range of `group` from it. */
  private get(key: string, start: number, end: number, group: Wanted[]): void {
    const size = end - start;
    this.stats.gets++;
    this.stats.getBytes += size;
    this.loadingBytes += size;
    this.getsInFlight++;
    this.stats.maxGetsInFlight = Math.max(this.stats.maxGetsInFlight, this.getsInFlight);
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.bytes);
    const segment: Segment = { key, start, end, body: null, loading: null, read: group.some((w) => !w.prefetch) };
    segment.loading = this.store.get(key, { start, end });
    this.insertSegment(segment);
    segment.loading.then(
      (body) => {
        this.loadingBytes -= size;
        this.getsInFlight--;
        segment.body = body;
        segment.loading = null;
        if (!this.objects.get(key)?.includes(segment)) {
          // Dropped while loading: answer the waiters, keep nothing.
        } else {
          this.lru.set(segment, true);
          this.heldBytes += size;
          this.evict();
        }
        for (const w of group) {
          const view = [body.subarray(w.start - start, w.end - start)];
          for (const x of w.waiters) x.resolve(view);
        }
      },
      (err: unknown) => {
        this.loadingBytes -= size;
        this.getsInFlight--;
        this.removeSegment(segment);
        for (const w of group) for (const x of w.waiters) x.reject(err);
      },
    );
  }

  private insertSegment(segment: Segment): void {
    let segments = this.objects.get(segment.key);
    if (!segments) this.objects.set(segment.key, (segments = []));
    // Keep segments disjoint: one overlapping the new one (an older, partial read) gives way.
    for (let i = segments.length - 1; i >= 0; i--) {
      const s = segments[i]!;
      if (s.start < segment.end && segment.start < s.end && s.body) {
        segments.splice(i, 1);
        if (this.lru.delete(s)) this.heldBytes -= s.end - s.start;
      }
    }
    let i = segments.length;
    while (i > 0 && segments[i - 1]!.start > segment.start) i--;
    segments.splice(i, 0, segment);
  }

  private removeSegment(segment: Segment): void {
    const segments = this.objects.get(segment.key);
    if (!segments) return;
    const i = segments.indexOf(segment);
    if (i >= 0) segments.splice(i, 1);
    if (segments.length === 0) this.objects.delete(segment.key);
    if (segment.body && this.lru.delete(segment)) this.heldBytes -= segment.end - segment.start;
  }

  /** Least recently used segments out until the budget holds. */
  private evict(): void {
    for (const segment of this.lru.keys()) {
      if (this.bytes <= this.options.maxBytes) return;
      if (!segment.read) this.stats.evictedUnread++;
      this.removeSegment(segment);
    }
  }

  /** Evicts segments already read (least recently used first) to free `need` bytes; whether it could. */
  private evictRead(need: number): boolean {
    let freeable = 0;
    for (const segment of this.lru.keys()) if (segment.read) freeable += segment.end - segment.start;
    if (freeable < need) return false;
    for (const segment of [...this.lru.keys()]) {
      if (need <= 0) break;
      if (!segment.read) continue;
      need -= segment.end - segment.start;
      this.removeSegment(segment);
    }
    return true;
  }
}
