// Test builders for RecordBatch v2 bytes (CRC-valid unless asked otherwise) and legacy magic 0/1 message sets.
// Independent of src/protocol/record-batch.ts except for the compression codecs, so tests of that module are
// not checking it against itself.

import { crc32, crc32c } from '@node-rs/crc32';
import { compress } from '../../src/protocol/compression.ts';

export type Bytes = Buffer | string | null;

export interface RecordSpec {
  key?: Bytes;
  value?: Bytes;
  headers?: { key: string; value: Bytes }[];
  /** Default: the record's index (so timestamps increase by 1 ms per record). */
  timestampDelta?: number | bigint;
  /** Default: the record's index. */
  offsetDelta?: number;
}

export interface BatchSpec {
  records: RecordSpec[];
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  /** Default DEFAULT_BASE_TIMESTAMP. */
  baseTimestamp?: bigint;
  /** Default: baseTimestamp + the largest timestampDelta (what producers write). */
  maxTimestamp?: bigint;
  /** 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd; 5..7 only with `rawCompressedBody` or an empty record list. */
  compression?: number;
  /** Default -1 (no producer id), epoch -1, sequence -1, as a non-idempotent Java producer. */
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  control?: boolean;
  /** 0 CreateTime (default), 1 LogAppendTime. */
  timestampType?: 0 | 1;
  /** Extra attribute bits OR-ed in (e.g. 0x40 delete horizon). */
  extraAttributes?: number;
  /** Magic byte written at offset 16 (default 2); the rest stays v2 layout. */
  magic?: number;
  /** Overrides of header fields that are normally derived. */
  lastOffsetDelta?: number;
  recordsCount?: number;
  /** Use these bytes as the records section instead of encoding `records` (compression is then not applied). */
  rawRecordsSection?: Buffer;
  /** Flip the stored CRC so validation fails. */
  corruptCrc?: boolean;
}

export const DEFAULT_BASE_TIMESTAMP = 1_700_000_000_000n;

export async function buildRecordBatch(spec: BatchSpec): Promise<Buffer> {
  const compression = spec.compression ?? 0;
  const baseTimestamp = spec.baseTimestamp ?? DEFAULT_BASE_TIMESTAMP;
  let maxDelta = -1n;
  const encoded: Buffer[] = spec.records.map((r, i) => {
    const td = BigInt(r.timestampDelta ?? i);
    if (td > maxDelta) maxDelta = td;
    return encodeRecord(r, i);
  });
  const plain = spec.rawRecordsSection ?? Buffer.concat(encoded);
  const section =
    spec.rawRecordsSection !== undefined || compression === 0 ? plain : await compress(compression, plain);

  let attributes = compression & 0x07;
  if (spec.timestampType === 1) attributes |= 0x08;
  if (spec.transactional) attributes |= 0x10;
  if (spec.control) attributes |= 0x20;
  attributes |= spec.extraAttributes ?? 0;

  const header = Buffer.alloc(61);
  header.writeBigInt64BE(spec.baseOffset ?? 0n, 0);
  header.writeInt32BE(61 - 12 + section.length, 8);
  header.writeInt32BE(spec.partitionLeaderEpoch ?? -1, 12);
  header.writeInt8(spec.magic ?? 2, 16);
  header.writeInt16BE(attributes, 21);
  header.writeInt32BE(spec.lastOffsetDelta ?? spec.records.length - 1, 23);
  header.writeBigInt64BE(baseTimestamp, 27);
  header.writeBigInt64BE(spec.maxTimestamp ?? (maxDelta >= 0n ? baseTimestamp + maxDelta : -1n), 35);
  header.writeBigInt64BE(spec.producerId ?? -1n, 43);
  header.writeInt16BE(spec.producerEpoch ?? -1, 51);
  header.writeInt32BE(spec.baseSequence ?? -1, 53);
  header.writeInt32BE(spec.recordsCount ?? spec.records.length, 57);
  const batch = Buffer.concat([header, section]);
  let crc = crc32c(batch.subarray(21));
  if (spec.corruptCrc) crc = (crc ^ 0xffffffff) >>> 0;
  batch.writeUInt32BE(crc, 17);
  return batch;
}

/** A batch of one record per value (no key, no headers); `spec` sets the batch's other fields. */
export function batchOf(values: string | string[], spec: Omit<BatchSpec, 'records'> = {}): Promise<Buffer> {
  const list = typeof values === 'string' ? [values] : values;
  return buildRecordBatch({ ...spec, records: list.map((v) => ({ value: Buffer.from(v) })) });
}

/** Encodes one v2 record (length-prefixed). `index` supplies the default offset and timestamp deltas. */
export function encodeRecord(r: RecordSpec, index = 0): Buffer {
  const key = toBuf(r.key);
  const value = toBuf(r.value);
  const parts: Buffer[] = [
    Buffer.from([0]), // attributes
    zigzagVarlong(BigInt(r.timestampDelta ?? index)),
    zigzagVarint(r.offsetDelta ?? index),
    lengthPrefixed(key),
    lengthPrefixed(value),
  ];
  const headers = r.headers ?? [];
  parts.push(zigzagVarint(headers.length));
  for (const h of headers) {
    parts.push(lengthPrefixed(Buffer.from(h.key, 'utf8')), lengthPrefixed(toBuf(h.value)));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([zigzagVarint(body.length), body]);
}

/** A copy of `buf` with the byte at `offset` XOR-ed with `mask`. */
export function flipByte(buf: Buffer, offset: number, mask = 0xff): Buffer {
  const copy = Buffer.from(buf);
  copy[offset] = copy[offset]! ^ mask;
  return copy;
}

/** A copy of `batch` with its CRC recomputed (after a test edited the covered bytes). */
export function fixCrc(batch: Buffer): Buffer {
  const copy = Buffer.from(batch);
  copy.writeUInt32BE(crc32c(copy.subarray(21)), 17);
  return copy;
}

export interface LegacyMessage {
  key?: Bytes;
  value?: Bytes;
  /** Magic 1 only; default DEFAULT_BASE_TIMESTAMP. */
  timestamp?: bigint;
  offset?: bigint;
}

/**
 * A magic 0 or 1 message set (uncompressed): per message offset int64, size int32, crc uint32 (CRC-32 over
 * magic..end), magic int8, attributes int8, [timestamp int64 for magic 1], key int32-bytes, value int32-bytes.
 * The size field sits at offset 8 and magic at 16, as in v2.
 */
export function buildLegacyMessageSet(magic: 0 | 1, messages: LegacyMessage[] = [{ value: 'legacy' }]): Buffer {
  const out: Buffer[] = [];
  messages.forEach((m, i) => {
    const key = toBuf(m.key);
    const value = toBuf(m.value ?? null);
    const bodyLen = 1 + 1 + (magic === 1 ? 8 : 0) + 4 + (key?.length ?? 0) + 4 + (value?.length ?? 0);
    const msg = Buffer.alloc(12 + 4 + bodyLen);
    msg.writeBigInt64BE(m.offset ?? BigInt(i), 0);
    msg.writeInt32BE(4 + bodyLen, 8);
    let p = 16;
    msg.writeInt8(magic, p++);
    msg.writeInt8(0, p++);
    if (magic === 1) {
      msg.writeBigInt64BE(m.timestamp ?? DEFAULT_BASE_TIMESTAMP, p);
      p += 8;
    }
    for (const b of [key, value]) {
      if (b === null) {
        msg.writeInt32BE(-1, p);
        p += 4;
      } else {
        msg.writeInt32BE(b.length, p);
        p += 4;
        b.copy(msg, p);
        p += b.length;
      }
    }
    msg.writeUInt32BE(crc32(msg.subarray(16)), 12);
    out.push(msg);
  });
  return Buffer.concat(out);
}

function toBuf(b: Bytes | undefined): Buffer | null {
  if (b === undefined || b === null) return null;
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

function lengthPrefixed(b: Buffer | null): Buffer {
  return b === null ? zigzagVarint(-1) : Buffer.concat([zigzagVarint(b.length), b]);
}

export function zigzagVarint(n: number): Buffer {
  return unsignedVarlong(BigInt(((n << 1) ^ (n >> 31)) >>> 0));
}

export function zigzagVarlong(n: bigint): Buffer {
  return unsignedVarlong(BigInt.asUintN(64, (n << 1n) ^ (n >> 63n)));
}

function unsignedVarlong(v: bigint): Buffer {
  const bytes: number[] = [];
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes);
}
