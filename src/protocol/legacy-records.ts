// Message format v0 and v1 (magic 0/1, "message sets"), spoken by Produce v0-2 and Fetch v0-3, and the
// conversions to and from RecordBatch v2 (magic 2), the only format Floe stores.
//
// A legacy message:  offset int64 | size int32 | crc uint32 (CRC-32 of magic..end) | magic int8 | attributes int8
//                    | [timestamp int64, magic 1] | key int32-length bytes | value int32-length bytes
// attributes: bits 0-2 the compression codec, bit 3 (magic 1) the timestamp type. A compressed message is a
// wrapper whose value is the compressed message set of its inner messages: inner offsets are absolute
// (magic 0) or relative 0..n-1 (magic 1), the wrapper's offset is the last inner one; a magic 1 wrapper with
// LOG_APPEND_TIME carries the timestamp of all its inner messages.
//
// Up-conversion (produce) follows Kafka 3.x's LogValidator: every message is checked (CRC, magic, no
// nested compression, zstd refused below magic 2), then all are rebuilt as one magic 2 batch with offset
// deltas 0..n-1, the messages' timestamps (magic 0: none, -1), no producer id, compressed with the codec the
// messages came with. Down-conversion (fetch) follows RecordsUtil.downConvert: control batches are left out,
// every record becomes a message of the target magic with its absolute offset, key, value and (magic 1)
// timestamp; headers are dropped (magic 0/1 have none). The messages of a compressed batch are compressed
// again with its codec into one wrapper message (as Kafka does), except lz4 for magic 0: Kafka writes those
// frames with its old, wrong header checksum (KAFKA-3160) that magic 0 readers expect, so they go uncompressed.
// The output is bounded by the caller's byte limit on the uncompressed messages.
//
// Both work on Buffer slices and allocate the output once per batch.

import { crc32, crc32c } from '@node-rs/crc32';
import { gzipSync } from 'node:zlib';
import { ErrorCode } from './gen/errors.ts';
import { lz4Package, snappyPackage } from './codec-packages.ts';
import { CompressionError, compress, decompressSync } from './compression.ts';
import {
  CompressionType,
  CRC_START,
  isControl,
  MAGIC_OFFSET,
  MAGIC_V2,
  RECORD_BATCH_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  TIMESTAMP_TYPE_MASK,
  type BatchError,
} from './record-batch.ts';
import { readRecords } from './records.ts';

/** offset(8) + size(4): the log overhead before every message. */
const LOG_OVERHEAD = 12;
/** crc(4) + magic(1) + attributes(1) + key length(4) + value length(4). */
const MESSAGE_OVERHEAD_V0 = 14;
const CODEC_MASK = 0x07;

export const NO_TIMESTAMP = -1n;

/** One legacy message's content, offsets as read (absolute or relative, see the header). */
export interface LegacyMessage {
  offset: bigint;
  magic: 0 | 1;
  timestamp: bigint;
  logAppendTime: boolean;
  key: Buffer | null;
  value: Buffer | null;
}

function err(errorCode: number, message: string): BatchError {
  return { errorCode, message };
}

/** Magic of the first entry of a records section, or -1 when too short to say. */
export function firstMagic(records: Buffer): number {
  return records.length > MAGIC_OFFSET ? records.readInt8(MAGIC_OFFSET) : -1;
}

/**
 * Reads a message set, unwrapping compressed wrappers (synchronously: the produce path appends before its
 * first await). Messages: offsets as on the wire for uncompressed ones; inner messages of a wrapper get
 * absolute offsets (magic 1's relative ones resolved against the wrapper's), as Kafka's shallow/deep
 * iteration does.
 */
export function readMessageSet(records: Buffer): { messages: LegacyMessage[]; codec: number } | BatchError {
  const messages: LegacyMessage[] = [];
  let codec: number = CompressionType.NONE;
  const visit = (buf: Buffer, inner: boolean, wrapper: LegacyMessage | null): BatchError | null => {
    let pos = 0;
    const start = messages.length;
    while (pos < buf.length) {
      if (buf.length - pos < LOG_OVERHEAD + MESSAGE_OVERHEAD_V0) {
        // A truncated trailing message is a producer's error (Kafka: CORRUPT_MESSAGE / INVALID_RECORD).
        return err(ErrorCode.CORRUPT_MESSAGE, `Truncated message at position ${pos}`);
      }
      const offset = buf.readBigInt64BE(pos);
      const size = buf.readInt32BE(pos + 8);
      if (size < MESSAGE_OVERHEAD_V0 || size > buf.length - pos - LOG_OVERHEAD) {
        return err(ErrorCode.CORRUPT_MESSAGE, `Message at position ${pos} has invalid size ${size}`);
      }
      const m = buf.subarray(pos + LOG_OVERHEAD, pos + LOG_OVERHEAD + size);
      pos += LOG_OVERHEAD + size;
      const magic = m.readInt8(4);
      if (magic !== 0 && magic !== 1) return err(ErrorCode.CORRUPT_MESSAGE, `Invalid magic ${magic} in a message set`);
      if (crc32(m.subarray(4)) !== m.readUInt32BE(0)) return err(ErrorCode.CORRUPT_MESSAGE, `Message at offset ${offset} is corrupt (CRC mismatch)`);
      const attributes = m.readInt8(5);
      let p = 6;
      let timestamp = NO_TIMESTAMP;
      if (magic === 1) {
        if (m.length < MESSAGE_OVERHEAD_V0 + 8) return err(ErrorCode.CORRUPT_MESSAGE, `Message at offset ${offset} is too short for magic 1`);
        timestamp = m.readBigInt64BE(p);
        p += 8;
      }
      const key = readBytes(m, p);
      if (key === undefined) return err(ErrorCode.CORRUPT_MESSAGE, `Message at offset ${offset} has an invalid key length`);
      p += 4 + (key?.length ?? 0);
      const value = readBytes(m, p);
      if (value === undefined) return err(ErrorCode.CORRUPT_MESSAGE, `Message at offset ${offset} has an invalid value length`);
      p += 4 + (value?.length ?? 0);
      if (p !== m.length) return err(ErrorCode.CORRUPT_MESSAGE, `Message at offset ${offset}: size ${size} does not match its fields`);
      const messageCodec = attributes & CODEC_MASK;
      const logAppendTime = magic === 1 && (attributes & TIMESTAMP_TYPE_MASK) !== 0;
      if (messageCodec === CompressionType.NONE) {
        messages.push({ offset, magic, timestamp, logAppendTime, key, value });
        continue;
      }
      if (inner) return err(ErrorCode.INVALID_RECORD, 'Compressed outer record has an inner record that is itself compressed');
      if (messageCodec === CompressionType.ZSTD) return err(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'Zstd compression is not supported for message format v0 and v1');
      if (messageCodec > CompressionType.ZSTD) return err(ErrorCode.CORRUPT_MESSAGE, `Unknown compression type id: ${messageCodec}`);
      if (value === null) return err(ErrorCode.INVALID_RECORD, `Compressed message at offset ${offset} has no value`);
      codec = messageCodec;
      let data: Buffer;
      try {
        data = decompressSync(messageCodec, value);
      } catch (e) {
        if (e instanceof CompressionError) return err(ErrorCode.CORRUPT_MESSAGE, e.message);
        throw e;
      }
      const failed = visit(data, true, { offset, magic, timestamp, logAppendTime, key, value });
      if (failed) return failed;
    }
    if (wrapper && messages.length > start) {
      const n = messages.length - start;
      // Magic 1 inner offsets are relative: the wrapper holds the last one's absolute offset.
      const base = wrapper.magic === 1 ? wrapper.offset - BigInt(n - 1) : 0n;
      for (let i = start; i < messages.length; i++) {
        const inner = messages[i]!;
        if (wrapper.magic === 1) inner.offset = base + inner.offset;
        if (wrapper.logAppendTime) {
          inner.timestamp = wrapper.timestamp;
          inner.logAppendTime = true;
        }
      }
    }
    return null;
  };
  const failed = visit(records, false, null);
  if (failed) return failed;
  if (messages.length === 0) return err(ErrorCode.INVALID_RECORD, 'A message set must contain at least one message');
  return { messages, codec };
}

/** int32-length bytes at p: null for -1, undefined when the length is invalid. */
function readBytes(m: Buffer, p: number): Buffer | null | undefined {
  if (m.length - p < 4) return undefined;
  const len = m.readInt32BE(p);
  if (len === -1) return null;
  if (len < 0 || len > m.length - p - 4) return undefined;
  return m.subarray(p + 4, p + 4 + len);
}

/** Compresses synchronously with a codec magic 0/1 can carry. */
function compressSync(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case CompressionType.GZIP:
      return gzipSync(data);
    case CompressionType.SNAPPY:
      return snappyPackage().compressSync(data);
    case CompressionType.LZ4:
      return lz4Package().compressFrameSync(data);
    default:
      return data;
  }
}

// ---- up-conversion -----------------------------------------------------------------------------------

function varintSize(v: number): number {
  let u = ((v << 1) ^ (v >> 31)) >>> 0;
  let n = 1;
  while (u >= 0x80) {
    u >>>= 7;
    n++;
  }
  return n;
}

function varlongSize(v: bigint): number {
  let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  let u = ((v << 1) ^ (v >> 31)) >>> 0;
  while (u >= 0x80) {
    buf[pos++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[pos++] = u;
  return pos;
}

function writeVarlong(buf: Buffer, pos: number, v: bigint): number {
  let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  while (u >= 0x80n) {
    buf[pos++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  buf[pos++] = Number(u);
  return pos;
}

/** The records section (uncompressed) of a v2 batch holding `messages` in order: offset deltas 0..n-1. */
function encodeRecords(messages: readonly LegacyMessage[], baseTimestamp: bigint): Buffer {
  const sizes = messages.map((m, i) => {
    const tsDelta = m.timestamp - baseTimestamp;
    const body = 1 + varlongSize(tsDelta) + varintSize(i)
      + (m.key === null ? varintSize(-1) : varintSize(m.key.length) + m.key.length)
      + (m.value === null ? varintSize(-1) : varintSize(m.value.length) + m.value.length)
      + 1; // no headers
    return body;
  });
  let total = 0;
  for (const s of sizes) total += varintSize(s) + s;
  const out = Buffer.allocUnsafe(total);
  let p = 0;
  messages.forEach((m, i) => {
    p = writeVarint(out, p, sizes[i]!);
    out[p++] = 0; // record attributes
    p = writeVarlong(out, p, m.timestamp - baseTimestamp);
    p = writeVarint(out, p, i);
    for (const b of [m.key, m.value]) {
      if (b === null) p = writeVarint(out, p, -1);
      else {
        p = writeVarint(out, p, b.length);
        b.copy(out, p);
        p += b.length;
      }
    }
    out[p++] = 0; // header count 0
  });
  return out;
}

/**
 * A v2 batch (base offset 0, no producer id, partition leader epoch -1) holding `messages`, compressed with
 * `codec`, timestamp type LOG_APPEND_TIME when the messages carried it.
 */
export function buildBatchV2(messages: readonly LegacyMessage[], codec: number): Buffer {
  const logAppendTime = messages.some((m) => m.logAppendTime);
  const baseTimestamp = messages[0]!.timestamp;
  let maxTimestamp = NO_TIMESTAMP;
  for (const m of messages) if (m.timestamp > maxTimestamp) maxTimestamp = m.timestamp;
  const plain = encodeRecords(messages, baseTimestamp);
  const body = codec === CompressionType.NONE ? plain : compressSync(codec, plain);
  const batch = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + body.length);
  batch.writeBigInt64BE(0n, 0);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, 8);
  batch.writeInt32BE(-1, 12); // partition leader epoch
  batch.writeInt8(MAGIC_V2, MAGIC_OFFSET);
  batch.writeInt16BE(codec | (logAppendTime ? TIMESTAMP_TYPE_MASK : 0), 21);
  batch.writeInt32BE(messages.length - 1, 23);
  batch.writeBigInt64BE(baseTimestamp, 27);
  batch.writeBigInt64BE(maxTimestamp, 35);
  batch.writeBigInt64BE(-1n, 43); // producer id
  batch.writeInt16BE(-1, 51);
  batch.writeInt32BE(-1, 53);
  batch.writeInt32BE(messages.length, RECORDS_COUNT_OFFSET);
  body.copy(batch, RECORD_BATCH_OVERHEAD);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START)), 17);
  return batch;
}

/** Produce v0-2: a message set of magic 0/1 as one magic 2 batch (see the header), or Kafka's error. */
export function upConvert(records: Buffer): Buffer | BatchError {
  const read = readMessageSet(records);
  if ('errorCode' in read) return read;
  return buildBatchV2(read.messages, read.codec);
}

// ---- down-conversion ---------------------------------------------------------------------------------

/** Bytes of one uncompressed message of `magic` with this key and value, log overhead included. */
function messageSize(magic: 0 | 1, key: Buffer | null, value: Buffer | null): number {
  return LOG_OVERHEAD + MESSAGE_OVERHEAD_V0 + (magic === 1 ? 8 : 0) + (key?.length ?? 0) + (value?.length ?? 0);
}

function writeMessage(out: Buffer, pos: number, magic: 0 | 1, offset: bigint, timestamp: bigint, logAppendTime: boolean, key: Buffer | null, value: Buffer | null, codec = 0): number {
  const size = messageSize(magic, key, value);
  out.writeBigInt64BE(offset, pos);
  out.writeInt32BE(size - LOG_OVERHEAD, pos + 8);
  let p = pos + 16;
  out.writeInt8(magic, p++);
  out.writeInt8((magic === 1 && logAppendTime ? TIMESTAMP_TYPE_MASK : 0) | codec, p++);
  if (magic === 1) {
    out.writeBigInt64BE(timestamp, p);
    p += 8;
  }
  for (const b of [key, value]) {
    if (b === null) {
      out.writeInt32BE(-1, p);
      p += 4;
    } else {
      out.writeInt32BE(b.length, p);
      p += 4;
      b.copy(out, p);
      p += b.length;
    }
  }
  out.writeUInt32BE(crc32(out.subarray(pos + 16, p)), pos + 12);
  return p;
}

export interface DownConverted {
  /** The message set (messages of the target magic; a compressed batch's in one wrapper of its codec). */
  records: Buffer;
  /** Records converted. */
  count: number;
}

/**
 * Fetch v0-3: magic 2 batches (whole batches back to back, as a partition read returns them) as a message
 * set of `magic` (0 for Fetch v0-1, 1 for v2-3). Records below `fromOffset` and control batches are left out;
 * conversion stops before the output would pass `maxBytes`, except that the first record always goes (as the
 * first batch always goes in a fetch, KIP-74). Throws RecordDecodeError / CompressionError on a bad batch.
 */
export async function downConvert(data: Buffer, magic: 0 | 1, fromOffset: bigint, maxBytes: number): Promise<DownConverted> {
  const parts: Buffer[] = [];
  let total = 0;
  let count = 0;
  let pos = 0;
  let full = false;
  while (pos + LOG_OVERHEAD <= data.length) {
    const size = LOG_OVERHEAD + data.readInt32BE(pos + 8);
    if (size < RECORD_BATCH_OVERHEAD || pos + size > data.length) break; // a partial batch at the end
    const batch = data.subarray(pos, pos + size);
    pos += size;
    const attributes = batch.readInt16BE(21);
    const baseOffset = batch.readBigInt64BE(0);
    const lastOffset = baseOffset + BigInt(batch.readInt32BE(23));
    if (isControl(attributes) || lastOffset < fromOffset) continue;
    const logAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0;
    const baseTimestamp = batch.readBigInt64BE(27);
    const maxTimestamp = batch.readBigInt64BE(35);
    const records = await readRecords(batch);
    let bytes = 0;
    let n = 0;
    for (const r of records) {
      const offset = baseOffset + BigInt(r.offsetDelta);
      if (offset < fromOffset) continue;
      const s = messageSize(magic, r.key, r.value);
      if (total + bytes + s > maxBytes && count + n > 0) {
        full = true;
        break;
      }
      bytes += s;
      n++;
    }
    if (n === 0) {
      if (full) break;
      continue;
    }
    const codec = attributes & 0x07;
    const wrap = (codec === CompressionType.GZIP || codec === CompressionType.SNAPPY || codec === CompressionType.LZ4) && !(codec === CompressionType.LZ4 && magic === 0);
    const out = Buffer.allocUnsafe(bytes);
    let p = 0;
    let written = 0;
    let firstOffset = -1n;
    let lastWritten = -1n;
    let wrapperTimestamp = NO_TIMESTAMP;
    for (const r of records) {
      if (written === n) break;
      const offset = baseOffset + BigInt(r.offsetDelta);
      if (offset < fromOffset) continue;
      if (firstOffset < 0n) firstOffset = offset;
      lastWritten = offset;
      const timestamp = logAppendTime ? maxTimestamp : baseTimestamp + BigInt(r.timestampDelta);
      if (timestamp > wrapperTimestamp) wrapperTimestamp = timestamp;
      // Inside a magic 1 wrapper offsets are relative to its first message (Kafka's MemoryRecordsBuilder).
      p = writeMessage(out, p, magic, wrap && magic === 1 ? offset - firstOffset : offset, timestamp, logAppendTime, r.key, r.value);
      written++;
    }
    if (wrap) {
      // One wrapper message: the last inner offset, the largest timestamp (or the append time), the codec.
      const value = await compress(codec, out);
      const wrapper = Buffer.allocUnsafe(messageSize(magic, null, value));
      writeMessage(wrapper, 0, magic, lastWritten, wrapperTimestamp, logAppendTime, null, value, codec);
      parts.push(wrapper);
      total += wrapper.length;
    } else {
      parts.push(out);
      total += bytes;
    }
    count += n;
    if (full) break;
  }
  return { records: parts.length === 1 ? parts[0]! : Buffer.concat(parts, total), count };
}
