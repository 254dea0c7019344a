import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError, Reader } from '../../src/protocol/reader.ts';
import { EncodeError, Writer, ZERO_COPY_MIN } from '../../src/protocol/writer.ts';

function bytesOf(fn: (w: Writer) => void): Buffer {
  const w = new Writer(16);
  fn(w);
  return w.toBuffer();
}

const I32 = [0, 1, -1, 63, -64, 64, -65, 127, 128, 300, 2 ** 31 - 1, -(2 ** 31), 123456789, -987654321];

test('varint (zig-zag int32) round-trips at the edges, with Kafka byte forms', () => {
  for (const v of I32) {
    const b = bytesOf((w) => w.varint(v));
    const r = new Reader(b);
    assert.equal(r.varint(), v);
    assert.equal(r.remaining(), 0);
  }
  assert.deepEqual([...bytesOf((w) => w.varint(0))], [0]);
  assert.deepEqual([...bytesOf((w) => w.varint(-1))], [1]);
  assert.deepEqual([...bytesOf((w) => w.varint(1))], [2]);
  assert.deepEqual([...bytesOf((w) => w.varint(2 ** 31 - 1))], [0xfe, 0xff, 0xff, 0xff, 0x0f]);
  assert.deepEqual([...bytesOf((w) => w.varint(-(2 ** 31)))], [0xff, 0xff, 0xff, 0xff, 0x0f]);
});

test('uvarint round-trips 0 … 2^32-1 and rejects 6-byte / overflowing input', () => {
  for (const v of [0, 1, 127, 128, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]) {
    const b = bytesOf((w) => w.uvarint(v));
    assert.equal(new Reader(b).uvarint(), v, `uvarint ${v}`);
  }
  assert.deepEqual([...bytesOf((w) => w.uvarint(300))], [0xac, 0x02]);
  assert.throws(() => new Reader(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])).uvarint(), DecodeError);
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])).uvarint(), DecodeError);
});

test('varlong (zig-zag int64) round-trips at the edges', () => {
  const vals = [
    0n, 1n, -1n, 63n, -64n, 2n ** 31n - 1n, -(2n ** 31n), 2n ** 32n, 2n ** 48n, -(2n ** 48n), 2n ** 49n,
    2n ** 52n - 1n, 2n ** 52n, -(2n ** 52n), 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n), 2n ** 62n,
    2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n) + 1n,
  ];
  for (const v of vals) {
    const b = bytesOf((w) => w.varlong(v));
    const r = new Reader(b);
    assert.equal(r.varlong(), v, `varlong ${v}`);
    assert.equal(r.remaining(), 0);
  }
  assert.deepEqual([...bytesOf((w) => w.varlong(-1n))], [1]);
  assert.equal(bytesOf((w) => w.varlong(2n ** 63n - 1n)).length, 10);
  assert.deepEqual(
    [...bytesOf((w) => w.varlong(-(2n ** 63n)))],
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
  );
  assert.throws(() => bytesOf((w) => w.varlong(2n ** 63n)), EncodeError);
  assert.throws(() => new Reader(Buffer.alloc(11, 0xff)).varlong(), DecodeError);
});

test('fixed-width integers, int64 as bigint, float64, bool, uuid', () => {
  const b = bytesOf((w) => {
    w.int8(-128);
    w.int8(127);
    w.int16(-32768);
    w.uint16(65535);
    w.int32(-(2 ** 31));
    w.uint32(2 ** 32 - 1);
    w.int64(-(2n ** 63n));
    w.int64(2n ** 63n - 1n);
    w.int64(2n ** 53n + 1n);
    w.float64(-1.5e300);
    w.bool(true);
    w.bool(false);
    w.uuid('0123456789ABCDEF0123456789abcdef');
    w.uuid('3b241101-e2bb-4255-8caf-4136c566a962');
  });
  const r = new Reader(b);
  assert.equal(r.int8(), -128);
  assert.equal(r.int8(), 127);
  assert.equal(r.int16(), -32768);
  assert.equal(r.uint16(), 65535);
  assert.equal(r.int32(), -(2 ** 31));
  assert.equal(r.uint32(), 2 ** 32 - 1);
  assert.equal(r.int64(), -(2n ** 63n));
  assert.equal(r.int64(), 2n ** 63n - 1n);
  assert.equal(r.int64(), 2n ** 53n + 1n);
  assert.equal(r.float64(), -1.5e300);
  assert.equal(r.bool(), true);
  assert.equal(r.bool(), false);
  assert.equal(r.uuid(), '01234567-89ab-cdef-0123-456789abcdef');
  assert.equal(r.uuid(), '3b241101-e2bb-4255-8caf-4136c566a962');
  assert.equal(r.remaining(), 0);
  assert.throws(() => bytesOf((w) => w.uuid('not-a-uuid')), EncodeError);
  assert.throws(() => bytesOf((w) => w.uuid('3b241101-e2bb-4255-8caf-4136c566a96g')), EncodeError);
});

test('strings and bytes, classic and compact, nullable; bytes are views', () => {
  const long = 'x'.repeat(300) + 'é😀';
  const payload = Buffer.from('hello');
  const b = bytesOf((w) => {
    w.string('');
    w.string('héllo');
    w.nullableString(null);
    w.compactString('');
    w.compactString(long);
    w.compactString('ü'.repeat(42));
    w.compactNullableString(null);
    w.bytes(payload);
    w.nullableBytes(null);
    w.compactBytes(Buffer.alloc(0));
    w.compactNullableBytes(null);
  });
  const r = new Reader(b);
  assert.equal(r.string(), '');
  assert.equal(r.string(), 'héllo');
  assert.equal(r.nullableString(), null);
  assert.equal(r.compactString(), '');
  assert.equal(r.compactString(), long);
  assert.equal(r.compactString(), 'ü'.repeat(42));
  assert.equal(r.compactNullableString(), null);
  const view = r.bytes();
  assert.deepEqual(view, payload);
  assert.equal(view.buffer, b.buffer, 'bytes() returns a view into the input');
  assert.equal(r.nullableBytes(), null);
  assert.equal(r.compactBytes().length, 0);
  assert.equal(r.compactNullableBytes(), null);
  assert.equal(r.remaining(), 0);
  // null where not nullable
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff])).string(), DecodeError);
  assert.throws(() => new Reader(Buffer.from([0])).compactString(), DecodeError);
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff])).bytes(), DecodeError);
  assert.throws(() => bytesOf((w) => w.string('x'.repeat(0x8000))), EncodeError);
});

test('bytes given in chunks are written back to back with one length, large chunks uncopied', () => {
  const big = Buffer.alloc(ZERO_COPY_MIN + 10, 7);
  const chunks = [Buffer.from('ab'), big, Buffer.from('cd')];
  const w = new Writer();
  w.bytes(chunks);
  w.compactBytes(chunks);
  w.compactNullableBytes([]);
  w.nullableBytes([Buffer.from('x')]);
  const out = w.finish();
  assert.ok(out.some((c) => c === big), 'the large chunk is passed through, not copied');
  const r = new Reader(Buffer.concat(out));
  const whole = Buffer.concat(chunks);
  assert.deepEqual(r.bytes(), whole);
  assert.deepEqual(r.compactBytes(), whole);
  assert.equal(r.compactNullableBytes()!.length, 0);
  assert.deepEqual(r.nullableBytes(), Buffer.from('x'));
  assert.equal(r.remaining(), 0);
});

test('truncated input throws DecodeError for every primitive', () => {
  const reads: [string, (r: Reader) => unknown, Buffer][] = [
    ['int8', (r) => r.int8(), Buffer.alloc(0)],
    ['int16', (r) => r.int16(), Buffer.alloc(1)],
    ['int32', (r) => r.int32(), Buffer.alloc(3)],
    ['int64', (r) => r.int64(), Buffer.alloc(7)],
    ['float64', (r) => r.float64(), Buffer.alloc(7)],
    ['uuid', (r) => r.uuid(), Buffer.alloc(15)],
    ['uvarint', (r) => r.uvarint(), Buffer.from([0x80, 0x80])],
    ['varlong', (r) => r.varlong(), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80])],
    ['string', (r) => r.string(), Buffer.from([0, 5, 0x61, 0x62])],
    ['compactString', (r) => r.compactString(), Buffer.from([6, 0x61])],
    ['bytes', (r) => r.bytes(), Buffer.from([0, 0, 0, 9, 1, 2, 3])],
    ['compactNullableBytes', (r) => r.compactNullableBytes(), Buffer.from([0xff, 0x01])],
    ['skipTaggedFields', (r) => r.skipTaggedFields(), Buffer.from([1, 0, 10, 1])],
  ];
  for (const [name, fn, buf] of reads) {
    assert.throws(() => fn(new Reader(buf)), DecodeError, name);
  }
  // `end` bounds reads even when the underlying buffer is longer
  const r = new Reader(Buffer.alloc(16), 0, 3);
  assert.throws(() => r.int32(), DecodeError);
  assert.throws(() => new Reader(Buffer.from([0x80, 0, 0, 0])).string(), DecodeError); // length -32768
});

test('huge or negative array counts throw DecodeError before allocating', () => {
  assert.throws(() => new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0])).arrayLength(), DecodeError);
  assert.throws(() => new Reader(Buffer.from([0x80, 0, 0, 0])).arrayLength(), DecodeError);
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xfe])).arrayLength(), DecodeError);
  assert.equal(new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff])).arrayLength(), -1);
  // compact: 2^31 + 1 encoded as uvarint
  const big = bytesOf((w) => w.uvarint(2 ** 31 + 1));
  assert.throws(() => new Reader(Buffer.concat([big, Buffer.alloc(8)])).compactArrayLength(), DecodeError);
  assert.equal(new Reader(Buffer.from([0])).compactArrayLength(), -1);
  // minimum element size is taken into account: 3 int32s do not fit in 8 bytes
  assert.throws(() => new Reader(Buffer.from([0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0])).arrayLength(4), DecodeError);
  assert.equal(new Reader(Buffer.from([0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0])).arrayLength(4), 2);
});

test('tagged fields: read raw, skip, bounds', () => {
  const b = bytesOf((w) => {
    w.uvarint(2);
    w.uvarint(0);
    w.uvarint(2);
    w.int16(7);
    w.uvarint(5);
    const m = w.beginSized();
    w.compactString('abc');
    w.endSized(m);
    w.int8(42);
  });
  const r = new Reader(b);
  const tags = r.readTaggedFields();
  assert.deepEqual([...tags.keys()], [0, 5]);
  assert.equal(tags.get(0)!.readInt16BE(0), 7);
  assert.equal(new Reader(tags.get(5)!).compactString(), 'abc');
  assert.equal(r.int8(), 42);
  const r2 = new Reader(b);
  r2.skipTaggedFields();
  assert.equal(r2.int8(), 42);
});

test('Writer: growth, zero-copy chunks, back-patching, endSized across chunks, reuse', () => {
  const w = new Writer(16);
  const at = w.reserveInt32();
  w.string('a'.repeat(100)); // forces growth
  const big = Buffer.alloc(ZERO_COPY_MIN, 7);
  w.bytes(big);
  const small = Buffer.alloc(ZERO_COPY_MIN - 1, 8);
  w.compactBytes(small);
  w.patchInt32(at, w.length - at - 4);
  const total = w.length;
  const chunks = w.finish();
  assert.equal(chunks.length, 3);
  assert.equal(chunks[1], big, 'large payload is its own chunk, not a copy');
  const all = Buffer.concat(chunks);
  assert.equal(all.length, total);
  assert.equal(all.readInt32BE(0), total - 4);
  assert.equal(w.length, 0);

  // endSized when a zero-copy chunk was pushed after the mark
  const w2 = new Writer();
  w2.int8(9);
  const m = w2.beginSized();
  w2.int8(1);
  w2.compactBytes(big);
  w2.int8(2);
  w2.endSized(m);
  const out = w2.toBuffer();
  const r = new Reader(out);
  assert.equal(r.int8(), 9);
  const end = r.tagEnd();
  assert.equal(end - r.pos, 1 + 2 + ZERO_COPY_MIN + 1);
  assert.equal(r.int8(), 1);
  assert.deepEqual(r.compactBytes(), big);
  assert.equal(r.int8(), 2);

  // reuse after finish() never overwrites handed-out chunks
  const w3 = new Writer(64);
  w3.int32(0x11111111);
  const first = w3.finish();
  w3.int32(0x22222222);
  const second = w3.finish();
  assert.equal(first[0]!.readInt32BE(0), 0x11111111);
  assert.equal(second[0]!.readInt32BE(0), 0x22222222);
});
