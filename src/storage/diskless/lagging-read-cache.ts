/**
 * Lagging read cache: byte ranges of objects read for consumers behind the tail (and read ahead of them),
 * in a budget of their own (`diskless.lagging.cache.max.bytes`), apart from the object cache of recent
 * objects, so a backfill can never evict what tail consumers read.
 *
 * Ranges asked for in one turn of the event loop (every partition of a fetch, and the read-ahead planned
 * with it) are gathered per object, less what is held, in flight or queued already, sorted, and read with
 * as few ranged GETs as possible: ranges closer than `coalesceGapBytes` are read as one GET (the gap is
 * read and dropped), up to `maxGetBytes` per GET; one range larger than that is read in parts of
 * `maxGetBytes`, in parallel. A range held, in flight or queued (in one segment or several back to back)
 * is answered from them, so a consumer's next fetch finds what was read ahead for it.
 *
 * Order: a GET a fetch waits for starts at once, apart from read-ahead ranges next to it; read-ahead GETs
 * wait in a queue (first asked, first read) while `maxConcurrentGets` of them are in flight (a quarter as
 * many while a fetch waits for a GET that was no read-ahead), and one a fetch comes to need starts at
 * once. A read-ahead of a hundred MiB issued in one go shared s3rver's bandwidth with the first fetch's
 * own ranges (which waited 0.6-2.6 s), and a fetch's range coalesced with its partition's read-ahead into
 * one 16 MiB GET waited for all of it (why merged objects, with long partition spans, read slower).
 *
 * Memory: held segments plus GETs in flight or queued stay within `maxBytes` for read-ahead (a prefetch
 * that does not fit is skipped, after evicting segments already read); a read a fetch waits for is always
 * made, and evicts the least recently used segments once its bytes arrive.
 */
import type { ByteRange, ObjectStore } from '../../objectstore/object-store.ts';

export interface LaggingReadCacheOptions {
  maxBytes: number;
  coalesceGapBytes: number;
  maxGetBytes: number;
  /** Read-ahead GETs in flight at once (GETs a fetch waits for start regardless, and count). Default 48. */
  maxConcurrentGets?: number;
}

export interface LaggingReadStats {
  /** Ranges answered from held segments or GETs in flight or queued. */
  hits: number;
  /** Ranges that needed a GET (of their own or shared with others of their turn) for some of their bytes. */
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
  /** Queued read-ahead GETs that a fetch needed, started ahead of their turn. */
  promoted: number;
  /** Most GETs in flight at once, and most bytes held plus in flight or queued at once. */
  maxGetsInFlight: number;
  peakBytes: number;
}

const DEFAULT_MAX_CONCURRENT_GETS = 48;

interface Segment {
  key: string;
  start: number;
  end: number;
  /** Set once the GET arrived. */
  body: Buffer | null;
  /** Until then, the GET (queued or in flight). */
  loading: Promise<Buffer> | null;
  /** Set while queued: starts the GET (for a fetch waiting for it, or as read-ahead). */
  startGet: ((forFetch: boolean) => void) | null;
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
  /** Read-ahead segments waiting for a GET slot, first asked first. */
  private readonly queue = new Set<Segment>();
  private heldBytes = 0;
  /** Bytes of GETs in flight or queued. */
  private loadingBytes = 0;
  /** Ranges asked for this turn, per object, read when the turn ends. */
  private pending = new Map<string, Wanted[]>();
  private pendingBytes = 0;
  private flushScheduled = false;
  readonly stats: LaggingReadStats = { hits: 0, misses: 0, gets: 0, getBytes: 0, prefetches: 0, prefetchesSkipped: 0, evictedUnread: 0, promoted: 0, maxGetsInFlight: 0, peakBytes: 0 };
  private getsInFlight = 0;
  /** GETs in flight that a fetch waits for. */
  private neededInFlight = 0;
  private readonly maxConcurrentGets: number;

  constructor(private readonly store: ObjectStore, readonly options: LaggingReadCacheOptions) {
    this.maxConcurrentGets = Math.max(1, options.maxConcurrentGets ?? DEFAULT_MAX_CONCURRENT_GETS);
  }

  /** GETs in flight now, and read-ahead GETs queued. */
  get getsInFlightNow(): number {
    return this.getsInFlight;
  }

  get queuedGets(): number {
    return this.queue.size;
  }

  /** Bytes held plus bytes of GETs in flight or queued (what the budget bounds). */
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
    if (this.bytes + this.pendingBytes + size > this.options.maxBytes && !this.evictRead(this.bytes + this.pendingBytes + size - this.options.maxBytes)) {
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
      // Queued read-ahead of a gone object: not read at all (a fetch that still needs it starts it).
      if (s.startGet && this.queue.delete(s)) this.loadingBytes -= s.end - s.start;
    }
    this.objects.delete(key);
  }

  snapshot(): LaggingReadStats & { bytes: number; segments: number; queued: number } {
    return { ...this.stats, bytes: this.bytes, segments: this.lru.size, queued: this.queue.size };
  }

  /** The segments holding `range` (held, in flight or queued), as a promise of its views; a queued one starts now. */
  private find(key: string, range: ByteRange): Promise<Buffer[]> | undefined {
    const segments = this.segmentsFor(key, range);
    if (!segments) return undefined;
    return this.answer(segments, range);
  }

  /** `range`'s views from `segments`, which hold it back to back. */
  private answer(segments: readonly Segment[], range: ByteRange): Promise<Buffer[]> {
    const view = (s: Segment, body: Buffer) => body.subarray(Math.max(range.start, s.start) - s.start, Math.min(range.end, s.end) - s.start);
    if (segments.every((s) => s.body)) {
      for (const s of segments) this.touch(s);
      return Promise.resolve(segments.map((s) => view(s, s.body!)));
    }
    return Promise.all(segments.map((s) => {
      if (s.body) {
        this.touch(s);
        return view(s, s.body);
      }
      s.read = true;
      if (s.startGet) {
        // Now, whatever the limit; but read-ahead is not held back for it (the queue is what the consumer
        // reads next: read-ahead fell behind, and slowing it down would not help).
        this.stats.promoted++;
        s.startGet(false);
      }
      return s.loading!.then((body) => view(s, body));
    }));
  }

  private touch(s: Segment): void {
    s.read = true;
    if (this.lru.delete(s)) this.lru.set(s, true);
  }

  private covered(key: string, range: ByteRange): boolean {
    if (this.segmentsFor(key, range)) return true;
    for (const w of this.pending.get(key) ?? []) if (w.start <= range.start && range.end <= w.end) return true;
    return false;
  }

  /** Index of the first segment of `segments` ending after `at` (binary search; segments are sorted and disjoint). */
  private static firstEndingAfter(segments: readonly Segment[], at: number): number {
    let lo = 0;
    let hi = segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (segments[mid]!.end <= at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The segments covering `range` back to back, or undefined when some of its bytes are in none. */
  private segmentsFor(key: string, { start, end }: ByteRange): Segment[] | undefined {
    const segments = this.objects.get(key);
    if (!segments) return undefined;
    const out: Segment[] = [];
    let at = start;
    for (let i = LaggingReadCache.firstEndingAfter(segments, start); i < segments.length && at < end; i++) {
      const s = segments[i]!;
      if (s.start > at) return undefined;
      out.push(s);
      at = s.end;
    }
    return at >= end && out.length > 0 ? out : undefined;
  }

  /** The parts of `range` no segment holds. */
  private gaps(key: string, { start, end }: ByteRange): ByteRange[] {
    const segments = this.objects.get(key);
    if (!segments) return [{ start, end }];
    const out: ByteRange[] = [];
    let at = start;
    for (let i = LaggingReadCache.firstEndingAfter(segments, start); i < segments.length && at < end; i++) {
      const s = segments[i]!;
      if (s.start >= end) break;
      if (s.start > at) out.push({ start: at, end: s.start });
      at = Math.max(at, s.end);
    }
    if (at < end) out.push({ start: at, end });
    return out;
  }

  /** Whether no segment holds any byte of [start, end) (a gap read over must not overlap one). */
  private isFree(key: string, start: number, end: number): boolean {
    if (start >= end) return true;
    const g = this.gaps(key, { start, end });
    return g.length === 1 && g[0]!.start === start && g[0]!.end === end;
  }

  private want(key: string, wanted: Wanted): void {
    let list = this.pending.get(key);
    if (!list) this.pending.set(key, (list = []));
    list.push(wanted);
    this.pendingBytes += wanted.end - wanted.start;
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // One turn's ranges (a fetch's partitions are planned and loaded in one turn) are read together.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    this.pendingBytes = 0;
    for (const [key, wanted] of pending) {
      // What is not held, in flight or queued yet, sorted; each piece a fetch waits for is marked so.
      const missing: { start: number; end: number; prefetch: boolean }[] = [];
      for (const w of wanted) for (const g of this.gaps(key, w)) missing.push({ ...g, prefetch: w.prefetch });
      missing.sort((a, b) => a.start - b.start || a.end - b.end);
      let group: typeof missing = [];
      let start = 0;
      let end = 0;
      let needed = false;
      const issue = () => {
        if (group.length > 0) this.get(key, start, end, group);
      };
      for (const m of missing) {
        if (group.length > 0 && m.start < end) {
          // Overlaps the group (asked for twice this turn): extends it, whatever the size limit.
          group.push(m);
          end = Math.max(end, m.end);
          needed ||= !m.prefetch;
          continue;
        }
        // Ranges a fetch waits for and read-ahead go in separate GETs (the fetch waits for its bytes only),
        // but a small read-ahead range next to a fetch's is read with it, like a gap.
        const sameKind = needed === !m.prefetch || (needed && m.end - m.start <= this.options.coalesceGapBytes);
        if (group.length > 0 && sameKind && m.start - end <= this.options.coalesceGapBytes && Math.max(end, m.end) - start <= this.options.maxGetBytes && this.isFree(key, end, m.start)) {
          group.push(m);
          end = Math.max(end, m.end);
          continue;
        }
        issue();
        group = [m];
        start = m.start;
        end = m.end;
        needed = !m.prefetch;
      }
      issue();
      // Every range is now held, in flight or queued: answer the fetches' ranges from their segments.
      for (const w of wanted) {
        if (w.waiters.length === 0) continue;
        const segments = this.segmentsFor(key, w);
        const answer = segments ? this.answer(segments, w) : Promise.reject(new Error(`lagging read cache: ${key} [${w.start}, ${w.end}) not covered`));
        answer.then((b) => { for (const x of w.waiters) x.resolve(b); }, (e: unknown) => { for (const x of w.waiters) x.reject(e); });
      }
    }
    this.pump();
  }

  /**
   * Ranged GETs for [start, end): the bytes fetches wait for apart from the read-ahead around them (a
   * read-ahead run no longer than coalesceGapBytes goes with its neighbour, like a gap), each run in parts
   * of at most maxGetBytes. The fetches' parts start now; the others are queued as read-ahead.
   */
  private get(key: string, start: number, end: number, group: readonly { start: number; end: number; prefetch: boolean }[]): void {
    const runs: { start: number; end: number; needed: boolean }[] = [];
    const demand = group.filter((m) => !m.prefetch).sort((a, b) => a.start - b.start);
    let at = start;
    for (const d of demand) {
      if (d.end <= at) continue; // within the run before
      const from = Math.max(at, d.start);
      const last = runs[runs.length - 1];
      if (from - at > this.options.coalesceGapBytes) {
        runs.push({ start: at, end: from, needed: false }, { start: from, end: d.end, needed: true });
      } else if (last?.needed) {
        last.end = d.end;
      } else {
        runs.push({ start: at, end: d.end, needed: true });
      }
      at = d.end;
    }
    if (at < end) {
      const last = runs[runs.length - 1];
      if (last?.needed && end - at <= this.options.coalesceGapBytes) last.end = end;
      else runs.push({ start: at, end, needed: false });
    }
    const part = Math.max(1, this.options.maxGetBytes);
    for (const run of runs) {
      for (let a = run.start; a < run.end; a += part) this.segment(key, a, Math.min(run.end, a + part), run.needed);
    }
  }

  private segment(key: string, start: number, end: number, needed: boolean): void {
    const size = end - start;
    this.loadingBytes += size;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.bytes);
    let resolve!: (b: Buffer) => void;
    let reject!: (e: unknown) => void;
    const segment: Segment = { key, start, end, body: null, loading: new Promise<Buffer>((res, rej) => { resolve = res; reject = rej; }), startGet: null, read: needed };
    // Failures reach the fetches through answer(); unread read-ahead fails silently.
    segment.loading!.catch(() => {});
    const run = (forFetch: boolean) => {
      segment.startGet = null;
      this.queue.delete(segment);
      if (forFetch) this.neededInFlight++;
      this.stats.gets++;
      this.stats.getBytes += size;
      this.getsInFlight++;
      this.stats.maxGetsInFlight = Math.max(this.stats.maxGetsInFlight, this.getsInFlight);
      this.store.get(key, { start, end }).then(
        (body) => {
          this.loadingBytes -= size;
          this.getsInFlight--;
          if (forFetch) this.neededInFlight--;
          segment.body = body;
          segment.loading = null;
          if (this.objects.get(key)?.includes(segment)) {
            this.lru.set(segment, true);
            this.heldBytes += size;
            this.evict();
          }
          // else dropped while loading: answer the waiters, keep nothing.
          resolve(body);
          this.pump();
        },
        (err: unknown) => {
          this.loadingBytes -= size;
          this.getsInFlight--;
          if (forFetch) this.neededInFlight--;
          this.removeSegment(segment);
          reject(err);
          this.pump();
        },
      );
    };
    this.insertSegment(segment);
    if (needed) {
      run(true);
    } else {
      segment.startGet = run;
      this.queue.add(segment);
    }
  }

  /**
   * Starts queued read-ahead while there are free GET slots: all of them, or a quarter while a fetch waits
   * for GETs of its own that were no read-ahead (a cold start, a jump), which so get most of the store's
   * bandwidth.
   */
  private pump(): void {
    const slots = this.neededInFlight > 0 ? Math.max(1, this.maxConcurrentGets >> 2) : this.maxConcurrentGets;
    for (const segment of this.queue) {
      if (this.getsInFlight - this.neededInFlight >= slots) return;
      segment.startGet!(false);
    }
  }

  private insertSegment(segment: Segment): void {
    let segments = this.objects.get(segment.key);
    if (!segments) this.objects.set(segment.key, (segments = []));
    // Keep segments disjoint: a held one overlapping the new one (a gap's coalesced neighbour) gives way.
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
