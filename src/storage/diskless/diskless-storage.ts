/**
 * Diskless storage as the broker sees it: one writer (open object → upload → commit), one reader
 * (index cache → object cache → patched batches), the partitions handed to the partition seam
 * (diskless-partition.ts), and the wake-ups that tie commits to long polls (storage's PartitionWaiters).
 *
 * Other brokers' commits arrive as `floe_commits` notifications (onCommitNotification), in commit order:
 * their batches extend the cached partitions and wake the long polls on them. A notification too large to
 * list its batches costs one `objectBatches` query; later notifications wait behind it, so order is kept.
 * This broker's own notifications are skipped (its commits are applied from their answers), except for a
 * commit whose outcome it never learned.
 */
import { TXN_PLAIN, type Coordinator, type DeleteRecordsRequest, type DeleteRecordsResult, type ListOffsetsRequest, type ObjectBatch, type PartitionKey } from '../../coordinator/coordinator.ts';
import { parseCommitNotification, parseLogStartsNotification, type CommitNotification } from '../../coordinator/notifications.ts';
import type { ObjectStore } from '../../objectstore/object-store.ts';
import { findMaxTimestampRecord, findOffsetForTimestamp } from '../../protocol/records.ts';
import { childLogger } from '../../observability/log.ts';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP, partitionKey, type DeleteRecordsAnswer, type OffsetAnswer } from '../partition-log.ts';
import type { PartitionWaiters } from '../partition-waiters.ts';
import { toKafkaError } from '../storage-error.ts';
import { BatchIndexCache } from './batch-index-cache.ts';
import { CallBatcher } from './call-batcher.ts';
import { DisklessPartition } from './diskless-partition.ts';
import { DisklessReader } from './diskless-reader.ts';
import { ObjectCache } from './object-cache.ts';
import { LaggingReadCache } from './lagging-read-cache.ts';
import { TxnViews } from './txn-views.ts';
import { PendingKeyPool } from './object-keys.ts';
import { DisklessWriter, type CommittedBatch } from './diskless-writer.ts';

export interface DisklessStorageOptions {
  brokerId: number;
  commitIntervalMs: number;
  bufferMaxBytes: number;
  /** Back-pressure bound on bytes open, uploading or committing (at least 2 × bufferMaxBytes; default 4 × bufferMaxBytes). */
  maxPendingBytes?: number;
  /** See DisklessWriter's hedgePercentile (default 0: no hedged uploads). */
  uploadHedgePercentile?: number;
  /** See DisklessWriter's idleSealMs (default 0: objects are not sealed for being idle) and idleSealMinBytes. */
  idleSealMs?: number;
  idleSealMinBytes?: number;
  cacheMaxBytes: number;
  /** The lagging read cache (lagging-read-cache.ts) and read-ahead; defaults as the broker config's. */
  laggingCacheMaxBytes?: number;
  readAheadBytes?: number;
  coalesceGapBytes?: number;
  maxGetBytes?: number;
  maxConcurrentGets?: number;
  /** See DisklessWriter: how long a failed commit is retried (default 0). */
  commitRetryTimeoutMs?: number;
  /**
   * `diskless.orphan.min.age.ms`: when set, object keys are registered as pending before their upload
   * (object-keys.ts), so objects never committed are reaped. Unset: unregistered keys (tests, tools).
   */
  orphanMinAgeMs?: number;
}

const log = childLogger('diskless-storage');

/** Defaults of diskless.lagging.cache.max.bytes, diskless.fetch.read.ahead.bytes, diskless.fetch.coalesce.gap.bytes, diskless.fetch.max.get.bytes and diskless.fetch.max.concurrent.gets. */
export const DEFAULT_LAGGING_CACHE_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_READ_AHEAD_BYTES = 16 * 1024 * 1024;
export const DEFAULT_COALESCE_GAP_BYTES = 1024 * 1024;
export const DEFAULT_MAX_GET_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_CONCURRENT_GETS = 48;

/** Where WAL objects live in the store (the orphan reaper lists this prefix). */
export const WAL_KEY_PREFIX = 'wal/';

/** Own commits whose outcome is unknown, remembered so their notification is applied (the newest ones). */
const UNKNOWN_COMMITS_KEPT = 64;

export interface NotificationStats {
  /** Other brokers' commit notifications applied. */
  commits: number;
  /** Of those, the ones too large to list their batches (one coordinator query each). */
  lookups: number;
  /** Times everything cached was dropped because notifications may have been missed. */
  resyncs: number;
  /** Log-start notifications applied. */
  logStarts: number;
}

export class DisklessStorage {
  readonly writer: DisklessWriter;
  readonly reader: DisklessReader;
  readonly objectCache: ObjectCache;
  readonly laggingCache: LaggingReadCache;
  readonly index = new BatchIndexCache();
  /** Last stable offsets and aborted ranges for read_committed reads. */
  readonly txns: TxnViews;
  /** One ListOffsets or DeleteRecords request's partitions, in one coordinator call each. */
  readonly offsetQueries = new CallBatcher<ListOffsetsRequest, OffsetAnswer>((queries) => this.listOffsets(queries));
  readonly deletions = new CallBatcher<DeleteRecordsRequest, DeleteRecordsAnswer>((requests) => this.deleteRecords(requests));
  /** Pending-key registration (null without orphanMinAgeMs). */
  readonly keys: PendingKeyPool | null;
  readonly notificationStats: NotificationStats = { commits: 0, lookups: 0, resyncs: 0, logStarts: 0 };
  private readonly brokerId: number;
  private readonly unknownCommits: string[] = [];
  private inbox: (CommitNotification | undefined)[] = [];
  private inboxHead = 0;
  private draining = false;
  /** Compaction plus merge epoch last seen per cached partition (refreshLogStarts). */
  private readonly compactionEpochs = new Map<string, number>();

  constructor(readonly coordinator: Coordinator, store: ObjectStore, private readonly waiters: PartitionWaiters, options: DisklessStorageOptions) {
    this.brokerId = options.brokerId;
    this.objectCache = new ObjectCache(store, options.cacheMaxBytes);
    this.keys = options.orphanMinAgeMs === undefined
      ? null
      : new PendingKeyPool(coordinator, { brokerId: options.brokerId, keyPrefix: WAL_KEY_PREFIX, orphanMinAgeMs: options.orphanMinAgeMs });
    this.txns = new TxnViews(coordinator.transactions);
    this.laggingCache = new LaggingReadCache(store, {
      maxBytes: options.laggingCacheMaxBytes ?? DEFAULT_LAGGING_CACHE_MAX_BYTES,
      coalesceGapBytes: options.coalesceGapBytes ?? DEFAULT_COALESCE_GAP_BYTES,
      maxGetBytes: options.maxGetBytes ?? DEFAULT_MAX_GET_BYTES,
      maxConcurrentGets: options.maxConcurrentGets ?? DEFAULT_MAX_CONCURRENT_GETS,
    });
    this.reader = new DisklessReader(coordinator, this.objectCache, this.index, this.txns, this.laggingCache, {
      readAheadBytes: options.readAheadBytes ?? DEFAULT_READ_AHEAD_BYTES,
    });
    this.writer = new DisklessWriter(store, coordinator, {
      brokerId: options.brokerId,
      commitIntervalMs: options.commitIntervalMs,
      bufferMaxBytes: options.bufferMaxBytes,
      // Room for the open object and the uploading ones before producers are made to wait.
      maxPendingBytes: Math.max(options.maxPendingBytes ?? options.bufferMaxBytes * 4, options.bufferMaxBytes * 2),
      hedgePercentile: options.uploadHedgePercentile ?? 0,
      idleSealMs: options.idleSealMs ?? 0,
      ...(options.idleSealMinBytes !== undefined ? { idleSealMinBytes: options.idleSealMinBytes } : {}),
      keyPrefix: WAL_KEY_PREFIX,
      ...(this.keys ? { keys: this.keys } : {}),
      onCommitted: (parts, batches, mark) => this.onCommitted(parts, batches, mark),
      markCommit: () => this.index.mark(),
      commitRetryTimeoutMs: options.commitRetryTimeoutMs,
      // The object may have been committed after all (now or later): forget what the index knows of its
      // partitions, and apply its notification if one comes.
      onCommitUnknown: (batches, objectKey) => {
        for (const b of batches) this.index.changed(partitionKey(b.topicId, b.partition));
        if (this.unknownCommits.push(objectKey) > UNKNOWN_COMMITS_KEPT) this.unknownCommits.splice(0, this.unknownCommits.length - UNKNOWN_COMMITS_KEPT);
      },
    });
  }

  private onCommitted(parts: readonly Buffer[], batches: CommittedBatch[], mark: number | undefined): void {
    if (batches.length === 0) return;
    this.objectCache.put(batches[0]!.objectKey, parts);
    const touched = new Set<string>();
    for (const b of batches) {
      const key = partitionKey(b.topicId, b.partition);
      this.index.append(key, b, b.logStartOffset, mark);
      if (b.txnKind !== TXN_PLAIN) this.txns.touched(b.topicId, b.partition);
      touched.add(key);
    }
    this.waiters.notify(touched);
  }

  /** A `floe_commits` notification (see the file header). */
  onCommitNotification(payload: string): void {
    // Own commits: skipped before parsing (the payload starts with the committing broker's id).
    if (this.unknownCommits.length === 0 && payload.startsWith(`${this.brokerId} `)) return;
    const n = parseCommitNotification(payload);
    if (n === null) {
      log.warn({ payload: payload.slice(0, 120) }, 'unreadable commit notification; dropping the batch index cache');
      this.resync();
      return;
    }
    if (n.brokerId === this.brokerId && !this.unknownCommits.includes(n.objectKey)) return;
    this.inbox.push(n);
    if (!this.draining) void this.drain();
  }

  /**
   * A `floe_compactions` notification (`<topicId>,<partition>`): compaction rewrote the partition's batches,
   * or merging moved them into another object, so its cached locations point into objects about to be
   * deleted: forget them.
   */
  onCompactionNotification(payload: string): void {
    const comma = payload.lastIndexOf(',');
    const partition = Number(payload.slice(comma + 1));
    if (comma <= 0 || !Number.isInteger(partition)) {
      this.resync();
      return;
    }
    this.forgetCompacted({ topicId: payload.slice(0, comma), partition });
  }

  /** Compaction or merging (here or elsewhere) rewrote a partition's batches: its cached locations are stale. */
  forgetCompacted(key: PartitionKey): void {
    this.index.changed(partitionKey(key.topicId, key.partition));
    this.reader.forget(partitionKey(key.topicId, key.partition));
  }

  /** Notifications may have been missed (the coordinator listener reconnected): drop the cache, wake every long poll. */
  resync(): void {
    this.notificationStats.resyncs++;
    this.index.resync();
    this.reader.forgetAll();
    this.txns.resync();
    this.waiters.notifyAll();
  }

  /** A `floe_log_starts` notification: DeleteRecords or retention (on any broker) moved log starts. */
  onLogStartsNotification(payload: string): void {
    const moves = parseLogStartsNotification(payload);
    this.notificationStats.logStarts++;
    if (moves !== null && moves !== 'all') {
      this.applyLogStarts(moves);
      return;
    }
    this.refreshLogStarts().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'log start refresh failed'));
  }

  /** Applies queued notifications in order; synchronous unless one needs a lookup. */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.inboxHead < this.inbox.length) {
        const n = this.inbox[this.inboxHead]!;
        this.inbox[this.inboxHead++] = undefined;
        this.notificationStats.commits++;
        if (n.batches === 'unknown') this.resync();
        else if (n.batches === 'lookup') await this.lookUp(n.objectKey);
        else this.applyRemote(n.batches);
      }
    } finally {
      this.inbox = [];
      this.inboxHead = 0;
      this.draining = false;
    }
  }

  private async lookUp(objectKey: string): Promise<void> {
    this.notificationStats.lookups++;
    let batches: ObjectBatch[];
    try {
      batches = await this.coordinator.objectBatches(objectKey);
    } catch (err) {
      log.warn({ err: (err as Error).message, objectKey }, 'could not look up a notified object; dropping the batch index cache');
      this.resync();
      return;
    }
    this.applyRemote(batches);
  }

  private applyRemote(batches: readonly ObjectBatch[]): void {
    const touched = new Set<string>();
    for (const b of batches) {
      const key = partitionKey(b.topicId, b.partition);
      this.index.appendRemote(key, b, b.logStartOffset);
      if (b.txnKind !== undefined && b.txnKind !== TXN_PLAIN) this.txns.touched(b.topicId, b.partition);
      touched.add(key);
    }
    this.waiters.notify(touched);
  }

  /** One partition of the diskless kind, as the partition seam hands it out. */
  partition(topicId: string, partition: number): DisklessPartition {
    return new DisklessPartition(this, topicId, partition);
  }

  /** ListOffsets, record-granular for timestamps: the coordinator finds the batch, the batch's records give the offset. */
  private async listOffsets(requests: readonly ListOffsetsRequest[]): Promise<OffsetAnswer[]> {
    let results;
    try {
      results = await this.coordinator.listOffsets(requests);
    } catch (err) {
      // The coordinator is unreachable: a retriable error for every partition (the client retries).
      log.warn({ err: (err as Error).message }, 'list offsets: coordinator query failed');
      const { errorCode } = toKafkaError('coordinator', err);
      return requests.map(() => ({ errorCode, offset: -1, timestamp: -1 }));
    }
    return Promise.all(results.map(async (r, i): Promise<OffsetAnswer> => {
      if (r.errorCode !== 0) return { errorCode: r.errorCode, offset: -1, timestamp: -1 };
      const ts = requests[i]!.timestamp;
      if (ts === EARLIEST_TIMESTAMP) return { errorCode: 0, offset: r.logStartOffset, timestamp: -1 };
      if (ts === LATEST_TIMESTAMP) return { errorCode: 0, offset: r.highWatermark, timestamp: -1 };
      const batch = r.batch;
      if (!batch) return { errorCode: 0, offset: -1, timestamp: -1 };
      if (batch.timestampType === 1) {
        // LogAppendTime: every record of the batch carries the commit time.
        return { errorCode: 0, offset: Math.max(batch.baseOffset, r.logStartOffset), timestamp: batch.logAppendTime };
      }
      const bytes = await this.reader.readBatch(batch);
      const found = ts === MAX_TIMESTAMP
        ? await findMaxTimestampRecord(bytes, BigInt(batch.baseOffset))
        : await findOffsetForTimestamp(bytes, BigInt(batch.baseOffset), BigInt(ts));
      if (!found) return { errorCode: 0, offset: -1, timestamp: -1 };
      return { errorCode: 0, offset: Number(found.offset), timestamp: Number(found.timestamp) };
    }));
  }

  /** Seals and commits what is open; used on shutdown. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  dropTopic(topicId: string): void {
    this.index.invalidateTopic(topicId);
    this.reader.forgetTopic(topicId);
    this.waiters.notifyAll();
  }

  /**
   * DeleteRecords through the coordinator, then the log starts it moved into this broker's index cache,
   * so fetches below them answer OFFSET_OUT_OF_RANGE at once (other brokers: refreshLogStarts).
   */
  private async deleteRecords(requests: readonly DeleteRecordsRequest[]): Promise<DeleteRecordsAnswer[]> {
    let results: DeleteRecordsResult[];
    try {
      results = await this.coordinator.deleteRecords(requests);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'delete records: coordinator call failed');
      const { errorCode } = toKafkaError('coordinator', err);
      return requests.map(() => ({ errorCode, lowWatermark: -1 }));
    }
    this.applyLogStarts(requests.map((r, i) => ({ ...r, logStartOffset: results[i]!.errorCode === 0 ? results[i]!.logStartOffset : -1 })));
    return results.map((r) => ({ errorCode: r.errorCode, lowWatermark: r.errorCode === 0 ? r.logStartOffset : -1 }));
  }

  /** Log starts moved by retention or DeleteRecords (entries with -1 are ignored). */
  applyLogStarts(moves: readonly (PartitionKey & { logStartOffset: number })[]): void {
    for (const m of moves) {
      if (m.logStartOffset < 0) continue;
      this.index.advanceLogStart(partitionKey(m.topicId, m.partition), m.logStartOffset);
      this.reader.forget(partitionKey(m.topicId, m.partition));
    }
  }

  /**
   * Re-reads the log starts of the partitions in the index cache (one coordinator query), so this broker
   * notices log starts moved by another broker's retention or DeleteRecords within one period. The object
   * deletion grace period must exceed that period (cleaner.ts checks).
   */
  async refreshLogStarts(): Promise<void> {
    const keys = this.index.keys();
    if (keys.length === 0) return;
    const parts: PartitionKey[] = keys.map((k) => {
      const colon = k.lastIndexOf(':');
      return { topicId: k.slice(0, colon), partition: Number(k.slice(colon + 1)) };
    });
    const offsets = await this.coordinator.getPartitionOffsets(parts);
    for (let i = 0; i < keys.length; i++) {
      const o = offsets[i];
      const key = keys[i]!;
      if (o === null || o === undefined) {
        this.index.invalidate(key);
        this.compactionEpochs.delete(key);
        continue;
      }
      this.index.advanceLogStart(key, o.logStartOffset);
      // Compaction or merging rewrote the partition since the entry was made (a missed notification): drop
      // it. A partition seen for the first time with an epoch > 0 may have been cached before that rewrite.
      // (Both epochs only grow, so their sum moves whenever either does.)
      const epoch = (o.compactionEpoch ?? 0) + (o.mergeEpoch ?? 0);
      const seen = this.compactionEpochs.get(key);
      if ((seen === undefined && epoch > 0) || (seen !== undefined && seen !== epoch)) this.index.changed(key);
      this.compactionEpochs.set(key, epoch);
    }
    if (this.compactionEpochs.size > keys.length * 2) {
      const cached = new Set(keys);
      for (const k of this.compactionEpochs.keys()) if (!cached.has(k)) this.compactionEpochs.delete(k);
    }
  }

  /** Objects deleted from the store: drop them from the object cache. */
  forgetObjects(keys: readonly string[]): void {
    for (const key of keys) {
      this.objectCache.drop(key);
      this.laggingCache.drop(key);
    }
  }

  /** Seals and commits what is open, then withdraws the unused key registrations; used on shutdown. */
  async close(): Promise<void> {
    await this.writer.flush();
    await this.keys?.close();
  }
}
