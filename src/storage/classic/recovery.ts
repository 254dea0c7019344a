/**
 * Reading a segment's `.log` file batch by batch: to rebuild its indexes, and — after an unclean shutdown
 * (`kill -9`, power loss) — to find where its valid data ends. A batch is valid when its length is sane
 * and fits in the file, its magic is 2, its base offset continues the previous batch's offsets without a
 * gap, and (when `verifyCrc`) its CRC-32C matches. The scan stops at the first batch that is not: the
 * bytes from there on are a torn tail (a write cut short by the crash, never acknowledged) and the caller
 * truncates the file there.
 *
 * Only headers are looked at (plus the CRC over the bytes when asked): no record is decoded.
 */
import type { FileHandle } from 'node:fs/promises';
import { crc32c } from '@node-rs/crc32';
import {
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  CRC_START,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAGIC_V2,
  MAX_TIMESTAMP_OFFSET,
  RECORD_BATCH_OVERHEAD,
} from '../../protocol/record-batch.ts';

export interface ScannedBatch {
  baseOffset: number;
  lastOffset: number;
  position: number;
  size: number;
  maxTimestamp: number;
}

export interface ScanResult {
  /** Bytes of valid batches from the start of the file. */
  validBytes: number;
  /** Offset after the last valid batch (the segment's base offset when there is none). */
  nextOffset: number;
  batches: number;
  /** Why the scan stopped before the end of the file; null when the whole file is valid. */
  stoppedBecause: string | null;
}

const CHUNK = 1 << 20;

/**
 * Walks the batches of `handle` from `from.position` (default 0) to `fileSize`, calling `onBatch` for each
 * valid one. The first batch must have base offset `from.baseOffset` (null: any), each later one must follow
 * the previous one.
 */
export async function scanLog(
  handle: FileHandle,
  fileSize: number,
  from: { position?: number; baseOffset: number | null },
  opts: { verifyCrc: boolean },
  onBatch: (batch: ScannedBatch) => void,
): Promise<ScanResult> {
  let pos = from.position ?? 0;
  let expected = from.baseOffset ?? -1;
  let batches = 0;
  let buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(fileSize, RECORD_BATCH_OVERHEAD)));
  let bufStart = pos;
  let bufLen = 0;
  const stop = (why: string): ScanResult => ({ validBytes: pos, nextOffset: expected, batches, stoppedBecause: why });

  /** Makes [pos, pos + need) available in buf (need <= fileSize - pos); returns its index in buf. */
  const ensure = async (need: number): Promise<number> => {
    if (pos >= bufStart && pos + need <= bufStart + bufLen) return pos - bufStart;
    const len = Math.min(Math.max(CHUNK, need), fileSize - pos);
    if (buf.length < len) buf = Buffer.allocUnsafe(len);
    let read = 0;
    while (read < len) {
      const { bytesRead } = await handle.read(buf, read, len - read, pos + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    bufStart = pos;
    bufLen = read;
    if (read < need) throw new Error(`short read at ${pos}: ${read} of ${need} bytes`);
    return 0;
  };

  while (pos < fileSize) {
    const remaining = fileSize - pos;
    if (remaining < RECORD_BATCH_OVERHEAD) return stop(`${remaining} trailing bytes, less than a batch header`);
    let at = await ensure(RECORD_BATCH_OVERHEAD);
    const batchLength = buf.readInt32BE(at + BATCH_LENGTH_OFFSET);
    const size = batchLength + LOG_OVERHEAD;
    if (size < RECORD_BATCH_OVERHEAD) return stop(`batch length ${batchLength} at position ${pos} is too small`);
    if (size > remaining) return stop(`batch at position ${pos} claims ${size} bytes, ${remaining} remain`);
    if (buf[at + MAGIC_OFFSET] !== MAGIC_V2) return stop(`magic ${buf[at + MAGIC_OFFSET]} at position ${pos}`);
    const batchBase = Number(buf.readBigInt64BE(at));
    const lastOffsetDelta = buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
    if (expected < 0) expected = batchBase;
    if (batchBase !== expected) return stop(`batch at position ${pos} has base offset ${batchBase}, expected ${expected}`);
    if (lastOffsetDelta < 0) return stop(`batch at position ${pos} has lastOffsetDelta ${lastOffsetDelta}`);
    if (opts.verifyCrc) {
      at = await ensure(size);
      const stored = buf.readUInt32BE(at + CRC_OFFSET);
      if (crc32c(buf.subarray(at + CRC_START, at + size)) !== stored) return stop(`CRC mismatch in the batch at position ${pos}`);
    }
    const maxTimestamp = Number(buf.readBigInt64BE(at + MAX_TIMESTAMP_OFFSET));
    onBatch({ baseOffset: batchBase, lastOffset: batchBase + lastOffsetDelta, position: pos, size, maxTimestamp });
    batches++;
    expected = batchBase + lastOffsetDelta + 1;
    pos += size;
  }
  return { validBytes: pos, nextOffset: expected, batches, stoppedBecause: null };
}
