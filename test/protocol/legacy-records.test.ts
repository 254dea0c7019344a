/**
 * Message format v0/v1 (protocol/legacy-records.ts): up-conversion of produced message sets to one magic 2
 * batch (offsets, timestamps, codec kept; corrupt input refused with Kafka's codes) and down-conversion of
 * magic 2 batches for Fetch v0-3 (offsets, timestamps, control batches left out, byte limit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { crc32 } from '@node-rs/crc32';
import { downConvert, readMessageSet, upConvert } from '../../src/protocol/legacy-records.ts';
import { readRecords } from '../../src/protocol/records.ts';
import { CompressionType, computeCrc, controlBatch, patchBaseOffset, validateBatch } from '../../src/protocol/record-batch.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { buildLegacyMessageSet, buildRecordBatch } from '../helpers/record-batch.ts';

/** A compressed wrapper message (magic 1, relative inner offsets) around `inner`. */
function wrapper(magic: 0 | 1, codec: number, inner: Buffer, lastOffset: bigint, timestamp = 1_700_000_000_500n): Buffer {
  const value = codec === 1 ? gzipSync(inner) : inner;
  const bodyLen = 2 + (magic === 1 ? 8 : 0) + 4 + 4 + value.length;
  const m = Buffer.alloc(16 + bodyLen);
  m.writeBigInt64BE(lastOffset, 0);
  m.writeInt32BE(4 + bodyLen, 8);
  let p = 16;
  m.writeInt8(magic, p++);
  m.writeInt8(codec, p++);
  if (magic === 1) {
    m.writeBigInt64BE(timestamp, p);
    p += 8;
  }
  m.writeInt32BE(-1, p);
  p += 4;
  m.writeInt32BE(value.length, p);
  p += 4;
  value.copy(m, p);
  m.writeUInt32BE(crc32(m.subarray(16)), 12);
  return m;
}

test('magic 1 messages become one magic 2 batch: offsets 0..n-1, timestamps and keys kept', async () => {
  const set = buildLegacyMessageSet(1, [
    { key: 'k1', value: 'v1', timestamp: 1_700_000_000_001n },
    { key: null, value: 'v2', timestamp: 1_700_000_000_009n },
    { key: 'k3', value: null, timestamp: 1_700_000_000_005n },
  ]);
  const batch = upConvert(set);
  assert.ok(Buffer.isBuffer(batch));
  assert.equal(validateBatch(batch, { maxMessageBytes: 1 << 20 }), null);
  assert.equal(batch.readUInt32BE(17), computeCrc(batch));
  assert.equal(batch.readBigInt64BE(27), 1_700_000_000_001n);
  assert.equal(batch.readBigInt64BE(35), 1_700_000_000_009n);
  assert.equal(batch.readBigInt64BE(43), -1n);
  const records = await readRecords(batch);
  assert.deepEqual(records.map((r) => [r.offsetDelta, r.key?.toString() ?? null, r.value?.toString() ?? null, 1_700_000_000_001n + BigInt(r.timestampDelta)]), [
    [0, 'k1', 'v1', 1_700_000_000_001n],
    [1, null, 'v2', 1_700_000_000_009n],
    [2, 'k3', null, 1_700_000_000_005n],
  ]);
});

test('magic 0 messages have no timestamp (-1) after up-conversion', async () => {
  const batch = upConvert(buildLegacyMessageSet(0, [{ value: 'a' }, { value: 'b' }])) as Buffer;
  assert.equal(batch.readBigInt64BE(27), -1n);
  assert.equal(batch.readBigInt64BE(35), -1n);
  assert.deepEqual((await readRecords(batch)).map((r) => r.value!.toString()), ['a', 'b']);
});

test('a gzip wrapper of magic 1 keeps its codec; inner relative offsets resolve against the wrapper', async () => {
  const inner = buildLegacyMessageSet(1, [{ value: 'x', offset: 0n }, { value: 'y', offset: 1n }, { value: 'z', offset: 2n }]);
  const set = wrapper(1, 1, inner, 2n);
  const read = readMessageSet(set);
  assert.ok(!('errorCode' in read));
  assert.deepEqual(read.messages.map((m) => m.offset), [0n, 1n, 2n]);
  const batch = upConvert(set) as Buffer;
  assert.equal(batch.readInt16BE(21) & 7, 1, 'gzip kept');
  assert.deepEqual((await readRecords(batch)).map((r) => r.value!.toString()), ['x', 'y', 'z']);
});

test('corrupt message sets get Kafka codes: CRC, size, nested compression, zstd, empty', () => {
  const good = buildLegacyMessageSet(1, [{ value: 'v' }]);
  const badCrc = Buffer.from(good);
  badCrc[badCrc.length - 1] ^= 1;
  assert.equal((upConvert(badCrc) as { errorCode: number }).errorCode, ErrorCode.CORRUPT_MESSAGE);
  const badSize = Buffer.from(good);
  badSize.writeInt32BE(1 << 30, 8);
  assert.equal((upConvert(badSize) as { errorCode: number }).errorCode, ErrorCode.CORRUPT_MESSAGE);
  assert.equal((upConvert(good.subarray(0, good.length - 3)) as { errorCode: number }).errorCode, ErrorCode.CORRUPT_MESSAGE);
  const nested = wrapper(1, 1, wrapper(1, 1, good, 0n), 0n);
  assert.equal((upConvert(nested) as { errorCode: number }).errorCode, ErrorCode.INVALID_RECORD);
  assert.equal((upConvert(wrapper(1, 4, good, 0n)) as { errorCode: number }).errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  assert.equal((upConvert(Buffer.alloc(0)) as { errorCode: number }).errorCode, ErrorCode.INVALID_RECORD);
});

test('down-conversion: absolute offsets, timestamps (magic 1), from the fetch offset, control batches left out', async () => {
  const a = await buildRecordBatch({ records: [{ key: Buffer.from('k'), value: Buffer.from('r0') }, { value: Buffer.from('r1') }, { value: Buffer.from('r2') }] });
  patchBaseOffset(a, 10n);
  const marker = controlBatch(5n, 0, 1, 0, 1_700_000_000_000n);
  patchBaseOffset(marker, 13n);
  const b = await buildRecordBatch({ records: [{ value: Buffer.from('r14') }], compression: 1 });
  patchBaseOffset(b, 14n);
  const data = Buffer.concat([a, marker, b]);
  for (const magic of [0, 1] as const) {
    const out = await downConvert(data, magic, 11n, 1 << 20);
    const read = readMessageSet(out.records);
    assert.ok(!('errorCode' in read));
    assert.deepEqual(read.messages.map((m) => [m.offset, m.magic, m.value!.toString()]), [[11n, magic, 'r1'], [12n, magic, 'r2'], [14n, magic, 'r14']]);
    if (magic === 1) assert.ok(read.messages.every((m) => m.timestamp > 0n));
    else assert.ok(read.messages.every((m) => m.timestamp === -1n));
  }
});

test('down-conversion compresses a compressed batch again with its codec, in one wrapper (lz4 at magic 0 goes uncompressed)', async () => {
  const values = ['c0', 'c1', 'c2', 'c3'];
  for (const codec of [CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4]) {
    const batch = await buildRecordBatch({ records: values.map((v) => ({ value: Buffer.from(v.repeat(50)) })), compression: codec });
    patchBaseOffset(batch, 20n);
    for (const magic of [0, 1] as const) {
      const out = await downConvert(batch, magic, 21n, 1 << 20);
      assert.equal(out.count, 3);
      const expected = magic === 0 && codec === CompressionType.LZ4 ? CompressionType.NONE : codec;
      assert.equal(out.records[17]! & 0x07, expected, `codec ${codec} magic ${magic}: the outer message's codec`);
      if (expected !== CompressionType.NONE) assert.ok(out.records.length < 3 * 150, 'compressed');
      const read = readMessageSet(out.records);
      assert.ok(!('errorCode' in read));
      assert.equal(read.codec, expected);
      assert.deepEqual(read.messages.map((m) => [m.offset, m.magic, m.value!.toString()]), [21n, 22n, 23n].map((o, i) => [o, magic, values[i + 1]!.repeat(50)]));
    }
  }
});

test('down-conversion stops at the byte limit, but the first record always goes', async () => {
  const big = 'x'.repeat(1000);
  const batch = await buildRecordBatch({ records: [{ value: big }, { value: big }, { value: big }] });
  const one = await downConvert(batch, 1, 0n, 10);
  assert.equal(one.count, 1);
  const two = await downConvert(batch, 1, 0n, 2 * (12 + 22 + 1000));
  assert.equal(two.count, 2);
  assert.ok(two.records.length <= 2 * (12 + 22 + 1000));
});
