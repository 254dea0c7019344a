/**
 * The diskless write path (DESIGN.md "Produce path"): batches join the open object; the object is sealed
 * when its first batch is `commitIntervalMs` old or it reaches `bufferMaxBytes`; each sealed object is
 * uploaded with one PUT (several may upload at once) and committed in seal order, one at a time; only
 * then are the waiting requests answered. A failed upload or commit answers every batch of the object
 * with a retriable error; nothing is acknowledged that is not both stored and committed.
 *
 * An append that finds the open object due (its first batch `commitIntervalMs` old, the timer not yet run
 * because the event loop is late) seals it, so a late timer does not stretch the object's open time.
 *
 * An object of at least `idleSealMinBytes` that no batch has joined for `idleSealMs` is sealed then (`idle`):
 * a producer with all its requests in flight (an idempotent one may have 5; each request waits for its
 * object's commit) sends nothing more until they are answered, so waiting out the interval would only add to
 * every round trip. The least size bounds the PUTs this adds: at most one per idleSealMinBytes written.
 * A timer that fired late (the event loop was busy, and appends waited behind it) proves no idleness, so it
 * is set again instead.
 *
 * Near saturation the queue that grows is that of sealed objects uploading or waiting, in seal order, behind
 * a slow PUT: `maxPendingBytes` bounds it (back-pressure: the broker stops reading requests). A PUT
 * slower than `hedgePercentile` of recent PUTs is hedged: sent again with the same key and bytes, the first
 * success counts (upload-hedger.ts). Each object's stage times (open, upload, ordering, commit, total) go to
 * `onStage` (the broker's histogram) and, at debug level, to one log line per object.
 *
 * A commit that fails (coordinator unreachable, connection lost mid-commit: the outcome is unknown) is
 * retried with the same object key until `commitRetryTimeoutMs` after the object was sealed. Commits are
 * idempotent by object key (coordinator migration 4), so a retry of a commit that did happen returns its
 * original offsets: the records are written once and acknowledged. Past the deadline the producers get
 * REQUEST_TIMED_OUT; the object is then committed once or an orphan for the cleaner, never both. Objects
 * queued behind a retrying commit spend their own deadline waiting, so an outage answers them promptly.
 *
 * Named after the class it defines (STYLE.md's `produce-buffer.ts`): it is the whole write path — buffer,
 * seal, upload, commit, answer — not only the buffer. Failures map to Kafka errors in ../storage-error.ts.
 */
import { randomUUID } from 'node:crypto';
import { CoordinatorError, type CommitBatch, type CommitBatchResult, type Coordinator, type TimestampType, type TxnKind } from '../../coordinator/coordinator.ts';
import type { AppendResult, ProducedBatch } from '../partition-log.ts';
import { toKafkaError, type KafkaError } from '../storage-error.ts';
import type { ObjectStore } from '../../objectstore/object-store.ts';
import { childLogger } from '../../observability/log.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import type { ObjectKeySource } from './object-keys.ts';
import { crc32c } from '@node-rs/crc32';
import { crc32cCombine } from '../../protocol/crc32c-combine.ts';
import { UploadHedger, type HedgeClock, type HedgeStats } from './upload-hedger.ts';

const log = childLogger('diskless-writer');

export interface PartitionAppend {
  topicId: string;
  partition: number;
  batches: ProducedBatch[];
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
  txnKind: TxnKind;
}

export interface WriterOptions {
  brokerId: number;
  commitIntervalMs: number;
  bufferMaxBytes: number;
  /** Back-pressure bound on bytes in open and uploading objects. */
  maxPendingBytes: number;
  keyPrefix: string;
  /**
   * Called after each commit, before the producers are answered, with what `markCommit` returned just
   * before the commit was sent (the batch index cache's notification mark).
   */
  onCommitted: (object: readonly Buffer[], batches: CommittedBatch[], mark: number | undefined) => void;
  /** Called just before an object's commit is sent (first attempt). */
  markCommit?: () => number;
  /** How long after sealing a failed commit is retried (default 0: one attempt). */
  commitRetryTimeoutMs?: number;
  /** Called when the writer gives up on a commit whose outcome is unknown (caches of those partitions may be stale). */
  onCommitUnknown?: (batches: readonly CommitBatch[], objectKey: string) => void;
  /**
   * Where object keys come from. With a PendingKeyPool (object-keys.ts) each key is registered as pending in
   * the coordinator before its upload, so an object that is never committed is found and reaped; a key
   * older than its commit deadline is not committed. Default: unregistered random keys under keyPrefix.
   */
  keys?: ObjectKeySource;
  /**
   * Hedged uploads (0 or unset: none): a PUT that has taken longer than this percentile of the broker's recent
   * PUTs (scaled to its size) is sent again, same key and bytes; the first to succeed counts (upload-hedger.ts).
   */
  hedgePercentile?: number;
  /** The hedger's clock (tests). */
  hedgeClock?: HedgeClock;
  /** Seal an object of at least idleSealMinBytes once no batch joined it for this long (0 or unset: never). */
  idleSealMs?: number;
  /** The least size of an object sealed for being idle (default bufferMaxBytes / 4, as the broker config's). */
  idleSealMinBytes?: number;
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
  /** performance.now() of the first append. */
  openedAt: number;
  /** performance.now() of the latest append, and the timer that seals the object once idle (idleSealMs). */
  lastAppendAt: number;
  idleTimer: NodeJS.Timeout | null;
}

const emptyObject = (): OpenObject => ({ entries: [], bytes: 0, timer: null, openedAt: 0, lastAppendAt: 0, idleTimer: null });

/**
 * The stages of an object's way from its first append to its producers' answer, timed per object:
 * open (first append to seal), upload (seal to the PUT's end), ordering (PUT's end to its commit's start:
 * waiting for earlier objects' commits), commit (the coordinator commit, retries included), total (first
 * append to answer: the longest a request of the object waited).
 */
export type WriteStage = 'open' | 'upload' | 'ordering' | 'commit' | 'total';
/**
 * Why an object was sealed: its first batch was commitIntervalMs old, it reached bufferMaxBytes, it held
 * idleSealMinBytes and was idle for idleSealMs, or flush().
 */
export type SealReason = 'interval' | 'size' | 'idle' | 'flush';

export interface WriterStats extends HedgeStats {
  objectsCommitted: number;
  uploadFailures: number;
  commitFailures: number;
  commitRetries: number;
  pendingBytes: number;
  /** The most bytes pending at once since takePendingPeak() last read it (how full the queue got between two scrapes). */
  pendingBytesPeak: number;
  backPressureEvents: number;
  recordsCommitted: number;
  bytesCommitted: number;
  sealed: Record<SealReason, number>;
}

export class DisklessWriter {
  private open: OpenObject = emptyObject();
  private commitChain: Promise<void> = Promise.resolve();
  private arrivals = 0;
  private pendingBytes = 0;
  private resumeWaiters: (() => void)[] = [];
  readonly stats: WriterStats = { objectsCommitted: 0, uploadFailures: 0, commitFailures: 0, commitRetries: 0, hedgedPuts: 0, hedgeWins: 0, hedgesOverBudget: 0, pendingBytes: 0, pendingBytesPeak: 0, backPressureEvents: 0, recordsCommitted: 0, bytesCommitted: 0, sealed: { interval: 0, size: 0, idle: 0, flush: 0 } };
  private readonly hedger: UploadHedger;
  /** The size from which an idle open object is sealed (Infinity: idleSealMs off), worked out once, not per append. */
  private readonly idleSealFrom: number;
  /** Observer of each object's stage times (seconds); set by the broker's metrics. */
  onStage: ((stage: WriteStage, seconds: number) => void) | null = null;

  constructor(
    private readonly store: ObjectStore,
    private readonly coordinator: Coordinator,
    private readonly options: WriterOptions,
  ) {
    this.hedger = new UploadHedger(options.hedgePercentile ?? 0, options.hedgeClock, this.stats);
    this.idleSealFrom = options.idleSealMs ? options.idleSealMinBytes ?? options.bufferMaxBytes / 4 : Infinity;
  }

  /** The most bytes pending at once since the last call (a scrape's view of the queue's peak), then starts over from now. */
  takePendingPeak(): number {
    const peak = this.stats.pendingBytesPeak;
    this.stats.pendingBytesPeak = this.pendingBytes;
    return peak;
  }

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
      const now = performance.now();
      if (this.open.entries.length === 0) this.open.openedAt = now;
      this.open.lastAppendAt = now;
      this.open.entries.push({ append, arrival: this.arrivals++, resolve });
      for (const batch of append.batches) this.open.bytes += batch.data.length;
      for (const batch of append.batches) this.pendingBytes += batch.data.length;
      this.stats.pendingBytes = this.pendingBytes;
      if (this.pendingBytes > this.stats.pendingBytesPeak) this.stats.pendingBytesPeak = this.pendingBytes;
      if (!wasPaused && this.paused) this.stats.backPressureEvents++;
      if (this.open.bytes >= this.options.bufferMaxBytes) this.seal('size');
      // The timer is late when the event loop is (a busy machine, a long poll phase of socket reads): an append
      // that finds the object due seals it on time rather than adding to it until the timer runs.
      else if (this.open.timer === null) this.open.timer = setTimeout(() => this.seal('interval'), this.options.commitIntervalMs);
      else if (now - this.open.openedAt >= this.options.commitIntervalMs) this.seal('interval');
      if (this.open.idleTimer === null && this.open.bytes >= this.idleSealFrom) this.watchIdle(this.open, this.options.idleSealMs!);
    });
  }

  /** Seals `object` once no batch has joined it for idleSealMs, checking again in `ms`. */
  private watchIdle(object: OpenObject, ms: number): void {
    const idleMs = this.options.idleSealMs!;
    const armedAt = performance.now();
    object.idleTimer = setTimeout(() => {
      object.idleTimer = null;
      if (this.open !== object) return;
      const now = performance.now();
      const idleFor = now - object.lastAppendAt;
      // Late by more than half the idle time: appends may have waited behind whatever held the event loop.
      if (now - armedAt > ms + idleMs / 2) this.watchIdle(object, idleMs);
      else if (idleFor >= idleMs) this.seal('idle');
      else this.watchIdle(object, idleMs - idleFor);
    }, ms);
  }

  /** Seals the open object now and waits until everything sealed so far is committed (or failed). */
  async flush(): Promise<void> {
    this.seal('flush');
    await this.commitChain;
  }

  private seal(reason: SealReason): void {
    const sealed = this.open;
    if (sealed.timer) clearTimeout(sealed.timer);
    if (sealed.idleTimer) clearTimeout(sealed.idleTimer);
    this.open = emptyObject();
    if (sealed.entries.length === 0) return;
    this.stats.sealed[reason]++;
    const times: StageTimes = { opened: sealed.openedAt, sealed: performance.now(), uploaded: 0 };

    // Inside an object, batches are ordered by (topic id, partition, arrival): a partition's batches are contiguous.
    sealed.entries.sort((a, b) =>
      a.append.topicId < b.append.topicId ? -1 : a.append.topicId > b.append.topicId ? 1
        : a.append.partition - b.append.partition || a.arrival - b.arrival);
    const views: Buffer[] = [];
    const batches: CommitBatch[] = [];
    let size = 0;
    for (const { append } of sealed.entries) {
      for (const b of append.batches) {
        views.push(b.data);
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
          txnKind: b.txnKind,
        });
        size += b.data.length;
      }
    }
    const body = objectParts(views);
    body.crc32c = objectCrc32c(views);
    const pending = this.options.keys?.take();
    const key = pending?.key ?? `${this.options.keyPrefix}${randomUUID()}`;
    const sealedAt = Date.now();
    // A hedge's losing PUT is left to finish; should it land after the object was deleted (retention within
    // the store's request timeout), the object it leaves is unknown to the coordinator and the cleaner reaps it.
    // Only objects of at least half diskless.buffer.max.bytes are hedged: a PUT's tail grows with its size, so
    // hedging small ones buys little latency at the highest cost per GiB, and at low load the broker keeps to
    // one PUT per commit interval.
    const hedgeable = body.size >= this.options.bufferMaxBytes / 2;
    const put = () => this.hedger.upload(body.size, () => this.store.put(key, body.parts, body.crc32c), hedgeable);
    const upload = (pending ? pending.ready.then(put) : put())
      .then(() => { times.uploaded = performance.now(); });
    upload.catch(() => {}); // observed in commit(); avoid an unhandled rejection meanwhile
    this.commitChain = this.commitChain.then(() => this.commit(key, body, upload, sealed.entries, batches, sealedAt, times, pending?.registeredAt));
  }

  private stage(stage: WriteStage, from: number, to: number): void {
    this.onStage?.(stage, Math.max(0, to - from) / 1000);
  }

  private async commit(key: string, body: ObjectBody, upload: Promise<void>, entries: Entry[], batches: CommitBatch[], sealedAt: number, times: StageTimes, registeredAt?: number): Promise<void> {
    try {
      try {
        await upload;
      } catch (err) {
        this.stats.uploadFailures++;
        log.warn({ err, key }, 'object upload failed');
        this.failAll(entries, toKafkaError('object-store', err));
        return;
      }
      if (registeredAt !== undefined && performance.now() - registeredAt > this.options.keys!.commitDeadlineMs) {
        // The orphan reaper may take this key soon: leave the object to it rather than commit it.
        this.stats.uploadFailures++;
        log.warn({ key }, 'object key registered too long ago to commit');
        this.failAll(entries, toKafkaError('object-store', new Error('object upload took too long')));
        return;
      }
      const mark = this.options.markCommit?.();
      const commitStart = performance.now();
      const results = await this.commitWithRetries(key, body.size, batches, sealedAt);
      if (results instanceof Error) {
        // The outcome is unknown: never report success. The object may be an orphan for the cleaner.
        this.stats.commitFailures++;
        log.warn({ err: results, key }, 'object commit failed or its outcome is unknown');
        this.options.onCommitUnknown?.(batches, key);
        this.failAll(entries, toKafkaError('commit', results));
        return;
      }
      this.stats.objectsCommitted++;
      this.announce(key, body.parts, batches, results, mark);
      this.answer(entries, results);
      const now = performance.now();
      if (this.onStage) {
        this.stage('open', times.opened, times.sealed);
        this.stage('upload', times.sealed, times.uploaded);
        this.stage('ordering', times.uploaded, commitStart);
        this.stage('commit', commitStart, now);
        this.stage('total', times.opened, now);
      }
      if (log.isLevelEnabled('debug')) {
        log.debug({ key, bytes: body.size, batches: batches.length, openMs: Math.round(times.sealed - times.opened), uploadMs: Math.round(times.uploaded - times.sealed),
          orderingMs: Math.round(commitStart - times.uploaded), commitMs: Math.round(now - commitStart), totalMs: Math.round(now - times.opened) }, 'object committed');
      }
    } finally {
      this.pendingBytes -= body.size;
      this.stats.pendingBytes = this.pendingBytes;
      if (!this.paused && this.resumeWaiters.length > 0) {
        const waiters = this.resumeWaiters;
        this.resumeWaiters = [];
        for (const resume of waiters) resume();
      }
    }
  }

  /** Commits, retrying with the same key (idempotent) until the deadline; the last error when it never succeeded. */
  private async commitWithRetries(key: string, size: number, batches: CommitBatch[], sealedAt: number): Promise<CommitBatchResult[] | Error> {
    const deadline = sealedAt + (this.options.commitRetryTimeoutMs ?? 0);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.coordinator.commitObject({ objectKey: key, objectSize: size, brokerId: this.options.brokerId, batches });
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        const backoff = Math.min(1_000, 50 * 2 ** attempt);
        if (err instanceof CoordinatorError || Date.now() + backoff > deadline) return error;
        this.stats.commitRetries++;
        if (attempt === 0) log.warn({ err: error.message, key }, 'object commit failed or its outcome is unknown; retrying with the same key');
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
    }
  }

  private announce(key: string, body: readonly Buffer[], batches: CommitBatch[], results: CommitBatchResult[], mark: number | undefined): void {
    const committed: CommittedBatch[] = [];
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const r = results[i]!;
      if (r.errorCode === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER) {
        // Rare, and fatal to some clients (librdkafka when it is the oldest request in flight): worth a trace.
        log.warn({ key, topicId: b.topicId, partition: b.partition, producerId: b.producerId, producerEpoch: b.producerEpoch, baseSequence: b.baseSequence, lastSequence: b.lastSequence },
          'a batch was refused as out of order');
      }
      if (r.errorCode !== 0 || r.duplicate) continue; // a duplicate's batch lives in an earlier object
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
        txnKind: b.txnKind,
      });
    }
    try {
      this.options.onCommitted(body, committed, mark);
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

  private failAll(entries: Entry[], error: KafkaError): void {
    for (const entry of entries) entry.resolve({ ...error, baseOffset: -1, logAppendTime: -1, logStartOffset: -1 });
  }
}

/** performance.now() of an object's first append, seal and upload end. */
interface StageTimes {
  opened: number;
  sealed: number;
  uploaded: number;
}

interface ObjectBody {
  /** The object's bytes, in order: uploaded back to back and cached as they are. */
  parts: Buffer[];
  size: number;
  /** CRC-32C of the whole body (the PUT's checksum), when known. */
  crc32c?: number;
}

/** Bytes of a record batch before the part its CRC covers (base offset, length, leader epoch, magic, CRC). */
const BATCH_CRC_START = 21;

/**
 * The CRC-32C of an object of record batches, from each batch's CRC (bytes 21 on, checked on produce) and its
 * first 21 bytes: one pass over 21 bytes a batch instead of over the whole object (crc32c-combine.ts).
 */
export function objectCrc32c(batches: readonly Buffer[]): number {
  let crc = 0;
  for (const b of batches) {
    crc = crc32c(b.subarray(0, BATCH_CRC_START), crc);
    crc = crc32cCombine(crc, b.readUInt32BE(17), b.length - BATCH_CRC_START);
  }
  return crc;
}

/**
 * The object's bytes from its batches, without copying record data where that is safe for memory. A batch
 * is a view into its produce request's buffer, which it keeps alive as long as the object is cached or
 * uploading; a buffer whose bytes mostly belong to this object is kept as views (a large request, read in
 * a buffer of its own). Batches of buffers they hardly fill (small requests that shared a socket read
 * with other data) are copied together, so that a few bytes never hold a large buffer.
 */
export function objectParts(views: readonly Buffer[]): ObjectBody {
  const used = new Map<ArrayBufferLike, number>();
  for (const v of views) used.set(v.buffer, (used.get(v.buffer) ?? 0) + v.length);
  const parts: Buffer[] = [];
  let copies: Buffer[] = [];
  let copyBytes = 0;
  const flushCopies = () => {
    if (copies.length === 0) return;
    parts.push(Buffer.concat(copies, copyBytes));
    copies = [];
    copyBytes = 0;
  };
  let size = 0;
  for (const v of views) {
    size += v.length;
    if (used.get(v.buffer)! * 2 >= v.buffer.byteLength) {
      flushCopies();
      parts.push(v);
    } else {
      copies.push(v);
      copyBytes += v.length;
    }
  }
  flushCopies();
  return { parts, size };
}
