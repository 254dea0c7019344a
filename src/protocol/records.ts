// Reading the records inside a RecordBatch v2 (decompressing when needed).
//
// Not on the produce or fetch hot path: ListOffsets by timestamp / max-timestamp (record-granular, as Kafka's
// LogSegment.findOffsetByTimestamp), tests, tools, and opt-in deep validation of compressed batches.
// Record layout (DefaultRecord.java): length varint | attributes int8 | timestampDelta varlong |
// offsetDelta varint | key (varint length, -1 = null) | value (same) | header count varint |
// headers { key (varint length, UTF-8, never null), value (varint length, -1 = null) }.
//
// Keys, values and header values are `subarray` views of the batch (uncompressed) or of the decompressed
// buffer: no copies; they keep that buffer alive.

import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  RECORD_BATCH_OVERHEAD,
  TIMESTAMP_TYPE_MASK,
  checkRecords,
  compressionOf,
  type BatchError,
} from './record-batch.ts';
import { decompress, decompressSync } from './compression.ts';
import { ErrorCode } from './gen/errors.ts';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface KafkaRecord {
  offsetDelta: number;
  timestampDelta: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}
/** Same as KafkaRecord; named as Kafka does, which shadows TypeScript's `Record<K, V>` where imported. */
export type { KafkaRecord as Record };

/** A record found by a timestamp lookup: its absolute offset and its timestamp as consumers see it. */
export interface OffsetAndTimestamp {
  offset: bigint;
  timestamp: bigint;
}

export class RecordDecodeError extends Error {
  override name = 'RecordDecodeError';
}

/**
 * The uncompressed records section of a batch: the bytes after the 61-byte header, decompressed when the
 * batch is compressed (then a new buffer), else a view of `batch`.
 */
export async function recordsSection(batch: Buffer): Promise<Buffer> {
  if (batch.length < RECORD_BATCH_OVERHEAD)
    throw new RecordDecodeError(`batch of ${batch.length} bytes is shorter than its header`);
  const body = batch.subarray(RECORDS_OFFSET);
  return decompress(compressionOf(batch.readInt16BE(ATTRIBUTES_OFFSET)), body);
}

/** Decodes every record of a batch (decompressing if needed). */
export async function readRecords(batch: Buffer): Promise<KafkaRecord[]> {
  const data = await recordsSection(batch);
  return decodeRecords(data, batch.readInt32BE(RECORDS_COUNT_OFFSET));
}

/** Decodes `count` records from an uncompressed records section; throws RecordDecodeError when malformed. */
export function decodeRecords(data: Buffer, count: number): KafkaRecord[] {
  if (count < 0) throw new RecordDecodeError(`negative record count ${count}`);
  const c = new Cursor(data);
  const out: KafkaRecord[] = [];
  for (let i = 0; i < count; i++) {
    const size = c.varint();
    if (size < 0 || size > c.end - c.pos)
      throw new RecordDecodeError(`record ${i}: invalid size ${size}, ${c.end - c.pos} bytes remaining`);
    const end = c.pos + size;
    const outerEnd = c.end;
    c.end = end;
    c.pos += 1; // attributes
    const timestampDelta = c.varlong();
    const offsetDelta = c.varint();
    const key = c.bytes();
    const value = c.bytes();
    const headerCount = c.varint();
    if (headerCount < 0 || headerCount > c.end - c.pos)
      throw new RecordDecodeError(`record ${i}: invalid header count ${headerCount}`);
    const headers: RecordHeader[] = new Array(headerCount);
    for (let h = 0; h < headerCount; h++) {
      const hk = c.bytes();
      if (hk === null) throw new RecordDecodeError(`record ${i}: null header key`);
      headers[h] = { key: hk.toString('utf8'), value: c.bytes() };
    }
    if (c.pos !== end) throw new RecordDecodeError(`record ${i}: size ${size} does not match its fields`);
    c.end = outerEnd;
    out.push({ offsetDelta, timestampDelta, key, value, headers });
  }
  if (c.pos !== c.end) throw new RecordDecodeError(`${c.end - c.pos} bytes remaining after ${count} records`);
  return out;
}

/**
 * Indexes of the records without a key (a compacted topic refuses them), synchronously: null when the batch
 * does not decode (the caller's other checks report that).
 */
export function keylessRecordIndexes(batch: Buffer): number[] | null {
  let data: Buffer;
  try {
    data = decompressSync(compressionOf(batch.readInt16BE(ATTRIBUTES_OFFSET)), batch.subarray(RECORDS_OFFSET));
  } catch {
    return null;
  }
  let records: KafkaRecord[];
  try {
    records = decodeRecords(data, batch.readInt32BE(RECORDS_COUNT_OFFSET));
  } catch {
    return null;
  }
  const out: number[] = [];
  records.forEach((r, i) => {
    if (r.key === null) out.push(i);
  });
  return out;
}

/**
 * First record (in offset order) whose timestamp is >= `ts`, or null if none. `baseOffset` is the batch's
 * assigned base offset (the stored bytes may still carry the producer's 0). For a LogAppendTime batch every
 * record has the batch's maxTimestamp, so the answer is its first record (a compressed batch is still
 * decompressed to read that record's offsetDelta, 0 in every batch a client writes).
 */
export async function findOffsetForTimestamp(
  batch: Buffer,
  baseOffset: bigint,
  ts: bigint,
): Promise<OffsetAndTimestamp | null> {
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  const maxTimestamp = batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET);
  if ((attributes & TIMESTAMP_TYPE_MASK) !== 0) {
    if (maxTimestamp < ts) return null;
    return { offset: baseOffset + BigInt(await firstOffsetDelta(batch)), timestamp: maxTimestamp };
  }
  let found: OffsetAndTimestamp | null = null;
  await scanTimestamps(batch, (offsetDelta, timestamp) => {
    if (timestamp >= ts) {
      found = { offset: baseOffset + BigInt(offsetDelta), timestamp };
      return true;
    }
    return false;
  });
  return found;
}

/**
 * First record with the largest timestamp (Kafka's ListOffsets MAX_TIMESTAMP picks the earliest offset among
 * equals), or null for a batch without records. LogAppendTime: the first record, with maxTimestamp.
 */
export async function findMaxTimestampRecord(batch: Buffer, baseOffset: bigint): Promise<OffsetAndTimestamp | null> {
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  if ((attributes & TIMESTAMP_TYPE_MASK) !== 0) {
    if (batch.readInt32BE(RECORDS_COUNT_OFFSET) <= 0) return null;
    return {
      offset: baseOffset + BigInt(await firstOffsetDelta(batch)),
      timestamp: batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET),
    };
  }
  let best: OffsetAndTimestamp | null = null;
  await scanTimestamps(batch, (offsetDelta, timestamp) => {
    if (best === null || timestamp > best.timestamp) best = { offset: baseOffset + BigInt(offsetDelta), timestamp };
    return false;
  });
  return best;
}

/**
 * Decompresses (if needed) and walks every record as validateBatch does for uncompressed batches: the opt-in
 * full check for compressed batches that Kafka performs on produce and Floe does not by default.
 * Returns null when valid, or INVALID_RECORD (87) / CORRUPT_MESSAGE (2, the compressed stream does not decode).
 */
export async function validateRecordsDeep(
  batch: Buffer,
  opts: { requireKeys?: boolean } = {},
): Promise<BatchError | null> {
  let data: Buffer;
  try {
    data = await recordsSection(batch);
  } catch (e) {
    return { errorCode: ErrorCode.CORRUPT_MESSAGE, message: (e as Error).message };
  }
  return checkRecords(data, 0, data.length, batch.readInt32BE(RECORDS_COUNT_OFFSET), opts.requireKeys === true);
}

// The offset delta of the first record: 0 in every batch a client writes (validateBatch insists), but read it
// for batches that went through compaction-like rewriting.
async function firstOffsetDelta(batch: Buffer): Promise<number> {
  let first = 0;
  await scanTimestamps(batch, (offsetDelta) => {
    first = offsetDelta;
    return true;
  });
  return first;
}

/** Calls `visit(offsetDelta, timestamp)` per record in order until it returns true. No key/value allocation. */
async function scanTimestamps(
  batch: Buffer,
  visit: (offsetDelta: number, timestamp: bigint) => boolean,
): Promise<void> {
  const data = await recordsSection(batch);
  const count = batch.readInt32BE(RECORDS_COUNT_OFFSET);
  const baseTimestamp = batch.readBigInt64BE(BASE_TIMESTAMP_OFFSET);
  const c = new Cursor(data);
  for (let i = 0; i < count; i++) {
    const size = c.varint();
    if (size < 0 || size > c.end - c.pos) throw new RecordDecodeError(`record ${i}: invalid size ${size}`);
    const next = c.pos + size;
    c.pos += 1; // attributes
    const timestampDelta = c.varlong();
    const offsetDelta = c.varint();
    if (c.pos > next) throw new RecordDecodeError(`record ${i}: fields overrun its size ${size}`);
    if (visit(offsetDelta, baseTimestamp + timestampDelta)) return;
    c.pos = next;
  }
}

class Cursor {
  pos = 0;
  end: number;
  constructor(readonly buf: Buffer) {
    this.end = buf.length;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new RecordDecodeError('premature end of record data');
    return this.buf[this.pos++]!;
  }

  /** Zig-zag varint, at most 5 bytes (Kafka ByteUtils.readVarint). */
  varint(): number {
    let raw = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 28) throw new RecordDecodeError('varint is too long');
      const b = this.byte();
      raw |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
    }
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** Zig-zag varlong, at most 10 bytes (Kafka ByteUtils.readVarlong). */
  varlong(): bigint {
    // Fast path: up to 4 bytes (|value| < 2^27) stays in number arithmetic.
    let raw = 0;
    let shift = 0;
    while (shift < 28) {
      const b = this.byte();
      raw |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt((raw >>> 1) ^ -(raw & 1));
      shift += 7;
    }
    let big = BigInt(raw >>> 0);
    let bigShift = 28n;
    for (;;) {
      if (bigShift > 63n) throw new RecordDecodeError('varlong is too long');
      const b = this.byte();
      big |= BigInt(b & 0x7f) << bigShift;
      if ((b & 0x80) === 0) break;
      bigShift += 7n;
    }
    big = BigInt.asUintN(64, big);
    return BigInt.asIntN(64, (big >> 1n) ^ -(big & 1n));
  }

  /** varint length + bytes; -1 = null. A view, not a copy. */
  bytes(): Buffer | null {
    const len = this.varint();
    if (len === -1) return null;
    if (len < 0 || len > this.end - this.pos)
      throw new RecordDecodeError(`invalid length ${len}, ${this.end - this.pos} bytes remaining`);
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }
}
