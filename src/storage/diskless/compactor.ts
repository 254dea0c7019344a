/**
 * Compaction of diskless topics (cleanup.policy contains compact), with the record rules of ../compaction.ts,
 * run as a cluster job: the broker holding the `compaction` lease (maintenance.ts) compacts the partitions
 * that are due, one at a time, so no partition is ever compacted by two brokers at once (and a swap checks
 * the partition's compaction epoch anyway).
 *
 * The active segment of a diskless partition (never compacted, like a classic log's active segment): the
 * last batches that are both committed less than segment.ms ago (max.compaction.lag.ms when shorter,
 * Kafka's maxSegmentMs; by commit time) and within the last segment.bytes of the partition (by stored batch
 * sizes), as a classic active segment is at most that old and that large. Nothing from the first batch
 * holding a record newer than min.compaction.lag.ms on is compacted either. Below it is the cleanable part; its dirty part starts at the partition's cleaner
 * checkpoint. A partition is due on the dirty ratio, max.compaction.lag.ms or a passed delete horizon, as
 * classic logs (classic/log-cleaner.ts). The upper bound comes from `cleanableUpperBound` only.
 *
 * One pass over a partition: the key map over the dirty part (until full), then every batch below where the
 * map ends is filtered; the batches kept are written, in offset order, to ONE new object (uploaded first, its
 * key registered as pending so a crash leaves no orphan for long), then ONE coordinator transaction
 * (floe_compact_partition) swaps the rows of that range for the new ones — or changes nothing when
 * retention, DeleteRecords, topic deletion or another compaction moved the partition meanwhile (the new
 * object is then deleted at once). Readers see the old rows or the new ones, never a mix: the old objects
 * become 'deleting' when they lose their last batch and are deleted after diskless.object.deletion.grace.ms,
 * and brokers drop their cached locations of the partition on the `floe_compactions` notification, or at
 * the latest when their periodic log-start refresh sees the partition's compaction epoch move (every
 * min(retention interval, grace / 4)), well before the old objects go.
 *
 * Transactions (../compaction.ts): the aborted ranges come from aborted_transactions with the view; the key
 * map follows the dirty part's transactions, the filtering those of every batch from the first. The swap
 * keeps each row's txn_kind and deletes the aborted_transactions rows whose marker it removed (migration 16).
 */
import { randomUUID } from 'node:crypto';
import type { TopicConfig } from '../../config/topic-config.ts';
import type { CompactionBatch, CompactionView, Coordinator, PartitionKey } from '../../coordinator/coordinator.ts';
import type { ObjectStore } from '../../objectstore/object-store.ts';
import { childLogger } from '../../observability/log.ts';
import { BASE_TIMESTAMP_OFFSET, MAX_TIMESTAMP_OFFSET, RECORDS_COUNT_OFFSET } from '../../protocol/record-batch.ts';
import { OffsetMap, TransactionTracker, addToOffsetMap, filterBatch, maxSegmentMs, type CleanableState, type FilterContext } from '../compaction.ts';

const log = childLogger('diskless-compactor');

const READ_CONCURRENCY = 16;

export interface CompactedTopic {
  topicId: string;
  name: string;
  partitionCount: number;
  config: TopicConfig;
}

export interface DisklessCompactorOptions {
  brokerId: number;
  keyPrefix: string;
  /** The diskless topics whose cleanup.policy contains compact, with their effective configs. */
  topics: () => Promise<CompactedTopic[]>;
  /** Entries of the key map (log.cleaner.dedupe.buffer.size / 24 × 0.9). */
  mapCapacity: number;
  /** Reads one stored batch (through the broker's object cache). */
  readBatch: (batch: CompactionBatch) => Promise<Buffer>;
  /** This broker's cached locations of the partition are stale (the notification does the same elsewhere). */
  onSwapped: (key: PartitionKey) => void;
  /** Register object keys as pending before upload (orphan reaping), as the writer does with diskless.orphan.min.age.ms. */
  registerKeys?: boolean;
  stopping?: () => boolean;
}

export interface DisklessCompactorStats {
  runs: number;
  passes: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRemoved: number;
  objectsWritten: number;
  objectsReleased: number;
  /** Swaps refused because the partition moved meanwhile. */
  conflicts: number;
  failures: number;
}


function effectiveTimestamp(b: CompactionBatch): number {
  return b.timestampType === 1 ? b.logAppendTime : b.maxTimestamp;
}

/**
 * The first offset compaction must not touch (see the file header: the active segment's start, lowered by
 * min.compaction.lag.ms). The one place this bound comes from (transactions cap it at the last stable offset).
 */
export function cleanableUpperBound(view: CompactionView, config: TopicConfig, now: number): number {
  const rows = view.batches;
  const segmentMs = maxSegmentMs(config);
  // The active segment starts at the later of: the first batch of the last segment.bytes, the first batch
  // committed less than segment.ms ago.
  let bySize = view.highWatermark;
  let suffix = 0;
  for (let i = rows.length - 1; i >= 0; i--) {
    suffix += rows[i]!.byteSize;
    if (suffix > config.segmentBytes) break;
    bySize = rows[i]!.baseOffset;
  }
  let byTime = view.highWatermark;
  let byLag = view.highWatermark;
  for (const b of rows) {
    if (byTime === view.highWatermark && b.logAppendTime > now - segmentMs) byTime = b.baseOffset;
    if (byLag === view.highWatermark && config.minCompactionLagMs > 0 && effectiveTimestamp(b) > now - config.minCompactionLagMs) byLag = b.baseOffset;
    if (byTime !== view.highWatermark && (byLag !== view.highWatermark || config.minCompactionLagMs <= 0)) break;
  }
  return Math.min(Math.max(bySize, byTime), byLag, view.highWatermark, view.lastStableOffset ?? view.highWatermark);
}

export function disklessCleanableState(view: CompactionView, config: TopicConfig, now: number): CleanableState {
  const upper = cleanableUpperBound(view, config, now);
  const firstDirtyOffset = Math.max(view.cleanerCheckpoint, view.logStartOffset);
  let cleanBytes = 0;
  let dirtyBytes = 0;
  let firstDirty: CompactionBatch | null = null;
  for (const b of view.batches) {
    if (b.baseOffset >= upper) break;
    if (b.lastOffset < view.logStartOffset) continue;
    if (b.lastOffset < firstDirtyOffset) cleanBytes += b.byteSize;
    else {
      dirtyBytes += b.byteSize;
      firstDirty ??= b;
    }
  }
  const dirtyRatio = cleanBytes + dirtyBytes === 0 ? 0 : dirtyBytes / (cleanBytes + dirtyBytes);
  const needCompactionNow = firstDirty !== null && config.maxCompactionLagMs < Number.MAX_SAFE_INTEGER && effectiveTimestamp(firstDirty) < now - config.maxCompactionLagMs;
  const horizonPassed = view.nextDeleteHorizonMs >= 0 && view.nextDeleteHorizonMs <= now && cleanBytes + dirtyBytes > 0;
  const due = (dirtyBytes > 0 && (dirtyRatio > config.minCleanableDirtyRatio || needCompactionNow)) || horizonPassed;
  return { firstDirtyOffset, firstUncleanableOffset: upper, cleanBytes, dirtyBytes, dirtyRatio, needCompactionNow, horizonPassed, due };
}

/** Reads `rows` with bounded concurrency, calling `visit` in order. */
async function forEachBatch(rows: readonly CompactionBatch[], read: (b: CompactionBatch) => Promise<Buffer>, visit: (row: CompactionBatch, bytes: Buffer) => Promise<boolean | void>): Promise<void> {
  for (let i = 0; i < rows.length; i += READ_CONCURRENCY) {
    const chunk = rows.slice(i, i + READ_CONCURRENCY);
    const bytes = await Promise.all(chunk.map(read));
    for (let j = 0; j < chunk.length; j++) if ((await visit(chunk[j]!, bytes[j]!)) === true) return;
  }
}

export class DisklessCompactor {
  readonly stats: DisklessCompactorStats = { runs: 0, passes: 0, bytesRead: 0, bytesWritten: 0, recordsRemoved: 0, objectsWritten: 0, objectsReleased: 0, conflicts: 0, failures: 0 };
  /** Last dirty ratio seen per compacted partition (`topicId:partition`, metrics). */
  readonly dirtyRatios = new Map<string, number>();

  constructor(private readonly coordinator: Coordinator, private readonly store: ObjectStore, private readonly options: DisklessCompactorOptions) {}

  /** Compacts every partition that is due (the maintenance job calls it while holding the lease). */
  async runPass(now = Date.now()): Promise<void> {
    const seen = new Set<string>();
    for (const topic of await this.options.topics()) {
      for (let p = 0; p < topic.partitionCount; p++) {
        if (this.options.stopping?.()) return;
        const key = `${topic.topicId}:${p}`;
        seen.add(key);
        try {
          await this.compactPartition({ topicId: topic.topicId, partition: p }, topic.config, now, false);
        } catch (err) {
          this.stats.failures++;
          log.warn({ err, topic: topic.name, partition: p }, 'compacting a diskless partition failed; it is tried again next pass');
        }
      }
    }
    for (const key of this.dirtyRatios.keys()) if (!seen.has(key)) this.dirtyRatios.delete(key);
  }

  /**
   * Compacts one partition when due (or always, with `force`): passes until its dirty part is done or the
   * partition moved. Returns whether anything was swapped.
   */
  async compactPartition(key: PartitionKey, config: TopicConfig, now: number, force: boolean): Promise<boolean> {
    const id = `${key.topicId}:${key.partition}`;
    let swapped = false;
    let ran = false;
    const map = new OffsetMap(this.options.mapCapacity);
    for (let pass = 0; pass < 10_000; pass++) {
      const view = await this.coordinator.compactionView(key);
      if (!view) return swapped;
      // Nothing at or above the last stable offset is cleaned (Kafka's rule): an open transaction's records stay.
      const [txns] = await this.coordinator.transactions.view([{ ...key, fromOffset: view.highWatermark, highWatermark: view.highWatermark }]);
      view.lastStableOffset = txns!.lastStableOffset;
      const state = disklessCleanableState(view, config, now);
      this.dirtyRatios.set(id, state.dirtyRatio);
      if (pass === 0 ? !(state.due || (force && state.dirtyBytes + state.cleanBytes > 0)) : state.firstDirtyOffset >= state.firstUncleanableOffset) break;
      ran = true;
      const { firstDirtyOffset, firstUncleanableOffset: upper } = state;
      // 1. The key map over the dirty part, until full.
      map.clear();
      let end = firstDirtyOffset;
      let full = false;
      const mapTxns = new TransactionTracker(view.abortedTransactions, firstDirtyOffset);
      const dirty = view.batches.filter((b) => b.baseOffset < upper && b.lastOffset >= firstDirtyOffset);
      await forEachBatch(dirty, this.options.readBatch, async (row, bytes) => {
        if (map.size > 0 && map.wouldOverflow(bytes.readInt32BE(RECORDS_COUNT_OFFSET))) {
          full = true;
          return true;
        }
        await addToOffsetMap(map, bytes, row.baseOffset, mapTxns);
        this.stats.bytesRead += bytes.length;
        end = row.lastOffset + 1;
      });
      map.latestOffset = Math.max(map.latestOffset, end - 1);
      if (end === firstDirtyOffset && !state.horizonPassed) break;
      // 2. Filter every batch below `end` into one new object.
      // Every batch from the first on: the filtering sees all data of each transaction (Kafka's rule for markers).
      const range = view.batches.filter((b) => b.baseOffset < end);
      const ctx: FilterContext = {
        map,
        now,
        deleteRetentionMs: config.deleteRetentionMs,
        producerLastOffsets: view.producerLastOffsets,
        transactions: new TransactionTracker(view.abortedTransactions, range[0]?.baseOffset ?? 0),
      };
      const parts: Buffer[] = [];
      const rows: Omit<CompactionBatch, 'objectKey'>[] = [];
      let size = 0;
      let changed = false;
      let nextHorizon = -1;
      await forEachBatch(range, this.options.readBatch, async (row, bytes) => {
        this.stats.bytesRead += bytes.length;
        const r = await filterBatch(bytes, row.baseOffset, ctx);
        this.stats.recordsRemoved += r.recordsRemoved;
        if (r.batch !== bytes) changed = true;
        if (r.batch === null) return;
        if (r.deleteHorizonMs > now && (nextHorizon < 0 || r.deleteHorizonMs < nextHorizon)) nextHorizon = r.deleteHorizonMs;
        const count = r.batch.readInt32BE(RECORDS_COUNT_OFFSET);
        rows.push({
          byteOffset: size,
          byteSize: r.batch.length,
          baseOffset: row.baseOffset,
          lastOffset: row.lastOffset,
          maxTimestamp: count === 0 || r.batch === bytes ? row.maxTimestamp : Number(r.batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET)),
          logAppendTime: row.logAppendTime,
          timestampType: row.timestampType,
          recordCount: count,
          baseTimestamp: Number(r.batch.readBigInt64BE(BASE_TIMESTAMP_OFFSET)),
          producerId: row.producerId,
          producerEpoch: row.producerEpoch,
          baseSequence: row.baseSequence,
          lastSequence: row.lastSequence,
          txnKind: row.txnKind,
        });
        parts.push(r.batch);
        size += r.batch.length;
      });
      // 3. Upload, then one transaction swaps the rows (or nothing moved: only the checkpoint).
      const objectKey = changed ? `${this.options.keyPrefix}${randomUUID()}` : null;
      if (objectKey !== null) {
        if (this.options.registerKeys) await this.coordinator.registerPendingObjects(this.options.brokerId, [objectKey]);
        await this.store.put(objectKey, parts);
      }
      const result = await this.coordinator.swapCompacted({
        ...key,
        expectedEpoch: view.compactionEpoch,
        expectedLogStart: view.logStartOffset,
        rangeStart: 0,
        rangeEnd: end,
        expectedBaseOffsets: range.map((b) => b.baseOffset),
        objectKey,
        objectSize: size,
        brokerId: this.options.brokerId,
        cleanerCheckpoint: end,
        nextDeleteHorizonMs: nextHorizon,
        batches: objectKey === null ? [] : rows,
      });
      this.stats.passes++;
      if (!result.ok) {
        this.stats.conflicts++;
        log.info({ partition: id, reason: result.reason }, 'compaction swap refused: the partition moved; trying again next pass');
        if (objectKey !== null) {
          try {
            await this.store.deleteMany([objectKey]);
            if (this.options.registerKeys) await this.coordinator.forgetPendingObjects([objectKey]);
          } catch (err) {
            log.warn({ err, objectKey }, 'could not delete the unused compacted object (the orphan reaper will)');
          }
        }
        break;
      }
      if (objectKey !== null) {
        swapped = true;
        this.stats.objectsWritten++;
        this.stats.bytesWritten += size;
        this.stats.objectsReleased += result.objectsReleased;
        this.options.onSwapped(key);
      }
      if (!full) break;
    }
    if (ran) this.stats.runs++;
    return swapped;
  }
}
