/**
 * Diskless storage as the broker sees it: one writer (open object → upload → commit), one reader
 * (index cache → object cache → patched batches), and the wake-ups that tie commits to long polls.
 */
import type { Coordinator, ListOffsetsRequest } from '../../coordinator/coordinator.ts';
import type { ObjectStore } from '../../objectstore/object-store.ts';
import { findMaxTimestampRecord, findOffsetForTimestamp } from '../../protocol/records.ts';
import { BatchIndexCache } from './batch-index-cache.ts';
import { CommitWaiters } from './commit-waiters.ts';
import { DisklessReader } from './fetch-planner.ts';
import { ObjectCache } from './object-cache.ts';
import { DisklessWriter, type CommittedBatch } from './produce-buffer.ts';

export interface DisklessStorageOptions {
  brokerId: number;
  commitIntervalMs: number;
  bufferMaxBytes: number;
  cacheMaxBytes: number;
}

export interface OffsetAnswer {
  errorCode: number;
  offset: number;
  timestamp: number;
}

export const EARLIEST_TIMESTAMP = -2;
export const LATEST_TIMESTAMP = -1;
export const MAX_TIMESTAMP = -3;

export class DisklessStorage {
  readonly writer: DisklessWriter;
  readonly reader: DisklessReader;
  readonly objectCache: ObjectCache;
  readonly index = new BatchIndexCache();
  readonly waiters = new CommitWaiters();

  constructor(private readonly coordinator: Coordinator, store: ObjectStore, options: DisklessStorageOptions) {
    this.objectCache = new ObjectCache(store, options.cacheMaxBytes);
    this.reader = new DisklessReader(coordinator, this.objectCache, this.index);
    this.writer = new DisklessWriter(store, coordinator, {
      brokerId: options.brokerId,
      commitIntervalMs: options.commitIntervalMs,
      bufferMaxBytes: options.bufferMaxBytes,
      // Room for the open object and a few uploading ones before producers are made to wait.
      maxPendingBytes: options.bufferMaxBytes * 4,
      keyPrefix: 'wal/',
      onCommitted: (body, batches) => this.onCommitted(body, batches),
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
    const results = await this.coordinator.listOffsets(requests);
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
}
