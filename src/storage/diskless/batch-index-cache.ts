/**
 * Batch index cache: for each partition, the locations of its recent batches, contiguous up to the high
 * watermark, so tail fetches are answered without a coordinator query. Kept current from this broker's
 * own commits and from other brokers' (the coordinator's `floe_commits` notifications, `appendRemote`);
 * seeded from the coordinator on a miss (also an empty tail: a consumer waiting at the high watermark).
 * An append that does not continue the cached range (a commit this cache did not hear of) drops the
 * entry, and the next fetch asks the coordinator again. A read past the cached high watermark is a miss
 * too: a consumer may have read further through another broker.
 *
 * Notifications arrive in commit order, but this broker's own commit answers and coordinator answers
 * (seeds) do not arrive in that order with them: an entry made from an answer could miss a notification
 * handled while the answer was on its way, and stay behind. So such entries are made only when no
 * notification touched the partition since the request was sent: `mark()` before the request,
 * `changedSince(key, mark)` after. The touches are remembered in two generations of bounded size; a mark
 * older than what is remembered, or older than the last `resync()` (notifications may have been lost),
 * counts as touched.
 */
import type { BatchLocation, FindBatchesResult } from '../../coordinator/coordinator.ts';

interface CachedPartition {
  logStartOffset: number;
  highWatermark: number;
  /** batches[head..] are contiguous from batches[head].baseOffset to highWatermark. */
  batches: BatchLocation[];
  head: number;
}

export interface CachedRead {
  logStartOffset: number;
  highWatermark: number;
  batches: BatchLocation[];
}

/** Partitions remembered per generation of touches (two generations are kept). */
const TOUCHES_PER_GENERATION = 8192;

export class BatchIndexCache {
  private readonly partitions = new Map<string, CachedPartition>();
  hits = 0;
  misses = 0;
  /** Notifications applied (one step per touched partition, and one per resync). */
  private seq = 0;
  /** Marks below this cannot be checked (forgotten touches, or a resync). */
  private horizon = 0;
  private touched = new Map<string, number>();
  private touchedBefore = new Map<string, number>();
  private lastRotation = 0;

  constructor(private readonly maxBatchesPerPartition = 2000) {}

  /**
   * Batches covering [offset, …) up to maxBytes (at least one when any), or undefined on a miss.
   * Offsets outside [logStart, highWatermark] are answered too (the caller turns them into errors).
   */
  read(key: string, offset: number, maxBytes: number): CachedRead | undefined {
    const entry = this.partitions.get(key);
    const from = entry ? this.firstOffset(entry) : 0;
    if (!entry || (offset < from && offset >= entry.logStartOffset) || offset > entry.highWatermark) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    const out: CachedRead = { logStartOffset: entry.logStartOffset, highWatermark: entry.highWatermark, batches: [] };
    if (offset < entry.logStartOffset || offset >= entry.highWatermark) return out;
    let i = this.indexOf(entry, offset);
    let bytes = 0;
    for (; i < entry.batches.length; i++) {
      const batch = entry.batches[i]!;
      if (out.batches.length > 0 && bytes + batch.byteSize > maxBytes) break;
      out.batches.push(batch);
      bytes += batch.byteSize;
    }
    return out;
  }

  /** Only the offsets, when the partition is cached. */
  offsets(key: string): { logStartOffset: number; highWatermark: number } | undefined {
    const entry = this.partitions.get(key);
    return entry && { logStartOffset: entry.logStartOffset, highWatermark: entry.highWatermark };
  }

  /**
   * Seeds an entry from a coordinator answer for `offset` that reaches the high watermark (or is empty at
   * it); never replaces a live entry, and not when a notification touched the partition since `mark`.
   */
  seed(key: string, result: FindBatchesResult, offset: number, mark: number): void {
    if (this.partitions.has(key) || result.errorCode !== 0 || this.changedSince(key, mark)) return;
    if (result.batches.length === 0) {
      if (offset !== result.highWatermark) return;
      this.partitions.set(key, { logStartOffset: result.logStartOffset, highWatermark: result.highWatermark, batches: [], head: 0 });
      return;
    }
    const last = result.batches[result.batches.length - 1]!;
    if (last.lastOffset + 1 !== result.highWatermark) return;
    this.partitions.set(key, {
      logStartOffset: result.logStartOffset,
      highWatermark: result.highWatermark,
      batches: result.batches.slice(),
      head: 0,
    });
  }

  /**
   * Records a batch this broker just committed. With `mark` (taken before the commit was sent), a
   * partition not cached gets an entry only when no notification touched it since.
   */
  append(key: string, batch: BatchLocation, logStartOffset: number, mark?: number): void {
    const entry = this.partitions.get(key);
    if (!entry) {
      if (mark !== undefined && this.changedSince(key, mark)) return;
      this.partitions.set(key, { logStartOffset, highWatermark: batch.lastOffset + 1, batches: [batch], head: 0 });
      return;
    }
    this.extend(key, entry, batch, logStartOffset);
  }

  /**
   * Records a batch another broker committed (a notification, in commit order). Partitions not cached are
   * not added (this broker may never read them), only marked as touched.
   */
  appendRemote(key: string, batch: BatchLocation, logStartOffset: number): void {
    this.touch(key);
    const entry = this.partitions.get(key);
    if (entry) this.extend(key, entry, batch, logStartOffset);
  }

  /** A commit's outcome is unknown, or it changed the partition in ways not seen here: forget the entry. */
  changed(key: string): void {
    this.touch(key);
    this.partitions.delete(key);
  }

  /** Notifications may have been missed: forget everything (entries and touches). */
  resync(): void {
    this.partitions.clear();
    this.touched.clear();
    this.touchedBefore.clear();
    this.horizon = ++this.seq;
    this.lastRotation = this.seq;
  }

  /** A point in the stream of notifications, to take before a request whose answer may seed an entry. */
  mark(): number {
    return this.seq;
  }

  /** Whether a notification touched `key` after `mark` (true when that can no longer be told). */
  changedSince(key: string, mark: number): boolean {
    if (mark < this.horizon) return true;
    return (this.touched.get(key) ?? -1) > mark || (this.touchedBefore.get(key) ?? -1) > mark;
  }

  private touch(key: string): void {
    this.touched.set(key, ++this.seq);
    if (this.touched.size < TOUCHES_PER_GENERATION) return;
    // Forget the older generation: marks taken before it began can no longer be checked.
    this.horizon = Math.max(this.horizon, this.lastRotation);
    this.touchedBefore = this.touched;
    this.touched = new Map();
    this.lastRotation = this.seq;
  }

  private extend(key: string, entry: CachedPartition, batch: BatchLocation, logStartOffset: number): void {
    if (batch.lastOffset < entry.highWatermark) return; // already known (seeded after this commit)
    if (batch.baseOffset !== entry.highWatermark) {
      this.partitions.delete(key); // someone else wrote in between: the cached range has a hole
      return;
    }
    entry.batches.push(batch);
    entry.highWatermark = batch.lastOffset + 1;
    // Never back: retention or DeleteRecords may have moved it after the commit read it.
    entry.logStartOffset = Math.max(entry.logStartOffset, logStartOffset);
    if (entry.batches.length - entry.head > this.maxBatchesPerPartition) this.trim(entry);
  }

  invalidate(key: string): void {
    this.partitions.delete(key);
  }

  /**
   * Retention or DeleteRecords moved the partition's log start: reads below it answer OFFSET_OUT_OF_RANGE
   * from now on, and the batches wholly below it leave the cache (their objects are about to be deleted).
   */
  advanceLogStart(key: string, logStartOffset: number): void {
    const entry = this.partitions.get(key);
    if (!entry || logStartOffset <= entry.logStartOffset) return;
    entry.logStartOffset = logStartOffset;
    while (entry.head < entry.batches.length && entry.batches[entry.head]!.lastOffset < logStartOffset) entry.head++;
    if (entry.head > this.maxBatchesPerPartition) {
      entry.batches = entry.batches.slice(entry.head);
      entry.head = 0;
    }
  }

  /** The cached partitions' keys (to refresh their log starts). */
  keys(): string[] {
    return [...this.partitions.keys()];
  }

  invalidateTopic(topicId: string): void {
    const prefix = `${topicId}:`;
    for (const key of this.partitions.keys()) if (key.startsWith(prefix)) this.partitions.delete(key);
  }

  private firstOffset(entry: CachedPartition): number {
    return entry.head < entry.batches.length ? entry.batches[entry.head]!.baseOffset : entry.highWatermark;
  }

  private indexOf(entry: CachedPartition, offset: number): number {
    let lo = entry.head;
    let hi = entry.batches.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entry.batches[mid]!.lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private trim(entry: CachedPartition): void {
    entry.head += entry.batches.length - entry.head - this.maxBatchesPerPartition;
    if (entry.head > this.maxBatchesPerPartition) {
      entry.batches = entry.batches.slice(entry.head);
      entry.head = 0;
    }
  }
}
