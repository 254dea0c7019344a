/**
 * The local log of one classic partition (DESIGN.md "classic topic"): a directory `<topic>-<partition>` of
 * segments, as in Kafka, written only by this broker (the partition's leader). It is the classic kind of
 * the partition seam (../partition-log.ts); STYLE.md's `log.ts`, named `classic-log.ts` because
 * `PartitionLog` is the seam's name.
 *
 * Write path. `append` is synchronous up to the returned promise: it assigns the batch its offsets (patching
 * base offset, partition leader epoch and, for LogAppendTime topics, max timestamp + CRC into the batch bytes,
 * so the stored batch is ready to serve) and queues it. Called from the produce handler before its first
 * await, this fixes the order of pipelined requests. One writer per partition drains the queue in rounds: a
 * round takes everything queued (that fits in the active segment) and writes it with one positional `writev`.
 * With per-write fsync (the default, below) the written rounds go to the partition's syncer, which runs one
 * `fdatasync` at a time, each covering every round written before it began — a group commit shared by every
 * request that arrived meanwhile — while the writer already writes the next round; rounds become visible and
 * are answered in log order, after the fsync that covers them.
 *
 * Flush policy (topic `flush.messages` / `flush.ms`; Floe's broker default log.flush.interval.messages=1):
 * - flush.messages = 1 (or flush.ms = 0), the default: acks=all (and acks=0) appends are answered, and become
 *   visible to consumers (the high watermark moves), only after the fsync. With one replica, "all replicas
 *   have it" means "it is on this disk". acks=1 is answered once the write reached the operating system, as
 *   Kafka's leader-only ack (the data is still fsynced in the same round before consumers see it).
 * - larger values: appends are answered and visible once written; the log is fsynced after flush.messages
 *   records or when unflushed data is flush.ms old (Kafka's behaviour, which relies on replicas; here it
 *   trades durability on power loss for latency).
 * A segment is always fsynced (log and indexes) when it is rolled, so only the active segment can have a torn
 * tail after a crash; the clean-shutdown marker (see classic-storage.ts) tells whether it must be recovered.
 * The active segment's index entries are written to its index files only when it is sealed (roll, clean
 * shutdown), like Kafka's memory-mapped indexes: after a crash they are rebuilt from the log.
 *
 * A failed write or fsync takes the partition offline (KAFKA_STORAGE_ERROR for every queued and later request)
 * until a restart recovers it, as Kafka takes a log dir offline: after a failed fsync the page cache can no
 * longer be trusted, and offsets already handed out cannot be taken back.
 *
 * Read path. Fetches find the batch holding their offset through, in order: the ring of the active segment's
 * recent batches (tail consumers), a hint left by the previous read (sequential consumers), or the segment's
 * sparse offset index plus a walk over batch headers. The bytes are read with one positional read per
 * partition and trimmed to whole batches; nothing is patched on the way out. A tail read (of what this
 * process wrote to the active segment lately, in the page cache) is a synchronous read on the event loop:
 * through libuv's pool it would wait behind the partitions' writes and fsyncs.
 *
 * Structural changes (roll, retention, DeleteRecords, close) run on the same queue as the writes, one at a
 * time; readers never wait for them. `segments` is replaced, never mutated, so a reader's snapshot stays valid.
 */
import { readSync } from 'node:fs';
import { mkdir, open, readdir, rename, unlink, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TopicConfig } from '../../config/topic-config.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import {
  BASE_SEQUENCE_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  BATCH_LENGTH_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  RECORD_BATCH_OVERHEAD,
  TIMESTAMP_TYPE_MASK,
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  patchBaseOffset,
  patchLogAppendTime,
  patchPartitionLeaderEpoch,
  ControlType,
  isControl,
  isTransactional,
} from '../../protocol/record-batch.ts';
import { TXN_ABORT_MARKER, TXN_COMMIT_MARKER, TXN_DATA } from '../../coordinator/coordinator.ts';
import { findMaxTimestampRecord, findOffsetForTimestamp, readRecords } from '../../protocol/records.ts';
import { childLogger } from '../../observability/log.ts';
import { endOffsetOfStoredEpoch, READ_COMMITTED, READ_UNCOMMITTED, STORED_LEADER_EPOCH, type IsolationLevel, type ActiveProducer, type AppendResult, type DeleteRecordsAnswer, type EpochEndOffset, type FetchBudget, type OffsetAnswer, type PartitionLog, type ProducedBatch, type ReadPlan, type ReadResult } from '../partition-log.ts';
import { toKafkaError } from '../storage-error.ts';
import { maxSegmentMs } from '../compaction.ts';
import type { IndexCache } from './index-cache.ts';
import { CLEANED_SUFFIX, DELETED_SUFFIX, INDEX_SUFFIX, LOG_SUFFIX, LogSegment, TIME_INDEX_SUFFIX, writeFully } from './segment.ts';
import { retentionBreaches } from './retention.ts';
import { ProducerStateManager } from './producer-state.ts';

const log = childLogger('classic-log');

export const LOG_START_OFFSET_FILE = 'log-start-offset';
/** The log cleaner's first dirty offset: everything below it was compacted (Kafka's cleaner-offset-checkpoint, per partition). */
export const CLEANER_CHECKPOINT_FILE = 'cleaner-offset-checkpoint';
/** `<offset, 20 digits>.producers`: idempotent-producer state as of that offset (JSON; see producer-state.ts). */
export const PRODUCER_SNAPSHOT_SUFFIX = '.producers';
const SNAPSHOTS_KEPT = 2;
const INT32_MAX = 2 ** 31 - 1;
const RING_SIZE = 256;
const MAX_HINTS = 16;
const HEADER_CHUNK = 16 * 1024;
const NO_LIMIT = Number.MAX_SAFE_INTEGER;
const EMPTY_F64 = new Float64Array(0);
const EMPTY_I32 = new Int32Array(0);
/** Tail reads (`isTailRead`): at most this many bytes, within this far of the end of what is visible. */
const TAIL_READ_MAX_BYTES = 1024 * 1024;
const TAIL_READ_WINDOW_BYTES = 8 * 1024 * 1024;

/** Where a fetch will read, decided before the byte budget is applied. */
interface ClassicRead {
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  segment: LogSegment | null;
  /** Position of the batch holding the fetch offset. */
  position: number;
  firstBatchSize: number;
  /** Visible bytes of the segment from `position`. */
  available: number;
  /** Set by `limit`: bytes to read. */
  readLen: number;
  /** read_committed: the last stable offset (batches from there on are not returned); else the high watermark. */
  stableOffset: number;
  readCommitted: boolean;
}

export interface ClassicLogOptions {
  topicId: string;
  topicName: string;
  partition: number;
  dir: string;
  /** The topic's current configuration (read on every use, so altered configs apply at once). */
  config: () => TopicConfig;
  /** New data is visible: wake long polls. */
  onVisible: (key: string) => void;
  /** Bytes queued but not yet answered changed by `delta` (back-pressure). */
  onPendingBytes: (delta: number) => void;
  indexCache: IndexCache;
  /** producer.id.expiration.ms (default one day). */
  producerIdExpirationMs?: number;
  /** Write-path timings, per round, in seconds (the broker's floe_classic_write_stage_seconds). */
  onStage?: (stage: ClassicWriteStage, seconds: number) => void;
}

/**
 * Stages of the classic write path, per round: queued (its oldest append to the start of its write), write
 * (the positional writev), sync (the fdatasync that covers it), total (its oldest append to visible and answered).
 */
export type ClassicWriteStage = 'queued' | 'write' | 'sync' | 'total';

interface PendingAppend {
  data: Buffer;
  baseOffset: number;
  lastOffset: number;
  records: number;
  maxTimestamp: number;
  logAppendTime: number;
  waitForSync: boolean;
  /** Where it was written in the active segment (set once written). */
  position: number;
  /** performance.now() at append. */
  appendedAt: number;
  resolve: (result: AppendResult) => void;
}

export interface BatchLocation {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  attributes: number;
}

/**
 * The active segment's most recent batches (tail reads without an index lookup): 6 KiB per partition,
 * allocated on the first append, so idle partitions cost nothing.
 */
class RecentBatches {
  private bases = EMPTY_F64;
  private lasts = EMPTY_F64;
  private positions = EMPTY_I32;
  private sizes = EMPTY_I32;
  private start = 0;
  private count = 0;

  clear(): void {
    this.start = this.count = 0;
  }

  add(baseOffset: number, lastOffset: number, position: number, size: number): void {
    if (this.bases.length === 0) {
      this.bases = new Float64Array(RING_SIZE);
      this.lasts = new Float64Array(RING_SIZE);
      this.positions = new Int32Array(RING_SIZE);
      this.sizes = new Int32Array(RING_SIZE);
    }
    const at = (this.start + this.count) % RING_SIZE;
    this.bases[at] = baseOffset;
    this.lasts[at] = lastOffset;
    this.positions[at] = position;
    this.sizes[at] = size;
    if (this.count < RING_SIZE) this.count++;
    else this.start = (this.start + 1) % RING_SIZE;
  }

  /** Where the oldest recent batch starts (everything after it was written by this process); -1 when none. */
  oldestPosition(): number {
    return this.count === 0 ? -1 : this.positions[this.start]!;
  }

  /** The batch holding `offset`, when it is among the recent ones. */
  find(offset: number): { position: number; size: number } | null {
    if (this.count === 0 || offset < this.bases[this.start]!) return null;
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lasts[(this.start + mid) % RING_SIZE]! < offset) lo = mid + 1;
      else hi = mid;
    }
    const at = (this.start + lo) % RING_SIZE;
    if (this.lasts[at]! < offset) return null;
    return { position: this.positions[at]!, size: this.sizes[at]! };
  }
}

function errorResult(errorCode: number, errorMessage: string | null = null): AppendResult {
  return { errorCode, errorMessage, baseOffset: -1, logAppendTime: -1, logStartOffset: -1 };
}

/** Whether acknowledged writes must be fsynced first (Floe's default). */
export function syncEveryWrite(config: TopicConfig): boolean {
  return config.flushMessages <= 1 || config.flushMs === 0;
}

export class ClassicLog implements PartitionLog {
  readonly key: string;
  segments: LogSegment[] = [];
  logStartOffset = 0;
  /** Log end offset: the offset the next append gets (queued appends included). */
  nextOffset = 0;
  /** Everything below is readable by consumers. */
  highWatermark = 0;
  failure: Error | null = null;
  private closing = false;
  /** Appended, not written yet. */
  private pending: PendingAppend[] = [];
  /** Written, waiting for the next fsync (per-write fsync only). */
  private unsynced: PendingAppend[] = [];
  /** Written, covered by the fsync in flight. */
  private syncingGroup: PendingAppend[] = [];
  /** The syncer while it runs (it never rejects: a failure takes the log offline). */
  private syncing: Promise<void> | null = null;
  /** Set while the writer has nothing to write and waits for the syncer: an append wakes it. */
  private wakeWriter: (() => void) | null = null;
  private draining = false;
  private queue: Promise<unknown> = Promise.resolve();
  private unflushedMessages = 0;
  private lastFlushMs = Date.now();
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly recent = new RecentBatches();
  private readonly hints = new Map<number, { segment: LogSegment; position: number }>();
  /** Bytes cut off the active segment when it was recovered (tests, logs). */
  recoveredTruncatedBytes = 0;
  /** Idempotent producers' sequences (producer-state.ts). */
  readonly producers = new ProducerStateManager();
  /** Log cleaner: offsets below it were compacted (the first dirty offset). */
  cleanerCheckpoint = 0;
  /**
   * Log cleaner: the earliest delete horizon in the future among the batches it kept (-1: none), so it runs
   * again when tombstones may go; 0 after a restart (unknown: one pass finds out).
   */
  nextDeleteHorizonMs = -1;
  /** Duplicates of batches not visible yet wait here for their original. */
  private visibilityWaiters: { offset: number; resolve: (visible: boolean) => void }[] = [];

  private constructor(readonly options: ClassicLogOptions) {
    this.key = `${options.topicId}:${options.partition}`;
  }

  get topicId(): string {
    return this.options.topicId;
  }

  get partition(): number {
    return this.options.partition;
  }

  get dir(): string {
    return this.options.dir;
  }

  get active(): LogSegment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Total bytes of the log's segments. */
  get size(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  /**
   * Opens the log in `options.dir` (created when missing, with one empty segment at offset 0). With `recover`
   * (no clean-shutdown marker) the active segment's batches are all checked and a torn tail is cut.
   */
  static async open(options: ClassicLogOptions, recover: boolean): Promise<ClassicLog> {
    const plog = new ClassicLog(options);
    await plog.loadFromDisk(recover);
    return plog;
  }

  private async loadFromDisk(recover: boolean): Promise<void> {
    const dir = this.options.dir;
    await mkdir(dir, { recursive: true });
    const config = this.options.config();
    const bases: number[] = [];
    const names = await readdir(dir);
    for (const name of names) {
      // Leftovers of a crash: files of deleted segments, half-written checkpoints, indexes whose log is gone.
      const orphanIndex = (name.endsWith(INDEX_SUFFIX) || name.endsWith(TIME_INDEX_SUFFIX)) && !names.includes(name.replace(/\.(time)?index$/, LOG_SUFFIX));
      if (name.endsWith(DELETED_SUFFIX) || name.endsWith('.tmp') || name.endsWith(CLEANED_SUFFIX) || orphanIndex) {
        await unlink(join(dir, name)).catch(() => {});
        continue;
      }
      const m = /^(\d{20})\.log$/.exec(name);
      if (m) bases.push(Number(m[1]));
    }
    bases.sort((a, b) => a - b);
    const checkpoint = await readLogStartOffset(dir);
    if (bases.length === 0) {
      const segment = await LogSegment.create(dir, checkpoint ?? 0);
      await fsyncDir(dir);
      this.segments = [segment];
    } else {
      const segments: LogSegment[] = [];
      try {
        for (let i = 0; i < bases.length; i++) {
          const last = i === bases.length - 1;
          const { segment, truncatedBytes, truncatedBecause } = await LogSegment.load(dir, bases[i]!, {
            active: last,
            recover,
            nextBaseOffset: last ? null : bases[i + 1]!,
            indexIntervalBytes: config.indexIntervalBytes,
          });
          segments.push(segment);
          if (!last) this.options.indexCache.touch(segment);
          if (truncatedBytes > 0) {
            this.recoveredTruncatedBytes = truncatedBytes;
            log.warn({ partition: this.key, dir, segment: bases[i], truncatedBytes, reason: truncatedBecause }, 'recovered a torn log tail: truncated the active segment');
          }
        }
      } catch (err) {
        await Promise.allSettled(segments.map((s) => s.close()));
        throw err;
      }
      this.segments = segments;
    }
    this.nextOffset = this.highWatermark = this.active.nextOffset;
    this.logStartOffset = Math.max(checkpoint ?? 0, this.segments[0]!.baseOffset);
    if (this.logStartOffset > this.nextOffset) {
      // Records below the log start offset were deleted, but the log ends before it (unflushed data lost):
      // start an empty log at the log start offset, so offsets are never reused.
      log.warn({ partition: this.key, logStartOffset: this.logStartOffset, logEndOffset: this.nextOffset }, 'log ends before its log start offset: starting an empty log there');
      const old = this.segments;
      const fresh = await LogSegment.create(dir, this.logStartOffset);
      this.segments = [fresh];
      for (const s of old) await s.delete(0);
      await fsyncDir(dir);
      this.nextOffset = this.highWatermark = this.logStartOffset;
    }
    await this.loadProducerState();
    const cleaned = await readOffsetFile(dir, CLEANER_CHECKPOINT_FILE);
    this.cleanerCheckpoint = cleaned !== null && cleaned <= this.nextOffset ? cleaned : 0;
    if (this.cleanerCheckpoint > this.logStartOffset) this.nextDeleteHorizonMs = 0;
  }

  /**
   * Restores the idempotent-producer state: the latest snapshot at or below the log end, then the batches
   * after it, replayed from the log (headers only). Without a snapshot the whole log is replayed.
   */
  private async loadProducerState(): Promise<void> {
    const dir = this.options.dir;
    const snapshots = await listSnapshots(dir);
    let from = this.segments[0]!.baseOffset;
    for (const offset of snapshots.reverse()) {
      if (offset > this.nextOffset) continue;
      const restored = this.producers.restore(await readFile(join(dir, snapshotName(offset))));
      if (restored === null) continue;
      from = Math.max(restored, from);
      break;
    }
    if (from >= this.nextOffset) return;
    const now = Date.now();
    const config = this.options.config();
    for (const segment of this.segments) {
      if (segment.nextOffset <= from) continue;
      let position = 0;
      if (segment.baseOffset < from) {
        await segment.ensureIndexes(config.indexIntervalBytes);
        position = segment.offsetIndex?.lookup(from).position ?? 0;
      }
      const markers: BatchLocation[] = [];
      await walkHeaders(segment, position, segment.visibleSize, (b) => {
        if (b.baseOffset < from) return false;
        if (isControl(b.attributes)) {
          markers.push(b);
          return false;
        }
        // Transactions are replayed in log order: a marker's type is read below, before the batches after it.
        if (markers.length > 0) return false;
        this.replayBatch(b, now);
        return false;
      }, 1 << 20);
      if (markers.length > 0) await this.replayWithMarkers(segment, Math.max(position, markers[0]!.position), now);
    }
  }

  private replayBatch(b: BatchLocation, now: number): void {
    if (b.producerId >= 0 && b.baseSequence >= 0) {
      const lastSequence = (b.baseSequence + (b.lastOffset - b.baseOffset)) % 2 ** 31;
      this.producers.record(b.producerId, b.producerEpoch, { baseSequence: b.baseSequence, lastSequence, baseOffset: b.baseOffset, logAppendTime: b.maxTimestamp }, now);
    }
    if (isTransactional(b.attributes) && !isControl(b.attributes) && b.producerId >= 0) this.producers.beginTransaction(b.producerId, b.baseOffset, now);
  }

  /** Replays a segment from `position` on, reading each marker's control record (commit or abort) in order. */
  private async replayWithMarkers(segment: LogSegment, position: number, now: number): Promise<void> {
    const batches: BatchLocation[] = [];
    await walkHeaders(segment, position, segment.visibleSize, (b) => {
      batches.push(b);
      return false;
    }, 1 << 20);
    for (const b of batches) {
      if (!isControl(b.attributes)) {
        this.replayBatch(b, now);
        continue;
      }
      const records = await readRecords(await readFully(segment, b.position, b.size));
      const key = records[0]?.key;
      if (!key || key.length < 4) continue;
      this.producers.endTransaction(b.producerId, b.producerEpoch, b.baseOffset, key.readInt16BE(2) === ControlType.COMMIT, now);
    }
  }

  /** Writes the producer state as of `offset` (atomically) and removes snapshots no longer needed. */
  private async writeProducerSnapshot(offset: number): Promise<void> {
    const dir = this.options.dir;
    const path = join(dir, snapshotName(offset));
    const handle = await open(`${path}.tmp`, 'w');
    try {
      await writeFully(handle, this.producers.snapshot(offset), 0);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(`${path}.tmp`, path);
    const all = await listSnapshots(dir);
    const keep = new Set(all.slice(-SNAPSHOTS_KEPT));
    for (const o of all) if (!keep.has(o)) await unlink(join(dir, snapshotName(o))).catch(() => {});
  }

  // ---- write path ---------------------------------------------------------------------------------------

  /**
   * Checks an idempotent producer's sequence, assigns the batch its offsets and queues it, synchronously;
   * resolves when it is written (and fsynced, per the flush policy). `acks` 1 never waits for the fsync.
   * A duplicate of one of the producer's last 5 batches is not appended: it is answered with the original's
   * offset once the original is visible.
   */
  append(produced: ProducedBatch, acks: number): Promise<AppendResult> {
    if (this.failure) {
      const offline = toKafkaError('disk', this.failure);
      return Promise.resolve(errorResult(offline.errorCode, `log of ${this.options.topicName}-${this.options.partition} is offline after a storage error: ${this.failure.message}`));
    }
    if (this.closing) return Promise.resolve(errorResult(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'the partition is being closed'));
    const { data: batch, recordCount, maxTimestamp, timestampType } = produced;
    const marker = produced.txnKind === TXN_ABORT_MARKER || produced.txnKind === TXN_COMMIT_MARKER;
    if (marker && !this.producers.markerEpochValid(produced.producerId, produced.producerEpoch)) {
      return Promise.resolve(errorResult(ErrorCode.INVALID_PRODUCER_EPOCH, `a newer epoch of producer ${produced.producerId} wrote here`));
    }
    const idempotent = produced.producerId >= 0 && produced.baseSequence >= 0;
    if (idempotent) {
      const verdict = this.producers.check(produced.producerId, produced.producerEpoch, produced.baseSequence, produced.lastSequence);
      if (verdict.kind === 'error') return Promise.resolve(errorResult(verdict.errorCode, verdict.message));
      if (verdict.kind === 'duplicate') return this.answerDuplicate(verdict.baseOffset, verdict.logAppendTime);
    }
    const baseOffset = this.nextOffset;
    patchBaseOffset(batch, BigInt(baseOffset));
    patchPartitionLeaderEpoch(batch, STORED_LEADER_EPOCH);
    let ts = maxTimestamp;
    let logAppendTime = -1;
    if (timestampType === 1) {
      logAppendTime = ts = Date.now();
      patchLogAppendTime(batch, BigInt(logAppendTime));
    }
    this.nextOffset = baseOffset + recordCount;
    if (idempotent) {
      this.producers.record(produced.producerId, produced.producerEpoch, { baseSequence: produced.baseSequence, lastSequence: produced.lastSequence, baseOffset, logAppendTime }, Date.now());
    }
    if (produced.txnKind === TXN_DATA) this.producers.beginTransaction(produced.producerId, baseOffset, Date.now());
    else if (marker) this.producers.endTransaction(produced.producerId, produced.producerEpoch, baseOffset, produced.txnKind === TXN_COMMIT_MARKER, Date.now());
    const waitForSync = acks !== 1 && syncEveryWrite(this.options.config());
    return new Promise((resolve) => {
      this.pending.push({ data: batch, baseOffset, lastOffset: baseOffset + recordCount - 1, records: recordCount, maxTimestamp: ts, logAppendTime, waitForSync, position: -1, appendedAt: performance.now(), resolve });
      this.options.onPendingBytes(batch.length);
      if (!this.draining) {
        this.draining = true;
        void this.enqueue(() => this.drain());
      } else {
        this.wakeWriter?.();
      }
    });
  }

  /** A duplicate's answer: the original's offset, once the original is visible (written, and fsynced by default). */
  private async answerDuplicate(baseOffset: number, logAppendTime: number): Promise<AppendResult> {
    if (baseOffset >= this.highWatermark) {
      const visible = await new Promise<boolean>((resolve) => this.visibilityWaiters.push({ offset: baseOffset, resolve }));
      if (!visible) return errorResult(ErrorCode.KAFKA_STORAGE_ERROR, 'the original of this duplicate batch was not written');
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset, logAppendTime, logStartOffset: this.logStartOffset };
  }

  /** Runs `task` after every structural change and write round queued before it. */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * The partition's writer, one task on the log's queue while there is something to write or fsync. With
   * per-write fsync it only writes, and hands each written round to the syncer (`syncLoop`): the next round is
   * written while the previous one is being fsynced, instead of after it, so a request that arrives during
   * an fsync waits for one more fsync, not for a write and an fsync queued behind it.
   */
  private async drain(): Promise<void> {
    try {
      while (!this.failure) {
        if (this.pending.length > 0) {
          await this.writeRound();
          continue;
        }
        const syncing = this.syncing;
        if (!syncing) break;
        // Nothing to write: wait for the fsync in flight, or for an append to write meanwhile.
        await new Promise<void>((resolve) => {
          this.wakeWriter = resolve;
          void syncing.then(resolve);
        });
        this.wakeWriter = null;
      }
    } catch (err) {
      this.fail(err as Error);
    }
    this.wakeWriter = null;
    // Structural changes queued behind the writer (roll, close, retention) see every write settled. The loop
    // above ends with nothing to write and no fsync in flight unless it failed: no await between its last
    // look at `pending` and `draining = false` otherwise, so no append is left behind.
    if (this.syncing) await this.settleSyncs();
    this.draining = false;
    if (this.pending.length > 0) {
      this.draining = true;
      void this.enqueue(() => this.drain());
    }
  }

  /** Waits until everything written is fsynced and visible (or failed). */
  private async settleSyncs(): Promise<void> {
    while (this.syncing) await this.syncing;
  }

  private async writeRound(): Promise<void> {
    const config = this.options.config();
    const perWriteSync = syncEveryWrite(config);
    // Relaxed flushing makes a round visible right after its write: nothing may still wait for an fsync.
    if (!perWriteSync) await this.settleSyncs();
    const now = Date.now();
    let segment = this.active;
    const first = this.pending[0]!;
    if (segment.size > 0 && (
      segment.size + first.data.length > config.segmentBytes
      || segment.rollDue(now, maxSegmentMs(config), config.segmentJitterMs)
      || segment.offsetIndex!.sizeInBytes + 8 > config.segmentIndexBytes
      || first.lastOffset - segment.baseOffset > INT32_MAX)) {
      // The roll seals (fsyncs) the segment: what was written to it becomes visible first.
      await this.settleSyncs();
      if (this.failure) return;
      await this.roll(first.baseOffset);
      segment = this.active;
    }
    // Everything queued that fits in this segment (at least one batch: an empty segment takes any batch).
    let n = 0;
    let bytes = 0;
    while (n < this.pending.length) {
      const e = this.pending[n]!;
      if (n > 0 && (segment.size + bytes + e.data.length > config.segmentBytes || e.lastOffset - segment.baseOffset > INT32_MAX)) break;
      bytes += e.data.length;
      n++;
    }
    const group = n === this.pending.length ? this.pending : this.pending.slice(0, n);
    this.pending = n === this.pending.length ? [] : this.pending.slice(n);
    try {
      if (segment.size === 0 && segment.firstAppendMs < 0) segment.firstAppendMs = now;
      const start = segment.size;
      const writeStart = performance.now();
      await writevFully(segment, group, start);
      this.stage('queued', writeStart - group[0]!.appendedAt);
      this.stage('write', performance.now() - writeStart);
      // The syncer failed meanwhile: the log is offline, and this round is not answered by anyone else.
      if (this.failure) throw this.failure;
      segment.size = start + bytes;
      segment.nextOffset = group[group.length - 1]!.lastOffset + 1;
      let position = start;
      let records = 0;
      for (const e of group) {
        e.position = position;
        position += e.data.length;
        records += e.records;
      }
      this.unflushedMessages += records;
      if (perWriteSync) {
        // acks=1 is answered once written; the rest once fsynced, when consumers see it too.
        for (const e of group) if (!e.waitForSync) this.answer(e);
        for (const e of group) this.unsynced.push(e);
        if (!this.syncing) {
          const run = this.syncLoop(segment);
          this.syncing = run;
          void run.then(() => {
            if (this.syncing === run) this.syncing = null;
          });
        }
        return;
      }
      const sync = this.unflushedMessages >= config.flushMessages
        || (config.flushMs < NO_LIMIT && now - this.lastFlushMs >= config.flushMs);
      if (sync) {
        for (const e of group) if (!e.waitForSync) this.answer(e);
        const syncStart = performance.now();
        await segment.log.datasync();
        this.stage('sync', performance.now() - syncStart);
        this.unflushedMessages = 0;
        this.lastFlushMs = Date.now();
      }
      this.makeVisible(segment, group, config);
      for (const e of group) if (!sync || e.waitForSync) this.answer(e);
      this.stage('total', performance.now() - group[0]!.appendedAt);
      if (!sync) this.scheduleFlush(config);
      // The active segment's index entries stay in memory until it is sealed (roll, clean shutdown), as
      // Kafka's memory-mapped indexes do: after a crash its indexes are rebuilt from the log anyway, and two
      // more writes per round would queue beside the fsyncs on libuv's thread pool, ahead of fetch reads.
    } catch (err) {
      for (const e of group) this.answer(e, err as Error);
      throw err;
    }
  }

  /**
   * The syncer (per-write fsync): one fsync at a time, each covering every round written before it started;
   * then those rounds become visible and are answered, in log order. Rounds written meanwhile wait for the
   * next fsync, which starts at once.
   */
  private async syncLoop(segment: LogSegment): Promise<void> {
    try {
      while (this.unsynced.length > 0 && !this.failure) {
        const group = this.unsynced;
        this.unsynced = [];
        this.syncingGroup = group;
        const syncStart = performance.now();
        await segment.log.datasync();
        this.stage('sync', performance.now() - syncStart);
        this.syncingGroup = [];
        let records = 0;
        for (const e of group) records += e.records;
        this.unflushedMessages = Math.max(0, this.unflushedMessages - records);
        this.lastFlushMs = Date.now();
        this.makeVisible(segment, group, this.options.config());
        for (const e of group) this.answer(e);
        this.stage('total', performance.now() - group[0]!.appendedAt);
      }
    } catch (err) {
      const group = this.syncingGroup;
      this.syncingGroup = [];
      for (const e of group) this.answer(e, err as Error);
      this.fail(err as Error);
    }
  }

  private stage(stage: ClassicWriteStage, ms: number): void {
    this.options.onStage?.(stage, Math.max(0, ms) / 1000);
  }

  private answer(e: PendingAppend, err?: Error): void {
    if (e.resolve === noop) return;
    const resolve = e.resolve;
    e.resolve = noop;
    this.options.onPendingBytes(-e.data.length);
    resolve(err
      ? errorResult(toKafkaError('disk', err).errorCode, `writing the log failed: ${err.message}`)
      : { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: e.baseOffset, logAppendTime: e.logAppendTime, logStartOffset: this.logStartOffset });
  }

  /** The group (written at their `position`s, in order) becomes readable: high watermark, ring, waiters. */
  private makeVisible(segment: LogSegment, group: PendingAppend[], config: TopicConfig): void {
    for (const e of group) {
      segment.track({ baseOffset: e.baseOffset, lastOffset: e.lastOffset, position: e.position, size: e.data.length, maxTimestamp: e.maxTimestamp }, config.indexIntervalBytes);
      this.recent.add(e.baseOffset, e.lastOffset, e.position, e.data.length);
    }
    const last = group[group.length - 1]!;
    segment.visibleSize = last.position + last.data.length;
    this.highWatermark = last.lastOffset + 1;
    if (this.visibilityWaiters.length > 0) {
      const still: typeof this.visibilityWaiters = [];
      for (const w of this.visibilityWaiters) {
        if (w.offset < this.highWatermark) w.resolve(true);
        else still.push(w);
      }
      this.visibilityWaiters = still;
    }
    this.options.onVisible(this.key);
  }

  private scheduleFlush(config: TopicConfig): void {
    if (this.flushTimer || config.flushMs >= NO_LIMIT) return;
    const delay = Math.max(0, config.flushMs - (Date.now() - this.lastFlushMs));
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.enqueue(() => this.flushNow()).catch((err: Error) => this.fail(err));
    }, Math.min(delay, INT32_MAX));
    this.flushTimer.unref();
  }

  /** fsyncs the active segment if it holds unflushed data. */
  private async flushNow(): Promise<void> {
    if (this.unflushedMessages === 0 || this.failure) return;
    await this.active.log.datasync();
    this.unflushedMessages = 0;
    this.lastFlushMs = Date.now();
  }

  /** Starts a new active segment at `baseOffset`; the old one gets its final index entries and is fsynced. */
  private async roll(baseOffset: number): Promise<void> {
    const old = this.active;
    await old.seal();
    this.unflushedMessages = 0;
    await this.writeProducerSnapshot(baseOffset);
    const segment = await LogSegment.create(this.options.dir, baseOffset);
    await fsyncDir(this.options.dir);
    this.segments = [...this.segments, segment];
    this.recent.clear();
    this.options.indexCache.touch(old);
  }

  private fail(err: Error): void {
    if (!this.failure) {
      this.failure = err;
      log.error({ err, partition: this.key, dir: this.options.dir }, 'classic log write failed: the partition is offline until the broker restarts');
    }
    const pending = this.pending;
    this.pending = [];
    for (const e of pending) this.answer(e, err);
    // Written but not fsynced: no longer trusted (the fsync in flight answers its own group).
    const unsynced = this.unsynced;
    this.unsynced = [];
    for (const e of unsynced) this.answer(e, err);
    const waiters = this.visibilityWaiters;
    this.visibilityWaiters = [];
    for (const w of waiters) w.resolve(false);
  }

  // ---- read path ----------------------------------------------------------------------------------------

  /** Finds where a fetch at `offset` reads (at most `maxBytes`, KIP-74 aside). */
  async plan(offset: number, maxBytes: number, isolation: IsolationLevel): Promise<ReadPlan> {
    return new ClassicReadPlan(this, offset, maxBytes, await this.find(offset, isolation === READ_COMMITTED));
  }

  private async find(offset: number, readCommitted: boolean): Promise<ClassicRead> {
    const highWatermark = this.highWatermark;
    const stableOffset = this.producers.lastStableOffset(highWatermark);
    const plan: ClassicRead = {
      errorCode: ErrorCode.NONE, highWatermark, logStartOffset: this.logStartOffset,
      segment: null, position: 0, firstBatchSize: 0, available: 0, readLen: 0, stableOffset, readCommitted,
    };
    if (this.failure) return { ...plan, errorCode: toKafkaError('disk', this.failure).errorCode };
    if (offset < this.logStartOffset || offset > this.nextOffset) return { ...plan, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
    if (offset >= (readCommitted ? stableOffset : highWatermark)) return plan;
    const segments = this.segments;
    try {
      for (let i = segmentIndexFor(segments, offset); i < segments.length; i++) {
        const segment = segments[i]!;
        const visible = segment.visibleSize;
        const found = await this.findBatch(segment, offset, visible);
        if (!found) continue;
        plan.segment = segment;
        plan.position = found.position;
        plan.firstBatchSize = found.size;
        plan.available = visible - found.position;
        return plan;
      }
    } catch (err) {
      return this.readError(plan, err as Error, offset);
    }
    return plan;
  }

  /** Applies the partition and request byte limits (sync, in request order across partitions). */
  limit(plan: ClassicRead, partitionMaxBytes: number, budget: FetchBudget): void {
    if (!plan.segment || plan.errorCode !== ErrorCode.NONE) return;
    let len = Math.min(Math.max(0, partitionMaxBytes), budget.remaining, plan.available);
    if (len < plan.firstBatchSize) len = budget.minOneBatch ? plan.firstBatchSize : 0;
    plan.readLen = len;
    if (len > 0) {
      budget.minOneBatch = false;
      budget.remaining = Math.max(0, budget.remaining - len);
    }
  }

  /** Reads the planned bytes, trimmed to whole batches. */
  async load(plan: ClassicRead, offset: number): Promise<ReadResult> {
    const result: ReadResult = {
      errorCode: plan.errorCode, highWatermark: plan.highWatermark, lastStableOffset: plan.stableOffset,
      abortedTransactions: plan.readCommitted ? [] : null, logStartOffset: plan.logStartOffset, records: [], bytes: 0,
    };
    const segment = plan.segment;
    if (!segment || plan.readLen === 0 || plan.errorCode !== ErrorCode.NONE) return result;
    let bytes: Buffer;
    try {
      bytes = this.isTailRead(segment, plan) ? readTailSync(segment, plan.position, plan.readLen) : await readFully(segment, plan.position, plan.readLen);
    } catch (err) {
      const failed = this.readError(plan, err as Error, offset);
      return { ...result, errorCode: failed.errorCode };
    }
    let end = 0;
    let lastOffset = -1;
    while (end + LOG_OVERHEAD <= bytes.length) {
      const size = bytes.readInt32BE(end + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
      if (size < RECORD_BATCH_OVERHEAD || end + size > bytes.length) break;
      const base = Number(bytes.readBigInt64BE(end));
      if (plan.readCommitted && base >= plan.stableOffset) break;
      lastOffset = base + bytes.readInt32BE(end + LAST_OFFSET_DELTA_OFFSET);
      end += size;
    }
    if (end === 0) return result;
    if (plan.readCommitted) {
      this.producers.dropAbortedBelow(this.logStartOffset);
      result.abortedTransactions = this.producers.abortedBetween(offset, lastOffset + 1).map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }));
    }
    const nextPosition = plan.position + end;
    if (nextPosition < plan.position + plan.available) this.hint(lastOffset + 1, segment, nextPosition);
    result.records.push(end === bytes.length ? bytes : bytes.subarray(0, end));
    result.bytes = end;
    return result;
  }

  /**
   * A read of what this process wrote to the active segment a moment ago (a tail consumer's: among the recent
   * batches, within the last few MiB): in the page cache, so read on the event loop. On libuv's pool it would
   * queue behind the partitions' writes and fsyncs (4 threads), and a tail fetch's answer would wait for an
   * fsync of some other partition. Anything else (say, the tail of a segment after a reboot) may need the
   * disk and goes through the pool.
   */
  private isTailRead(segment: LogSegment, plan: ClassicRead): boolean {
    if (segment !== this.active || this.closing || segment.deleted || plan.readLen > TAIL_READ_MAX_BYTES) return false;
    const recentFrom = this.recent.oldestPosition();
    return recentFrom >= 0 && plan.position >= recentFrom && segment.visibleSize - plan.position <= TAIL_READ_WINDOW_BYTES;
  }

  private hint(offset: number, segment: LogSegment, position: number): void {
    this.hints.delete(offset);
    this.hints.set(offset, { segment, position });
    if (this.hints.size > MAX_HINTS) this.hints.delete(this.hints.keys().next().value!);
  }

  private readError(plan: ClassicRead, err: Error, offset: number): ClassicRead {
    // A segment deleted by retention under a slow read: the offset is below the log start offset now.
    if (offset < this.logStartOffset) return { ...plan, segment: null, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
    log.warn({ err, partition: this.key }, 'reading the classic log failed');
    return { ...plan, segment: null, errorCode: toKafkaError('disk', err).errorCode };
  }

  /** The batch holding `offset` in `segment` (within its first `visible` bytes), or null. */
  private async findBatch(segment: LogSegment, offset: number, visible: number): Promise<{ position: number; size: number } | null> {
    if (offset >= segment.nextOffset || segment.deleted) return null;
    if (segment === this.active) {
      const recent = this.recent.find(offset);
      if (recent && recent.position + recent.size <= visible) return recent;
    }
    let from: number;
    const hint = this.hints.get(offset);
    if (hint && hint.segment === segment) {
      from = hint.position;
    } else {
      await segment.ensureIndexes(this.options.config().indexIntervalBytes);
      this.options.indexCache.touch(segment);
      from = segment.offsetIndex?.lookup(offset).position ?? 0;
    }
    const found = await walkHeaders(segment, from, visible, (b) => b.lastOffset >= offset);
    return found && { position: found.position, size: found.size };
  }

  /** The transactions open in this partition (the transaction janitor looks for hanging ones). */
  openTransactions(): { producerId: number; producerEpoch: number; firstOffset: number; sinceMs: number }[] {
    return this.producers.openTransactions();
  }

  async activeProducers(): Promise<ActiveProducer[]> {
    return this.producers.active();
  }

  // ---- ListOffsets ----------------------------------------------------------------------------------------

  /** -2 earliest, -1 latest, -3 max timestamp, else the first record with timestamp >= it (record-granular). */
  async listOffset(timestamp: number, isolation: IsolationLevel = READ_UNCOMMITTED): Promise<OffsetAnswer> {
    if (this.failure) return { errorCode: toKafkaError('disk', this.failure).errorCode, offset: -1, timestamp: -1 };
    if (timestamp === -2) return { errorCode: 0, offset: this.logStartOffset, timestamp: -1 };
    if (timestamp === -1) {
      const offset = isolation === READ_COMMITTED ? this.producers.lastStableOffset(this.highWatermark) : this.highWatermark;
      return { errorCode: 0, offset, timestamp: -1 };
    }
    try {
      return timestamp === -3 ? await this.maxTimestampOffset() : await this.offsetForTimestamp(timestamp);
    } catch (err) {
      log.warn({ err, partition: this.key }, 'ListOffsets on the classic log failed');
      return { errorCode: toKafkaError('disk', err).errorCode, offset: -1, timestamp: -1 };
    }
  }

  private async offsetForTimestamp(target: number): Promise<OffsetAnswer> {
    const segments = this.segments;
    const logStart = this.logStartOffset;
    const none = { errorCode: 0, offset: -1, timestamp: -1 };
    for (const segment of segments) {
      if (segment.nextOffset <= logStart || segment.visibleSize === 0) continue;
      if (segment.maxTimestamp < target) continue;
      await segment.ensureIndexes(this.options.config().indexIntervalBytes);
      this.options.indexCache.touch(segment);
      const entry = segment.timeIndex?.lookup(target) ?? { offset: segment.baseOffset };
      let from = segment.offsetIndex?.lookup(Math.max(entry.offset, logStart)).position ?? 0;
      const visible = segment.visibleSize;
      for (;;) {
        const batch = await walkHeaders(segment, from, visible, (b) => b.lastOffset >= logStart && b.maxTimestamp >= target);
        if (!batch) break;
        const bytes = await readFully(segment, batch.position, batch.size);
        const found = await recordAtOrAfter(bytes, batch.baseOffset, target, logStart);
        if (found) return { errorCode: 0, ...found };
        from = batch.position + batch.size; // a max timestamp that no record reaches: keep looking
      }
    }
    return none;
  }

  private async maxTimestampOffset(): Promise<OffsetAnswer> {
    const logStart = this.logStartOffset;
    let best: LogSegment | null = null;
    for (const segment of this.segments) {
      if (segment.nextOffset <= logStart || segment.visibleSize === 0 || segment.maxTimestamp < 0) continue;
      if (!best || segment.maxTimestamp > best.maxTimestamp) best = segment;
    }
    if (!best) return { errorCode: 0, offset: -1, timestamp: -1 };
    if (best.offsetOfMaxTimestamp >= logStart) {
      const at = await this.findBatch(best, best.offsetOfMaxTimestamp, best.visibleSize);
      if (at) {
        const bytes = await readFully(best, at.position, at.size);
        const found = await findMaxTimestampRecord(bytes, BigInt(Number(bytes.readBigInt64BE(0))));
        if (found && Number(found.offset) >= logStart) return { errorCode: 0, offset: Number(found.offset), timestamp: Number(found.timestamp) };
      }
    }
    // The batch with the largest timestamp lies (partly) before the log start offset: look at what is left.
    let top: { segment: LogSegment; batch: BatchLocation } | null = null;
    for (const segment of this.segments) {
      if (segment.nextOffset <= logStart || segment.visibleSize === 0) continue;
      await walkHeaders(segment, 0, segment.visibleSize, (b) => {
        if (b.lastOffset >= logStart && (!top || b.maxTimestamp > top.batch.maxTimestamp)) top = { segment, batch: b };
        return false;
      });
    }
    if (!top) return { errorCode: 0, offset: -1, timestamp: -1 };
    const { segment, batch } = top as { segment: LogSegment; batch: BatchLocation };
    const records = await decodeTimestamps(await readFully(segment, batch.position, batch.size), batch.baseOffset);
    let pick: { offset: number; timestamp: number } | null = null;
    for (const r of records) if (r.offset >= logStart && (!pick || r.timestamp > pick.timestamp)) pick = r;
    return pick ? { errorCode: 0, ...pick } : { errorCode: 0, offset: -1, timestamp: -1 };
  }

  // ---- log cleaner (log-cleaner.ts drives it) ------------------------------------------------------------

  /**
   * The first offset the log cleaner must not touch: the active segment's base offset, never above the high
   * watermark. The one place the upper bound of compaction comes from (transactions cap it at the last stable
   * offset). min.compaction.lag.ms lowers it further in the cleaner.
   */
  cleanableUpperBound(): number {
    // Nothing at or above the last stable offset is cleaned (Kafka's rule): an open transaction's records stay.
    return Math.min(this.active.baseOffset, this.producers.lastStableOffset(this.highWatermark));
  }

  /** The aborted transactions known here (the log cleaner removes their data). */
  abortedTransactions(): { producerId: number; firstOffset: number; lastOffset: number }[] {
    return this.producers.abortedTransactions();
  }

  /**
   * The log cleaner found no data left of these aborted transactions (named by their marker offsets): their
   * ranges go from the producer state and from its snapshots on disk (on the log's queue, so no snapshot is
   * written meanwhile), so no read_committed fetch gets a range whose marker compaction may remove.
   */
  forgetAbortedTransactions(markerOffsets: ReadonlySet<number>): Promise<void> {
    if (markerOffsets.size === 0) return Promise.resolve();
    return this.enqueue(async () => {
      this.producers.forgetAborted(markerOffsets);
      const dir = this.options.dir;
      for (const offset of await listSnapshots(dir)) {
        const path = join(dir, snapshotName(offset));
        const bytes = await readFile(path).catch(() => null);
        const rewritten = bytes && ProducerStateManager.withoutAborted(bytes, markerOffsets);
        if (!rewritten) continue;
        const handle = await open(`${path}.tmp`, 'w');
        try {
          await writeFully(handle, rewritten, 0);
          await handle.datasync();
        } finally {
          await handle.close();
        }
        await rename(`${path}.tmp`, path);
      }
    });
  }

  /** Last offset of each active idempotent producer's last batch (kept by compaction). */
  producerLastOffsets(): Map<number, number> {
    return this.producers.lastOffsets();
  }

  /**
   * Replaces `old` (an inactive segment) with its compacted copy `<base>.log.cleaned`, on the log's queue:
   * false (and the copy removed) when `old` is no longer part of the log (retention, DeleteRecords, close).
   * Crash safety: the old index files go first, then one rename puts the new log in place (atomic), then the
   * indexes are rebuilt from it; a crash leaves the old or the new log, and missing indexes are rebuilt at
   * open (`*.cleaned` leftovers are removed). Reads that hold the old segment keep reading its open file.
   */
  swapCleanedSegment(old: LogSegment): Promise<boolean> {
    const cleanedPath = old.path(LOG_SUFFIX) + CLEANED_SUFFIX;
    return this.enqueue(async () => {
      const at = this.segments.indexOf(old);
      if (at < 0 || at === this.segments.length - 1 || this.closing || this.failure) {
        await unlink(cleanedPath).catch(() => {});
        return false;
      }
      const config = this.options.config();
      // The old segment's indexes stay in memory for reads still on it, and it never writes index files again.
      await old.ensureIndexes(config.indexIntervalBytes);
      old.retired = true;
      await unlink(old.path(INDEX_SUFFIX)).catch(() => {});
      await unlink(old.path(TIME_INDEX_SUFFIX)).catch(() => {});
      await rename(cleanedPath, old.path(LOG_SUFFIX));
      await fsyncDir(this.options.dir);
      const next = this.segments[at + 1]!;
      const { segment } = await LogSegment.load(this.options.dir, old.baseOffset, { active: false, recover: false, nextBaseOffset: next.baseOffset, indexIntervalBytes: config.indexIntervalBytes });
      const segments = this.segments.slice();
      segments[at] = segment;
      this.segments = segments;
      for (const [offset, hint] of this.hints) if (hint.segment === old) this.hints.delete(offset);
      this.options.indexCache.forget(old);
      this.options.indexCache.touch(segment);
      const delay = config.fileDeleteDelayMs;
      if (delay <= 0) await old.close();
      else setTimeout(() => void old.close(), Math.min(delay, INT32_MAX)).unref();
      return true;
    });
  }

  /** Persists the cleaner's first dirty offset. */
  saveCleanerCheckpoint(offset: number): Promise<void> {
    return this.enqueue(async () => {
      if (this.closing) return;
      this.cleanerCheckpoint = offset;
      await writeOffsetFile(this.options.dir, CLEANER_CHECKPOINT_FILE, offset);
    });
  }

  get isClosing(): boolean {
    return this.closing;
  }

  // ---- DeleteRecords, retention, close -------------------------------------------------------------------

  /**
   * DeleteRecords: moves the log start offset to `offset` (-1: the high watermark) and deletes the segments
   * entirely below it. OFFSET_OUT_OF_RANGE past the high watermark. Never moves the log start backwards.
   */
  endOffsetForEpoch(leaderEpoch: number): Promise<EpochEndOffset> {
    return endOffsetOfStoredEpoch(this, leaderEpoch);
  }

  deleteRecords(offset: number): Promise<DeleteRecordsAnswer> {
    return this.enqueue(async () => {
      if (this.failure) return { errorCode: toKafkaError('disk', this.failure).errorCode, lowWatermark: -1 };
      const target = offset === -1 ? this.highWatermark : offset;
      if (target < 0 || target > this.highWatermark) return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 };
      if (target > this.logStartOffset) {
        this.logStartOffset = target;
        await writeLogStartOffset(this.options.dir, target);
        await this.deleteOldest(this.options.config(), (_s, next) => next !== null && next.baseOffset <= this.logStartOffset);
      }
      return { errorCode: ErrorCode.NONE, lowWatermark: this.logStartOffset };
    }).catch((err: unknown) => {
      log.warn({ err, partition: this.key }, 'DeleteRecords on the classic log failed');
      return { errorCode: toKafkaError('disk', err).errorCode, lowWatermark: -1 };
    });
  }

  /**
   * One retention pass (Kafka's order): segments past retention.ms, then past retention.bytes (both only with
   * cleanup.policy delete), then segments entirely below the log start offset. Returns how many were deleted.
   */
  applyRetention(now: number): Promise<number> {
    return this.enqueue(async () => {
      if (this.failure || this.closing) return 0;
      const config = this.options.config();
      this.producers.expire(now, this.options.producerIdExpirationMs ?? 86_400_000);
      let deleted = 0;
      for (const breached of retentionBreaches(config, now, () => this.size)) deleted += await this.deleteOldest(config, breached);
      deleted += await this.deleteOldest(config, (_s, next) => next !== null && next.baseOffset <= this.logStartOffset);
      return deleted;
    });
  }

  /**
   * Deletes the oldest segments while `breached` holds, never past the high watermark; an active segment that
   * must go is rolled first, so the log always keeps an active segment at its end offset.
   */
  private async deleteOldest(config: TopicConfig, breached: (segment: LogSegment, next: LogSegment | null) => boolean): Promise<number> {
    const segments = this.segments;
    let n = 0;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      const next = segments[i + 1] ?? null;
      const upper = next ? next.baseOffset : this.nextOffset;
      if (this.highWatermark < upper) break;
      if (!next && segment.size === 0) break;
      if (!breached(segment, next)) break;
      n++;
    }
    if (n === 0) return 0;
    if (n === segments.length) await this.roll(this.nextOffset);
    const gone = this.segments.slice(0, n);
    this.segments = this.segments.slice(n);
    this.logStartOffset = Math.max(this.logStartOffset, this.segments[0]!.baseOffset);
    for (const [offset, hint] of this.hints) if (gone.includes(hint.segment)) this.hints.delete(offset);
    for (const segment of gone) {
      this.options.indexCache.forget(segment);
      await segment.delete(config.fileDeleteDelayMs);
    }
    log.info({ partition: this.key, segments: gone.map((s) => s.baseOffset), logStartOffset: this.logStartOffset }, 'deleted log segments');
    return n;
  }

  /** Writes what is queued, seals the active segment (final index entries, fsync) and closes the files. */
  close(): Promise<void> {
    this.closing = true;
    return this.enqueue(async () => {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      if (!this.failure) {
        await this.active.seal();
        await this.writeProducerSnapshot(this.nextOffset);
        await fsyncDir(this.options.dir);
      }
      const waiters = this.visibilityWaiters;
      this.visibilityWaiters = [];
      for (const w of waiters) w.resolve(false);
      await Promise.allSettled(this.segments.map((s) => s.close()));
    });
  }

  /** Closes the files without writing anything (topic deletion). Queued appends are answered `errorCode`. */
  abandon(errorCode: number): Promise<void> {
    this.closing = true;
    const pending = this.pending;
    this.pending = [];
    for (const e of pending) {
      const resolve = e.resolve;
      e.resolve = noop;
      this.options.onPendingBytes(-e.data.length);
      resolve(errorResult(errorCode));
    }
    return this.enqueue(async () => {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      await Promise.allSettled(this.segments.map((s) => s.close()));
    });
  }

  /** Waits until everything queued so far is written (tests). */
  flushed(): Promise<void> {
    return this.enqueue(async () => {});
  }
}

function noop(): void {}

/** Index of the last segment whose base offset is <= offset (0 when none). */
function segmentIndexFor(segments: readonly LogSegment[], offset: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (segments[mid]!.baseOffset <= offset) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Writes the batches of a round back to back at `position`, with as few syscalls as libuv allows. */
async function writevFully(segment: LogSegment, group: readonly PendingAppend[], position: number): Promise<void> {
  const buffers = group.map((e) => e.data);
  let total = 0;
  for (const b of buffers) total += b.length;
  const { bytesWritten } = await segment.log.writev(buffers, position);
  if (bytesWritten === total) return;
  // A short write (disk full, signal): finish the rest one buffer at a time, or fail on no progress.
  let skip = bytesWritten;
  let at = position + bytesWritten;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    const rest = b.subarray(skip);
    skip = 0;
    await writeFully(segment.log, rest, at);
    at += rest.length;
  }
}

/** `readFully` on the event loop, for page-cache reads (see `isTailRead`). */
function readTailSync(segment: LogSegment, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const bytesRead = readSync(segment.log.fd, buf, read, length - read, position + read);
    if (bytesRead === 0) throw new Error(`short read of ${segment.path(LOG_SUFFIX)} at ${position + read}`);
    read += bytesRead;
  }
  return buf;
}

export async function readFully(segment: LogSegment, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await segment.log.read(buf, read, length - read, position + read);
    if (bytesRead === 0) throw new Error(`short read of ${segment.path(LOG_SUFFIX)} at ${position + read}`);
    read += bytesRead;
  }
  return buf;
}

/**
 * Walks batch headers from `from` to `end`, reading the file in chunks, until `visit` returns true (that batch
 * is returned) or the end (null).
 */
export async function walkHeaders(segment: LogSegment, from: number, end: number, visit: (b: BatchLocation) => boolean, chunk = HEADER_CHUNK): Promise<BatchLocation | null> {
  const buf = Buffer.allocUnsafe(Math.max(RECORD_BATCH_OVERHEAD, Math.min(chunk, end - from)));
  let bufStart = 0;
  let bufLen = 0;
  let pos = from;
  while (pos + RECORD_BATCH_OVERHEAD <= end) {
    if (pos < bufStart || pos + RECORD_BATCH_OVERHEAD > bufStart + bufLen) {
      const len = Math.min(buf.length, end - pos);
      let read = 0;
      while (read < RECORD_BATCH_OVERHEAD) {
        const { bytesRead } = await segment.log.read(buf, read, len - read, pos + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      if (read < RECORD_BATCH_OVERHEAD) throw new Error(`short read of ${segment.path(LOG_SUFFIX)} at ${pos}`);
      bufStart = pos;
      bufLen = read;
    }
    const at = pos - bufStart;
    const size = buf.readInt32BE(at + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
    if (size < RECORD_BATCH_OVERHEAD || pos + size > end) throw new Error(`corrupt batch header in ${segment.path(LOG_SUFFIX)} at ${pos}`);
    const baseOffset = Number(buf.readBigInt64BE(at));
    const b: BatchLocation = {
      position: pos,
      size,
      baseOffset,
      lastOffset: baseOffset + buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET),
      maxTimestamp: Number(buf.readBigInt64BE(at + MAX_TIMESTAMP_OFFSET)),
      producerId: Number(buf.readBigInt64BE(at + PRODUCER_ID_OFFSET)),
      producerEpoch: buf.readInt16BE(at + PRODUCER_EPOCH_OFFSET),
      baseSequence: buf.readInt32BE(at + BASE_SEQUENCE_OFFSET),
      attributes: buf.readInt16BE(at + ATTRIBUTES_OFFSET),
    };
    if (visit(b)) return b;
    pos += size;
  }
  return null;
}

/** The first record at or after `logStart` whose timestamp is >= target, in one stored batch. */
async function recordAtOrAfter(batch: Buffer, baseOffset: number, target: number, logStart: number): Promise<{ offset: number; timestamp: number } | null> {
  const found = await findOffsetForTimestamp(batch, BigInt(baseOffset), BigInt(target));
  if (!found) return null;
  if (Number(found.offset) >= logStart) return { offset: Number(found.offset), timestamp: Number(found.timestamp) };
  // The batch straddles the log start offset (DeleteRecords): only its records from there on count.
  for (const r of await decodeTimestamps(batch, baseOffset)) if (r.offset >= logStart && r.timestamp >= target) return r;
  return null;
}

/** Offset and timestamp (as consumers see it) of every record of a stored batch. */
async function decodeTimestamps(batch: Buffer, baseOffset: number): Promise<{ offset: number; timestamp: number }[]> {
  const logAppendTime = (batch.readInt16BE(ATTRIBUTES_OFFSET) & TIMESTAMP_TYPE_MASK) !== 0;
  const maxTimestamp = Number(batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET));
  const baseTimestamp = batch.readBigInt64BE(BASE_TIMESTAMP_OFFSET);
  return (await readRecords(batch)).map((r) => ({
    offset: baseOffset + r.offsetDelta,
    timestamp: logAppendTime ? maxTimestamp : Number(baseTimestamp + r.timestampDelta),
  }));
}

function snapshotName(offset: number): string {
  return String(offset).padStart(20, '0') + PRODUCER_SNAPSHOT_SUFFIX;
}

/** Offsets of the producer snapshots in `dir`, ascending. */
async function listSnapshots(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir(dir)) {
    const m = /^(\d{20})\.producers$/.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

function readLogStartOffset(dir: string): Promise<number | null> {
  return readOffsetFile(dir, LOG_START_OFFSET_FILE);
}

async function readOffsetFile(dir: string, name: string): Promise<number | null> {
  try {
    const text = await readFile(join(dir, name), 'utf8');
    const n = Number(text.trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Persists the log start offset (DeleteRecords moved it past a segment boundary's worth of knowledge). */
function writeLogStartOffset(dir: string, offset: number): Promise<void> {
  return writeOffsetFile(dir, LOG_START_OFFSET_FILE, offset);
}

/** Writes `<offset>\n` to `name` atomically and durably. */
export async function writeOffsetFile(dir: string, name: string, offset: number): Promise<void> {
  const path = join(dir, name);
  const handle = await open(`${path}.tmp`, 'w');
  try {
    await writeFully(handle, Buffer.from(`${offset}\n`), 0);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(`${path}.tmp`, path);
  await fsyncDir(dir);
}

/** fsyncs a directory, so file creations and renames in it are durable. */
/** One classic partition's read, as the partition seam hands it out. */
class ClassicReadPlan implements ReadPlan {
  constructor(private readonly log: ClassicLog, private readonly offset: number, private readonly maxBytes: number, private readonly read: ClassicRead) {}

  get errorCode(): number {
    return this.read.errorCode;
  }

  limit(budget: FetchBudget): void {
    this.log.limit(this.read, this.maxBytes, budget);
  }

  load(): Promise<ReadResult> {
    return this.log.load(this.read, this.offset);
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export { INDEX_SUFFIX, TIME_INDEX_SUFFIX };
