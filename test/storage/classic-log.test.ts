/**
 * The classic partition log on its own (no broker): offsets assigned at append and patched into the stored
 * batches, reads at any offset through the ring / hints / sparse index, segment rolls, group commit of
 * fsyncs, recovery of a torn or corrupt tail (truncate, continue without a gap), clean reopen, retention by
 * time and size (whole segments), DeleteRecords and record-granular ListOffsets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, stat, truncate, appendFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { defaultBrokerConfig } from '../../src/config/broker-config.ts';
import { resolveTopicConfig, type TopicConfig } from '../../src/config/topic-config.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { readRecords } from '../../src/protocol/records.ts';
import { ClassicLog, type ClassicLogOptions } from '../../src/storage/classic/classic-log.ts';
import { IndexCache } from '../../src/storage/classic/index-cache.ts';
import { fetchBudget } from '../../src/storage/partition-log.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { batchOf, buildRecordBatch } from '../helpers/record-batch.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const TOPIC_ID = '3b241101-e2bb-4255-8caf-4136c566a962';

function configWith(overrides: Partial<TopicConfig> = {}): TopicConfig {
  return { ...resolveTopicConfig({ 'diskless.enable': 'false' }, defaultBrokerConfig()), ...overrides };
}

interface Harness {
  log: ClassicLog;
  config: TopicConfig;
  visible: string[];
  pending: { bytes: number };
}

async function openLog(dir: string, config: TopicConfig, recover = false, cache = new IndexCache(1 << 20)): Promise<Harness> {
  const visible: string[] = [];
  const pending = { bytes: 0 };
  const h = { config } as Harness;
  const options: ClassicLogOptions = {
    topicId: TOPIC_ID, topicName: 't', partition: 0, dir,
    config: () => h.config,
    onVisible: (key) => visible.push(key),
    onPendingBytes: (d) => { pending.bytes += d; },
    indexCache: cache,
  };
  h.log = await ClassicLog.open(options, recover);
  h.visible = visible;
  h.pending = pending;
  return h;
}

/** Counts the fsyncs of the log's segment files (all of them: the method is patched on the prototype) until `restore()`. */
function countFsyncs(log: ClassicLog): { readonly count: number; restore(): void } {
  const proto = Object.getPrototypeOf(log.active.log) as { datasync: () => Promise<void> };
  const original = proto.datasync;
  let count = 0;
  proto.datasync = function (this: unknown) {
    count++;
    return original.call(this);
  };
  return { get count() { return count; }, restore: () => { proto.datasync = original; } };
}

async function append(log: ClassicLog, b: Buffer, acks = -1, timestampType: 0 | 1 = 0) {
  const baseSequence = b.readInt32BE(53);
  const lastOffsetDelta = b.readInt32BE(23);
  return log.append({
    data: b, recordCount: lastOffsetDelta + 1, baseTimestamp: Number(b.readBigInt64BE(27)), maxTimestamp: Number(b.readBigInt64BE(35)), timestampType,
    producerId: Number(b.readBigInt64BE(43)), producerEpoch: b.readInt16BE(51), baseSequence,
    lastSequence: baseSequence < 0 ? -1 : (baseSequence + lastOffsetDelta) % 2 ** 31,
    txnKind: 0,
  }, acks);
}

/** Every record from `offset` to the high watermark, as offset → value, through plan/limit/load. */
async function readFrom(log: ClassicLog, offset: number, maxBytes = 1 << 20): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (;;) {
    const plan = await log.plan(offset, maxBytes, 0);
    assert.equal(plan.errorCode, 0, `plan at ${offset}`);
    plan.limit(fetchBudget(maxBytes));
    const r = await plan.load();
    assert.equal(r.errorCode, 0);
    if (r.bytes === 0) return out;
    const bytes = r.records[0]!;
    for (let at = 0; at < bytes.length;) {
      const size = bytes.readInt32BE(at + 8) + 12;
      const b = bytes.subarray(at, at + size);
      assert.equal(b.readUInt32BE(17), crc32c(b.subarray(21)) >>> 0, 'stored batches keep a valid CRC');
      assert.equal(b.readInt32BE(12), 0, 'leader epoch 0');
      const base = Number(b.readBigInt64BE(0));
      for (const rec of await readRecords(b)) out.set(base + rec.offsetDelta, rec.value!.toString());
      offset = base + b.readInt32BE(23) + 1;
      at += size;
    }
  }
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
}

test('append assigns contiguous offsets, patches them into the stored bytes, and reads back from any offset', async () => {
  const dir = await tempDir();
  const { log, visible } = await openLog(dir, configWith({ indexIntervalBytes: 100 }));
  const expected = new Map<number, string>();
  let next = 0;
  for (let i = 0; i < 200; i++) {
    const values = Array.from({ length: 1 + (i % 4) }, (_, j) => `m${i}-${j}`);
    const r = await append(log, await batchOf(values));
    assert.equal(r.errorCode, 0);
    assert.equal(r.baseOffset, next);
    for (const v of values) expected.set(next++, v);
  }
  assert.equal(log.highWatermark, next);
  assert.ok(visible.length > 0 && visible.every((k) => k === `${TOPIC_ID}:0`), 'long polls are woken');
  assert.deepEqual(await readFrom(log, 0), expected);
  // Every offset (index lookups, in the middle of batches) starts the read at the batch holding it.
  for (const offset of [1, 7, 99, 250, next - 1]) {
    const plan = await log.plan(offset, 1, 0);
    plan.limit(fetchBudget(1 << 20));
    const r = await plan.load();
    const b = r.records[0]!;
    const base = Number(b.readBigInt64BE(0));
    assert.ok(base <= offset && offset <= base + b.readInt32BE(23), `offset ${offset} is in the first batch returned`);
  }
  const atEnd = await log.plan(next, 1 << 20, 0);
  assert.equal(atEnd.errorCode, 0);
  atEnd.limit(fetchBudget(1 << 20));
  assert.equal((await atEnd.load()).bytes, 0, 'at the high watermark: nothing to read');
  assert.equal((await log.plan(next + 1, 1 << 20, 0)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  await log.close();
});

test('pipelined appends in one tick share one fsync (group commit) and are answered in order', async () => {
  const dir = await tempDir();
  const { log } = await openLog(dir, configWith());
  await append(log, await batchOf(['warm-up']));
  const fsyncs = countFsyncs(log);
  try {
    const batches = await Promise.all(Array.from({ length: 100 }, (_, i) => batchOf([`v${i}`])));
    const results = await Promise.all(batches.map((b) => append(log, b)));
    assert.deepEqual(results.map((r) => r.baseOffset), results.map((_, i) => i + 1));
    assert.ok(fsyncs.count >= 1 && fsyncs.count <= 3, `100 appends cost ${fsyncs.count} fsyncs`);
  } finally {
    fsyncs.restore();
  }
  await log.close();
});

test('acks=all waits for the fsync and consumers see only fsynced data; flush.messages > 1 relaxes both', async () => {
  const dir = await tempDir();
  const h = await openLog(dir, configWith());
  const proto = Object.getPrototypeOf(h.log.active.log) as { datasync: () => Promise<void> };
  const original = proto.datasync;
  let release: () => void = () => {};
  let held = 0;
  proto.datasync = function (this: unknown) {
    held++;
    return new Promise<void>((resolve) => { release = () => resolve(original.call(this)); });
  };
  try {
    let answered = false;
    const r = append(h.log, await batchOf(['durable'])).then((x) => { answered = true; return x; });
    await sleep(50);
    assert.equal(held, 1, 'the write waits in fsync');
    assert.equal(answered, false, 'not answered before the fsync');
    assert.equal(h.log.highWatermark, 0, 'not visible before the fsync');
    release();
    assert.equal((await r).errorCode, 0);
    assert.equal(h.log.highWatermark, 1);

    h.config = configWith({ flushMessages: 1000 });
    held = 0;
    const relaxed = await append(h.log, await batchOf(['relaxed']));
    assert.equal(relaxed.errorCode, 0);
    assert.equal(held, 0, 'no fsync per write with flush.messages=1000');
    assert.equal(h.log.highWatermark, 2);
  } finally {
    proto.datasync = original;
  }
  await h.log.close();
});

test('segments roll at segment.bytes; reads and index lookups work across segments; clean reopen resumes', async () => {
  const dir = await tempDir();
  const config = configWith({ segmentBytes: 4096, indexIntervalBytes: 256 });
  let { log } = await openLog(dir, config);
  const expected = new Map<number, string>();
  for (let i = 0; i < 300; i++) {
    const v = `value-${i}-${'x'.repeat(i % 40)}`;
    const r = await append(log, await batchOf([v]));
    expected.set(r.baseOffset, v);
  }
  const files = await segmentFiles(dir);
  assert.ok(files.length > 3, `rolled into ${files.length} segments`);
  for (const f of files) assert.ok((await stat(join(dir, f))).size <= 4096, `${f} within segment.bytes`);
  assert.deepEqual(await readFrom(log, 0, 1000), expected);
  assert.deepEqual(await readFrom(log, 137), new Map([...expected].filter(([o]) => o >= 137)));
  await log.close();

  // Reopen with no room for inactive indexes (they are read back on every lookup), and one index file lost.
  const firstIndex = join(dir, files[0]!.replace('.log', '.index'));
  await unlink(firstIndex);
  ({ log } = await openLog(dir, config, false, new IndexCache(0)));
  assert.equal(log.nextOffset, 300);
  assert.deepEqual(await readFrom(log, 0), expected);
  for (const offset of [3, 40, 120, 299]) assert.deepEqual(await readFrom(log, offset), new Map([...expected].filter(([o]) => o >= offset)));
  assert.ok((await stat(firstIndex)).size > 0, 'the lost index was rebuilt');
  const r = await append(log, await batchOf(['after-reopen']));
  assert.equal(r.baseOffset, 300);
  await log.close();
});

test('the active segment keeps its index entries in memory until it is sealed; a clean reopen and a recovery both find them', async () => {
  const dir = await tempDir();
  const config = configWith({ indexIntervalBytes: 64 });
  let { log } = await openLog(dir, config);
  const expected = new Map<number, string>();
  for (let i = 0; i < 50; i++) {
    const v = `value-${i}-${'y'.repeat(60)}`;
    expected.set((await append(log, await batchOf([v]))).baseOffset, v);
  }
  const index = join(dir, '00000000000000000000.index');
  assert.equal((await stat(index)).size, 0, 'no index write per round while the segment is active');
  await log.close();
  assert.ok((await stat(index)).size >= 8 * 20, `sealed at close: ${(await stat(index)).size} bytes of index`);
  ({ log } = await openLog(dir, config));
  for (const offset of [0, 17, 49]) assert.deepEqual(await readFrom(log, offset), new Map([...expected].filter(([o]) => o >= offset)));
  for (let i = 50; i < 60; i++) expected.set((await append(log, await batchOf([`value-${i}`]))).baseOffset, `value-${i}`);
  // No close: the next open recovers (no clean-shutdown marker) and rebuilds the indexes from the log.
  ({ log } = await openLog(dir, config, true));
  assert.equal(log.nextOffset, 60);
  for (const offset of [5, 33, 55]) assert.deepEqual(await readFrom(log, offset), new Map([...expected].filter(([o]) => o >= offset)));
  await log.close();
});

test('segment.ms rolls on the first append after the active segment is that old; flush.ms fsyncs relaxed logs in time', async () => {
  const dir = await tempDir();
  const h = await openLog(dir, configWith({ segmentMs: 200, flushMessages: 1_000_000, flushMs: 300 }));
  const fsyncs = countFsyncs(h.log);
  try {
    await append(h.log, await batchOf(['first']));
    await append(h.log, await batchOf(['second']));
    assert.equal(fsyncs.count, 0, 'relaxed: no fsync per write');
    await sleep(450);
    assert.ok(fsyncs.count >= 1, 'flush.ms fsynced the unflushed data');
    await append(h.log, await batchOf(['third']));
  } finally {
    fsyncs.restore();
  }
  assert.deepEqual(await segmentFiles(dir), ['00000000000000000000.log', '00000000000000000002.log']);
  assert.deepEqual([...(await readFrom(h.log, 0)).values()], ['first', 'second', 'third']);
  await h.log.close();
});

test('recovery: a torn tail (segment cut mid-batch) is truncated and offsets continue without a gap', async () => {
  const dir = await tempDir();
  const config = configWith({ segmentBytes: 1 << 20 });
  let { log } = await openLog(dir, config);
  const sizes: number[] = [];
  for (let i = 0; i < 20; i++) {
    const b = await batchOf([`a${i}`, `b${i}`]);
    sizes.push(b.length);
    await append(log, b);
  }
  await log.flushed();
  // Simulate a crash: no close (no clean-shutdown seal), then cut the file in the middle of the last batch.
  const file = join(dir, (await segmentFiles(dir)).at(-1)!);
  const full = (await stat(file)).size;
  await truncate(file, full - Math.floor(sizes.at(-1)! / 2));
  await Promise.allSettled(log.segments.map((s) => s.close()));

  ({ log } = await openLog(dir, config, true));
  assert.equal(log.recoveredTruncatedBytes, sizes.at(-1)! - Math.floor(sizes.at(-1)! / 2));
  assert.equal((await stat(file)).size, full - sizes.at(-1)!, 'cut at the last whole batch');
  assert.equal(log.nextOffset, 38, 'the torn batch (offsets 38-39) is gone');
  const r = await append(log, await batchOf(['next']));
  assert.equal(r.baseOffset, 38, 'the next append continues at the cut, without a gap');
  const read = await readFrom(log, 0);
  assert.deepEqual([...read.keys()], Array.from({ length: 39 }, (_, i) => i));
  assert.equal(read.get(38), 'next');
  await log.close();
});

test('recovery: garbage and a batch with a bad CRC at the end are cut', async () => {
  const dir = await tempDir();
  const config = configWith();
  let { log } = await openLog(dir, config);
  for (let i = 0; i < 5; i++) await append(log, await batchOf([`v${i}`]));
  const last = await batchOf(['corrupt-me']);
  await append(log, last);
  await log.flushed();
  const file = join(dir, (await segmentFiles(dir))[0]!);
  const size = (await stat(file)).size;
  // Flip a byte inside the last batch's records (the CRC no longer matches), then add garbage.
  const handle = await open(file, 'r+');
  await handle.write(Buffer.from([0x5a]), 0, 1, size - 3);
  await handle.close();
  await appendFile(file, Buffer.alloc(100, 7));
  await Promise.allSettled(log.segments.map((s) => s.close()));

  ({ log } = await openLog(dir, config, true));
  assert.equal((await stat(file)).size, size - last.length);
  assert.equal(log.nextOffset, 5);
  assert.deepEqual([...(await readFrom(log, 0)).values()], ['v0', 'v1', 'v2', 'v3', 'v4']);
  await log.close();
});

test('retention: time and size delete whole segments, oldest first; an expired active segment is rolled first', async () => {
  const dir = await tempDir();
  const h = await openLog(dir, configWith({ segmentBytes: 2048, retentionMs: -1, retentionBytes: -1, fileDeleteDelayMs: 0 }));
  const now = Date.now();
  // Old data (timestamps a day ago), then recent data.
  for (let i = 0; i < 40; i++) await append(h.log, await batchOf([`old-${i}-${'o'.repeat(50)}`], { baseTimestamp: BigInt(now - 86_400_000) }));
  const oldEnd = h.log.nextOffset;
  for (let i = 0; i < 40; i++) await append(h.log, await batchOf([`new-${i}-${'n'.repeat(50)}`], { baseTimestamp: BigInt(now) }));
  const before = await segmentFiles(dir);
  assert.ok(before.length >= 4);
  assert.equal(await h.log.applyRetention(now), 0, 'no retention configured');

  h.config = configWith({ segmentBytes: 2048, retentionMs: 3_600_000, retentionBytes: -1, fileDeleteDelayMs: 0 });
  const deleted = await h.log.applyRetention(now);
  assert.ok(deleted > 0);
  const after = await segmentFiles(dir);
  assert.equal(after.length, before.length - deleted, 'whole segments deleted');
  assert.ok(h.log.logStartOffset > 0 && h.log.logStartOffset <= oldEnd, `log start ${h.log.logStartOffset} moved to a segment boundary`);
  assert.equal(h.log.logStartOffset, Number(after[0]!.slice(0, 20)));
  assert.equal((await h.log.plan(0, 1 << 20, 0)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  const kept = await readFrom(h.log, h.log.logStartOffset);
  assert.ok([...kept.values()].filter((v) => v.startsWith('new-')).length === 40, 'recent data kept');

  // Size: keep at most ~3 KiB.
  h.config = configWith({ segmentBytes: 2048, retentionMs: -1, retentionBytes: 3000, fileDeleteDelayMs: 0 });
  await h.log.applyRetention(now);
  assert.ok(h.log.size <= 3000 + 2048 && h.log.size >= 3000 - 2048, `size ${h.log.size} close to retention.bytes`);
  assert.ok(h.log.size >= 3000 || h.log.segments.length === 1);

  // Everything expired, the active segment included: it is rolled, the log keeps an empty active segment.
  const end = h.log.nextOffset;
  h.config = configWith({ segmentBytes: 2048, retentionMs: 1, retentionBytes: -1, fileDeleteDelayMs: 0 });
  await h.log.applyRetention(now + 10_000);
  assert.equal(h.log.segments.length, 1);
  assert.equal(h.log.logStartOffset, end);
  assert.equal(h.log.highWatermark, end);
  assert.deepEqual(await segmentFiles(dir), [`${String(end).padStart(20, '0')}.log`]);
  assert.equal((await append(h.log, await batchOf(['after']))).baseOffset, end);
  await h.log.close();
});

test('DeleteRecords moves the log start offset (persisted), deletes segments below it, refuses past the high watermark', async () => {
  const dir = await tempDir();
  const config = configWith({ segmentBytes: 1024, fileDeleteDelayMs: 0 });
  let { log } = await openLog(dir, config);
  for (let i = 0; i < 60; i++) await append(log, await batchOf([`r${i}-${'z'.repeat(40)}`]));
  const segmentsBefore = (await segmentFiles(dir)).length;
  assert.deepEqual(await log.deleteRecords(61), { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: -1 });
  assert.deepEqual(await log.deleteRecords(33), { errorCode: 0, lowWatermark: 33 });
  assert.ok((await segmentFiles(dir)).length < segmentsBefore, 'segments below the log start offset are deleted');
  assert.equal((await log.plan(32, 1 << 20, 0)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  const read = await readFrom(log, 33);
  assert.equal(Math.min(...read.keys()), 33);
  assert.deepEqual(await log.deleteRecords(10), { errorCode: 0, lowWatermark: 33 }, 'never backwards');
  assert.deepEqual(await log.listOffset(-2), { errorCode: 0, offset: 33, timestamp: -1 });
  await log.close();
  ({ log } = await openLog(dir, config, false));
  assert.equal(log.logStartOffset, 33, 'kept across a restart');
  assert.deepEqual(await log.deleteRecords(-1), { errorCode: 0, lowWatermark: 60 }, '-1 means the high watermark');
  await log.close();
});

test('ListOffsets by timestamp and max timestamp are record-granular, across segments and compressed batches', async () => {
  const dir = await tempDir();
  const { log } = await openLog(dir, configWith({ segmentBytes: 1024, indexIntervalBytes: 64 }));
  // Batch i holds records at 10000 + 10*i + {0, 5}; one out-of-order batch in the middle.
  for (let i = 0; i < 50; i++) {
    const ts = i === 25 ? 1_000n : BigInt(10_000 + 10 * i);
    const b = await buildRecordBatch({ baseTimestamp: ts, compression: i % 2 === 0 ? 0 : 4, records: [{ value: Buffer.from(`a${i}`), timestampDelta: 0n }, { value: Buffer.from(`b${i}`), timestampDelta: 5n }] });
    await append(log, b);
  }
  assert.ok(log.segments.length > 3);
  assert.deepEqual(await log.listOffset(-1), { errorCode: 0, offset: 100, timestamp: -1 });
  assert.deepEqual(await log.listOffset(0), { errorCode: 0, offset: 0, timestamp: 10_000 });
  assert.deepEqual(await log.listOffset(10_003), { errorCode: 0, offset: 1, timestamp: 10_005 }, 'second record of batch 0');
  assert.deepEqual(await log.listOffset(10_006), { errorCode: 0, offset: 2, timestamp: 10_010 });
  assert.deepEqual(await log.listOffset(10_333), { errorCode: 0, offset: 67, timestamp: 10_335 });
  assert.deepEqual(await log.listOffset(10_495), { errorCode: 0, offset: 99, timestamp: 10_495 });
  assert.deepEqual(await log.listOffset(10_496), { errorCode: 0, offset: -1, timestamp: -1 });
  assert.deepEqual(await log.listOffset(-3), { errorCode: 0, offset: 99, timestamp: 10_495 });
  await log.close();
});

test('LogAppendTime: the stored batch carries the append time (CRC recomputed) and ListOffsets uses it', async () => {
  const dir = await tempDir();
  const { log } = await openLog(dir, configWith());
  const before = Date.now();
  const r = await append(log, await batchOf(['x', 'y'], { baseTimestamp: 5n }), -1, 1);
  assert.ok(r.logAppendTime >= before && r.logAppendTime <= Date.now());
  const plan = await log.plan(0, 1 << 20, 0);
  plan.limit(fetchBudget(1 << 20));
  const b = (await plan.load()).records[0]!;
  assert.equal(b.readInt16BE(21) & 0x08, 0x08);
  assert.equal(Number(b.readBigInt64BE(35)), r.logAppendTime);
  assert.equal(b.readUInt32BE(17), crc32c(b.subarray(21)) >>> 0);
  assert.deepEqual(await log.listOffset(r.logAppendTime), { errorCode: 0, offset: 0, timestamp: r.logAppendTime });
  assert.deepEqual(await log.listOffset(-3), { errorCode: 0, offset: 0, timestamp: r.logAppendTime });
  await log.close();
});

test('the next round is written while the previous one is fsynced; both are answered and visible in order, after their fsyncs', async () => {
  const dir = await tempDir();
  const h = await openLog(dir, configWith());
  await append(h.log, await batchOf(['warm-up']));
  const proto = Object.getPrototypeOf(h.log.active.log) as { datasync: () => Promise<void>; writev: (...a: unknown[]) => Promise<unknown> };
  const { datasync, writev } = proto;
  const held: (() => void)[] = [];
  let writes = 0;
  proto.datasync = function (this: unknown) {
    return new Promise<void>((resolve) => held.push(() => resolve(datasync.call(this))));
  };
  proto.writev = function (this: unknown, ...a: unknown[]) {
    writes++;
    return writev.apply(this, a);
  };
  try {
    const answered: number[] = [];
    const first = append(h.log, await batchOf(['a'])).then((r) => { answered.push(r.baseOffset); return r; });
    await waitFor('the first round waits in its fsync', () => held.length === 1);
    const second = append(h.log, await batchOf(['b', 'c'])).then((r) => { answered.push(r.baseOffset); return r; });
    await waitFor('the second round is written during the first fsync', () => writes === 2);
    await sleep(30);
    assert.equal(held.length, 1, 'one fsync at a time: the second waits for the first');
    assert.deepEqual(answered, [], 'nothing answered before its fsync');
    assert.equal(h.log.highWatermark, 1, 'nothing visible before its fsync');
    held[0]!();
    assert.equal((await first).baseOffset, 1);
    assert.equal(h.log.highWatermark, 2, 'the first round is visible; the second, written after that fsync began, is not');
    await waitFor('the second fsync starts once the first is done', () => held.length === 2);
    assert.deepEqual(answered, [1]);
    held[1]!();
    assert.equal((await second).baseOffset, 2);
    assert.equal(h.log.highWatermark, 4);
    assert.deepEqual(answered, [1, 2]);
  } finally {
    proto.datasync = datasync;
    proto.writev = writev;
  }
  assert.deepEqual([...(await readFrom(h.log, 0)).values()], ['warm-up', 'a', 'b', 'c']);
  await h.log.close();
});

test('a failed fsync answers its round and the rounds written behind it with KAFKA_STORAGE_ERROR; nothing of them becomes visible', async () => {
  const dir = await tempDir();
  const h = await openLog(dir, configWith());
  await append(h.log, await batchOf(['ok']));
  const proto = Object.getPrototypeOf(h.log.active.log) as { datasync: () => Promise<void> };
  const original = proto.datasync;
  let fail: () => void = () => {};
  let calls = 0;
  proto.datasync = () => {
    calls++;
    return new Promise<void>((_, reject) => { fail = () => reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })); });
  };
  try {
    const first = append(h.log, await batchOf(['lost-1']));
    await waitFor('the first round waits in its fsync', () => calls === 1);
    const second = append(h.log, await batchOf(['lost-2']));
    await sleep(30);
    fail();
    assert.equal((await first).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal((await second).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal(h.log.highWatermark, 1);
  } finally {
    proto.datasync = original;
  }
  assert.equal((await append(h.log, await batchOf(['later']))).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  await h.log.close();
});

test('a failed write takes the partition offline: queued and later appends get KAFKA_STORAGE_ERROR', async () => {
  const dir = await tempDir();
  const { log } = await openLog(dir, configWith());
  await append(log, await batchOf(['ok']));
  const proto = Object.getPrototypeOf(log.active.log) as { writev: (...a: unknown[]) => Promise<unknown> };
  const original = proto.writev;
  proto.writev = () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
  try {
    const failed = await append(log, await batchOf(['lost']));
    assert.equal(failed.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  } finally {
    proto.writev = original;
  }
  assert.equal((await append(log, await batchOf(['later']))).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal((await log.plan(0, 1 << 20, 0)).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  await log.close();
});

test('idempotent producers: duplicates answered with the original offset, gaps and old epochs refused; state survives restarts', async () => {
  const dir = await tempDir();
  const config = configWith({ segmentBytes: 1024 });
  const pb = (seq: number, n: number, epoch = 0, id = 7n) => buildRecordBatch({ producerId: id, producerEpoch: epoch, baseSequence: seq, records: Array.from({ length: n }, (_, i) => ({ value: Buffer.from(`s${seq + i}-${'p'.repeat(60)}`) })) });
  let { log } = await openLog(dir, config);
  assert.equal((await append(log, await pb(0, 2))).baseOffset, 0);
  assert.equal((await append(log, await pb(2, 3))).baseOffset, 2);
  const dup = await append(log, await pb(0, 2));
  assert.deepEqual([dup.errorCode, dup.baseOffset], [0, 0], 'a retried batch gets its original offset');
  // A retry pipelined right behind its original (not visible yet) waits for it and gets its offset.
  const [orig, retry] = await Promise.all([append(log, await pb(5, 1)), append(log, await pb(5, 1))]);
  assert.deepEqual([orig.baseOffset, retry.errorCode, retry.baseOffset], [5, 0, 5]);
  assert.equal(log.nextOffset, 6, 'duplicates are not appended');
  assert.equal((await append(log, await pb(9, 1))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal((await append(log, await pb(3, 1, 0, 8n))).errorCode, ErrorCode.UNKNOWN_PRODUCER_ID);
  assert.equal((await append(log, await pb(1, 1, 1))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a new epoch starts at 0');
  assert.equal((await append(log, await pb(0, 1, 1))).baseOffset, 6, 'epoch bump');
  assert.equal((await append(log, await pb(6, 1, 0))).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  for (let seq = 1; seq < 40; seq++) assert.equal((await append(log, await pb(seq, 1, 1))).errorCode, 0);
  assert.ok(log.segments.length > 3, 'rolled (each roll snapshots the producer state)');
  const lastOffset = log.nextOffset - 1;

  // Clean close (snapshot at the log end), then a crash (snapshot at the last roll + replay of the active segment).
  await log.close();
  ({ log } = await openLog(dir, config, false));
  assert.deepEqual([(await append(log, await pb(39, 1, 1))).baseOffset], [lastOffset], 'duplicate known after a clean restart');
  assert.equal((await append(log, await pb(40, 1, 1))).baseOffset, lastOffset + 1);
  await log.flushed();
  await Promise.allSettled(log.segments.map((s) => s.close()));
  ({ log } = await openLog(dir, config, true));
  assert.equal((await append(log, await pb(40, 1, 1))).baseOffset, lastOffset + 1, 'duplicate known after a crash');
  assert.equal((await append(log, await pb(42, 1, 1))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.ok((await readdir(dir)).filter((f) => f.endsWith('.producers')).length <= 2, 'old snapshots are removed');
  await log.close();
});

test('tail reads of the active segment do not go through libuv\'s pool (they would wait behind fsyncs); older data does', async () => {
  const dir = await tempDir();
  const h = await openLog(dir, configWith({ segmentBytes: 4096 }));
  const proto = Object.getPrototypeOf(h.log.active.log) as { read: (...a: unknown[]) => Promise<unknown> };
  const { read } = proto;
  let pooled = 0;
  proto.read = function (this: unknown, ...a: unknown[]) {
    pooled++;
    return read.apply(this, a);
  };
  try {
    const expected = new Map<number, string>();
    for (let i = 0; i < 40; i++) {
      const value = `v${i}-${'x'.repeat(200)}`;
      const r = await append(h.log, await batchOf([value]));
      expected.set(r.baseOffset, value);
    }
    assert.ok(h.log.segments.length > 1, 'rolled');
    const activeBase = h.log.active.baseOffset;
    pooled = 0;
    const tail = await readFrom(h.log, activeBase);
    assert.deepEqual([...tail.keys()], [...expected.keys()].filter((o) => o >= activeBase));
    assert.deepEqual([...tail.values()], [...tail.keys()].map((o) => expected.get(o)));
    assert.equal(pooled, 0, 'the tail was read on the event loop');
    assert.deepEqual(await readFrom(h.log, 0), expected);
    assert.ok(pooled > 0, 'sealed segments are read through the pool');
    // After a restart the active segment's bytes may not be in the page cache: read through the pool, while
    // what the new process appends is read on the event loop again.
    await h.log.close();
    const reopened = await openLog(dir, h.config);
    h.log = reopened.log;
    pooled = 0;
    assert.deepEqual([...(await readFrom(h.log, activeBase)).keys()], [...tail.keys()]);
    assert.ok(pooled > 0, 'what an earlier process wrote is read through the pool');
    const r = await append(h.log, await batchOf(['after restart']));
    pooled = 0;
    assert.deepEqual([...(await readFrom(h.log, r.baseOffset)).values()], ['after restart']);
    assert.equal(pooled, 0, 'what this process wrote is read on the event loop');
  } finally {
    proto.read = read;
  }
  await h.log.close();
});
