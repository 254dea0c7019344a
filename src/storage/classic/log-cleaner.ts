/**
 * The log cleaner of classic topics (Kafka's LogCleaner): compacts the logs of topics whose cleanup.policy
 * contains `compact`, with the record rules of ../compaction.ts.
 *
 * Which part of a log: the *dirty* part runs from the first dirty offset (the cleaner's checkpoint, file
 * `cleaner-offset-checkpoint` in the partition folder) to the first uncleanable offset: the active segment's
 * base offset (ClassicLog.cleanableUpperBound, the one place that bound comes from), lowered to the first
 * segment holding a record newer than min.compaction.lag.ms. A log is cleaned when
 * - its dirty ratio (dirty bytes / clean + dirty bytes, whole segments) exceeds min.cleanable.dirty.ratio, or
 * - its first dirty batch is older than max.compaction.lag.ms (compacted topics also roll their active segment
 *   after max.compaction.lag.ms, Kafka's maxSegmentMs, so records do not wait in it longer than that), or
 * - a delete horizon of tombstones it kept has passed (so they go without waiting for new dirty data).
 *
 * One pass: the offset map (key → latest offset) is built over the dirty part, batch by batch, until it is
 * full (log.cleaner.dedupe.buffer.size / log.cleaner.threads) or the dirty part ends; then every segment
 * below where the map ends is rewritten (`<base>.log.cleaned`, then swapped in: ClassicLog.swapCleanedSegment)
 * when something in it changed; the checkpoint moves to where the map ended. A map that filled up leaves dirty
 * data for the next pass, run at once. Segments keep their base offsets; offsets of kept records never change.
 * Appends, reads, retention and DeleteRecords go on meanwhile: only the swap of one segment takes the log's
 * queue, and a segment deleted meanwhile is simply not swapped.
 *
 * Transactions (../compaction.ts): aborted data goes, committed data is compacted like plain data, markers go
 * delete.retention.ms after their transaction has no data left; the key map follows the dirty part's
 * transactions, the filtering those of the whole log (it runs from the first segment). The ranges of aborted
 * transactions without data left are dropped from the producer state and its snapshots
 * (ClassicLog.forgetAbortedTransactions), so read_committed fetches no longer get them.
 *
 * Not done (Kafka does them): grouping small cleaned segments into one; I/O throttling
 * (log.cleaner.io.max.bytes.per.second).
 */
import { open, unlink } from 'node:fs/promises';
import { LOG_OVERHEAD, MAX_TIMESTAMP_OFFSET, RECORD_BATCH_OVERHEAD, BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, RECORDS_COUNT_OFFSET } from '../../protocol/record-batch.ts';
import { childLogger } from '../../observability/log.ts';
import { OffsetMap, TransactionTracker, addToOffsetMap, filterBatch, offsetMapCapacity, type CleanableState, type FilterContext } from '../compaction.ts';
import { readFully, type ClassicLog } from './classic-log.ts';
import { CLEANED_SUFFIX, LOG_SUFFIX, writeFully, type LogSegment } from './segment.ts';

const log = childLogger('log-cleaner');

const READ_CHUNK = 1 << 20;
const WRITE_CHUNK = 1 << 20;
const MAX_PASSES = 10_000;

export interface LogCleanerOptions {
  /** log.cleaner.enable */
  enabled: boolean;
  /** log.cleaner.threads: logs cleaned at once. */
  threads: number;
  /** log.cleaner.dedupe.buffer.size, shared by the threads. */
  dedupeBufferBytes: number;
  /** log.cleaner.backoff.ms: sleep when no log needs cleaning. */
  backoffMs: number;
}

export interface LogCleanerStats {
  /** Cleaning runs (one per log cleaned, of one or more passes). */
  runs: number;
  passes: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRemoved: number;
  segmentsRewritten: number;
  failures: number;
}

/** Where the log stands for the cleaner, or null when its topic is not compacted. */
export async function cleanableState(plog: ClassicLog, now: number): Promise<CleanableState | null> {
  const config = plog.options.config();
  if (!config.cleanupPolicy.includes('compact') || plog.failure || plog.isClosing) return null;
  const segments = plog.segments;
  const active = segments[segments.length - 1]!;
  const firstDirtyOffset = Math.max(plog.cleanerCheckpoint, plog.logStartOffset);
  let upper = plog.cleanableUpperBound();
  if (config.minCompactionLagMs > 0) {
    for (const s of segments) {
      if (s === active || s.baseOffset >= upper) break;
      if (s.nextOffset <= firstDirtyOffset) continue;
      if (s.maxTimestamp > now - config.minCompactionLagMs) {
        upper = Math.min(upper, s.baseOffset);
        break;
      }
    }
  }
  let cleanBytes = 0;
  let dirtyBytes = 0;
  let firstDirty: LogSegment | null = null;
  for (const s of segments) {
    if (s === active) break;
    if (s.nextOffset <= firstDirtyOffset) cleanBytes += s.size;
    else if (s.baseOffset < upper) {
      dirtyBytes += s.size;
      if (firstDirty === null && s.size > 0) firstDirty = s;
    }
  }
  const dirtyRatio = cleanBytes + dirtyBytes === 0 ? 0 : dirtyBytes / (cleanBytes + dirtyBytes);
  let needCompactionNow = false;
  if (firstDirty && config.maxCompactionLagMs < Number.MAX_SAFE_INTEGER) {
    const header = await readFully(firstDirty, 0, RECORD_BATCH_OVERHEAD).catch(() => null);
    const first = header ? Number(header.readBigInt64BE(MAX_TIMESTAMP_OFFSET)) : -1;
    needCompactionNow = first >= 0 && first < now - config.maxCompactionLagMs;
  }
  const horizonPassed = plog.nextDeleteHorizonMs >= 0 && plog.nextDeleteHorizonMs <= now && cleanBytes + dirtyBytes > 0;
  const due = (dirtyBytes > 0 && (dirtyRatio > config.minCleanableDirtyRatio || needCompactionNow)) || horizonPassed;
  return { firstDirtyOffset, firstUncleanableOffset: upper, cleanBytes, dirtyBytes, dirtyRatio, needCompactionNow, horizonPassed, due };
}

/** Batches of `segment` from byte `from` to `end`, read in chunks (views of the chunk buffers). */
async function* readBatches(segment: LogSegment, from: number, end: number): AsyncGenerator<Buffer> {
  let pos = from;
  let buf: Buffer = Buffer.alloc(0);
  let bufStart = pos;
  while (pos < end) {
    if (pos + LOG_OVERHEAD > bufStart + buf.length) {
      buf = await readFully(segment, pos, Math.min(READ_CHUNK, end - pos));
      bufStart = pos;
    }
    const at = pos - bufStart;
    if (at + LOG_OVERHEAD > buf.length) throw new Error(`truncated batch header in ${segment.path(LOG_SUFFIX)} at ${pos}`);
    const size = buf.readInt32BE(at + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
    if (size < RECORD_BATCH_OVERHEAD || pos + size > end) throw new Error(`corrupt batch header in ${segment.path(LOG_SUFFIX)} at ${pos}`);
    if (at + size > buf.length) {
      buf = await readFully(segment, pos, Math.max(size, Math.min(READ_CHUNK, end - pos)));
      bufStart = pos;
    }
    yield buf.subarray(pos - bufStart, pos - bufStart + size);
    pos += size;
  }
}

/** What one cleaning run of one log did. */
export interface CleanResult {
  passes: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRemoved: number;
  segmentsRewritten: number;
}

/**
 * Cleans one log: passes until the dirty part is done (see the file header). `mapCapacity` bounds the offset
 * map (entries). Throws on I/O errors; what was swapped in before stays (each swap is whole).
 */
export async function cleanLog(plog: ClassicLog, now: number, mapCapacity: number): Promise<CleanResult> {
  const result: CleanResult = { passes: 0, bytesRead: 0, bytesWritten: 0, recordsRemoved: 0, segmentsRewritten: 0 };
  const map = new OffsetMap(mapCapacity);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const state = await cleanableState(plog, now);
    if (!state) break;
    const { firstDirtyOffset, firstUncleanableOffset: upper } = state;
    if (pass > 0 && firstDirtyOffset >= upper) break;
    map.clear();
    const segments = plog.segments;
    const active = segments[segments.length - 1]!;
    // 1. The offset map over the dirty part, until it is full.
    let end = firstDirtyOffset;
    let full = false;
    const mapTxns = new TransactionTracker(plog.abortedTransactions(), firstDirtyOffset);
    build: for (const s of segments) {
      if (s === active || s.baseOffset >= upper) break;
      if (s.nextOffset <= firstDirtyOffset) continue;
      for await (const batch of readBatches(s, 0, s.size)) {
        const base = Number(batch.readBigInt64BE(0));
        const last = base + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
        if (last < firstDirtyOffset) continue;
        if (base >= upper) break build;
        if (map.size > 0 && map.wouldOverflow(batch.readInt32BE(RECORDS_COUNT_OFFSET))) {
          full = true;
          break build;
        }
        await addToOffsetMap(map, batch, base, mapTxns);
        result.bytesRead += batch.length;
        end = last + 1;
      }
    }
    map.latestOffset = Math.max(map.latestOffset, end - 1);
    if (end === firstDirtyOffset && !state.horizonPassed) break;
    // 2. Rewrite the segments below where the map ends.
    // Filtering runs from the log start, so it sees all data of each transaction (Kafka's rule for markers).
    const ctx: FilterContext = {
      map,
      now,
      deleteRetentionMs: plog.options.config().deleteRetentionMs,
      producerLastOffsets: plog.producerLastOffsets(),
      transactions: new TransactionTracker(plog.abortedTransactions(), segments[0]!.baseOffset),
    };
    let nextHorizon = -1;
    for (const s of segments) {
      if (s === active || s.baseOffset >= end) break;
      const rewritten = await rewriteSegment(s, ctx);
      result.bytesRead += s.size;
      result.recordsRemoved += rewritten.recordsRemoved;
      if (rewritten.nextHorizon >= 0 && (nextHorizon < 0 || rewritten.nextHorizon < nextHorizon)) nextHorizon = rewritten.nextHorizon;
      if (rewritten.changed && (await plog.swapCleanedSegment(s))) {
        result.segmentsRewritten++;
        result.bytesWritten += rewritten.bytes;
      }
    }
    plog.nextDeleteHorizonMs = nextHorizon;
    // Aborted transactions without data left: their ranges go (their markers may go after delete.retention.ms).
    await plog.forgetAbortedTransactions(ctx.transactions.abortMarkersWithoutData);
    if (end > plog.cleanerCheckpoint) await plog.saveCleanerCheckpoint(end);
    result.passes++;
    if (!full) break;
  }
  return result;
}

/**
 * Writes the compacted copy of one segment to `<base>.log.cleaned`. `changed` false (and no file left) when
 * every batch stays as it is.
 */
async function rewriteSegment(segment: LogSegment, ctx: FilterContext): Promise<{ changed: boolean; bytes: number; recordsRemoved: number; nextHorizon: number }> {
  const path = segment.path(LOG_SUFFIX) + CLEANED_SUFFIX;
  const file = await open(path, 'w');
  let changed = false;
  let bytes = 0;
  let recordsRemoved = 0;
  let nextHorizon = -1;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    await writeFully(file, pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes), bytes);
    bytes += pendingBytes;
    pending = [];
    pendingBytes = 0;
  };
  try {
    for await (const batch of readBatches(segment, 0, segment.size)) {
      const base = Number(batch.readBigInt64BE(0));
      const r = await filterBatch(batch, base, ctx);
      recordsRemoved += r.recordsRemoved;
      if (r.batch !== batch) changed = true;
      if (r.batch === null) continue;
      if (r.deleteHorizonMs > ctx.now && (nextHorizon < 0 || r.deleteHorizonMs < nextHorizon)) nextHorizon = r.deleteHorizonMs;
      pending.push(r.batch);
      pendingBytes += r.batch.length;
      if (pendingBytes >= WRITE_CHUNK) await flush();
    }
    await flush();
    if (changed) await file.datasync();
  } catch (err) {
    await file.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw err;
  }
  await file.close();
  if (!changed) await unlink(path).catch(() => {});
  return { changed, bytes, recordsRemoved, nextHorizon };
}

/**
 * Runs the cleaning: every log.cleaner.backoff.ms it looks at the compacted logs and cleans those due, the
 * dirtiest first, log.cleaner.threads at a time, until none is due.
 */
export class LogCleaner {
  readonly stats: LogCleanerStats = { runs: 0, passes: 0, bytesRead: 0, bytesWritten: 0, recordsRemoved: 0, segmentsRewritten: 0, failures: 0 };
  /** Last dirty ratio seen per partition key (metrics). */
  readonly dirtyRatios = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  private mapCapacity: number;
  private options: LogCleanerOptions;

  constructor(options: LogCleanerOptions, private readonly logs: () => ClassicLog[]) {
    this.options = { ...options };
    this.mapCapacity = offsetMapCapacity(Math.floor(options.dedupeBufferBytes / Math.max(1, options.threads)));
  }

  /** New thread count, key-map size and backoff (dynamic broker configs); the next run uses them. */
  reconfigure(change: Pick<LogCleanerOptions, 'threads' | 'dedupeBufferBytes' | 'backoffMs'>): void {
    const backoffChanged = change.backoffMs !== this.options.backoffMs;
    this.options = { ...this.options, ...change };
    this.mapCapacity = offsetMapCapacity(Math.floor(change.dedupeBufferBytes / Math.max(1, change.threads)));
    if (backoffChanged && this.timer && !this.closed) {
      clearInterval(this.timer);
      this.timer = null;
      this.start();
    }
  }

  /** The settings in force (tests, metrics). */
  get settings(): Readonly<LogCleanerOptions> {
    return this.options;
  }

  start(): void {
    if (!this.options.enabled || this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), Math.max(1, Math.min(this.options.backoffMs, 2 ** 31 - 1)));
    this.timer.unref();
  }

  /** Cleans every log that is due, until none is (also run by the timer; tests call it). */
  runOnce(now?: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) return this.running;
    const run = this.cleanDue(now).finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  private async cleanDue(fixedNow: number | undefined): Promise<void> {
    const attempted = new Set<ClassicLog>();
    for (;;) {
      const now = fixedNow ?? Date.now();
      const due: { plog: ClassicLog; state: CleanableState }[] = [];
      for (const plog of this.logs()) {
        if (this.closed) return;
        let state: CleanableState | null;
        try {
          state = await cleanableState(plog, now);
        } catch {
          state = null;
        }
        if (!state) {
          this.dirtyRatios.delete(plog.key);
          continue;
        }
        this.dirtyRatios.set(plog.key, state.dirtyRatio);
        if (state.due && !attempted.has(plog)) due.push({ plog, state });
      }
      if (due.length === 0) return;
      due.sort((a, b) => Number(b.state.needCompactionNow || b.state.horizonPassed) - Number(a.state.needCompactionNow || a.state.horizonPassed) || b.state.dirtyRatio - a.state.dirtyRatio);
      let next = 0;
      const worker = async () => {
        while (next < due.length && !this.closed) {
          const { plog } = due[next++]!;
          attempted.add(plog);
          await this.cleanOne(plog, fixedNow ?? Date.now());
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.options.threads, due.length) }, worker));
    }
  }

  private async cleanOne(plog: ClassicLog, now: number): Promise<void> {
    const started = Date.now();
    try {
      const r = await cleanLog(plog, now, this.mapCapacity);
      this.stats.runs++;
      this.stats.passes += r.passes;
      this.stats.bytesRead += r.bytesRead;
      this.stats.bytesWritten += r.bytesWritten;
      this.stats.recordsRemoved += r.recordsRemoved;
      this.stats.segmentsRewritten += r.segmentsRewritten;
      const after = await cleanableState(plog, now).catch(() => null);
      if (after) this.dirtyRatios.set(plog.key, after.dirtyRatio);
      if (r.segmentsRewritten > 0 || r.recordsRemoved > 0) {
        log.info({ partition: plog.key, ...r, ms: Date.now() - started }, 'compacted a classic log');
      }
    } catch (err) {
      this.stats.failures++;
      log.warn({ err, partition: plog.key }, 'compacting a classic log failed; it is tried again later');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.running) await this.running.catch(() => {});
  }
}
