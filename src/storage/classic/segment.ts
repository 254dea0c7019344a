/**
 * One log segment of a classic partition, as in Kafka: `<base offset, 20 digits>.log` holds record batches
 * back to back, exactly as they are served (base offset assigned, partition leader epoch set, LogAppendTime
 * patched), with a sparse `.index` (offset → position) and `.timeindex` (timestamp → offset) beside it.
 * Only the last segment of a partition (the active one) is written to; the others are read-only.
 *
 * Sizes: `size` counts the bytes written to the file (whole batches only), `visibleSize` the bytes consumers
 * may read (up to the high watermark, which lags while a write waits for its fsync). Bookkeeping of a batch
 * (indexes, max timestamp) happens when it becomes visible, so indexes never point at data consumers
 * cannot read.
 *
 * Indexes of inactive segments may be dropped from memory (the index cache bounds them) and are read back
 * from their files on demand; a file that does not parse is rebuilt from the log.
 */
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_TIMESTAMP_OFFSET, RECORD_BATCH_OVERHEAD } from '../../protocol/record-batch.ts';
import { OffsetIndex } from './offset-index.ts';
import { scanLog, type ScannedBatch } from './recovery.ts';
import { TimeIndex } from './time-index.ts';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
export const DELETED_SUFFIX = '.deleted';
/** A compacted copy of a segment's log being written by the log cleaner (removed at open if left over). */
export const CLEANED_SUFFIX = '.cleaned';

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix;
}

export interface SegmentLoadResult {
  segment: LogSegment;
  /** Bytes cut off the end of the log (torn tail); 0 when none. */
  truncatedBytes: number;
  truncatedBecause: string | null;
}

export class LogSegment {
  size = 0;
  visibleSize = 0;
  /** Offset after the last batch written. */
  nextOffset: number;
  /** Largest batch max timestamp among visible batches (-1: none) and the last offset of the first batch with it. */
  maxTimestamp = -1;
  offsetOfMaxTimestamp = -1;
  /** Max timestamp of the first batch (Kafka's rolling-based timestamp); -1 while empty. */
  firstBatchTimestamp = -1;
  /** Wall-clock time of the first append in this process, for an empty segment. */
  firstAppendMs = -1;
  /** Fraction of segment.jitter.ms taken off segment.ms for this segment. */
  readonly jitterFraction = Math.random();
  bytesSinceLastIndexEntry = 0;
  offsetIndex: OffsetIndex | null;
  timeIndex: TimeIndex | null;
  deleted = false;
  /** Replaced by its compacted copy: keeps its in-memory indexes and never writes index files again. */
  retired = false;
  private indexFile: FileHandle | null = null;
  private timeIndexFile: FileHandle | null = null;
  private loadingIndexes: Promise<void> | null = null;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    /** Open for the segment's lifetime: reads (and, while active, writes) go through it. */
    readonly log: FileHandle,
  ) {
    this.nextOffset = baseOffset;
    this.offsetIndex = new OffsetIndex(baseOffset);
    this.timeIndex = new TimeIndex(baseOffset);
  }

  path(suffix: string): string {
    return join(this.dir, segmentFileName(this.baseOffset, suffix));
  }

  /** A new, empty active segment (files created, truncated if they existed). */
  static async create(dir: string, baseOffset: number): Promise<LogSegment> {
    const log = await open(join(dir, segmentFileName(baseOffset, LOG_SUFFIX)), 'w+');
    const segment = new LogSegment(dir, baseOffset, log);
    try {
      segment.indexFile = await open(segment.path(INDEX_SUFFIX), 'w+');
      segment.timeIndexFile = await open(segment.path(TIME_INDEX_SUFFIX), 'w+');
    } catch (err) {
      await segment.close();
      throw err;
    }
    return segment;
  }

  /**
   * Opens an existing segment.
   * - Active (last) segment after an unclean shutdown (`recover`): every batch is read and its CRC checked;
   *   a torn tail is truncated (and the truncation fsynced), and both indexes are rebuilt from the batches.
   * - Active segment after a clean shutdown: its index files are trusted, and only the batches after the
   *   last offset index entry are read (to find the end); anything odd falls back to the full recovery.
   * - Inactive segment: trusted (it was fsynced when rolled); its max timestamp is the last time index entry
   *   (written when it was rolled). Its indexes may be dropped from memory later and re-read on demand.
   */
  static async load(dir: string, baseOffset: number, opts: { active: boolean; recover: boolean; nextBaseOffset: number | null; indexIntervalBytes: number }): Promise<SegmentLoadResult> {
    const log = await open(join(dir, segmentFileName(baseOffset, LOG_SUFFIX)), 'r+');
    const segment = new LogSegment(dir, baseOffset, log);
    try {
      const fileSize = (await log.stat()).size;
      if (!opts.active) {
        segment.size = segment.visibleSize = fileSize;
        segment.nextOffset = opts.nextBaseOffset ?? baseOffset;
        await segment.loadIndexes(opts.indexIntervalBytes, true);
        const last = segment.timeIndex!.lastEntry();
        if (last) {
          segment.maxTimestamp = last.timestamp;
          segment.offsetOfMaxTimestamp = last.offset;
        }
        segment.firstBatchTimestamp = 0; // not used for inactive segments
        return { segment, truncatedBytes: 0, truncatedBecause: null };
      }
      if (!opts.recover && (await segment.resumeClean(fileSize, opts.indexIntervalBytes))) {
        return { segment, truncatedBytes: 0, truncatedBecause: null };
      }
      segment.offsetIndex = new OffsetIndex(baseOffset);
      segment.timeIndex = new TimeIndex(baseOffset);
      segment.maxTimestamp = segment.offsetOfMaxTimestamp = segment.firstBatchTimestamp = -1;
      segment.bytesSinceLastIndexEntry = 0;
      const scan = await scanLog(log, fileSize, { baseOffset }, { verifyCrc: true }, (b) => segment.track(b, opts.indexIntervalBytes));
      let truncatedBytes = 0;
      if (scan.validBytes < fileSize) {
        truncatedBytes = fileSize - scan.validBytes;
        await log.truncate(scan.validBytes);
        await log.datasync();
      }
      segment.size = segment.visibleSize = scan.validBytes;
      segment.nextOffset = scan.nextOffset;
      // Rewrite both indexes from what the scan found.
      segment.indexFile = await open(segment.path(INDEX_SUFFIX), 'w+');
      segment.timeIndexFile = await open(segment.path(TIME_INDEX_SUFFIX), 'w+');
      await segment.persistIndexes();
      return { segment, truncatedBytes, truncatedBecause: truncatedBytes > 0 ? scan.stoppedBecause : null };
    } catch (err) {
      await segment.close();
      throw err;
    }
  }

  get active(): boolean {
    return this.indexFile !== null;
  }

  /** Clean-shutdown load of the active segment; false when something does not add up (then recover). */
  private async resumeClean(fileSize: number, indexIntervalBytes: number): Promise<boolean> {
    this.size = fileSize;
    try {
      await this.loadIndexes(indexIntervalBytes, false);
    } catch {
      return false;
    }
    if (!this.offsetIndex || !this.timeIndex) return false;
    const last = this.timeIndex.lastEntry();
    if (last) {
      this.maxTimestamp = last.timestamp;
      this.offsetOfMaxTimestamp = last.offset;
    }
    if (fileSize > 0) {
      const header = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD);
      const { bytesRead } = await this.log.read(header, 0, RECORD_BATCH_OVERHEAD, 0);
      if (bytesRead < RECORD_BATCH_OVERHEAD || Number(header.readBigInt64BE(0)) !== this.baseOffset) return false;
      this.firstBatchTimestamp = Number(header.readBigInt64BE(MAX_TIMESTAMP_OFFSET));
    }
    const from = this.offsetIndex.lastPosition();
    this.bytesSinceLastIndexEntry = 0;
    const scan = await scanLog(this.log, fileSize, { position: from, baseOffset: from === 0 ? this.baseOffset : null }, { verifyCrc: false },
      (b) => this.track(b, indexIntervalBytes));
    if (scan.stoppedBecause !== null || (fileSize > 0 && scan.batches === 0)) return false;
    this.size = this.visibleSize = fileSize;
    this.nextOffset = fileSize === 0 ? this.baseOffset : scan.nextOffset;
    this.indexFile = await open(this.path(INDEX_SUFFIX), 'r+');
    this.timeIndexFile = await open(this.path(TIME_INDEX_SUFFIX), 'r+');
    await this.persistIndexes();
    return true;
  }

  /** Whether the time since this segment started has reached its roll time. */
  rollDue(now: number, segmentMs: number, segmentJitterMs: number): boolean {
    if (this.size === 0) return false;
    const jitter = segmentJitterMs > 0 ? Math.floor(this.jitterFraction * Math.min(segmentJitterMs, segmentMs)) : 0;
    const since = this.firstAppendMs >= 0 ? this.firstAppendMs : this.firstBatchTimestamp;
    return now - since > segmentMs - jitter;
  }

  /**
   * Kafka's LogSegment.append bookkeeping for one batch, in log order: the running max timestamp, then an
   * index entry for this batch when more than `indexIntervalBytes` were appended since the last one.
   */
  track(b: ScannedBatch, indexIntervalBytes: number): void {
    if (this.firstBatchTimestamp < 0) this.firstBatchTimestamp = b.maxTimestamp;
    if (b.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = b.maxTimestamp;
      this.offsetOfMaxTimestamp = b.lastOffset;
    }
    if (this.bytesSinceLastIndexEntry > indexIntervalBytes) {
      this.offsetIndex!.append(b.lastOffset, b.position);
      this.timeIndex!.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += b.size;
  }

  /** Appends new index entries to the index files (active segment). */
  async persistIndexes(): Promise<void> {
    if (!this.indexFile || !this.timeIndexFile) return;
    const o = this.offsetIndex!.takeUnpersisted();
    if (o) await writeFully(this.indexFile, o.bytes, o.filePosition);
    const t = this.timeIndex!.takeUnpersisted();
    if (t) await writeFully(this.timeIndexFile, t.bytes, t.filePosition);
  }

  /**
   * The segment stops being the active one (roll, clean shutdown): the time index gets its final entry (the
   * segment's max timestamp), and the log and both indexes are fsynced.
   */
  async seal(): Promise<void> {
    if (!this.indexFile || !this.timeIndexFile) return;
    if (this.maxTimestamp >= 0) this.timeIndex!.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
    await this.persistIndexes();
    await Promise.all([this.log.datasync(), this.indexFile.datasync(), this.timeIndexFile.datasync()]);
    const files = [this.indexFile, this.timeIndexFile];
    this.indexFile = this.timeIndexFile = null;
    await Promise.all(files.map((f) => f.close()));
  }

  /** Makes sure both indexes are in memory (inactive segments may have dropped them). */
  ensureIndexes(indexIntervalBytes: number): Promise<void> {
    if (this.offsetIndex && this.timeIndex) return Promise.resolve();
    return (this.loadingIndexes ??= this.loadIndexes(indexIntervalBytes, true).finally(() => { this.loadingIndexes = null; }));
  }

  /** Drops an inactive segment's indexes from memory. */
  dropIndexes(): void {
    if (this.active || this.retired) return;
    this.offsetIndex = null;
    this.timeIndex = null;
  }

  get indexMemoryBytes(): number {
    return (this.offsetIndex?.memoryBytes ?? 0) + (this.timeIndex?.memoryBytes ?? 0);
  }

  /**
   * Reads both index files. Damaged or missing ones are rebuilt from the log (headers only) and written
   * back when `rebuild`, else left null. `nextOffset` must be known unless this is the active segment.
   */
  private async loadIndexes(indexIntervalBytes: number, rebuild: boolean): Promise<void> {
    const maxRel = this.active || this.nextOffset <= this.baseOffset ? 2 ** 31 - 1 : this.nextOffset - 1 - this.baseOffset;
    const [o, t] = await Promise.all([readIfExists(this.path(INDEX_SUFFIX)), readIfExists(this.path(TIME_INDEX_SUFFIX))]);
    let offsetIndex = o && OffsetIndex.fromBytes(this.baseOffset, o, this.size);
    let timeIndex = t && TimeIndex.fromBytes(this.baseOffset, t, maxRel);
    if (offsetIndex && offsetIndex.entries > 0 && offsetIndex.lastOffset() > this.baseOffset + maxRel) offsetIndex = null;
    if ((!offsetIndex || !timeIndex) && !rebuild) {
      this.offsetIndex = this.timeIndex = null;
      return;
    }
    if (!offsetIndex || !timeIndex) {
      // Missing or damaged: rebuild both from the log (headers only) and write them back.
      const rebuilt = new LogSegment(this.dir, this.baseOffset, this.log);
      await scanLog(this.log, this.size, { baseOffset: this.baseOffset }, { verifyCrc: false }, (b) => rebuilt.track(b, indexIntervalBytes));
      offsetIndex = rebuilt.offsetIndex!;
      timeIndex = rebuilt.timeIndex!;
      if (rebuilt.maxTimestamp >= 0) timeIndex.maybeAppend(rebuilt.maxTimestamp, rebuilt.offsetOfMaxTimestamp);
      if (!this.retired) {
        await writeIndexFile(this.path(INDEX_SUFFIX), offsetIndex.takeUnpersisted()?.bytes);
        await writeIndexFile(this.path(TIME_INDEX_SUFFIX), timeIndex.takeUnpersisted()?.bytes);
      }
    }
    this.offsetIndex = offsetIndex;
    this.timeIndex = timeIndex;
  }

  /** Closes the files (the segment stays on disk). */
  async close(): Promise<void> {
    const files = [this.log, this.indexFile, this.timeIndexFile].filter((f): f is FileHandle => f !== null);
    this.indexFile = this.timeIndexFile = null;
    await Promise.allSettled(files.map((f) => f.close()));
  }

  /**
   * Removes the segment: its files are renamed `*.deleted` at once and unlinked after `delayMs` (Kafka's
   * file.delete.delay.ms), so a read that started before keeps working; reads still in flight when the
   * files are closed finish first (FileHandle.close waits for them).
   */
  async delete(delayMs: number): Promise<void> {
    this.deleted = true;
    const paths: string[] = [];
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      const from = this.path(suffix);
      try {
        await rename(from, from + DELETED_SUFFIX);
        paths.push(from + DELETED_SUFFIX);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    const finish = async () => {
      await this.close();
      await Promise.allSettled(paths.map((p) => unlink(p)));
    };
    if (delayMs <= 0) await finish();
    else setTimeout(() => void finish(), Math.min(delayMs, 2 ** 31 - 1)).unref();
  }
}

/** Writes all of `bytes` at `position` (positional writes may be short). */
export async function writeFully(handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    done += bytesWritten;
  }
}

async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const buf = Buffer.allocUnsafe(size);
      let read = 0;
      while (read < size) {
        const { bytesRead } = await handle.read(buf, read, size - read, read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      return buf.subarray(0, read);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function writeIndexFile(path: string, bytes: Buffer | undefined): Promise<void> {
  const handle = await open(path, 'w');
  try {
    if (bytes && bytes.length > 0) await writeFully(handle, bytes, 0);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
