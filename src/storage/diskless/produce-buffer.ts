/**
 * The diskless write path (DESIGN.md "Produce path"): batches join the open object; the object is sealed
 * when its first batch is `commitIntervalMs` old or it reaches `bufferMaxBytes`; each sealed object is
 * uploaded with one PUT (several may upload at once) and committed in seal order, one at a time; only
 * then are the waiting requests answered. A failed upload or commit answers every batch of the object
 * with a retriable error; nothing is acknowledged that is not both stored and committed.
 */
import { randomUUID } from 'node:crypto';
import type { CommitBatch, CommitBatchResult, Coordinator, TimestampType } from '../../coordinator/coordinator.ts';
import type { ObjectStore } from '../../objectstore/object-store.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { childLogger } from '../../observability/log.ts';

const log = childLogger('diskless-writer');

export interface ProducedBatch {
  /** The batch bytes: a view into the request frame until the object is sealed. */
  data: Buffer;
  recordCount: number;
  baseTimestamp: number;
  maxTimestamp: number;
  timestampType: TimestampType;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  lastSequence: number;
}

export interface PartitionAppend {
  topicId: string;
  partition: number;
  batches: ProducedBatch[];
}

export interface AppendResult {
  errorCode: number;
  errorMessage: string | null;
  baseOffset: number;
  logAppendTime: number;
  logStartOffset: number;
}

export interface CommittedBatch {
  topicId: string;
  partition: number;
  objectKey: string;
  byteOffset: number;
  byteSize: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  logAppendTime: number;
  timestampType: TimestampType;
  logStartOffset: number;
}

export interface WriterOptions {
  brokerId: number;
  commitIntervalMs: number;
  bufferMaxBytes: number;
  /** Back-pressure bound on bytes in open and uploading objects. */
  maxPendingBytes: number;
  keyPrefix: string;
  /** Called after each commit, before the producers are answered. */
  onCommitted: (object: Buffer, batches: CommittedBatch[]) => void;
}

interface Entry {
  append: PartitionAppend;
  arrival: number;
  resolve: (result: AppendResult) => void;
}

interface OpenObject {
  entries: Entry[];
  bytes: number;
  timer: NodeJS.Timeout | null;
}

export interface WriterStats {
  objectsCommitted: number;
  uploadFailures: number;
  commitFailures: number;
  pendingBytes: number;
  backPressureEvents: number;
  recordsCommitted: number;
  bytesCommitted: number;
}

export class DisklessWriter {
  private open: OpenObject = { entries: [], bytes: 0, timer: null };
  private commitChain: Promise<void> = Promise.resolve();
  private arrivals = 0;
  private pendingBytes = 0;
  private resumeWaiters: (() => void)[] = [];
  readonly stats: WriterStats = { objectsCommitted: 0, uploadFailures: 0, commitFailures: 0, pendingBytes: 0, backPressureEvents: 0, recordsCommitted: 0, bytesCommitted: 0 };

  constructor(
    private readonly store: ObjectStore,
    private readonly coordinator: Coordinator,
    private readonly options: WriterOptions,
  ) {}

  /** True while producers must wait: too many bytes are open or uploading. */
  get paused(): boolean {
    return this.pendingBytes >= this.options.maxPendingBytes;
  }

  whenResumed(): Promise<void> {
    if (!this.paused) return Promise.resolve();
    return new Promise((resolve) => this.resumeWaiters.push(resolve));
  }

  /**
   * Places the batches in the open object synchronously (this fixes their order) and resolves once the
   * object holding them is committed.
   */
  append(append: PartitionAppend): Promise<AppendResult> {
    return new Promise((resolve) => {
      const wasPaused = this.paused;
      this.open.entries.push({ append, arrival: this.arrivals++, resolve });
      for (const batch of append.batches) this.open.bytes += batch.data.length;
      for (const batch of append.batches) this.pendingBytes += batch.data.length;
      this.stats.pendingBytes = this.pendingBytes;
      if (!wasPaused && this.paused) this.stats.backPressureEvents++;
      if (this.open.bytes >= this.options.bufferMaxBytes) this.seal();
      else if (this.open.timer === null) this.open.timer = setTimeout(() => this.seal(), this.options.commitIntervalMs);
    });
  }

  /** Seals the open object now and waits until everything sealed so far is committed (or failed). */
  async flush(): Promise<void> {
    this.seal();
    await this.commitChain;
  }

  private seal(): void {
    const sealed = this.open;
    if (sealed.timer) clearTimeout(sealed.timer);
    this.open = { entries: [], bytes: 0, timer: null };
    if (sealed.entries.length === 0) return;

    // Inside an object, batches are ordered by (topic id, partition, arrival): a partition's batches are contiguous.
    sealed.entries.sort((a, b) =>
      a.append.topicId < b.append.topicId ? -1 : a.append.topicId > b.append.topicId ? 1
        : a.append.partition - b.append.partition || a.arrival - b.arrival);
    const chunks: Buffer[] = [];
    const batches: CommitBatch[] = [];
    let size = 0;
    for (const { append } of sealed.entries) {
      for (const b of append.batches) {
        chunks.push(b.data);
        batches.push({
          topicId: append.topicId,
          partition: append.partition,
          byteOffset: size,
          byteSize: b.data.length,
          recordCount: b.recordCount,
          baseTimestamp: b.baseTimestamp,
          maxTimestamp: b.maxTimestamp,
          timestampType: b.timestampType,
          producerId: b.producerId,
          producerEpoch: b.producerEpoch,
          baseSequence: b.baseSequence,
          lastSequence: b.lastSequence,
        });
        size += b.data.length;
      }
    }
    // The one copy of record data on the produce path: request views → object body.
    const body = Buffer.concat(chunks, size);
    const key = `${this.options.keyPrefix}${randomUUID()}`;
    const upload = this.store.put(key, body);
    upload.catch(() => {}); // observed in commit(); avoid an unhandled rejection meanwhile
    this.commitChain = this.commitChain.then(() => this.commit(key, body, upload, sealed.entries, batches));
  }

  private async commit(key: string, body: Buffer, upload: Promise<void>, entries: Entry[], batches: CommitBatch[]): Promise<void> {
    try {
      try {
        await upload;
      } catch (err) {
        this.stats.uploadFailures++;
        log.warn({ err, key }, 'object upload failed; answering KAFKA_STORAGE_ERROR');
        this.failAll(entries, ErrorCode.KAFKA_STORAGE_ERROR, `object upload failed: ${(err as Error).message}`);
        return;
      }
      let results: CommitBatchResult[];
      try {
        results = await this.coordinator.commitObject({ objectKey: key, objectSize: body.length, brokerId: this.options.brokerId, batches });
      } catch (err) {
        // The outcome is unknown: never report success. The object may be an orphan for the cleaner.
        this.stats.commitFailures++;
        log.warn({ err, key }, 'object commit failed; answering REQUEST_TIMED_OUT');
        this.failAll(entries, ErrorCode.REQUEST_TIMED_OUT, `commit failed: ${(err as Error).message}`);
        return;
      }
      this.stats.objectsCommitted++;
      this.announce(key, body, batches, results);
      this.answer(entries, results);
    } finally {
      this.pendingBytes -= body.length;
      this.stats.pendingBytes = this.pendingBytes;
      if (!this.paused && this.resumeWaiters.length > 0) {
        const waiters = this.resumeWaiters;
        this.resumeWaiters = [];
        for (const resume of waiters) resume();
      }
    }
  }

  private announce(key: string, body: Buffer, batches: CommitBatch[], results: CommitBatchResult[]): void {
    const committed: CommittedBatch[] = [];
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const r = results[i]!;
      if (r.errorCode !== 0) continue;
      this.stats.recordsCommitted += b.recordCount;
      this.stats.bytesCommitted += b.byteSize;
      committed.push({
        topicId: b.topicId,
        partition: b.partition,
        objectKey: key,
        byteOffset: b.byteOffset,
        byteSize: b.byteSize,
        baseOffset: r.baseOffset,
        lastOffset: r.baseOffset + b.recordCount - 1,
        maxTimestamp: b.maxTimestamp,
        logAppendTime: r.logAppendTime,
        timestampType: b.timestampType,
        logStartOffset: r.logStartOffset,
      });
    }
    try {
      this.options.onCommitted(body, committed);
    } catch (err) {
      log.error({ err }, 'onCommitted listener failed');
    }
  }

  private answer(entries: Entry[], results: CommitBatchResult[]): void {
    let i = 0;
    for (const entry of entries) {
      const first = results[i]!;
      let failed: CommitBatchResult | undefined;
      for (let j = 0; j < entry.append.batches.length; j++) {
        const r = results[i + j]!;
        if (r.errorCode !== 0 && !failed) failed = r;
      }
      i += entry.append.batches.length;
      entry.resolve(failed
        ? { errorCode: failed.errorCode, errorMessage: null, baseOffset: -1, logAppendTime: -1, logStartOffset: -1 }
        : { errorCode: 0, errorMessage: null, baseOffset: first.baseOffset, logAppendTime: first.logAppendTime, logStartOffset: first.logStartOffset });
    }
  }

  private failAll(entries: Entry[], errorCode: number, errorMessage: string): void {
    for (const entry of entries) entry.resolve({ errorCode, errorMessage, baseOffset: -1, logAppendTime: -1, logStartOffset: -1 });
  }
}
