// Compression codecs of RecordBatch v2 (attributes bits 0–2): none, gzip, snappy, lz4, zstd.
//
// Floe serves producers' batches byte for byte, so it decompresses only to look inside a batch
// (ListOffsets by timestamp, tests, opt-in deep validation) and compresses only when it builds a batch
// itself. Formats, as Kafka's clients/.../common/compress/*:
//   gzip   RFC 1952 stream (node:zlib).
//   snappy Kafka's Java client writes xerial framing (SnappyOutputStream): magic "\x82SNAPPY\0", int32 version,
//          int32 compatible version, then blocks of int32 length + raw snappy block. librdkafka and others write
//          one raw snappy block. We read both and write raw: xerial's SnappyInputStream falls back to a single
//          raw block when the magic is absent, so Java consumers read raw blocks too.
//   lz4    LZ4 frame format (Kafka's Lz4BlockOutputStream/InputStream for magic 2), lz4-napi's frame API.
//          lz4-napi writes independent 64 KiB-4 MiB blocks without checksums, which Kafka's reader accepts.
//   zstd   zstd frame (@mongodb-js/zstd); frames without a content size (streamed, as zstd-jni writes) decode too.
//
// Native calls block the event loop when synchronous; above ASYNC_THRESHOLD bytes the asynchronous variants
// (libuv thread pool) are used instead. snappy and zstd bindings are asynchronous only (decompressSync reads
// zstd with fzstd, pure JavaScript). The packages load on first use (codec-packages.ts).

import { gunzip, gunzipSync, gzip, constants as zlibConstants } from 'node:zlib';
import { promisify } from 'node:util';
import { fzstdPackage, lz4Package, snappyPackage, zstdPackage } from './codec-packages.ts';
import { CompressionType } from './record-batch.ts';

export { CompressionType };

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Inputs at least this large go to the thread pool (lz4); smaller ones are done inline. */
const ASYNC_THRESHOLD = 64 * 1024;

/** Kafka's default zstd level (ZstdCompression.DEFAULT_LEVEL = 3). */
const ZSTD_LEVEL = 3;

/** xerial snappy-java stream header magic. */
export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;

export class CompressionError extends Error {
  override name = 'CompressionError';
}

export function isSupportedCompression(codec: number): boolean {
  return codec >= CompressionType.NONE && codec <= CompressionType.ZSTD;
}

/** Decompresses the records section of a batch compressed with `codec`. NONE returns `data` itself. */
export async function decompress(codec: number, data: Buffer): Promise<Buffer> {
  try {
    switch (codec) {
      case CompressionType.NONE:
        return data;
      case CompressionType.GZIP:
        return await gunzipAsync(data);
      case CompressionType.SNAPPY:
        return isXerial(data) ? await decompressXerial(data) : await snappyRaw(data);
      case CompressionType.LZ4:
        return data.length >= ASYNC_THRESHOLD ? await lz4Package().decompressFrame(data) : lz4Package().decompressFrameSync(data);
      case CompressionType.ZSTD:
        return await zstdPackage().decompress(data);
    }
  } catch (e) {
    throw new CompressionError(
      `cannot decompress ${codecName(codec)} data (${data.length} bytes): ${(e as Error).message}`,
      { cause: e },
    );
  }
  throw new CompressionError(`Unknown compression type id: ${codec}`);
}

/**
 * Decompresses synchronously, for checks that must finish before the produce handler's first await (the
 * keys of a compacted topic's records). zstd's native binding is asynchronous only, so zstd goes through
 * fzstd (pure JavaScript, slower: used only for this check). Throws CompressionError.
 */
export function decompressSync(codec: number, data: Buffer): Buffer {
  try {
    switch (codec) {
      case CompressionType.NONE:
        return data;
      case CompressionType.GZIP:
        return gunzipSync(data);
      case CompressionType.SNAPPY:
        return isXerial(data) ? decompressXerialSync(data) : (snappyPackage().uncompressSync(data, { asBuffer: true }) as Buffer);
      case CompressionType.LZ4:
        return lz4Package().decompressFrameSync(data);
      case CompressionType.ZSTD: {
        const out = fzstdPackage().decompress(data);
        return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
      }
    }
  } catch (e) {
    throw new CompressionError(`cannot decompress ${codecName(codec)} data (${data.length} bytes): ${(e as Error).message}`, { cause: e });
  }
  throw new CompressionError(`Unknown compression type id: ${codec}`);
}

function decompressXerialSync(data: Buffer): Buffer {
  if (data.length < XERIAL_HEADER_SIZE) throw new Error('truncated xerial snappy header');
  const blocks: Buffer[] = [];
  let pos = XERIAL_HEADER_SIZE;
  while (pos < data.length) {
    if (data.length - pos < 4) throw new Error(`truncated xerial block length at ${pos}`);
    const len = data.readInt32BE(pos);
    pos += 4;
    if (len < 0 || len > data.length - pos) throw new Error(`xerial block of ${len} bytes at ${pos} overruns the input`);
    blocks.push(snappyPackage().uncompressSync(data.subarray(pos, pos + len), { asBuffer: true }) as Buffer);
    pos += len;
  }
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks);
}

/** Compresses `data` with `codec` in the format Kafka consumers read. NONE returns `data` itself. */
export async function compress(codec: number, data: Buffer): Promise<Buffer> {
  switch (codec) {
    case CompressionType.NONE:
      return data;
    case CompressionType.GZIP:
      return gzipAsync(data, { level: zlibConstants.Z_DEFAULT_COMPRESSION });
    case CompressionType.SNAPPY:
      return snappyPackage().compress(data);
    case CompressionType.LZ4:
      return data.length >= ASYNC_THRESHOLD ? lz4Package().compressFrame(data) : lz4Package().compressFrameSync(data);
    case CompressionType.ZSTD:
      return zstdPackage().compress(data, ZSTD_LEVEL);
  }
  throw new CompressionError(`Unknown compression type id: ${codec}`);
}

export function codecName(codec: number): string {
  return ['none', 'gzip', 'snappy', 'lz4', 'zstd'][codec] ?? `unknown(${codec})`;
}

function isXerial(data: Buffer): boolean {
  return (
    data.length >= XERIAL_MAGIC.length &&
    data.compare(XERIAL_MAGIC, 0, XERIAL_MAGIC.length, 0, XERIAL_MAGIC.length) === 0
  );
}

async function snappyRaw(data: Buffer): Promise<Buffer> {
  return (await snappyPackage().uncompress(data, { asBuffer: true })) as Buffer;
}

async function decompressXerial(data: Buffer): Promise<Buffer> {
  if (data.length < XERIAL_HEADER_SIZE) throw new Error('truncated xerial snappy header');
  const parts: Promise<Buffer>[] = [];
  let pos = XERIAL_HEADER_SIZE;
  while (pos < data.length) {
    if (data.length - pos < 4) throw new Error(`truncated xerial block length at ${pos}`);
    const len = data.readInt32BE(pos);
    pos += 4;
    if (len < 0 || len > data.length - pos)
      throw new Error(`xerial block of ${len} bytes at ${pos} overruns the input`);
    parts.push(snappyRaw(data.subarray(pos, pos + len)));
    pos += len;
  }
  const blocks = await Promise.all(parts);
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks);
}

/** Wraps raw snappy blocks in xerial framing, as Java's SnappyOutputStream does (tests, interop). */
export async function compressXerial(data: Buffer, blockSize = 32 * 1024): Promise<Buffer> {
  const header = Buffer.alloc(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(1, 8); // version
  header.writeInt32BE(1, 12); // minimum compatible version
  const out: Buffer[] = [header];
  for (let pos = 0; pos < data.length; pos += blockSize) {
    const block = await snappyPackage().compress(data.subarray(pos, Math.min(data.length, pos + blockSize)));
    const len = Buffer.allocUnsafe(4);
    len.writeInt32BE(block.length, 0);
    out.push(len, block);
  }
  return Buffer.concat(out);
}
