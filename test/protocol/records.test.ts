import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { patchLogAppendTime, withPatchedHeader } from '../../src/protocol/record-batch.ts';
import {
  RecordDecodeError,
  decodeRecords,
  findMaxTimestampRecord,
  findOffsetForTimestamp,
  readRecords,
  recordsSection,
  validateRecordsDeep,
  type KafkaRecord,
} from '../../src/protocol/records.ts';
import { CompressionError, compress } from '../../src/protocol/compression.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import {
  DEFAULT_BASE_TIMESTAMP as T0,
  buildRecordBatch,
  encodeRecord,
  type RecordSpec,
} from '../helpers/record-batch.ts';

const require = createRequire(import.meta.url);
const CODECS = [0, 1, 2, 3, 4];

const sample: RecordSpec[] = [
  {
    key: 'k0',
    value: 'v0',
    headers: [
      { key: 'h', value: 'x' },
      { key: 'h', value: 'y' },
    ],
  },
  { key: null, value: 'v1' },
  { key: 'k2', value: null, headers: [{ key: 'ü-ключ', value: null }] },
  { key: Buffer.alloc(0), value: Buffer.alloc(0) },
  { key: 'big', value: Buffer.alloc(100_000, 0x61) },
];

function plain(r: KafkaRecord) {
  return {
    offsetDelta: r.offsetDelta,
    timestampDelta: r.timestampDelta,
    key: r.key === null ? null : r.key.toString('latin1'),
    value: r.value === null ? null : r.value.toString('latin1'),
    headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString('latin1') })),
  };
}

function expected(specs: RecordSpec[]) {
  const s = (b: Buffer | string | null | undefined) =>
    b === null || b === undefined
      ? null
      : typeof b === 'string'
        ? Buffer.from(b).toString('latin1')
        : b.toString('latin1');
  return specs.map((r, i) => ({
    offsetDelta: r.offsetDelta ?? i,
    timestampDelta: BigInt(r.timestampDelta ?? i),
    key: s(r.key),
    value: s(r.value),
    headers: (r.headers ?? []).map((h) => ({ key: h.key, value: s(h.value) })),
  }));
}

for (const codec of CODECS) {
  test(`readRecords round trip, codec ${codec}`, async () => {
    const batch = await buildRecordBatch({ records: sample, compression: codec });
    const records = await readRecords(batch);
    assert.deepEqual(records.map(plain), expected(sample));
  });
}

test('readRecords: keys and values are views, not copies (uncompressed)', async () => {
  const batch = await buildRecordBatch({ records: sample });
  const [r0] = await readRecords(batch);
  assert.equal(r0!.key!.buffer, batch.buffer);
});

test('varint/varlong edges: timestamp deltas around 2^27, 2^31, 2^53, 2^63 and negative', async () => {
  const deltas = [
    0n,
    -1n,
    1n,
    (1n << 27n) - 1n,
    1n << 27n,
    -(1n << 27n),
    2n ** 31n,
    -(2n ** 31n),
    2n ** 53n + 1n,
    -(2n ** 53n) - 1n,
    2n ** 63n - 1n,
    -(2n ** 63n),
  ];
  const specs = deltas.map((d) => ({ value: 'x', timestampDelta: d }));
  const batch = await buildRecordBatch({ records: specs, baseTimestamp: 0n, maxTimestamp: 0n });
  const records = await readRecords(batch);
  assert.deepEqual(
    records.map((r) => r.timestampDelta),
    deltas,
  );
  // offsetDelta and lengths as varints up to 2^31-1 / -2^31
  const recs = decodeRecords(
    Buffer.concat([
      encodeRecord({ value: 'a', offsetDelta: 2 ** 31 - 1 }),
      encodeRecord({ value: 'b', offsetDelta: -(2 ** 31) }),
    ]),
    2,
  );
  assert.deepEqual(
    recs.map((r) => r.offsetDelta),
    [2 ** 31 - 1, -(2 ** 31)],
  );
});

test('decodeRecords: malformed input throws RecordDecodeError', () => {
  const r = encodeRecord({ key: 'k', value: 'v' });
  assert.throws(() => decodeRecords(r.subarray(0, r.length - 1), 1), RecordDecodeError);
  assert.throws(() => decodeRecords(r, 2), RecordDecodeError);
  assert.throws(() => decodeRecords(Buffer.concat([r, Buffer.from([0])]), 1), RecordDecodeError);
  assert.throws(() => decodeRecords(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 1), RecordDecodeError);
  // non-minimal encodings: 5-byte varint and 10-byte varlong are fine, one byte more is not
  const rec = (ts: number[], off: number[]) => {
    const body = Buffer.from([0, ...ts, ...off, 1, 1, 0]); // attributes, ts, offsetDelta, null key, null value, 0 headers
    return Buffer.concat([Buffer.from([body.length * 2]), body]);
  };
  const ts10 = [0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]; // 1 (zig-zag 2), padded to 10 bytes
  const off5 = [0x86, 0x80, 0x80, 0x80, 0x00]; // 3 (zig-zag 6), padded to 5 bytes
  const [ok] = decodeRecords(rec(ts10, off5), 1);
  assert.equal(ok!.timestampDelta, 1n);
  assert.equal(ok!.offsetDelta, 3);
  assert.throws(() => decodeRecords(rec([...ts10.slice(0, 9), 0x80, 0x00], off5), 1), RecordDecodeError);
  assert.throws(() => decodeRecords(rec(ts10, [...off5.slice(0, 4), 0x80, 0x00]), 1), RecordDecodeError);
});

test('readRecords: garbage compressed body rejects with CompressionError', async () => {
  const batch = await buildRecordBatch({ records: sample, compression: 3, rawRecordsSection: Buffer.from('garbage') });
  await assert.rejects(readRecords(batch), CompressionError);
  await assert.rejects(recordsSection(batch), CompressionError);
});

// Timestamps out of order within a batch (CreateTime lets producers do that): T0+5, T0+1, T0+10, T0+3, T0+10.
const unordered: RecordSpec[] = [5, 1, 10, 3, 10].map((d, i) => ({ value: `r${i}`, timestampDelta: d }));

for (const codec of CODECS) {
  test(`findOffsetForTimestamp / findMaxTimestampRecord, CreateTime, codec ${codec}`, async () => {
    const batch = await buildRecordBatch({ records: unordered, compression: codec });
    const base = 1000n;
    const at = (ts: bigint) => findOffsetForTimestamp(batch, base, ts);
    assert.deepEqual(await at(0n), { offset: 1000n, timestamp: T0 + 5n });
    assert.deepEqual(await at(T0 + 5n), { offset: 1000n, timestamp: T0 + 5n });
    assert.deepEqual(await at(T0 + 6n), { offset: 1002n, timestamp: T0 + 10n });
    assert.deepEqual(await at(T0 + 10n), { offset: 1002n, timestamp: T0 + 10n });
    assert.equal(await at(T0 + 11n), null);
    assert.deepEqual(await findMaxTimestampRecord(batch, base), { offset: 1002n, timestamp: T0 + 10n });
  });
}

for (const codec of [0, 2, 4]) {
  test(`LogAppendTime batches: every record has maxTimestamp, codec ${codec}`, async () => {
    const batch = await buildRecordBatch({ records: unordered, compression: codec });
    patchLogAppendTime(batch, T0 + 500n);
    assert.deepEqual(await findOffsetForTimestamp(batch, 7n, 0n), { offset: 7n, timestamp: T0 + 500n });
    assert.deepEqual(await findOffsetForTimestamp(batch, 7n, T0 + 500n), { offset: 7n, timestamp: T0 + 500n });
    assert.equal(await findOffsetForTimestamp(batch, 7n, T0 + 501n), null);
    assert.deepEqual(await findMaxTimestampRecord(batch, 7n), { offset: 7n, timestamp: T0 + 500n });
    // the same through a fetch-style patched copy
    const joined = Buffer.concat(
      withPatchedHeader(await buildRecordBatch({ records: unordered, compression: codec }), 7n, T0 + 500n),
    );
    assert.deepEqual(await findMaxTimestampRecord(joined, 7n), { offset: 7n, timestamp: T0 + 500n });
  });
}

test('validateRecordsDeep checks inside compressed batches', async () => {
  for (const codec of CODECS) {
    assert.equal(await validateRecordsDeep(await buildRecordBatch({ records: sample, compression: codec })), null);
  }
  const badOffsets = await buildRecordBatch({
    records: [{ value: 'a' }, { value: 'b', offsetDelta: 5 }],
    compression: 1,
  });
  assert.equal((await validateRecordsDeep(badOffsets))?.errorCode, ErrorCode.INVALID_RECORD);
  const noKeys = await buildRecordBatch({ records: sample, compression: 4 });
  assert.equal((await validateRecordsDeep(noKeys, { requireKeys: true }))?.errorCode, ErrorCode.INVALID_RECORD);
  const truncated = await buildRecordBatch({
    records: [{}, {}],
    compression: 2,
    rawRecordsSection: await compress(2, encodeRecord({ value: 'only one' })),
  });
  assert.equal((await validateRecordsDeep(truncated))?.errorCode, ErrorCode.INVALID_RECORD);
  const garbage = await buildRecordBatch({ records: sample, compression: 1, rawRecordsSection: Buffer.from('nope') });
  assert.equal((await validateRecordsDeep(garbage))?.errorCode, ErrorCode.CORRUPT_MESSAGE);
});

// ---- kafkajs as an independent oracle ---------------------------------------------------------------------

const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const kafkajsDecode = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  producerId: string;
  lastOffsetDelta: number;
  records: {
    offset: string;
    timestamp: string;
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer | Buffer[]>;
  }[];
}>;
const { RecordBatch: kafkajsRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (o: object) => Promise<{ buffer: Buffer }>;
};
const kafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (o: object) => unknown;

for (const codec of [0, 1]) {
  test(`kafkajs decodes batches built by our builder, codec ${codec}`, async () => {
    const specs: RecordSpec[] = [
      {
        key: 'k0',
        value: 'v0',
        headers: [
          { key: 'a', value: 'x' },
          { key: 'b', value: 'yy' },
        ],
      },
      { key: null, value: 'v1', timestampDelta: 7 },
      { key: 'k2', value: null, timestampDelta: 3 },
    ];
    const batch = await buildRecordBatch({ records: specs, compression: codec, baseOffset: 40n });
    const d = await kafkajsDecode(new Decoder(batch));
    assert.equal(d.firstOffset, '40');
    assert.equal(d.lastOffsetDelta, 2);
    assert.equal(d.maxTimestamp, String(T0 + 7n));
    assert.deepEqual(
      d.records.map((r) => r.offset),
      ['40', '41', '42'],
    );
    assert.deepEqual(
      d.records.map((r) => r.timestamp),
      [String(T0), String(T0 + 7n), String(T0 + 3n)],
    );
    assert.deepEqual(
      d.records.map((r) => r.key?.toString() ?? null),
      ['k0', null, 'k2'],
    );
    assert.deepEqual(
      d.records.map((r) => r.value?.toString() ?? null),
      ['v0', 'v1', null],
    );
    assert.equal((d.records[0]!.headers.b as Buffer).toString(), 'yy');
  });

  test(`we decode batches built by kafkajs, codec ${codec}`, async () => {
    const records = [
      kafkajsRecord({
        offsetDelta: 0,
        timestampDelta: 0,
        key: Buffer.from('a'),
        value: Buffer.from('1'),
        headers: { h: 'x', m: ['p', 'q'] },
      }),
      kafkajsRecord({ offsetDelta: 1, timestampDelta: 12, key: null, value: Buffer.from('2') }),
      kafkajsRecord({ offsetDelta: 2, timestampDelta: 4, key: Buffer.from('c'), value: null }),
    ];
    const { buffer } = await kafkajsRecordBatch({
      compression: codec,
      records,
      lastOffsetDelta: 2,
      firstTimestamp: Number(T0),
      maxTimestamp: Number(T0 + 12n),
    });
    const ours = await readRecords(buffer);
    assert.deepEqual(ours.map(plain), [
      {
        offsetDelta: 0,
        timestampDelta: 0n,
        key: 'a',
        value: '1',
        headers: [
          { key: 'h', value: 'x' },
          { key: 'm', value: 'p' },
          { key: 'm', value: 'q' },
        ],
      },
      { offsetDelta: 1, timestampDelta: 12n, key: null, value: '2', headers: [] },
      { offsetDelta: 2, timestampDelta: 4n, key: 'c', value: null, headers: [] },
    ]);
    assert.deepEqual(await findOffsetForTimestamp(buffer, 0n, T0 + 5n), { offset: 1n, timestamp: T0 + 12n });
    assert.deepEqual(await findMaxTimestampRecord(buffer, 0n), { offset: 1n, timestamp: T0 + 12n });
  });
}
