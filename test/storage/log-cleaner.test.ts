/**
 * The classic log cleaner on a log of its own (no broker): latest record per key kept at its offset, the
 * active segment untouched, tombstones kept with a KIP-534 delete horizon then removed after it, several
 * passes with a small key map, compressed batches rewritten with their codec, an idempotent producer's last
 * batch kept empty, keyless records removed, the result surviving a reopen, crash leftovers removed, and the
 * cleaning triggers (dirty ratio, min/max compaction lag).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { defaultBrokerConfig } from '../../src/config/broker-config.ts';
import { resolveTopicConfig, type TopicConfig } from '../../src/config/topic-config.ts';
import { readRecords } from '../../src/protocol/records.ts';
import { ControlType, controlBatch } from '../../src/protocol/record-batch.ts';
import { ClassicLog, type ClassicLogOptions } from '../../src/storage/classic/classic-log.ts';
import { IndexCache } from '../../src/storage/classic/index-cache.ts';
import { cleanableState, cleanLog, LogCleaner } from '../../src/storage/classic/log-cleaner.ts';
import { fetchBudget } from '../../src/storage/partition-log.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { buildRecordBatch, type RecordSpec } from '../helpers/record-batch.ts';

const TOPIC_ID = '3b241101-e2bb-4255-8caf-4136c566a962';
const BIG_MAP = 1 << 20;

function compactConfig(overrides: Partial<TopicConfig> = {}): TopicConfig {
  return { ...resolveTopicConfig({ 'diskless.enable': 'false', 'cleanup.policy': 'compact' }, defaultBrokerConfig()), segmentBytes: 1024, ...overrides };
}

async function openLog(dir: string, config: TopicConfig): Promise<{ log: ClassicLog; setConfig: (c: TopicConfig) => void }> {
  let current = config;
  const options: ClassicLogOptions = {
    topicId: TOPIC_ID, topicName: 't', partition: 0, dir,
    config: () => current,
    onVisible: () => {},
    onPendingBytes: () => {},
    indexCache: new IndexCache(1 << 20),
  };
  return { log: await ClassicLog.open(options, false), setConfig: (c) => { current = c; } };
}

interface Produced { baseOffset: number }

async function append(log: ClassicLog, records: RecordSpec[], opts: { compression?: number; producerId?: bigint; baseSequence?: number; timestamp?: bigint } = {}): Promise<Produced> {
  const b = await buildRecordBatch({ records, compression: opts.compression, producerId: opts.producerId, producerEpoch: opts.producerId === undefined ? -1 : 0, baseSequence: opts.baseSequence, baseTimestamp: opts.timestamp ?? BigInt(Date.now()) });
  const baseSequence = b.readInt32BE(53);
  const lastOffsetDelta = b.readInt32BE(23);
  const r = await log.append({
    data: b, recordCount: lastOffsetDelta + 1, baseTimestamp: Number(b.readBigInt64BE(27)), maxTimestamp: Number(b.readBigInt64BE(35)), timestampType: 0,
    producerId: Number(b.readBigInt64BE(43)), producerEpoch: b.readInt16BE(51), baseSequence,
    lastSequence: baseSequence < 0 ? -1 : (baseSequence + lastOffsetDelta) % 2 ** 31, txnKind: 0,
  }, -1);
  assert.equal(r.errorCode, 0, r.errorMessage ?? '');
  return { baseOffset: r.baseOffset };
}

interface ReadRecord { offset: number; key: string | null; value: string | null; timestamp: bigint }

/** Every record from offset 0, with the stored batches. */
async function readAll(log: ClassicLog): Promise<{ records: ReadRecord[]; batches: Buffer[] }> {
  const records: ReadRecord[] = [];
  const batches: Buffer[] = [];
  let offset = log.logStartOffset;
  for (;;) {
    const plan = await log.plan(offset, 1 << 20, 0);
    assert.equal(plan.errorCode, 0, `plan at ${offset}`);
    plan.limit(fetchBudget(1 << 20));
    const r = await plan.load();
    assert.equal(r.errorCode, 0);
    if (r.bytes === 0) return { records, batches };
    const bytes = r.records[0]!;
    for (let at = 0; at < bytes.length;) {
      const size = bytes.readInt32BE(at + 8) + 12;
      const b = bytes.subarray(at, at + size);
      assert.equal(b.readUInt32BE(17), crc32c(b.subarray(21)) >>> 0, 'every stored batch has a valid CRC');
      batches.push(Buffer.from(b));
      const base = Number(b.readBigInt64BE(0));
      const baseTs = b.readBigInt64BE(27);
      for (const rec of await readRecords(b)) {
        records.push({ offset: base + rec.offsetDelta, key: rec.key?.toString() ?? null, value: rec.value?.toString() ?? null, timestamp: baseTs + rec.timestampDelta });
      }
      offset = base + b.readInt32BE(23) + 1;
      at += size;
    }
  }
}

/** Appends `updates` rounds of one record per key (value `k<key>-v<round>`), one batch per round; returns every (key, offset) written. */
async function writeUpdates(log: ClassicLog, keys: number, updates: number, opts: { compression?: number } = {}): Promise<[string, number][]> {
  const written: [string, number][] = [];
  for (let u = 0; u < updates; u++) {
    const records = Array.from({ length: keys }, (_, k) => ({ key: `k${k}`, value: `k${k}-v${u}` }));
    const { baseOffset } = await append(log, records, opts);
    for (let k = 0; k < keys; k++) written.push([`k${k}`, baseOffset + k]);
  }
  return written;
}

/** Below the active segment, each key once, at the offset of its latest record there. */
function assertCompacted(records: ReadRecord[], written: [string, number][], activeFrom: number): void {
  const latest = new Map<string, number>();
  for (const [key, offset] of written) if (offset < activeFrom) latest.set(key, offset);
  const cleaned = records.filter((r) => r.offset < activeFrom);
  const seen = new Set<string>();
  for (const r of cleaned) {
    assert.ok(r.key !== null);
    assert.ok(!seen.has(r.key), `key ${r.key} appears once below the active segment`);
    seen.add(r.key);
    assert.equal(r.offset, latest.get(r.key), `key ${r.key} kept at its latest offset`);
  }
  assert.equal(seen.size, latest.size, 'every key written below the active segment is there');
}

test('compaction keeps the latest record of each key at its offset, never touches the active segment, keeps the high watermark', async () => {
  const dir = await tempDir();
  const { log } = await openLog(dir, compactConfig());
  const latest = await writeUpdates(log, 10, 30);
  const hw = log.highWatermark;
  const activeBase = log.active.baseOffset;
  assert.ok(log.segments.length > 5, 'small segments rolled');
  const before = await readAll(log);
  const activeBefore = before.records.filter((r) => r.offset >= activeBase);
  const sizeBefore = log.size;
  const state = await cleanableState(log, Date.now());
  assert.ok(state?.due, 'a first clean is due (dirty ratio 1)');
  assert.equal(state!.dirtyRatio, 1);
  const r = await cleanLog(log, Date.now(), BIG_MAP);
  assert.equal(r.passes, 1);
  assert.ok(r.recordsRemoved > 0);
  assert.equal(log.highWatermark, hw, 'the high watermark does not move');
  assert.equal(log.logStartOffset, 0);
  assert.ok(log.size < sizeBefore, `the log shrank (${sizeBefore} → ${log.size})`);
  const after = await readAll(log);
  assertCompacted(after.records, latest, activeBase);
  assert.deepEqual(after.records.filter((r) => r.offset >= activeBase), activeBefore, 'the active segment is untouched');
  // Each key's latest value is readable from offset 0: compacted part plus the active segment.
  const view = new Map<string, string>();
  for (const rec of after.records) view.set(rec.key!, rec.value!);
  for (let k = 0; k < 10; k++) assert.equal(view.get(`k${k}`), `k${k}-v29`);
  assert.equal(log.cleanerCheckpoint, activeBase, 'the checkpoint moved to the first uncleanable offset');
  const again = await cleanableState(log, Date.now());
  assert.equal(again!.dirtyBytes, 0);
  assert.equal(again!.due, false);

  // The cleaned log reopens as it was (checkpoint, segments and indexes rebuilt from the swapped files).
  await log.close();
  const reopened = await openLog(dir, compactConfig());
  assert.equal(reopened.log.cleanerCheckpoint, activeBase);
  assert.deepEqual((await readAll(reopened.log)).records, after.records);
  await reopened.log.close();
});

test('tombstones are kept with a delete horizon (KIP-534) and removed once it has passed', async () => {
  const dir = await tempDir();
  const deleteRetentionMs = 60_000;
  const { log } = await openLog(dir, compactConfig({ deleteRetentionMs }));
  await writeUpdates(log, 6, 5);
  const tomb = await append(log, [{ key: 'k1', value: null }, { key: 'k2', value: null }]);
  await writeUpdates(log, 2, 40); // k0, k1 again: k1 comes back after its tombstone
  const activeBase = log.active.baseOffset;
  assert.ok(tomb.baseOffset + 1 < activeBase);
  const now = Date.now();
  await cleanLog(log, now, BIG_MAP);
  let { records, batches } = await readAll(log);
  const k2 = records.filter((r) => r.key === 'k2');
  assert.deepEqual(k2.map((r) => [r.offset, r.value]), [[tomb.baseOffset + 1, null]], 'k2: only its tombstone, at its offset');
  const tombBatch = batches.find((b) => Number(b.readBigInt64BE(0)) === tomb.baseOffset)!;
  assert.ok((tombBatch.readInt16BE(21) & 0x40) !== 0, 'the delete-horizon attribute bit is set');
  assert.equal(Number(tombBatch.readBigInt64BE(27)), now + deleteRetentionMs, 'base timestamp = the delete horizon');
  assert.equal(log.nextDeleteHorizonMs, now + deleteRetentionMs);
  assert.ok(records.find((r) => r.offset === tomb.baseOffset + 1)!.timestamp < BigInt(now + 1000), 'record timestamps are unchanged by the horizon');

  const early = await cleanableState(log, now + deleteRetentionMs - 1);
  assert.equal(early!.horizonPassed, false);
  const late = await cleanableState(log, now + deleteRetentionMs);
  assert.ok(late!.horizonPassed && late!.due, 'the cleaner runs again once the horizon has passed, without new dirty data');
  await cleanLog(log, now + deleteRetentionMs, BIG_MAP);
  ({ records, batches } = await readAll(log));
  assert.equal(records.filter((r) => r.key === 'k2').length, 0, 'the tombstone is gone after delete.retention.ms');
  assert.equal(records.filter((r) => r.value === null).length, 0);
  assert.equal(log.nextDeleteHorizonMs, -1);
  await log.close();
});

test('a key map smaller than the dirty keys cleans in several passes to the same result', async () => {
  const dirA = await tempDir();
  const dirB = await tempDir();
  const a = (await openLog(dirA, compactConfig())).log;
  const b = (await openLog(dirB, compactConfig())).log;
  const latestA = await writeUpdates(a, 30, 12);
  await writeUpdates(b, 30, 12);
  const big = await cleanLog(a, Date.now(), BIG_MAP);
  const small = await cleanLog(b, Date.now(), 40);
  assert.equal(big.passes, 1);
  assert.ok(small.passes > 3, `several passes (${small.passes})`);
  const ra = (await readAll(a)).records;
  const rb = (await readAll(b)).records;
  assertCompacted(rb, latestA, b.active.baseOffset);
  assert.deepEqual(rb.map((r) => [r.offset, r.key, r.value]), ra.map((r) => [r.offset, r.key, r.value]));
  await a.close();
  await b.close();
});

for (const [codec, name] of [[1, 'gzip'], [2, 'snappy'], [3, 'lz4'], [4, 'zstd']] as const) {
  test(`${name} batches are rewritten with ${name}`, async () => {
    const dir = await tempDir();
    const { log } = await openLog(dir, compactConfig());
    const latest = await writeUpdates(log, 20, 25, { compression: codec });
    await cleanLog(log, Date.now(), BIG_MAP);
    const { records, batches } = await readAll(log);
    assertCompacted(records, latest, log.active.baseOffset);
    for (const bt of batches) assert.equal(bt.readInt16BE(21) & 7, codec, 'the batch keeps its codec');
    await log.close();
  });
}

test('the batch of an idempotent producer\'s last sequence is kept (empty) with its producer fields; keyless records are removed', async () => {
  const dir = await tempDir();
  const { log } = await openLog(dir, compactConfig());
  await append(log, [{ key: 'a', value: 'a0' }, { key: null, value: 'keyless' }]);
  const last = await append(log, [{ key: 'a', value: 'a1' }, { key: 'b', value: 'b1' }], { producerId: 7n, baseSequence: 0 });
  await writeUpdates(log, 2, 40); // keys k0, k1; also supersedes nothing of a/b
  await append(log, [{ key: 'a', value: 'a2' }, { key: 'b', value: 'b2' }]);
  await writeUpdates(log, 2, 40);
  await cleanLog(log, Date.now(), BIG_MAP);
  const { records, batches } = await readAll(log);
  assert.equal(records.filter((r) => r.key === null).length, 0, 'keyless records are removed');
  const kept = batches.find((b) => Number(b.readBigInt64BE(0)) === last.baseOffset);
  assert.ok(kept, 'the producer\'s last batch is still there');
  assert.equal(kept!.readInt32BE(57), 0, 'with no records');
  assert.equal(kept!.readBigInt64BE(43), 7n);
  assert.equal(kept!.readInt32BE(53), 0, 'base sequence kept');
  assert.equal(kept!.readInt32BE(23), 1, 'last offset delta kept (so the last sequence)');
  // A retry of that batch is still recognised as a duplicate.
  const dup = await buildRecordBatch({ records: [{ key: 'a', value: 'a1' }, { key: 'b', value: 'b1' }], producerId: 7n, producerEpoch: 0, baseSequence: 0 });
  const r = await log.append({ data: dup, recordCount: 2, baseTimestamp: 0, maxTimestamp: 0, timestampType: 0, producerId: 7, producerEpoch: 0, baseSequence: 0, lastSequence: 1, txnKind: 0 }, -1);
  assert.equal(r.errorCode, 0);
  assert.equal(r.baseOffset, last.baseOffset);
  await log.close();
});

test('min.compaction.lag.ms holds back recent segments; max.compaction.lag.ms forces a clean below the dirty ratio; a leftover .cleaned file is removed at open', async () => {
  const dir = await tempDir();
  const { log, setConfig } = await openLog(dir, compactConfig({ minCompactionLagMs: 3_600_000 }));
  await writeUpdates(log, 10, 20);
  const held = await cleanableState(log, Date.now());
  assert.equal(held!.firstUncleanableOffset, 0, 'every segment is younger than min.compaction.lag.ms');
  assert.equal(held!.due, false);
  setConfig(compactConfig());
  await cleanLog(log, Date.now(), BIG_MAP);
  await writeUpdates(log, 10, 12);
  setConfig(compactConfig({ minCleanableDirtyRatio: 0.99 }));
  const low = await cleanableState(log, Date.now());
  assert.ok(low!.dirtyBytes > 0 && !low!.due, `a small dirty part stays below the ratio (${low!.dirtyRatio})`);
  setConfig(compactConfig({ minCleanableDirtyRatio: 0.99, maxCompactionLagMs: 1000 }));
  const forced = await cleanableState(log, Date.now() + 5000);
  assert.ok(forced!.needCompactionNow && forced!.due, 'max.compaction.lag.ms passed for the first dirty batch');

  // The LogCleaner cleans what is due.
  const cleaner = new LogCleaner({ enabled: true, threads: 1, dedupeBufferBytes: 1 << 20, backoffMs: 1000 }, () => [log]);
  await cleaner.runOnce(Date.now() + 5000);
  assert.equal(cleaner.stats.runs, 1);
  assert.ok(cleaner.stats.recordsRemoved > 0 && cleaner.stats.bytesRead > 0 && cleaner.stats.bytesWritten > 0);
  await cleaner.close();

  const first = log.segments[0]!;
  await log.close();
  await writeFile(join(dir, `${String(first.baseOffset).padStart(20, '0')}.log.cleaned`), 'half-written');
  const reopened = await openLog(dir, compactConfig());
  assert.ok(!(await readdir(dir)).some((f) => f.endsWith('.cleaned')), 'leftover removed');
  assert.ok((await readAll(reopened.log)).records.length > 0);
  await reopened.log.close();
});

test('a crash right after a swap (new log in place, its indexes not written yet) reopens with the indexes rebuilt from the new log', async () => {
  const dir = await tempDir();
  const { log } = await openLog(dir, compactConfig());
  await writeUpdates(log, 10, 30);
  await cleanLog(log, Date.now(), BIG_MAP);
  const view = (await readAll(log)).records;
  const cleanedBases = log.segments.slice(0, -1).map((s) => s.baseOffset);
  await log.close();
  // The swap removes the old indexes before the rename; a crash before the new ones exist leaves none.
  for (const base of cleanedBases) {
    for (const suffix of ['.index', '.timeindex']) await unlink(join(dir, `${String(base).padStart(20, '0')}${suffix}`)).catch(() => {});
  }
  const reopened = await openLog(dir, compactConfig());
  assert.deepEqual((await readAll(reopened.log)).records, view);
  for (const base of cleanedBases) assert.ok((await readdir(dir)).includes(`${String(base).padStart(20, '0')}.index`), 'index rebuilt');
  await reopened.log.close();
});

test('transactions: aborted data removed, its range dropped from the producer state and its snapshots once no data is left, markers gone after delete.retention.ms', async () => {
  const dir = await tempDir();
  const config = compactConfig({ deleteRetentionMs: 60_000 });
  const { log } = await openLog(dir, config);
  const appendTxn = async (records: RecordSpec[], sequence: number) => {
    const b = await buildRecordBatch({ records, producerId: 9n, producerEpoch: 0, baseSequence: sequence, transactional: true, baseTimestamp: BigInt(Date.now()) });
    const r = await log.append({ data: b, recordCount: records.length, baseTimestamp: Date.now(), maxTimestamp: Date.now(), timestampType: 0, producerId: 9, producerEpoch: 0, baseSequence: sequence, lastSequence: sequence + records.length - 1, txnKind: 1 }, -1);
    assert.equal(r.errorCode, 0, r.errorMessage ?? '');
  };
  const appendMarker = async (commit: boolean) => {
    const r = await log.append({ data: controlBatch(9n, 0, commit ? ControlType.COMMIT : ControlType.ABORT, 1, BigInt(Date.now())), recordCount: 1, baseTimestamp: Date.now(), maxTimestamp: Date.now(), timestampType: 0, producerId: 9, producerEpoch: 0, baseSequence: -1, lastSequence: -1, txnKind: commit ? 3 : 2 }, -1);
    assert.equal(r.errorCode, 0, r.errorMessage ?? '');
    return r.baseOffset;
  };
  /** Plain records until the active segment starts past everything written so far. */
  const roll = async () => {
    const end = log.highWatermark;
    for (let i = 0; log.active.baseOffset < end; i++) await append(log, [{ key: `filler-${i % 3}`, value: 'x'.repeat(200) }]);
  };
  const keys = (prefix: string) => Array.from({ length: 5 }, (_, k) => ({ key: `k${k}`, value: `${prefix}-k${k}` }));
  let sequence = 0;
  const aborts: number[] = [];
  for (let r = 0; r < 4; r++) {
    await appendTxn(keys(`c${r}`), sequence);
    sequence += 5;
    await appendMarker(true);
    await appendTxn(keys(`a${r}`), sequence);
    sequence += 5;
    aborts.push(await appendMarker(false));
  }
  await appendTxn(keys('c4'), sequence);
  const lastCommit = await appendMarker(true);
  await roll();
  assert.deepEqual(log.abortedTransactions().map((a) => a.lastOffset), aborts);

  // Pass 1: aborted records go, committed ones are compacted; every marker stays (data of each was seen).
  await cleanLog(log, Date.now(), BIG_MAP);
  let { records, batches } = await readAll(log);
  const txnValues = records.filter((r) => /^[ac]\d/.test(r.value ?? '')).map((r) => r.value);
  assert.deepEqual(txnValues, keys('c4').map((r) => r.value), 'only the last committed transaction\'s records are left');
  assert.equal(batches.filter((b) => (b.readInt16BE(21) & 0x20) !== 0).length, 9, 'all markers stay this pass');
  assert.deepEqual(log.abortedTransactions().map((a) => a.lastOffset), aborts, 'data of the aborted transactions was still there when this pass read it');

  // Pass 2 (new dirty data): the markers without data get a horizon; the aborted ranges go, from the snapshots too.
  await roll();
  await cleanLog(log, Date.now(), BIG_MAP);
  assert.deepEqual(log.abortedTransactions(), []);
  ({ batches } = await readAll(log));
  const markers = batches.filter((b) => (b.readInt16BE(21) & 0x20) !== 0);
  assert.equal(markers.length, 9);
  assert.deepEqual(markers.filter((b) => (b.readInt16BE(21) & 0x40) !== 0).map((b) => Number(b.readBigInt64BE(0))).length, 8, 'every marker but the last commit\'s has a delete horizon');
  assert.equal(log.nextDeleteHorizonMs > Date.now(), true);
  // The snapshots written at the rolls (a crash would restore one) hold the ranges no more.
  const snapshots = (await readdir(dir)).filter((f) => f.endsWith('.producers'));
  assert.ok(snapshots.length > 0);
  for (const f of snapshots) assert.deepEqual(JSON.parse(await readFile(join(dir, f), 'utf8')).aborted, [], f);
  await log.close();
  const reopened = (await openLog(dir, config)).log;
  assert.deepEqual(reopened.abortedTransactions(), [], 'the snapshots no longer hold the dropped ranges');

  // Past the horizon: only the marker of the transaction that still holds data is left.
  const later = Date.now() + 61_000;
  assert.ok((await cleanableState(reopened, later))?.horizonPassed);
  await cleanLog(reopened, later, BIG_MAP);
  ({ records, batches } = await readAll(reopened));
  assert.deepEqual(batches.filter((b) => (b.readInt16BE(21) & 0x20) !== 0).map((b) => Number(b.readBigInt64BE(0))), [lastCommit]);
  assert.deepEqual(records.filter((r) => /^[ac]\d/.test(r.value ?? '')).map((r) => r.value), keys('c4').map((r) => r.value));
  await reopened.close();
});
