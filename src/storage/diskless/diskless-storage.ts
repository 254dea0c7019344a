/**
 * Diskless storage as the broker sees it: one writer (open object → upload → commit), one reader
 * (index cache → object cache → patched batches), and the wake-ups that tie commits to long polls.
 */
import type { Coordinator, DeleteRecordsRequest, DeleteRecordsResult, ListOffsetsRequest, PartitionKey } from '../../coordinator/coordinator.ts';
import type { ObjectStore } from '../../objectstore/object-store.ts';
import { findMaxTimestampRecord, findOffsetForTimestamp } from '../../protocol/records.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { childLogger } from '../../observability/log.ts';
import { BatchIndexCache } from './batch-index-cache.ts';
import { CommitWaiters } from './commit-waiters.ts';
import { DisklessReader } from './fetch-planner.ts';
import { ObjectCache } from './object-cache.ts';
import { PendingKeyPool } from './object-keys.ts';
import { DisklessWriter, type CommittedBatch } from './produce-buffer.ts';

export interface DisklessStorageOptions {
  brokerId: number;
  commitIntervalMs: number;
  bufferMaxBytes: number;
  cacheMaxBytes: number;
  /** See DisklessWriter: how long a failed commit is retried (default 0). */
  commitRetryTimeoutMs?: number;
  /**
   * `diskless.orphan.min.age.ms`: when set, object keys are registered as pending before their upload
   * (object-keys.ts), so objects never committed are reaped. Unset: unregistered keys (tests, tools).
   */
  orphanMinAgeMs?: number;
}

export interface OffsetAnswer {
  errorCode: number;
  offset: number;
  timestamp: number;
}

const log = childLogger('diskless-storage');

/** Where WAL objects live in the store (the orphan reaper lists this prefix). */
export const WAL_KEY_PREFIX = 'wal/';

export const EARLIEST_TIMESTAMP = -2;
export const LATEST_TIMESTAMP = -1;
export const MAX_TIMESTAMP = -3;

export class DisklessStorage {
  readonly writer: DisklessWriter;
  readonly reader: DisklessReader;
  readonly objectCache: ObjectCache;
  readonly index = new BatchIndexCache();
  readonly waiters = new CommitWaiters();
  /** Pending-key registration (null without orphanMinAgeMs). */
  readonly keys: PendingKeyPool | null;

  constructor(private readonly coordinator: Coordinator, store: ObjectStore, options: DisklessStorageOptions) {
    this.objectCache = new ObjectCache(store, options.cacheMaxBytes);
    this.keys = options.orphanMinAgeMs === undefined
      ? null
      : new PendingKeyPool(coordinator, { brokerId: options.brokerId, keyPrefix: WAL_KEY_PREFIX, orphanMinAgeMs: options.orphanMinAgeMs });
    this.reader = new DisklessReader(coordinator, this.objectCache, this.index);
    this.writer = new DisklessWriter(store, coordinator, {
      brokerId: options.brokerId,
      commitIntervalMs: options.commitIntervalMs,
      bufferMaxBytes: options.bufferMaxBytes,
      // Room for the open object and a few uploading ones before producers are made to wait.
      maxPendingBytes: options.bufferMaxBytes * 4,
      keyPrefix: WAL_KEY_PREFIX,
      ...(this.keys ? { keys: this.keys } : {}),
      onCommitted: (body, batches) => this.onCommitted(body, batches),
      commitRetryTimeoutMs: options.commitRetryTimeoutMs,
      // The object may have been committed after all: forget what the index knows of its partitions.
      onCommitUnknown: (batches) => {
        for (const b of batches) this.index.invalidate(BatchIndexCache.key(b.topicId, b.partition));
      },
    });
  }

  private onCommitted(body: Buffer, batches: CommittedBatch[]): void {
    if (batches.length === 0) return;
    this.objectCache.put(batches[0]!.objectKey, body);
    const touched = new Set<string>();
    for (const b of batches) {
      const key = BatchIndexCache.key(b.topicId, b.partition);
      this.index.append(key, b, b.logStartOffset);
      touched.add(key);
    }
    this.waiters.notify(touched);
  }

  /** ListOffsets, record-granular for timestamps: the coordinator finds the batch, the batch's records give the offset. */
  async listOffsets(requests: readonly ListOffsetsRequest[]): Promise<OffsetAnswer[]> {
    let results;
    try {
      results = await this.coordinator.listOffsets(requests);
    } catch (err) {
      // The coordinator is unreachable: a retriable error for every partition (the client retries).
      log.warn({ err: (err as Error).message }, 'list offsets: coordinator query failed');
      return requests.map(() => ({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, offset: -1, timestamp: -1 }));
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
    this.waiters.notifyAll();
  }

  /**
   * DeleteRecords through the coordinator, then the log starts it moved into this broker's index cache,
   * so fetches below them answer OFFSET_OUT_OF_RANGE at once (other brokers: refreshLogStarts).
   */
  async deleteRecords(requests: readonly DeleteRecordsRequest[]): Promise<DeleteRecordsResult[]> {
    const results = await this.coordinator.deleteRecords(requests);
    this.applyLogStarts(requests.map((r, i) => ({ ...r, logStartOffset: results[i]!.errorCode === 0 ? results[i]!.logStartOffset : -1 })));
    return results;
  }

  /** Log starts moved by retention or DeleteRecords (entries with -1 are ignored). */
  applyLogStarts(moves: readonly (PartitionKey & { logStartOffset: number })[]): void {
    for (const m of moves) {
      if (m.logStartOffset >= 0) this.index.advanceLogStart(BatchIndexCache.key(m.topicId, m.partition), m.logStartOffset);
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
      if (o === null || o === undefined) this.index.invalidate(keys[i]!);
      else this.index.advanceLogStart(keys[i]!, o.logStartOffset);
    }
  }

  /** Objects deleted from the store: drop them from the object cache. */
  forgetObjects(keys: readonly string[]): void {
    for (const key of keys) this.objectCache.drop(key);
  }

  /** Seals and commits what is open, then withdraws the unused key registrations; used on shutdown. */
  async close(): Promise<void> {
    await this.writer.flush();
    await this.keys?.close();
  }
}
