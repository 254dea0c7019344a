import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { compress as snappyCompress } from 'snappy';
import {
  CompressionError,
  CompressionType,
  XERIAL_MAGIC,
  compress,
  compressXerial,
  decompress,
  decompressSync,
} from '../../src/protocol/compression.ts';

const CODECS = [
  ['none', CompressionType.NONE],
  ['gzip', CompressionType.GZIP],
  ['snappy', CompressionType.SNAPPY],
  ['lz4', CompressionType.LZ4],
  ['zstd', CompressionType.ZSTD],
] as const;

// Compressible text plus incompressible noise; large enough to cross lz4's sync/async threshold and
// several lz4 / xerial blocks.
const text = Buffer.from('the quick brown fox jumps over the lazy dog '.repeat(5000));
const noise = randomBytes(300_000);
const large = Buffer.concat([text, noise, text]);

for (const [name, codec] of CODECS) {
  test(`${name}: round trip (empty, small, large)`, async () => {
    for (const input of [Buffer.alloc(0), Buffer.from('hello, kafka'), large]) {
      const packed = await compress(codec, input);
      const unpacked = await decompress(codec, packed);
      assert.ok(unpacked.equals(input), `${name} ${input.length} bytes`);
    }
  });
}

test('none returns the same buffer both ways', async () => {
  const b = Buffer.from('x');
  assert.equal(await compress(CompressionType.NONE, b), b);
  assert.equal(await decompress(CompressionType.NONE, b), b);
});

test('compressed output is in the expected container format', async () => {
  const input = Buffer.from('abc'.repeat(100));
  const gz = await compress(CompressionType.GZIP, input);
  assert.deepEqual([...gz.subarray(0, 2)], [0x1f, 0x8b]);
  const lz = await compress(CompressionType.LZ4, input);
  assert.equal(lz.readUInt32LE(0), 0x184d2204); // LZ4 frame magic
  const zs = await compress(CompressionType.ZSTD, input);
  assert.equal(zs.readUInt32LE(0), 0xfd2fb528); // zstd frame magic
  const sn = await compress(CompressionType.SNAPPY, input);
  assert.notDeepEqual(sn.subarray(0, 8), XERIAL_MAGIC); // raw block, no xerial framing
});

test('snappy: xerial framing (as Java producers send) is read, hand-built blocks', async () => {
  const a = Buffer.from('first xerial block '.repeat(50));
  const b = Buffer.from('second xerial block '.repeat(70));
  const header = Buffer.alloc(16);
  XERIAL_MAGIC.copy(header);
  header.writeInt32BE(1, 8);
  header.writeInt32BE(1, 12);
  const parts: Buffer[] = [header];
  for (const block of [await snappyCompress(a), await snappyCompress(b)]) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(block.length);
    parts.push(len, block);
  }
  const out = await decompress(CompressionType.SNAPPY, Buffer.concat(parts));
  assert.ok(out.equals(Buffer.concat([a, b])));
});

test('snappy: compressXerial output decodes, many blocks', async () => {
  const framed = await compressXerial(large, 32 * 1024);
  assert.ok(framed.subarray(0, 8).equals(XERIAL_MAGIC));
  assert.ok((await decompress(CompressionType.SNAPPY, framed)).equals(large));
  // header only: zero blocks, empty output
  assert.equal((await decompress(CompressionType.SNAPPY, await compressXerial(Buffer.alloc(0)))).length, 0);
});

test('snappy: truncated xerial stream is rejected', async () => {
  const framed = await compressXerial(text);
  await assert.rejects(decompress(CompressionType.SNAPPY, framed.subarray(0, framed.length - 3)), CompressionError);
  await assert.rejects(decompress(CompressionType.SNAPPY, framed.subarray(0, 12)), CompressionError);
});

test('lz4: frames written by the lz4 CLI (content size, block and content checksums) are read', async () => {
  const expected = 'Floe lz4 frame from the lz4 CLI with content checksum and linked blocks. Floe lz4 frame.';
  const noContentSize =
    '04224d186440a751000000f207466c6f65206c7a34206672616d652066726f6d2074681300f61e434c49207769746820636f6e74656e7420636865636b73756d20616e64206c696e6b656420626c6f636b732e2049005072616d652e00000000c767bd7a';
  const withEverything =
    '04224d187c405800000000000000bf51000000f207466c6f65206c7a34206672616d652066726f6d2074681300f61e434c49207769746820636f6e74656e7420636865636b73756d20616e64206c696e6b656420626c6f636b732e2049005072616d652e989773ff00000000c767bd7a';
  for (const hex of [noContentSize, withEverything]) {
    assert.equal((await decompress(CompressionType.LZ4, Buffer.from(hex, 'hex'))).toString(), expected);
  }
});

test('zstd: a streamed frame without content size (as zstd-jni writes) is read, also synchronously', async () => {
  const frame = Buffer.from(
    '28b52ffd0458250200a403466c6f65207a737464206672616d6520776974686f757420636f6e74656e742073697a652c2061732d6a6e692073747265616d732069742e202e020083d00ba755656008aaa4',
    'hex',
  );
  assert.equal(
    (await decompress(CompressionType.ZSTD, frame)).toString(),
    'Floe zstd frame without content size, as zstd-jni streams it. Floe zstd frame.',
  );
  assert.equal(decompressSync(CompressionType.ZSTD, frame).toString(), 'Floe zstd frame without content size, as zstd-jni streams it. Floe zstd frame.');
  const large = randomBytes(300_000).toString('hex');
  assert.equal(decompressSync(CompressionType.ZSTD, await compress(CompressionType.ZSTD, Buffer.from(large))).toString(), large);
  assert.throws(() => decompressSync(CompressionType.ZSTD, Buffer.from('not a zstd frame at all')), CompressionError);
});

test('gzip: concatenated members are read whole', async () => {
  const two = Buffer.concat([gzipSync(Buffer.from('one ')), gzipSync(Buffer.from('two'))]);
  assert.equal((await decompress(CompressionType.GZIP, two)).toString(), 'one two');
});

test('unknown codec ids and garbage input reject with CompressionError', async () => {
  for (const codec of [5, 6, 7, -1]) {
    await assert.rejects(decompress(codec, Buffer.from('x')), CompressionError);
    await assert.rejects(compress(codec, Buffer.from('x')), CompressionError);
  }
  const garbage = Buffer.from('definitely not compressed data, not at all');
  for (const codec of [CompressionType.GZIP, CompressionType.LZ4, CompressionType.ZSTD]) {
    await assert.rejects(decompress(codec, garbage), CompressionError);
  }
});
