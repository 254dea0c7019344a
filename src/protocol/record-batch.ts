// RecordBatch v2 (magic 2): header view, produce-side validation, in-place patching.
//
// Record batches stay opaque bytes end to end (DESIGN.md "Produce path" / "Fetch path"): this module
// reads and patches the 61-byte header and, for uncompressed batches, walks the records with varint
// reads only. It never decompresses (see compression.ts / records.ts for that) and never copies
// record data.
//
// Layout (shared/kafka-protocol/README.md "RecordBatch v2", DefaultRecordBatch.java at 4.1.1):
//   0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8
//   17 crc uint32 (CRC-32C of bytes 21..end) | 21 attributes int16 | 23 lastOffsetDelta int32
//   27 baseTimestamp int64 | 35 maxTimestamp int64 | 43 producerId int64 | 51 producerEpoch int16
//   53 baseSequence int32 | 57 recordsCount int32 | 61 records
//
// Error choices (codes from gen/errors.ts; checked against Kafka 4.x: ProduceRequest.validateRecords,
// KafkaApis.handleProduceRequest, ByteBufferLogInputStream.nextBatchSize, UnifiedLog.analyzeAndValidateRecords,
// LogValidator, DefaultRecordBatch/DefaultRecord):
//   - no batch at all in a partition's `records`          → INVALID_RECORD (87)  (Kafka: same)
//   - magic 0/1 (legacy message set) at produce v3+       → INVALID_RECORD (87)  (Kafka: same, "only allowed to
//     contain record batches with magic version 2"; Produce v0-2 convert them up before these checks)
//   - magic outside 0..2                                   → CORRUPT_MESSAGE (2)  (Kafka: "Invalid magic found")
//   - batchLength < 49 (size < 61)                         → CORRUPT_MESSAGE (2)  (Kafka: ensureValid)
//   - length pointing past the end / trailing partial batch → CORRUPT_MESSAGE (2). Kafka is laxer here: its
//     batch iterator stops at a partial batch and UnifiedLog trims the trailing bytes silently; with no complete
//     batch at all it answers INVALID_RECORD. Floe refuses bytes it cannot account for.
//   - more than one batch for a partition (produce v3+)    → INVALID_RECORD (87)  (Kafka: same)
//   - ZSTD with produce version < 7                        → UNSUPPORTED_COMPRESSION_TYPE (76) (Kafka: same)
//   - baseOffset != 0 from a client                        → INVALID_RECORD (87)  (Kafka: same)
//   - batch size > max.message.bytes                       → MESSAGE_TOO_LARGE (10) (Kafka: RecordTooLargeException)
//   - CRC mismatch                                         → CORRUPT_MESSAGE (2)
//   - compression id 5..7                                  → UNSUPPORTED_COMPRESSION_TYPE (76). Kafka throws a bare
//     IllegalArgumentException from CompressionType.forId, which becomes UNKNOWN_SERVER_ERROR (-1); 76 says what
//     is wrong and is not retriable.
//   - recordsCount < 1, lastOffsetDelta < 0, lastOffsetDelta != recordsCount - 1 → INVALID_RECORD (87) (Kafka: same)
//   - control batch from a client                          → INVALID_RECORD (87)  (Kafka: same)
//   - producerId >= 0 with baseSequence < 0                → INVALID_RECORD (87)  (Kafka: same)
//   - record structure (length overruns, bad varints, negative header key size, bytes left over, too few
//     records)                                             → INVALID_RECORD (87)  (Kafka: InvalidRecordException
//     from DefaultRecord.readFrom / the batch iterator). CORRUPT_MESSAGE is retriable, and a batch whose CRC
//     matched but whose records do not parse was built wrong: retrying it cannot help.
//   - offsetDelta of record i != i                         → INVALID_RECORD (87). Stricter than Kafka, which does not
//     look at v2 offset deltas on the uncompressed path; Floe serves the producer's bytes as they are, so a
//     wrong delta would be a wrong offset for consumers. Every real client writes 0, 1, 2, ….
//
// Compressed batches are not decompressed on produce: that would put decompression CPU (and a buffer the
// size of the uncompressed records) on the hot path of every produce, while Floe never rewrites the records
// anyway. The header checks above and the CRC still apply; clients that compress build their own records.
// (Kafka does decompress on produce; `validateRecordsDeep` in records.ts is there for an opt-in full check.)
//
// Left to the produce handler (Kafka does them in LogValidator, they need topic config or the clock):
// timestamps against message.timestamp.{before,after}.max.ms → INVALID_TIMESTAMP (32), per record in Kafka, from
// the header (baseTimestamp/maxTimestamp) here; a client batch already flagged LogAppendTime → INVALID_TIMESTAMP;
// transactional batches while transactions are unsupported. Kafka also overwrites maxTimestamp with the true
// maximum of the records (CreateTime) and sets partitionLeaderEpoch on append; Floe keeps the producer's
// maxTimestamp and can set the epoch on fetch (withPatchedHeader's 4th argument).

import { crc32c } from '@node-rs/crc32';
import { ErrorCode } from './gen/errors.ts';

// ---- header layout ---------------------------------------------------------------------------------

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORDS_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;

/** First byte covered by the CRC (attributes). */
export const CRC_START = ATTRIBUTES_OFFSET;
/** baseOffset + batchLength: the bytes not counted in batchLength. */
export const LOG_OVERHEAD = 12;
/** Size of the v2 header; the smallest valid batch (zero records, which validation then refuses). */
export const RECORD_BATCH_OVERHEAD = 61;
/** Smallest batchLength of a v2 batch (RECORD_BATCH_OVERHEAD - LOG_OVERHEAD). */
export const MIN_BATCH_LENGTH = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD;
/** Bytes needed to read up to and including the magic byte (same position for magic 0, 1 and 2). */
export const HEADER_SIZE_UP_TO_MAGIC = MAGIC_OFFSET + 1;

export const MAGIC_V2 = 2;
/** Smallest length field of any message format (a magic 0 message), Kafka's LegacyRecord.RECORD_OVERHEAD_V0. */
export const LEGACY_RECORD_OVERHEAD_V0 = 14;

export const COMPRESSION_CODEC_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_FLAG_MASK = 0x10;
export const CONTROL_FLAG_MASK = 0x20;
export const DELETE_HORIZON_FLAG_MASK = 0x40;

/** Compression codec ids (attributes bits 0–2), as Kafka's CompressionType. */
export const CompressionType = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const;
export type CompressionTypeId = (typeof CompressionType)[keyof typeof CompressionType];

/** Timestamp type (attributes bit 3), as Kafka's TimestampType. */
export const TimestampType = { CREATE_TIME: 0, LOG_APPEND_TIME: 1 } as const;

export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_TIMESTAMP = -1n;
export const NO_PARTITION_LEADER_EPOCH = -1;

export interface BatchHeader {
  baseOffset: bigint;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

export interface BatchError {
  errorCode: number;
  message: string;
  /** For record-level failures: index of the offending record in the batch (Produce v8+ RecordErrors.BatchIndex). */
  recordIndex?: number;
}

/** Reads the 61-byte header. The caller has checked the size (splitBatches does). */
export function readBatchHeader(batch: Buffer): BatchHeader {
  return {
    baseOffset: batch.readBigInt64BE(BASE_OFFSET_OFFSET),
    batchLength: batch.readInt32BE(BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: batch.readInt32BE(PARTITION_LEADER_EPOCH_OFFSET),
    magic: batch.readInt8(MAGIC_OFFSET),
    crc: batch.readUInt32BE(CRC_OFFSET),
    attributes: batch.readInt16BE(ATTRIBUTES_OFFSET),
    lastOffsetDelta: batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: batch.readBigInt64BE(BASE_TIMESTAMP_OFFSET),
    maxTimestamp: batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET),
    producerId: batch.readBigInt64BE(PRODUCER_ID_OFFSET),
    producerEpoch: batch.readInt16BE(PRODUCER_EPOCH_OFFSET),
    baseSequence: batch.readInt32BE(BASE_SEQUENCE_OFFSET),
    recordsCount: batch.readInt32BE(RECORDS_COUNT_OFFSET),
  };
}

export function compressionOf(attributes: number): number {
  return attributes & COMPRESSION_CODEC_MASK;
}
export function timestampTypeOf(attributes: number): 0 | 1 {
  return (attributes & TIMESTAMP_TYPE_MASK) !== 0 ? 1 : 0;
}
export function isTransactional(attributes: number): boolean {
  return (attributes & TRANSACTIONAL_FLAG_MASK) !== 0;
}
export function isControl(attributes: number): boolean {
  return (attributes & CONTROL_FLAG_MASK) !== 0;
}
export function hasDeleteHorizon(attributes: number): boolean {
  return (attributes & DELETE_HORIZON_FLAG_MASK) !== 0;
}

/** Total size of the batch starting at `pos` according to its length field (batchLength + 12). */
export function batchSizeAt(buf: Buffer, pos = 0): number {
  return buf.readInt32BE(pos + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
}

/** CRC-32C the batch should carry: over attributes .. end. */
export function computeCrc(batch: Buffer): number {
  return crc32c(batch.subarray(CRC_START));
}

// ---- splitting a `records` field ----------------------------------------------------------------------

/**
 * Walks the concatenated batches of a `records` field. Each batch is a `subarray` view (no copy).
 * Checks framing only (lengths, magic); `validateBatch` checks the contents.
 */
export function splitBatches(records: Buffer): { batches: Buffer[] } | BatchError {
  const batches: Buffer[] = [];
  const end = records.length;
  let pos = 0;
  while (pos < end) {
    const remaining = end - pos;
    if (remaining < HEADER_SIZE_UP_TO_MAGIC) {
      return err(ErrorCode.CORRUPT_MESSAGE, `Partial record batch: ${remaining} trailing bytes at position ${pos}`);
    }
    const batchLength = records.readInt32BE(pos + BATCH_LENGTH_OFFSET);
    if (batchLength < LEGACY_RECORD_OVERHEAD_V0) {
      // Kafka checks this before the magic byte (ByteBufferLogInputStream.nextBatchSize).
      return err(
        ErrorCode.CORRUPT_MESSAGE,
        `Record size ${batchLength} is less than the minimum record overhead (${LEGACY_RECORD_OVERHEAD_V0})`,
      );
    }
    const magic = records.readInt8(pos + MAGIC_OFFSET);
    if (magic !== MAGIC_V2) {
      if (magic === 0 || magic === 1) {
        return err(
          ErrorCode.INVALID_RECORD,
          `Produce requests are only allowed to contain record batches with magic version 2 (found magic ${magic})`,
        );
      }
      return err(ErrorCode.CORRUPT_MESSAGE, `Invalid magic found in record batch at position ${pos}: ${magic}`);
    }
    if (batchLength < MIN_BATCH_LENGTH) {
      return err(
        ErrorCode.CORRUPT_MESSAGE,
        `Record batch is corrupt (batch length ${batchLength} is smaller than the minimum ${MIN_BATCH_LENGTH})`,
      );
    }
    const size = batchLength + LOG_OVERHEAD;
    if (size > remaining) {
      return err(
        ErrorCode.CORRUPT_MESSAGE,
        `Record batch at position ${pos} claims ${size} bytes but only ${remaining} remain`,
      );
    }
    batches.push(records.subarray(pos, pos + size));
    pos += size;
  }
  if (batches.length === 0) {
    return err(ErrorCode.INVALID_RECORD, 'Produce requests must have at least one record batch per partition');
  }
  return { batches };
}

/**
 * Kafka's ProduceRequest.validateRecords (produce v3+) on top of splitBatches: exactly one v2 batch per
 * partition, and no ZSTD before produce v7. `null` records (nullable field) count as no batch.
 */
export function validateProduceRecords(records: Buffer | null, apiVersion: number): { batch: Buffer } | BatchError {
  if (records === null || records.length === 0) {
    return err(
      ErrorCode.INVALID_RECORD,
      `Produce requests with version ${apiVersion} must have at least one record batch per partition`,
    );
  }
  const split = splitBatches(records);
  if ('errorCode' in split) return split;
  const batch = split.batches[0]!;
  if (apiVersion < 7 && compressionOf(batch.readInt16BE(ATTRIBUTES_OFFSET)) === CompressionType.ZSTD) {
    return err(
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
      `Produce requests with version ${apiVersion} are not allowed to use ZStandard compression`,
    );
  }
  if (split.batches.length > 1) {
    return err(
      ErrorCode.INVALID_RECORD,
      `Produce requests with version ${apiVersion} are only allowed to contain exactly one record batch per partition`,
    );
  }
  return { batch };
}

// ---- validating one batch ---------------------------------------------------------------------------

export interface ValidateBatchOptions {
  /** Topic `max.message.bytes`; compared with the whole batch size (batchLength + 12), as Kafka does. */
  maxMessageBytes: number;
  /** Compacted topic: every record needs a key (checked on uncompressed batches only). */
  requireKeys?: boolean;
}

/**
 * Validates one batch as produced by a client (origin CLIENT in Kafka's terms). `batch` is exactly one
 * batch (as returned by splitBatches). Returns null when valid. Allocation-free unless it fails.
 */
export function validateBatch(batch: Buffer, opts: ValidateBatchOptions): BatchError | null {
  const size = batch.length;
  if (size < RECORD_BATCH_OVERHEAD) {
    return err(
      ErrorCode.CORRUPT_MESSAGE,
      `Record batch is corrupt (the size ${size} is smaller than the minimum allowed overhead ${RECORD_BATCH_OVERHEAD})`,
    );
  }
  if (batch.readInt32BE(BATCH_LENGTH_OFFSET) + LOG_OVERHEAD !== size) {
    return err(
      ErrorCode.CORRUPT_MESSAGE,
      `Record batch length field ${batch.readInt32BE(BATCH_LENGTH_OFFSET)} does not match its size ${size}`,
    );
  }
  const magic = batch[MAGIC_OFFSET]!;
  if (magic !== MAGIC_V2) {
    return err(
      magic === 0 || magic === 1 ? ErrorCode.INVALID_RECORD : ErrorCode.CORRUPT_MESSAGE,
      `Only record batches with magic version 2 are accepted (found magic ${magic})`,
    );
  }
  // Kafka order: base offset, size, CRC, compression id, counts, control, sequence, records.
  if (batch.readInt32BE(BASE_OFFSET_OFFSET) !== 0 || batch.readInt32BE(BASE_OFFSET_OFFSET + 4) !== 0) {
    return err(
      ErrorCode.INVALID_RECORD,
      `The baseOffset of the record batch should be 0, but it is ${batch.readBigInt64BE(BASE_OFFSET_OFFSET)}`,
    );
  }
  if (size > opts.maxMessageBytes) {
    return err(
      ErrorCode.MESSAGE_TOO_LARGE,
      `The record batch size is ${size} bytes which exceeds the maximum configured value of ${opts.maxMessageBytes}.`,
    );
  }
  const storedCrc = batch.readUInt32BE(CRC_OFFSET);
  const crc = crc32c(batch.subarray(CRC_START));
  if (crc !== storedCrc) {
    return err(ErrorCode.CORRUPT_MESSAGE, `Record is corrupt (stored crc = ${storedCrc}, computed crc = ${crc})`);
  }
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  const codec = attributes & COMPRESSION_CODEC_MASK;
  if (codec > CompressionType.ZSTD) {
    return err(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `Unknown compression type id: ${codec}`);
  }
  const lastOffsetDelta = batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
  const count = batch.readInt32BE(RECORDS_COUNT_OFFSET);
  if (lastOffsetDelta < 0) {
    return err(ErrorCode.INVALID_RECORD, `Batch has an invalid offset range: lastOffsetDelta ${lastOffsetDelta}`);
  }
  if (count <= 0) {
    return err(ErrorCode.INVALID_RECORD, `Invalid reported count for record batch: ${count}`);
  }
  if (lastOffsetDelta !== count - 1) {
    return err(
      ErrorCode.INVALID_RECORD,
      `Inconsistent batch offset range [0, ${lastOffsetDelta}] and count of records ${count}`,
    );
  }
  if ((attributes & CONTROL_FLAG_MASK) !== 0) {
    return err(ErrorCode.INVALID_RECORD, 'Clients are not allowed to write control records');
  }
  if (batch.readInt32BE(PRODUCER_ID_OFFSET) >= 0 && batch.readInt32BE(BASE_SEQUENCE_OFFSET) < 0) {
    // producerId >= 0 ⇔ its high 32 bits are non-negative (NO_PRODUCER_ID is -1).
    return err(
      ErrorCode.INVALID_RECORD,
      `Invalid sequence number ${batch.readInt32BE(BASE_SEQUENCE_OFFSET)} in record batch with producerId ${batch.readBigInt64BE(PRODUCER_ID_OFFSET)}`,
    );
  }
  if (codec === CompressionType.NONE) {
    return checkRecords(batch, RECORDS_OFFSET, size, count, opts.requireKeys === true);
  }
  return null;
}

// ---- record walking (varints only, no allocation) ----------------------------------------------------

/** Position after the last readVarint / skipVarlong call; -1 when the varint was malformed or truncated. */
let varintEnd = 0;

/** Zig-zag varint (Kafka ByteUtils.readVarint: at most 5 bytes). Sets `varintEnd`; -1 on failure. */
function readVarint(buf: Buffer, pos: number, end: number): number {
  let raw = 0;
  let shift = 0;
  while (true) {
    if (pos >= end || shift > 28) {
      varintEnd = -1;
      return 0;
    }
    const b = buf[pos++]!;
    raw |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  varintEnd = pos;
  return (raw >>> 1) ^ -(raw & 1);
}

/** Skips a zig-zag varlong (at most 10 bytes). Sets `varintEnd`; -1 on failure. */
function skipVarlong(buf: Buffer, pos: number, end: number): void {
  const limit = Math.min(end, pos + 10);
  while (pos < limit) {
    if ((buf[pos++]! & 0x80) === 0) {
      varintEnd = pos;
      return;
    }
  }
  varintEnd = -1;
}

/**
 * Walks `count` uncompressed records in `buf[start, end)` the way DefaultRecord.readFrom does, and also
 * requires offsetDelta i for record i. Returns null when all is well. Exported for records.ts (deep
 * validation of a decompressed body).
 */
export function checkRecords(
  buf: Buffer,
  start: number,
  end: number,
  count: number,
  requireKeys: boolean,
): BatchError | null {
  let pos = start;
  for (let i = 0; i < count; i++) {
    const bodySize = readVarint(buf, pos, end);
    if (varintEnd < 0) return recordErr(i, 'premature end of batch or malformed length');
    pos = varintEnd;
    if (bodySize < 0 || bodySize > end - pos) {
      return recordErr(i, `invalid record size ${bodySize} with ${end - pos} bytes remaining`);
    }
    const recordEnd = pos + bodySize;
    pos += 1; // attributes (unused)
    skipVarlong(buf, pos, recordEnd); // timestampDelta
    if (varintEnd < 0) return recordErr(i, 'malformed timestampDelta');
    const offsetDelta = readVarint(buf, varintEnd, recordEnd);
    if (varintEnd < 0) return recordErr(i, 'malformed offsetDelta');
    if (offsetDelta !== i) return recordErr(i, `offsetDelta ${offsetDelta}, expected ${i}`);
    const keySize = readVarint(buf, varintEnd, recordEnd);
    if (varintEnd < 0 || keySize < -1 || keySize > recordEnd - varintEnd) return recordErr(i, 'invalid key length');
    if (keySize < 0 && requireKeys) return recordErr(i, 'compacted topic cannot accept a record without a key');
    pos = varintEnd + (keySize > 0 ? keySize : 0);
    const valueSize = readVarint(buf, pos, recordEnd);
    if (varintEnd < 0 || valueSize < -1 || valueSize > recordEnd - varintEnd)
      return recordErr(i, 'invalid value length');
    pos = varintEnd + (valueSize > 0 ? valueSize : 0);
    const headerCount = readVarint(buf, pos, recordEnd);
    if (varintEnd < 0 || headerCount < 0 || headerCount > recordEnd - varintEnd) {
      return recordErr(i, 'invalid number of record headers');
    }
    pos = varintEnd;
    for (let h = 0; h < headerCount; h++) {
      const hk = readVarint(buf, pos, recordEnd);
      if (varintEnd < 0 || hk < 0 || hk > recordEnd - varintEnd) return recordErr(i, 'invalid header key length');
      pos = varintEnd + hk;
      const hv = readVarint(buf, pos, recordEnd);
      if (varintEnd < 0 || hv < -1 || hv > recordEnd - varintEnd) return recordErr(i, 'invalid header value length');
      pos = varintEnd + (hv > 0 ? hv : 0);
    }
    if (pos !== recordEnd) {
      return recordErr(i, `record size ${bodySize} does not match its fields (${pos - (recordEnd - bodySize)} bytes)`);
    }
  }
  if (pos !== end) {
    return err(
      ErrorCode.INVALID_RECORD,
      `Incorrect declared batch size, ${end - pos} bytes remaining after ${count} records`,
    );
  }
  return null;
}

function recordErr(index: number, what: string): BatchError {
  return {
    errorCode: ErrorCode.INVALID_RECORD,
    message: `Found invalid record structure in record ${index}: ${what}`,
    recordIndex: index,
  };
}

function err(errorCode: number, message: string): BatchError {
  return { errorCode, message };
}

// ---- control batches -----------------------------------------------------------------------------------

/** A transaction marker's control type (the control record's key): Kafka's ControlRecordType. */
export const ControlType = { ABORT: 0, COMMIT: 1 } as const;

/**
 * The control batch that ends a producer's transaction in a partition (Kafka's EndTransactionMarker): one
 * record, key (version 0, type), value (version 0, coordinator epoch), attributes transactional + control, no
 * sequence. Its base offset is 0: storage patches the assigned offset in as for any batch.
 */
export function controlBatch(producerId: bigint, producerEpoch: number, type: number, coordinatorEpoch: number, timestamp: bigint): Buffer {
  const record = Buffer.from([
    0x20, // record length 16 (zigzag varint)
    0x00, // attributes
    0x00, // timestamp delta 0
    0x00, // offset delta 0
    0x08, // key length 4
    0x00, 0x00, (type >> 8) & 0xff, type & 0xff, // key: version 0, type
    0x0c, // value length 6
    0x00, 0x00, // value: version 0
    (coordinatorEpoch >>> 24) & 0xff, (coordinatorEpoch >>> 16) & 0xff, (coordinatorEpoch >>> 8) & 0xff, coordinatorEpoch & 0xff,
    0x00, // no headers
  ]);
  const batch = Buffer.alloc(RECORD_BATCH_OVERHEAD + record.length);
  batch.writeBigInt64BE(0n, BASE_OFFSET_OFFSET);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(0, PARTITION_LEADER_EPOCH_OFFSET);
  batch.writeInt8(MAGIC_V2, MAGIC_OFFSET);
  batch.writeInt16BE(TRANSACTIONAL_FLAG_MASK | CONTROL_FLAG_MASK, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(0, LAST_OFFSET_DELTA_OFFSET);
  batch.writeBigInt64BE(timestamp, BASE_TIMESTAMP_OFFSET);
  batch.writeBigInt64BE(timestamp, MAX_TIMESTAMP_OFFSET);
  batch.writeBigInt64BE(producerId, PRODUCER_ID_OFFSET);
  batch.writeInt16BE(producerEpoch, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(NO_SEQUENCE, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(1, RECORDS_COUNT_OFFSET);
  record.copy(batch, RECORD_BATCH_OVERHEAD);
  batch.writeUInt32BE(computeCrc(batch), CRC_OFFSET);
  return batch;
}

// ---- patching ------------------------------------------------------------------------------------------
// These mutate the buffer they are given. On fetch the batch usually sits in a shared cache: use
// withPatchedHeader there, which copies only the 61-byte header.

/** Sets baseOffset. Outside the CRC: nothing else changes. */
export function patchBaseOffset(batch: Buffer, offset: bigint): void {
  batch.writeBigInt64BE(offset, BASE_OFFSET_OFFSET);
}

/** Sets partitionLeaderEpoch. Outside the CRC: nothing else changes. */
export function patchPartitionLeaderEpoch(batch: Buffer, epoch: number): void {
  batch.writeInt32BE(epoch, PARTITION_LEADER_EPOCH_OFFSET);
}

/**
 * Marks the batch LogAppendTime with maxTimestamp := appendTime and recomputes the CRC (both fields are
 * inside it), as Kafka's DefaultRecordBatch.setMaxTimestamp. No-op when already so. Consumers then give
 * every record of the batch the timestamp maxTimestamp; baseTimestamp and the deltas stay as sent.
 */
export function patchLogAppendTime(batch: Buffer, appendTime: bigint): void {
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  if ((attributes & TIMESTAMP_TYPE_MASK) !== 0 && batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET) === appendTime) return;
  batch.writeInt16BE(attributes | TIMESTAMP_TYPE_MASK, ATTRIBUTES_OFFSET);
  batch.writeBigInt64BE(appendTime, MAX_TIMESTAMP_OFFSET);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START)), CRC_OFFSET);
}

/**
 * For fetch: returns `[header, body]` where header is a fresh 61-byte copy with baseOffset (and, when
 * given, LogAppendTime + maxTimestamp and the partition leader epoch) patched, and body is
 * `batch.subarray(61)` — record data is not copied and `batch` is not modified. With a LogAppendTime
 * patch the CRC is recomputed by chaining: crc32c(body, crc32c(header[21..61])).
 */
export function withPatchedHeader(
  batch: Buffer,
  baseOffset: bigint,
  appendTime: bigint | null,
  partitionLeaderEpoch?: number,
): Buffer[] {
  const header = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD);
  batch.copy(header, 0, 0, RECORD_BATCH_OVERHEAD);
  const body = batch.subarray(RECORD_BATCH_OVERHEAD);
  header.writeBigInt64BE(baseOffset, BASE_OFFSET_OFFSET);
  if (partitionLeaderEpoch !== undefined) header.writeInt32BE(partitionLeaderEpoch, PARTITION_LEADER_EPOCH_OFFSET);
  if (appendTime !== null) {
    const attributes = header.readInt16BE(ATTRIBUTES_OFFSET);
    if ((attributes & TIMESTAMP_TYPE_MASK) === 0 || header.readBigInt64BE(MAX_TIMESTAMP_OFFSET) !== appendTime) {
      header.writeInt16BE(attributes | TIMESTAMP_TYPE_MASK, ATTRIBUTES_OFFSET);
      header.writeBigInt64BE(appendTime, MAX_TIMESTAMP_OFFSET);
      header.writeUInt32BE(crc32c(body, crc32c(header.subarray(CRC_START))), CRC_OFFSET);
    }
  }
  return [header, body];
}
