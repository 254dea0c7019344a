/**
 * Batch index cache: for each partition, the locations of its recent batches, contiguous up to the high
 * watermark, so tail fetches are answered without a coordinator query. Kept current from this broker's
 * own commits; seeded from the coordinator on a miss. An append that does not continue the cached range
 * (another writer committed in between) drops the entry, and the next fetch asks the coordinator again.
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

export class BatchIndexCache {
  private readonly partitions = new Map<string, CachedPartition>();
  hits = 0;
  misses = 0;

  constructor(private readonly maxBatchesPerPartition = 2000) {}

  static key(topicId: string, partition: number): string {
    return `${topicId}:${partition}`;
  }

  /**
   * Batches covering [offset, …) up to maxBytes (at least one when any), or undefined on a miss.
   * Offsets outside [logStart, highWatermark] are answered too (the caller turns them into errors).
   */
  read(key: string, offset: number, maxBytes: number): CachedRead | undefined {
    const entry = this.partitions.get(key);
    const from = entry ? this.firstOffset(entry) : 0;
    if (!entry || (offset < from && offset >= entry.logStartOffset)) {
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

  /** Seeds an entry from a coordinator answer that reaches the high watermark; never replaces a live entry. */
  seed(key: string, result: FindBatchesResult): void {
    if (this.partitions.has(key) || result.errorCode !== 0 || result.batches.length === 0) return;
    const last = result.batches[result.batches.length - 1]!;
    if (last.lastOffset + 1 !== result.highWatermark) return;
    this.partitions.set(key, {
      logStartOffset: result.logStartOffset,
      highWatermark: result.highWatermark,
      batches: result.batches.slice(),
      head: 0,
    });
  }

  /** Records a batch this broker just committed. */
  append(key: string, batch: BatchLocation, logStartOffset: number): void {
    const entry = this.partitions.get(key);
    if (!entry) {
      this.partitions.set(key, { logStartOffset, highWatermark: batch.lastOffset + 1, batches: [batch], head: 0 });
      return;
    }
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
