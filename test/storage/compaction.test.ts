/**
 * The compaction rules for transactions (src/storage/compaction.ts), on batches built here: which records go
 * into the key map, what filterBatch keeps of transactional data and of markers, pass after pass as the
 * drivers run them (map over the dirty part, filtering from the log start).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readRecords } from '../../src/protocol/records.ts';
import { OffsetMap, TransactionTracker, addToOffsetMap, filterBatch, type AbortedTransaction, type FilterContext } from '../../src/storage/compaction.ts';
import { buildRecordBatch } from '../helpers/record-batch.ts';

const TXN = 0x10;
const CONTROL = 0x20;
const HORIZON = 0x40;
const RETENTION = 60_000;

/** A stored batch: its base offset and bytes. */
interface Stored {
  base: number;
  bytes: Buffer;
}

function data(base: number, kv: [string, string | null][], producerId = -1, transactional = false, baseSequence = -1): Promise<Stored> {
  return buildRecordBatch({
    baseOffset: BigInt(base),
    records: kv.map(([key, value]) => ({ key, value })),
    producerId: BigInt(producerId),
    producerEpoch: producerId < 0 ? -1 : 3,
    baseSequence,
    transactional,
  }).then((bytes) => ({ base, bytes }));
}

/** A transaction marker as brokers write it: key (version 0, type), value (version 0, coordinator epoch). */
function marker(base: number, producerId: number, commit: boolean): Promise<Stored> {
  return buildRecordBatch({
    baseOffset: BigInt(base),
    records: [{ key: Buffer.from([0, 0, 0, commit ? 1 : 0]), value: Buffer.from([0, 0, 0, 0, 0, 5]) }],
    producerId: BigInt(producerId),
    producerEpoch: 3,
    transactional: true,
    control: true,
  }).then((bytes) => ({ base, bytes }));
}

/** One driver pass: the map over batches from `dirtyFrom`, then every batch filtered from the first. */
async function pass(log: Stored[], aborted: AbortedTransaction[], now: number, dirtyFrom = 0, producerLastOffsets = new Map<number, number>()) {
  const map = new OffsetMap(1000);
  const mapTxns = new TransactionTracker(aborted, dirtyFrom);
  for (const b of log) if (b.base + b.bytes.readInt32BE(23) >= dirtyFrom) await addToOffsetMap(map, b.bytes, b.base, mapTxns);
  const ctx: FilterContext = { map, now, deleteRetentionMs: RETENTION, producerLastOffsets, transactions: new TransactionTracker(aborted, log[0]?.base ?? 0) };
  const out: Stored[] = [];
  const horizons: number[] = [];
  for (const b of log) {
    const r = await filterBatch(b.bytes, b.base, ctx);
    if (r.batch !== null) out.push({ base: b.base, bytes: r.batch });
    if (r.deleteHorizonMs >= 0) horizons.push(r.deleteHorizonMs);
  }
  return { out, map, horizons, abortMarkersWithoutData: ctx.transactions.abortMarkersWithoutData };
}

/** The data records (offset, key, value) and, for markers, (offset, 'marker', null). */
async function values(log: Stored[]): Promise<[number, string | null, string | null][]> {
  const out: [number, string | null, string | null][] = [];
  for (const b of log) {
    if ((b.bytes.readInt16BE(21) & CONTROL) !== 0) out.push([b.base, 'marker', null]);
    else for (const r of await readRecords(b.bytes)) out.push([b.base + r.offsetDelta, r.key?.toString() ?? null, r.value?.toString() ?? null]);
  }
  return out;
}

test('key map: committed transactions count like plain records; aborted ones and markers are left out', async () => {
  const log = [
    await data(0, [['k1', 'plain']]),
    await data(1, [['k1', 'committed'], ['k2', 'committed']], 7, true, 0),
    await marker(3, 7, true),
    await data(4, [['k1', 'aborted'], ['k3', 'aborted']], 8, true, 0),
    await marker(6, 8, false),
  ];
  const map = new OffsetMap(100);
  const txns = new TransactionTracker([{ producerId: 8, firstOffset: 4, lastOffset: 6 }], 0);
  for (const b of log) await addToOffsetMap(map, b.bytes, b.base, txns);
  assert.equal(map.get(Buffer.from('k1')), 1, 'the committed record is the latest of k1, not the aborted one');
  assert.equal(map.get(Buffer.from('k2')), 2);
  assert.equal(map.get(Buffer.from('k3')), -1, 'a key only written by an aborted transaction is not in the map');
  assert.equal(map.size, 2, 'the markers\' keys are not in the map');
  assert.equal(map.latestOffset, 6, 'the map ends past the last batch scanned');
});

test('aborted data goes whole, committed data is compacted by key keeping its transactional fields, markers go delete.retention.ms after their transaction has no data left', async () => {
  const now = 1_000_000;
  const aborted = [{ producerId: 8, firstOffset: 4, lastOffset: 7 }];
  let log = [
    await data(0, [['k1', 'v0'], ['k2', 'v0']]),
    await data(2, [['k1', 'c1'], ['k3', 'c1']], 7, true, 0),
    await data(4, [['k1', 'a1'], ['k2', 'a1']], 8, true, 0),
    await data(6, [['k3', 'a1']], 8, true, 2),
    await marker(7, 8, false),
    await marker(8, 7, true),
    await data(9, [['k3', 'v2']]),
  ];
  const txnBatch = log[1]!.bytes;

  // Pass 1: the aborted batches go, the committed batch loses k3 (newer plain value) and keeps its fields.
  const p1 = await pass(log, aborted, now);
  assert.deepEqual(await values(p1.out), [[1, 'k2', 'v0'], [2, 'k1', 'c1'], [7, 'marker', null], [8, 'marker', null], [9, 'k3', 'v2']]);
  log = p1.out;
  const rebuilt = log.find((b) => b.base === 2)!.bytes;
  assert.notEqual(rebuilt, txnBatch);
  assert.equal(rebuilt.readInt16BE(21) & TXN, TXN, 'still transactional');
  assert.equal(rebuilt.readBigInt64BE(43), 7n, 'producer id kept');
  assert.equal(rebuilt.readInt16BE(51), 3, 'producer epoch kept');
  assert.equal(rebuilt.readInt32BE(53), 0, 'base sequence kept');
  assert.equal(rebuilt.readInt32BE(23), 1, 'last offset delta kept');
  // Both markers stay this pass: data of their transactions was seen in it.
  const m7 = log.find((b) => b.base === 7)!.bytes;
  const m8 = log.find((b) => b.base === 8)!.bytes;
  assert.equal(m7.readInt16BE(21) & HORIZON, 0);
  assert.equal(m8.readInt16BE(21) & HORIZON, 0);
  assert.deepEqual([...p1.abortMarkersWithoutData], []);

  // Pass 2: the abort marker has no data left → a delete horizon; the commit marker still has data.
  const p2 = await pass(log, aborted, now + 1000);
  const m7b = p2.out.find((b) => b.base === 7)!.bytes;
  assert.equal(m7b.readInt16BE(21), TXN | CONTROL | HORIZON, 'the marker gets the delete-horizon bit, stays a transactional control batch');
  assert.equal(m7b.readBigInt64BE(27), BigInt(now + 1000 + RETENTION), 'its horizon is now + delete.retention.ms');
  assert.deepEqual((await readRecords(m7b)).map((r) => r.key), (await readRecords(m7)).map((r) => r.key), 'its control record is unchanged');
  assert.equal(p2.out.find((b) => b.base === 8)!.bytes, m8, 'the commit marker is kept as it is while its data remains');
  assert.deepEqual([...p2.abortMarkersWithoutData], [7], 'the aborted range may go');
  assert.deepEqual(p2.horizons, [now + 1000 + RETENTION]);
  log = p2.out;

  // Before the horizon nothing changes; after it the marker goes.
  const p3 = await pass(log, aborted, now + 1000 + RETENTION - 1);
  assert.deepEqual(p3.out.map((b) => b.bytes), log.map((b) => b.bytes));
  const p4 = await pass(log, aborted, now + 1000 + RETENTION);
  assert.deepEqual(p4.out.map((b) => b.base), [0, 2, 8, 9], 'the abort marker is gone; offsets of what stays never change');

  // A newer plain value of k1 empties the committed batch: its marker gets a horizon the pass after, then goes.
  log = [...p4.out, await data(10, [['k1', 'v3']])];
  const p5 = await pass(log, [], now + 2 * RETENTION);
  assert.deepEqual(p5.out.map((b) => b.base), [0, 8, 9, 10], 'the committed batch is gone, its marker stays this pass');
  const p6 = await pass(p5.out, [], now + 2 * RETENTION);
  assert.equal(p6.out.find((b) => b.base === 8)!.bytes.readInt16BE(21) & HORIZON, HORIZON);
  assert.deepEqual([...p6.abortMarkersWithoutData], [], 'a commit marker names no aborted range');
  const p7 = await pass(p6.out, [], now + 3 * RETENTION);
  assert.deepEqual(await values(p7.out), [[1, 'k2', 'v0'], [9, 'k3', 'v2'], [10, 'k1', 'v3']], 'the commit marker went after its horizon');
});

test('a key map over the dirty part only: an aborted range that ended before it does not make the producer\'s later transaction aborted', async () => {
  const aborted = [{ producerId: 8, firstOffset: 0, lastOffset: 1 }];
  const log = [
    await data(0, [['k1', 'aborted']], 8, true, 0),
    await marker(1, 8, false),
    await data(2, [['k1', 'committed']], 8, true, 1),
    await marker(3, 8, true),
  ];
  const map = new OffsetMap(100);
  const txns = new TransactionTracker(aborted, 2);
  for (const b of log.slice(2)) await addToOffsetMap(map, b.bytes, b.base, txns);
  assert.equal(map.get(Buffer.from('k1')), 2);

  // A range whose marker is already gone (stale) does not swallow the producer's later committed data.
  const withoutMarker = [log[2]!, log[3]!];
  const r = await pass(withoutMarker, [{ producerId: 8, firstOffset: 0, lastOffset: 1 }, { producerId: 8, firstOffset: 5, lastOffset: 6 }], 0);
  assert.deepEqual(await values(r.out), [[2, 'k1', 'committed'], [3, 'marker', null]]);
});

test('an aborted batch holding an active producer\'s last sequence is kept empty with its producer fields', async () => {
  const log = [await data(0, [['k1', 'a'], ['k2', 'a']], 8, true, 4), await marker(2, 8, false)];
  const r = await pass(log, [{ producerId: 8, firstOffset: 0, lastOffset: 2 }], 0, 0, new Map([[8, 1]]));
  const kept = r.out[0]!.bytes;
  assert.equal(kept.readInt32BE(57), 0, 'no records');
  assert.equal(kept.readInt16BE(21) & TXN, TXN);
  assert.equal(kept.readInt32BE(53), 4, 'base sequence kept');
  assert.equal(kept.readInt32BE(23), 1, 'last offset delta (so the last sequence) kept');
  assert.equal(r.out[1]!.bytes, log[1]!.bytes, 'the marker stays while a batch of its transaction does');
  // The next pass keeps the empty batch byte for byte (nothing to do).
  const again = await pass(r.out, [{ producerId: 8, firstOffset: 0, lastOffset: 2 }], 0, 0, new Map([[8, 1]]));
  assert.equal(again.out[0]!.bytes, kept);
});
