import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { crc32c } from '@node-rs/crc32';
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  CompressionType,
  LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  RECORDS_OFFSET,
  RECORD_BATCH_OVERHEAD,
  TimestampType,
  compressionOf,
  computeCrc,
  isControl,
  isTransactional,
  patchBaseOffset,
  patchLogAppendTime,
  patchPartitionLeaderEpoch,
  readBatchHeader,
  splitBatches,
  timestampTypeOf,
  validateBatch,
  validateProduceRecords,
  withPatchedHeader,
  type BatchError,
} from '../../src/protocol/record-batch.ts';
import {
  DEFAULT_BASE_TIMESTAMP,
  buildLegacyMessageSet,
  buildRecordBatch,
  encodeRecord,
  fixCrc,
  flipByte,
  zigzagVarint,
  type RecordSpec,
} from '../helpers/record-batch.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

const require = createRequire(import.meta.url);

const { CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, UNSUPPORTED_COMPRESSION_TYPE, INVALID_RECORD } = ErrorCode;

const OPTS = { maxMessageBytes: 1_048_588 };

const sample: RecordSpec[] = [
  { key: 'k0', value: 'v0', headers: [{ key: 'h', value: 'x' }] },
  { key: null, value: 'v1' },
  {
    key: 'k2',
    value: null,
    headers: [
      { key: 'ü-key', value: null },
      { key: 'h2', value: Buffer.alloc(300, 7) },
    ],
  },
];

function errorCode(r: { batches: Buffer[] } | { batch: Buffer } | BatchError | null): number | null {
  if (r === null) return null;
  return 'errorCode' in r ? r.errorCode : 0;
}

test('CRC-32C test vector and chaining with the initial argument', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  const all = Buffer.from('attributes..header..body bytes of a batch');
  for (const cut of [0, 1, 17, all.length]) {
    assert.equal(crc32c(all.subarray(cut), crc32c(all.subarray(0, cut))), crc32c(all));
  }
});

test('readBatchHeader and attribute helpers', async () => {
  const batch = await buildRecordBatch({
    records: sample,
    baseOffset: 0n,
    partitionLeaderEpoch: 7,
    producerId: 1234567890123n,
    producerEpoch: 3,
    baseSequence: 42,
    compression: CompressionType.LZ4,
    transactional: true,
  });
  const h = readBatchHeader(batch);
  assert.equal(h.baseOffset, 0n);
  assert.equal(h.batchLength, batch.length - 12);
  assert.equal(h.partitionLeaderEpoch, 7);
  assert.equal(h.magic, 2);
  assert.equal(h.crc, computeCrc(batch));
  assert.equal(h.lastOffsetDelta, 2);
  assert.equal(h.baseTimestamp, DEFAULT_BASE_TIMESTAMP);
  assert.equal(h.maxTimestamp, DEFAULT_BASE_TIMESTAMP + 2n);
  assert.equal(h.producerId, 1234567890123n);
  assert.equal(h.producerEpoch, 3);
  assert.equal(h.baseSequence, 42);
  assert.equal(h.recordsCount, 3);
  assert.equal(compressionOf(h.attributes), CompressionType.LZ4);
  assert.equal(isTransactional(h.attributes), true);
  assert.equal(isControl(h.attributes), false);
  assert.equal(timestampTypeOf(h.attributes), TimestampType.CREATE_TIME);
  assert.equal(timestampTypeOf(0x08 | 0x20), TimestampType.LOG_APPEND_TIME);
  assert.equal(isControl(0x20), true);
});

// ---- splitBatches ---------------------------------------------------------------------------------------

test('splitBatches returns views of each batch without copying', async () => {
  const a = await buildRecordBatch({ records: sample });
  const b = await buildRecordBatch({ records: [{ value: 'second' }], compression: CompressionType.GZIP });
  const records = Buffer.concat([a, b, a]);
  const r = splitBatches(records);
  assert.ok('batches' in r);
  assert.equal(r.batches.length, 3);
  assert.ok(r.batches[0]!.equals(a) && r.batches[1]!.equals(b) && r.batches[2]!.equals(a));
  assert.equal(r.batches[1]!.buffer, records.buffer);
  assert.equal(r.batches[1]!.byteOffset, records.byteOffset + a.length);
  records[a.length + 30] = records[a.length + 30]! ^ 1;
  assert.equal(r.batches[1]![30], records[a.length + 30]); // shares memory
});

test('splitBatches: framing errors', async () => {
  const a = await buildRecordBatch({ records: sample });
  // empty records field: no batch at all
  assert.equal(errorCode(splitBatches(Buffer.alloc(0))), INVALID_RECORD);
  // trailing bytes shorter than the header up to magic
  assert.equal(errorCode(splitBatches(Buffer.concat([a, Buffer.alloc(5)]))), CORRUPT_MESSAGE);
  assert.equal(errorCode(splitBatches(a.subarray(0, 10))), CORRUPT_MESSAGE);
  // truncated batch (length points past the end), alone and after a good one
  assert.equal(errorCode(splitBatches(a.subarray(0, a.length - 1))), CORRUPT_MESSAGE);
  assert.equal(errorCode(splitBatches(Buffer.concat([a, a.subarray(0, 40)]))), CORRUPT_MESSAGE);
  // batchLength below the v2 minimum (49), and below any format's minimum (14)
  for (const len of [48, 20, 13, 0, -1]) {
    const bad = Buffer.from(a);
    bad.writeInt32BE(len, BATCH_LENGTH_OFFSET);
    assert.equal(errorCode(splitBatches(bad)), CORRUPT_MESSAGE, `batchLength ${len}`);
  }
  // magic outside 0..2
  for (const magic of [3, -1, 0x7f]) {
    assert.equal(errorCode(splitBatches(await buildRecordBatch({ records: sample, magic }))), CORRUPT_MESSAGE);
  }
});

test('splitBatches: magic 0 and 1 message sets are refused with INVALID_RECORD, as Kafka', () => {
  for (const magic of [0, 1] as const) {
    const set = buildLegacyMessageSet(magic, [{ key: 'k', value: 'v' }, { value: 'w' }]);
    assert.equal(set[16], magic);
    const r = splitBatches(set);
    assert.equal(errorCode(r), ErrorCode.INVALID_RECORD);
    assert.match((r as BatchError).message, /magic/);
  }
});

test('validateProduceRecords: exactly one batch; no zstd before v7; null records', async () => {
  const a = await buildRecordBatch({ records: sample });
  const z = await buildRecordBatch({ records: sample, compression: CompressionType.ZSTD });
  const one = validateProduceRecords(a, 9);
  assert.ok('batch' in one && one.batch.equals(a));
  assert.equal(errorCode(validateProduceRecords(Buffer.concat([a, a]), 9)), INVALID_RECORD);
  assert.equal(errorCode(validateProduceRecords(null, 9)), INVALID_RECORD);
  assert.equal(errorCode(validateProduceRecords(Buffer.alloc(0), 3)), INVALID_RECORD);
  assert.equal(errorCode(validateProduceRecords(z, 6)), UNSUPPORTED_COMPRESSION_TYPE);
  assert.equal(errorCode(validateProduceRecords(z, 7)), 0);
  assert.equal(errorCode(validateProduceRecords(buildLegacyMessageSet(1), 3)), ErrorCode.INVALID_RECORD);
});

// ---- validateBatch -------------------------------------------------------------------------------------

test('validateBatch accepts well-formed batches for every codec, transactional and idempotent ones', async () => {
  for (const compression of [0, 1, 2, 3, 4]) {
    assert.equal(
      validateBatch(await buildRecordBatch({ records: sample, compression }), OPTS),
      null,
      `codec ${compression}`,
    );
  }
  const idempotent = await buildRecordBatch({ records: sample, producerId: 5n, producerEpoch: 0, baseSequence: 0 });
  assert.equal(validateBatch(idempotent, OPTS), null);
  const txn = await buildRecordBatch({
    records: sample,
    producerId: 5n,
    producerEpoch: 0,
    baseSequence: 3,
    transactional: true,
  });
  assert.equal(validateBatch(txn, OPTS), null);
  const many = await buildRecordBatch({ records: Array.from({ length: 1000 }, (_, i) => ({ value: `v${i}` })) });
  assert.equal(validateBatch(many, OPTS), null);
});

test('validateBatch: bad CRC → CORRUPT_MESSAGE', async () => {
  const good = await buildRecordBatch({ records: sample });
  assert.equal(
    validateBatch(await buildRecordBatch({ records: sample, corruptCrc: true }), OPTS)?.errorCode,
    CORRUPT_MESSAGE,
  );
  // any covered byte flipped (attributes, header fields, record data)
  for (const at of [ATTRIBUTES_OFFSET + 1, MAX_TIMESTAMP_OFFSET, RECORDS_OFFSET + 4, good.length - 1]) {
    assert.equal(validateBatch(flipByte(good, at, 0x01), OPTS)?.errorCode, CORRUPT_MESSAGE, `byte ${at}`);
  }
  // bytes outside the CRC: the partition leader epoch is not covered
  assert.equal(validateBatch(flipByte(good, PARTITION_LEADER_EPOCH_OFFSET), OPTS), null);
});

test('validateBatch: size above max.message.bytes → MESSAGE_TOO_LARGE; equal is fine', async () => {
  const batch = await buildRecordBatch({ records: [{ value: Buffer.alloc(1000) }] });
  assert.equal(validateBatch(batch, { maxMessageBytes: batch.length }), null);
  assert.equal(validateBatch(batch, { maxMessageBytes: batch.length - 1 })?.errorCode, MESSAGE_TOO_LARGE);
});

test('validateBatch: inconsistent counts and offsets → INVALID_RECORD', async () => {
  const cases: [string, Promise<Buffer>][] = [
    ['zero records', buildRecordBatch({ records: [], lastOffsetDelta: 0 })],
    ['count 0 with lastOffsetDelta -1', buildRecordBatch({ records: [] })],
    ['lastOffsetDelta too large', buildRecordBatch({ records: sample, lastOffsetDelta: 3 })],
    ['lastOffsetDelta too small', buildRecordBatch({ records: sample, lastOffsetDelta: 1 })],
    ['count larger than the records', buildRecordBatch({ records: sample, recordsCount: 4, lastOffsetDelta: 3 })],
    ['count smaller than the records', buildRecordBatch({ records: sample, recordsCount: 2, lastOffsetDelta: 1 })],
    [
      'offsetDelta not 0,1,2',
      buildRecordBatch({ records: [{ value: 'a' }, { value: 'b', offsetDelta: 2 }], lastOffsetDelta: 1 }),
    ],
    ['offsetDelta starting at 1', buildRecordBatch({ records: [{ value: 'a', offsetDelta: 1 }] })],
    ['negative lastOffsetDelta', buildRecordBatch({ records: sample, lastOffsetDelta: -5 })],
    [
      'control batch from a client',
      buildRecordBatch({ records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.alloc(6) }], control: true }),
    ],
    [
      'producer id with no sequence',
      buildRecordBatch({ records: sample, producerId: 9n, producerEpoch: 0, baseSequence: -1 }),
    ],
    ['non-zero base offset from a client', buildRecordBatch({ records: sample, baseOffset: 5n })],
  ];
  for (const [name, p] of cases) {
    assert.equal(validateBatch(await p, OPTS)?.errorCode, INVALID_RECORD, name);
  }
});

test('validateBatch: header fields edited after the fact (CRC fixed up) are still checked', async () => {
  const good = await buildRecordBatch({ records: sample, producerId: 3n, producerEpoch: 0, baseSequence: 0 });
  assert.equal(validateBatch(fixCrc(good), OPTS), null);
  const lod = Buffer.from(good);
  lod.writeInt32BE(7, LAST_OFFSET_DELTA_OFFSET);
  assert.equal(validateBatch(lod, OPTS)?.errorCode, CORRUPT_MESSAGE); // CRC now wrong
  assert.equal(validateBatch(fixCrc(lod), OPTS)?.errorCode, INVALID_RECORD);
  const seq = Buffer.from(good);
  seq.writeInt32BE(-1, BASE_SEQUENCE_OFFSET);
  assert.equal(validateBatch(fixCrc(seq), OPTS)?.errorCode, INVALID_RECORD);
});

test('validateBatch: unknown compression codec (5..7) → UNSUPPORTED_COMPRESSION_TYPE', async () => {
  for (const codec of [5, 6, 7]) {
    const b = await buildRecordBatch({ records: [{ value: 'x' }], extraAttributes: codec });
    assert.equal(validateBatch(b, OPTS)?.errorCode, UNSUPPORTED_COMPRESSION_TYPE);
  }
});

test('validateBatch: malformed uncompressed records → INVALID_RECORD', async () => {
  const r0 = encodeRecord({ key: 'k', value: 'value-0' }, 0);
  const r1 = encodeRecord({ key: 'k', value: 'value-1' }, 1);
  const two = { records: [{}, {}] as RecordSpec[] };
  const sections: [string, Buffer][] = [
    ['truncated last record', Buffer.concat([r0, r1.subarray(0, r1.length - 2)])],
    ['missing last record', r0],
    ['trailing bytes after the records', Buffer.concat([r0, r1, Buffer.from([0])])],
    ['record length overruns the batch', Buffer.concat([r0, zigzagVarint(500), r1.subarray(1)])],
    ['negative record length', Buffer.concat([r0, zigzagVarint(-3), r1.subarray(1)])],
    ['varint longer than 5 bytes', Buffer.concat([r0, Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])])],
    [
      'record length larger than its fields',
      Buffer.concat([r0, zigzagVarint(r1.length), r1.subarray(1), Buffer.from([0])]),
    ],
  ];
  for (const [name, section] of sections) {
    const b = await buildRecordBatch({ ...two, rawRecordsSection: section });
    const e = validateBatch(b, OPTS);
    assert.equal(e?.errorCode, INVALID_RECORD, name);
  }
  // record-level failures name the record (Produce v8+ RecordErrors.BatchIndex)
  const e1 = validateBatch(
    await buildRecordBatch({ ...two, rawRecordsSection: Buffer.concat([r0, r1.subarray(0, r1.length - 2)]) }),
    OPTS,
  );
  assert.equal(e1?.recordIndex, 1);
  // Field-level damage inside one record, with the record's own length kept consistent.
  const body = (fields: Buffer[]) => {
    const b = Buffer.concat(fields);
    return Buffer.concat([zigzagVarint(b.length), b]);
  };
  const attrTsOff = Buffer.from([0, 0, 0]); // attributes, timestampDelta 0, offsetDelta 0
  const badFields: [string, Buffer][] = [
    ['key length -2', body([attrTsOff, zigzagVarint(-2), zigzagVarint(-1), zigzagVarint(0)])],
    [
      'key longer than the record',
      body([attrTsOff, zigzagVarint(50), Buffer.from('abc'), zigzagVarint(-1), zigzagVarint(0)]),
    ],
    ['negative header count', body([attrTsOff, zigzagVarint(-1), zigzagVarint(-1), zigzagVarint(-1)])],
    ['header count beyond the record', body([attrTsOff, zigzagVarint(-1), zigzagVarint(-1), zigzagVarint(40)])],
    [
      'null header key',
      body([attrTsOff, zigzagVarint(-1), zigzagVarint(-1), zigzagVarint(1), zigzagVarint(-1), zigzagVarint(-1)]),
    ],
    [
      'header value overruns',
      body([
        attrTsOff,
        zigzagVarint(-1),
        zigzagVarint(-1),
        zigzagVarint(1),
        zigzagVarint(1),
        Buffer.from('h'),
        zigzagVarint(9),
      ]),
    ],
    ['empty record body', body([])],
  ];
  for (const [name, section] of badFields) {
    const b = await buildRecordBatch({ records: [{}], rawRecordsSection: section });
    assert.equal(validateBatch(b, OPTS)?.errorCode, INVALID_RECORD, name);
  }
  // Non-minimal varints: up to 5 bytes (varint) / 10 bytes (varlong) are accepted, as Kafka's ByteUtils does;
  // one more byte is refused even though the value would still be 0.
  const z5 = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x00]);
  const z6 = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
  const z10 = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
  const z11 = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
  const nullsNoHeaders = [zigzagVarint(-1), zigzagVarint(-1), zigzagVarint(0)];
  const padded = (ts: Buffer, off: Buffer) => body([Buffer.from([0]), ts, off, ...nullsNoHeaders]);
  const one = async (section: Buffer) =>
    validateBatch(await buildRecordBatch({ records: [{}], rawRecordsSection: section }), OPTS);
  assert.equal(await one(padded(z10, z5)), null);
  assert.equal((await one(padded(z10, z6)))?.errorCode, INVALID_RECORD, '6-byte varint');
  assert.equal((await one(padded(z11, z5)))?.errorCode, INVALID_RECORD, '11-byte varlong');
  // and the same shape done right passes
  const ok = body([
    attrTsOff,
    zigzagVarint(-1),
    zigzagVarint(-1),
    zigzagVarint(1),
    zigzagVarint(1),
    Buffer.from('h'),
    zigzagVarint(-1),
  ]);
  assert.equal(validateBatch(await buildRecordBatch({ records: [{}], rawRecordsSection: ok }), OPTS), null);
});

test('validateBatch: compressed batches are not decompressed (garbage body with a valid CRC passes)', async () => {
  const b = await buildRecordBatch({
    records: sample,
    compression: CompressionType.GZIP,
    rawRecordsSection: Buffer.from('not gzip'),
  });
  assert.equal(validateBatch(b, OPTS), null);
});

test('validateBatch: requireKeys (compacted topics) on uncompressed batches', async () => {
  const b = await buildRecordBatch({ records: sample });
  assert.equal(validateBatch(b, { ...OPTS, requireKeys: true })?.errorCode, INVALID_RECORD);
  const keyed = await buildRecordBatch({
    records: [
      { key: 'a', value: null },
      { key: '', value: 'x' },
    ],
  });
  assert.equal(validateBatch(keyed, { ...OPTS, requireKeys: true }), null);
});

test('validateBatch: size and length-field sanity when called directly', async () => {
  const b = await buildRecordBatch({ records: sample });
  assert.equal(validateBatch(b.subarray(0, 60), OPTS)?.errorCode, CORRUPT_MESSAGE);
  assert.equal(validateBatch(b.subarray(0, b.length - 1), OPTS)?.errorCode, CORRUPT_MESSAGE);
  assert.equal(validateBatch(await buildRecordBatch({ records: sample, magic: 1 }), OPTS)?.errorCode, ErrorCode.INVALID_RECORD);
});

// ---- patching ------------------------------------------------------------------------------------------

test('patchBaseOffset and patchPartitionLeaderEpoch leave the CRC valid', async () => {
  const b = await buildRecordBatch({ records: sample, compression: CompressionType.SNAPPY });
  const crc = b.readUInt32BE(CRC_OFFSET);
  patchBaseOffset(b, 123_456_789_012n);
  patchPartitionLeaderEpoch(b, 17);
  assert.equal(readBatchHeader(b).baseOffset, 123_456_789_012n);
  assert.equal(readBatchHeader(b).partitionLeaderEpoch, 17);
  assert.equal(b.readUInt32BE(CRC_OFFSET), crc);
  assert.equal(computeCrc(b), crc);
});

test('patchLogAppendTime sets the type bit and maxTimestamp and recomputes the CRC', async () => {
  for (const compression of [0, 3]) {
    const b = await buildRecordBatch({
      records: sample,
      compression,
      transactional: true,
      producerId: 1n,
      producerEpoch: 0,
      baseSequence: 0,
    });
    const before = readBatchHeader(b);
    patchLogAppendTime(b, 1_800_000_000_123n);
    const h = readBatchHeader(b);
    assert.equal(timestampTypeOf(h.attributes), TimestampType.LOG_APPEND_TIME);
    assert.equal(h.attributes, before.attributes | 0x08); // other bits kept
    assert.equal(h.maxTimestamp, 1_800_000_000_123n);
    assert.equal(h.baseTimestamp, before.baseTimestamp);
    assert.notEqual(h.crc, before.crc);
    assert.equal(h.crc, computeCrc(b));
    assert.equal(h.crc, crc32c(b.subarray(21)));
    // the patched batch is what the builder makes for a LogAppendTime batch with that maxTimestamp
    const expected = await buildRecordBatch({
      records: sample,
      compression,
      transactional: true,
      producerId: 1n,
      producerEpoch: 0,
      baseSequence: 0,
      timestampType: 1,
      maxTimestamp: 1_800_000_000_123n,
    });
    if (compression === 0) assert.ok(b.equals(expected));
    // idempotent
    const copy = Buffer.from(b);
    patchLogAppendTime(b, 1_800_000_000_123n);
    assert.ok(b.equals(copy));
  }
});

test('withPatchedHeader: header copy + body view, same bytes as patching in place', async () => {
  for (const compression of [0, 1, 4]) {
    const batch = await buildRecordBatch({ records: sample, compression });
    const original = Buffer.from(batch);

    const [h1, b1] = withPatchedHeader(batch, 99n, null);
    assert.equal(h1!.length, RECORD_BATCH_OVERHEAD);
    assert.equal(b1!.buffer, batch.buffer);
    assert.equal(b1!.byteOffset, batch.byteOffset + RECORD_BATCH_OVERHEAD);
    const inPlace1 = Buffer.from(original);
    patchBaseOffset(inPlace1, 99n);
    assert.ok(Buffer.concat([h1!, b1!]).equals(inPlace1));
    assert.equal(h1!.readUInt32BE(CRC_OFFSET), original.readUInt32BE(CRC_OFFSET));

    const [h2, b2] = withPatchedHeader(batch, 1000n, 1_750_000_000_000n, 4);
    const joined = Buffer.concat([h2!, b2!]);
    const inPlace2 = Buffer.from(original);
    patchBaseOffset(inPlace2, 1000n);
    patchPartitionLeaderEpoch(inPlace2, 4);
    patchLogAppendTime(inPlace2, 1_750_000_000_000n);
    assert.ok(joined.equals(inPlace2));
    assert.equal(computeCrc(joined), joined.readUInt32BE(CRC_OFFSET)); // chained CRC == full CRC
    assert.equal(validateBatch(flipBaseOffsetToZero(joined), OPTS), null);

    assert.ok(batch.equals(original), 'source batch untouched');
  }
});

function flipBaseOffsetToZero(b: Buffer): Buffer {
  const c = Buffer.from(b);
  patchBaseOffset(c, 0n);
  return c;
}

// ---- kafkajs as an independent encoder ------------------------------------------------------------------

test('kafkajs-encoded batches (none, gzip) pass validateBatch and split cleanly', async () => {
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
    RecordBatch: (o: object) => Promise<{ buffer: Buffer }>;
  };
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (o: object) => unknown;
  for (const compression of [0, 1]) {
    const records = [
      Record({
        offsetDelta: 0,
        timestampDelta: 0,
        key: Buffer.from('a'),
        value: Buffer.from('1'),
        headers: { h: 'x' },
      }),
      Record({ offsetDelta: 1, timestampDelta: 5, key: null, value: Buffer.from('2') }),
      Record({ offsetDelta: 2, timestampDelta: 3, key: Buffer.from('c'), value: null }),
    ];
    const enc = await RecordBatch({
      compression,
      records,
      lastOffsetDelta: 2,
      firstTimestamp: 1_700_000_000_000,
      maxTimestamp: 1_700_000_000_005,
    });
    const bytes = enc.buffer;
    const split = splitBatches(bytes);
    assert.ok('batches' in split && split.batches.length === 1);
    assert.equal(validateBatch(bytes, OPTS), null, `codec ${compression}`);
    const h = readBatchHeader(bytes);
    assert.equal(h.recordsCount, 3);
    assert.equal(compressionOf(h.attributes), compression);
    assert.equal(h.crc, computeCrc(bytes));
  }
});

test('patched batches still decode with kafkajs (LogAppendTime applies to every record)', async () => {
  const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
  const decode = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{
    firstOffset: string;
    timestampType: number;
    maxTimestamp: string;
    records: { offset: string; timestamp: string }[];
  }>;
  const batch = await buildRecordBatch({ records: sample, compression: CompressionType.GZIP });
  const joined = Buffer.concat(withPatchedHeader(batch, 500n, 1_760_000_000_000n));
  const d = await decode(new Decoder(joined));
  assert.equal(d.firstOffset, '500');
  assert.equal(d.timestampType, 1);
  assert.deepEqual(
    d.records.map((r) => r.offset),
    ['500', '501', '502'],
  );
  assert.deepEqual(
    d.records.map((r) => r.timestamp),
    ['1760000000000', '1760000000000', '1760000000000'],
  );
});
