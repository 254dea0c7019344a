/**
 * CPU cost of the message format v0/v1 conversions (protocol/legacy-records.ts), in CPU seconds per GiB of
 * uncompressed record data (message sets / batches as if uncompressed), for 1 KiB records in batches of 100: up-conversion (Produce v0-2, magic 1 → magic 2, uncompressed and
 * gzip wrappers) and down-conversion (Fetch v2-3, magic 2 → magic 1, uncompressed and lz4 batches).
 *
 *   npx tsx bench/legacy-conversion.ts [MiB of input per case, default 256]
 */
import { crc32 } from '@node-rs/crc32';
import { gzipSync } from 'node:zlib';
import { downConvert, upConvert } from '../src/protocol/legacy-records.ts';
import { buildBatchV2, type LegacyMessage } from '../src/protocol/legacy-records.ts';
import { CompressionType } from '../src/protocol/record-batch.ts';

const MIB = Number(process.argv[2] ?? 256);
const RECORD = 1024;
const PER_BATCH = 100;

function legacySet(messages: LegacyMessage[]): Buffer {
  const out: Buffer[] = [];
  for (const m of messages) {
    const body = Buffer.alloc(2 + 8 + 4 + 4 + m.value!.length);
    body.writeInt8(1, 0);
    body.writeInt8(0, 1);
    body.writeBigInt64BE(m.timestamp, 2);
    body.writeInt32BE(-1, 10);
    body.writeInt32BE(m.value!.length, 14);
    m.value!.copy(body, 18);
    const head = Buffer.alloc(16);
    head.writeBigInt64BE(m.offset, 0);
    head.writeInt32BE(4 + body.length, 8);
    head.writeUInt32BE(crc32(body), 12);
    out.push(head, body);
  }
  return Buffer.concat(out);
}

function gzipWrapper(inner: Buffer, lastOffset: bigint): Buffer {
  const value = gzipSync(inner);
  const body = Buffer.alloc(2 + 8 + 4 + 4 + value.length);
  body.writeInt8(1, 0);
  body.writeInt8(CompressionType.GZIP, 1);
  body.writeBigInt64BE(1_700_000_000_000n, 2);
  body.writeInt32BE(-1, 10);
  body.writeInt32BE(value.length, 14);
  value.copy(body, 18);
  const head = Buffer.alloc(16);
  head.writeBigInt64BE(lastOffset, 0);
  head.writeInt32BE(4 + body.length, 8);
  head.writeUInt32BE(crc32(body), 12);
  return Buffer.concat([head, body]);
}

// Semi-compressible values: text with a counter.
const messages: LegacyMessage[] = Array.from({ length: PER_BATCH }, (_, i) => ({
  offset: BigInt(i), magic: 1, timestamp: 1_700_000_000_000n + BigInt(i), logAppendTime: false, key: null,
  value: Buffer.from(`record ${i} `.padEnd(RECORD, `payload-${i % 7}-abcdefghij `)),
}));
const plainSet = legacySet(messages);
const gzipSet = gzipWrapper(plainSet, BigInt(PER_BATCH - 1));
const plainBatch = buildBatchV2(messages, CompressionType.NONE);
const lz4Batch = buildBatchV2(messages, CompressionType.LZ4);

async function measure(name: string, inputBytes: number, once: () => unknown): Promise<void> {
  const total = MIB * 1024 * 1024;
  const rounds = Math.ceil(total / inputBytes);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) await once();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const gib = (rounds * inputBytes) / 2 ** 30;
  console.log(`${name.padEnd(44)} ${(cpuS / gib).toFixed(2).padStart(6)} CPU s/GiB  (${((rounds * inputBytes) / 2 ** 20 / wall).toFixed(0)} MiB/s wall, ${(rounds * inputBytes / 2 ** 20).toFixed(0)} MiB)`);
}

console.log(`${PER_BATCH} records of ${RECORD} B per batch; bytes counted uncompressed`);
await measure('up-convert magic 1 → 2, uncompressed', plainSet.length, () => upConvert(plainSet));
await measure('up-convert magic 1 → 2, gzip (kept)', plainSet.length, () => upConvert(gzipSet));
await measure('down-convert magic 2 → 1, uncompressed', plainBatch.length, () => downConvert(plainBatch, 1, 0n, 1 << 30));
await measure('down-convert magic 2 (lz4) → 1, lz4 again', plainBatch.length, () => downConvert(lz4Batch, 1, 0n, 1 << 30));
