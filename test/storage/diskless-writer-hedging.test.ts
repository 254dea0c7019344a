/**
 * Hedged uploads in the diskless write path (diskless.upload.hedge.percentile), against a real coordinator
 * (PGlite): with a store whose PUTs the test holds and releases, a PUT past the threshold is sent again,
 * whether or not a later object waits on it; the first PUT to succeed counts; a failure of one of the two
 * PUTs is not the object's failure, a failure of both is; ordering and offsets hold. Then end to end on
 * s3rver through a FaultyObjectStore whose profile makes some PUTs slow: every object commits once, in
 * seal order, and holds exactly its bytes; a lone slow object is answered long before its slow PUT ends.
 * Objects under half diskless.buffer.max.bytes are never hedged.
 * The decisions themselves (threshold, budget) are unit-tested over a fake clock in upload-hedger.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import { FaultyObjectStore, type LatencyProfile } from '../../src/objectstore/faulty.ts';
import { DisklessWriter, type CommittedBatch, type WriterOptions } from '../../src/storage/diskless/diskless-writer.ts';
import type { ProducedBatch } from '../../src/storage/partition-log.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { GatedStore } from '../helpers/gated-store.ts';
import { freshBucket, s3Store, sharedS3 } from '../helpers/s3.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

let coordinator: SqlCoordinator;
let topicId: string;

before(async () => {
  coordinator = await openPGliteCoordinator(null);
  topicId = (await coordinator.createTopic({ name: 'hedging', partitionCount: 1, diskless: true, configs: {} })).topicId;
});
after(() => coordinator.close());

function batch(bytes: number, fill = 1): ProducedBatch {
  return { data: Buffer.alloc(bytes, fill), recordCount: 1, baseTimestamp: 0, maxTimestamp: 0, timestampType: 0, producerId: -1, producerEpoch: -1, baseSequence: -1, lastSequence: -1, txnKind: 0 };
}

const settled = async <T>(p: Promise<T>, ms = 100) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

function gatedWriter(store: GatedStore, hedgePercentile: number, extra: Partial<WriterOptions> = {}): DisklessWriter {
  return new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 10_000, bufferMaxBytes: 100, maxPendingBytes: 100_000, keyPrefix: 't/', onCommitted: () => {}, hedgePercentile, ...extra,
  });
}

/** 20 objects whose PUTs are released at once: the writer's PUT durations (the threshold's samples) are a few ms. */
async function prime(writer: DisklessWriter, store: GatedStore): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const r = writer.append({ topicId, partition: 0, batches: [batch(100)] });
    store.pending.shift()!.release();
    assert.equal((await r).errorCode, 0);
  }
  assert.equal(store.pending.length, 0);
}

test('a slow upload is hedged past its threshold, with no later object waiting; the hedge\'s success commits it, in seal order', async () => {
  const store = new GatedStore();
  const writer = gatedWriter(store, 95);
  await prime(writer, store);
  const first = writer.append({ topicId, partition: 0, batches: [batch(100, 2)] });
  // The primed PUTs took a few ms: the threshold passes at once, and nothing else is uploading.
  await waitFor('the first object\'s PUT is sent again', () => store.pending.length === 2, { timeoutMs: 10_000 });
  assert.equal(store.pending[1]!.key, store.pending[0]!.key, 'the hedge PUT has the same key');
  assert.equal(writer.stats.hedgedPuts, 1);
  const second = writer.append({ topicId, partition: 0, batches: [batch(100, 3)] });
  assert.equal(store.pending.length, 3);
  store.pending[2]!.release(); // the later object is uploaded and waits for the first one's commit
  assert.equal(await settled(first), false, 'nothing is acknowledged before a PUT of it succeeded');
  assert.equal(await settled(second), false, 'nor a later object before the earlier one commits');
  store.pending[1]!.release(); // the hedge wins
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.errorCode, 0);
  assert.equal(b.errorCode, 0);
  assert.equal(b.baseOffset, a.baseOffset + 1, 'offsets in seal order');
  assert.equal(writer.stats.hedgeWins, 1);
  assert.deepEqual(store.objects.get(store.pending[0]!.key), Buffer.alloc(100, 2));
  store.pending[0]!.release(); // the original PUT lands late, with the same bytes: nothing changes
  await sleep(20);
  assert.deepEqual(store.objects.get(store.pending[0]!.key), Buffer.alloc(100, 2));
  assert.equal(writer.stats.objectsCommitted, 22);
  assert.equal(writer.stats.uploadFailures, 0);
});

test('the first of the two PUTs to fail is not the object\'s failure; both failing is', async () => {
  const store = new GatedStore();
  const writer = gatedWriter(store, 95);
  await prime(writer, store);

  // Original fails after the hedge was sent; the hedge succeeds: acknowledged.
  const first = writer.append({ topicId, partition: 0, batches: [batch(100)] });
  const second = writer.append({ topicId, partition: 0, batches: [batch(100)] });
  store.pending[1]!.release(); // the second object's PUT succeeds before its threshold
  await waitFor('hedge sent', () => store.pending.length === 3, { timeoutMs: 10_000 });
  store.pending[0]!.release(new Error('connection reset'));
  assert.equal(await settled(first), false, 'still waiting for the hedge');
  store.pending[2]!.release();
  assert.equal((await first).errorCode, 0);
  assert.equal((await second).errorCode, 0);
  store.pending.length = 0;

  // Both fail: a retriable storage error, nothing committed; the object behind it still commits.
  const hwm = (await coordinator.getPartitionOffsets([{ topicId, partition: 0 }]))[0]!.highWatermark;
  const third = writer.append({ topicId, partition: 0, batches: [batch(100)] });
  const fourth = writer.append({ topicId, partition: 0, batches: [batch(100)] });
  store.pending[1]!.release();
  await waitFor('hedge sent', () => store.pending.length === 3, { timeoutMs: 10_000 });
  store.pending[2]!.release(new Error('SlowDown'));
  assert.equal(await settled(third), false, 'the original PUT may still succeed');
  store.pending[0]!.release(new Error('SlowDown'));
  assert.equal((await third).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  const r4 = await fourth;
  assert.equal(r4.errorCode, 0);
  assert.equal(r4.baseOffset, hwm, 'the failed object took no offsets');
  assert.equal(writer.stats.uploadFailures, 1);
});

test('no hedging when disabled (0), nor before 20 PUTs were seen', async () => {
  for (const [percentile, primed, firstBytes] of [[0, true, 100], [95, false, 100]] as const) {
    const store = new GatedStore();
    const writer = gatedWriter(store, percentile);
    if (primed) await prime(writer, store); // 20 objects of 100 bytes
    const first = writer.append({ topicId, partition: 0, batches: [batch(firstBytes)] });
    const second = writer.append({ topicId, partition: 0, batches: [batch(100)] });
    store.pending[1]!.release();
    await sleep(300);
    assert.equal(store.pending.length, 2, `no hedge (percentile ${percentile}, primed ${primed}, first object ${firstBytes} bytes)`);
    store.pending[0]!.release();
    assert.equal((await first).errorCode, 0);
    assert.equal((await second).errorCode, 0);
    assert.equal(writer.stats.hedgedPuts, 0);
  }
});

test('an object under half diskless.buffer.max.bytes is not hedged, however slow its PUT', async () => {
  const store = new GatedStore();
  const writer = gatedWriter(store, 75, { commitIntervalMs: 20 });
  await prime(writer, store); // 20 objects of 100 bytes (sealed full): the threshold is a few ms
  const small = writer.append({ topicId, partition: 0, batches: [batch(40)] }); // sealed by the interval, 40 < 50 bytes
  await waitFor('the small object\'s PUT is sent', () => store.pending.length === 1, { timeoutMs: 10_000 });
  await sleep(300);
  assert.equal(store.pending.length, 1, 'no second PUT of the small object');
  const large = writer.append({ topicId, partition: 0, batches: [batch(60)] }); // 60 >= 50 bytes: hedgeable
  await waitFor('the large object\'s PUT is sent again', () => store.pending.length === 3, { timeoutMs: 10_000 });
  assert.equal(store.pending[2]!.key, store.pending[1]!.key);
  assert.equal(writer.stats.hedgedPuts, 1);
  store.pending[0]!.release();
  store.pending[1]!.release();
  assert.equal((await small).errorCode, 0);
  assert.equal((await large).errorCode, 0);
  store.pending[2]!.release();
});

test('s3rver with slow PUTs injected: hedged objects commit once, in seal order, with exactly their bytes', async () => {
  const server = await sharedS3();
  const s3 = s3Store(server, await freshBucket());
  // Every 8th PUT takes 3 s, the others 5 ms: hedges fire and win.
  let puts = 0;
  const slowEveryEighth: LatencyProfile = { name: 'test', sample: (op) => (op === 'put' && ++puts % 8 === 0 ? 3_000 : 5) };
  const store = new FaultyObjectStore(s3, { latency: slowEveryEighth, seed: 7 });
  const committed: CommittedBatch[] = [];
  const writer = new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 10_000, bufferMaxBytes: 1_000, maxPendingBytes: 1_000_000, keyPrefix: 'hedge/',
    onCommitted: (_parts, batches) => committed.push(...batches), hedgePercentile: 90,
  });
  const results = [];
  for (let i = 0; i < 80; i++) {
    results.push(writer.append({ topicId, partition: 0, batches: [batch(1_000, i % 250)] }));
    await sleep(10); // objects sealed one after another, several uploading at once
  }
  const answers = await Promise.all(results);
  assert.ok(answers.every((a) => a.errorCode === 0), 'every object acknowledged');
  for (let i = 1; i < answers.length; i++) assert.equal(answers[i]!.baseOffset, answers[i - 1]!.baseOffset + 1, 'offsets follow seal order');
  assert.ok(writer.stats.hedgedPuts > 0, 'slow PUTs were hedged');
  assert.ok(writer.stats.hedgeWins > 0, 'and hedges finished first');
  assert.equal(writer.stats.objectsCommitted, 80);
  assert.equal(new Set(committed.map((c) => c.objectKey)).size, 80, 'one object per commit, none committed twice');
  for (const c of committed) {
    const body = await s3.get(c.objectKey);
    assert.deepEqual(body, Buffer.alloc(1_000, answers.findIndex((a) => a.baseOffset === c.baseOffset) % 250), `object ${c.objectKey} holds its batch`);
  }
  await sleep(3_200); // the losing PUTs end before the store closes
});

test('s3rver: a lone slow object, nothing uploading behind it, is hedged and answered long before its slow PUT ends', async () => {
  const server = await sharedS3();
  const s3 = s3Store(server, await freshBucket());
  // 30 objects whose PUTs take 5 ms (the threshold's samples), then one whose PUT takes 4 s; its hedge takes
  // 5 ms. The slow PUT is the first one after `slowNext` is set, not the 31st: a busy s3rver may have made the
  // writer hedge one of the 30, which is a PUT too.
  let slowNext = false;
  const oneSlow: LatencyProfile = { name: 'test', sample: (op) => (op === 'put' && slowNext ? ((slowNext = false), 4_000) : 5) };
  const store = new FaultyObjectStore(s3, { latency: oneSlow, seed: 7 });
  const writer = new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 10_000, bufferMaxBytes: 1_000, maxPendingBytes: 1_000_000, keyPrefix: 'lone/',
    onCommitted: () => {}, hedgePercentile: 95,
  });
  for (let i = 0; i < 30; i++) assert.equal((await writer.append({ topicId, partition: 0, batches: [batch(1_000)] })).errorCode, 0);
  // (s3rver's own time varies: one of those may have been hedged too)
  const { hedgedPuts, hedgeWins } = writer.stats;
  const started = performance.now();
  slowNext = true;
  const slow = await writer.append({ topicId, partition: 0, batches: [batch(1_000, 9)] });
  const tookMs = performance.now() - started;
  assert.equal(slow.errorCode, 0);
  assert.equal(writer.stats.hedgedPuts - hedgedPuts, 1, 'the slow object was hedged');
  assert.equal(writer.stats.hedgeWins - hedgeWins, 1, 'and its hedge finished first');
  assert.ok(tookMs < 3_000, `answered in ${Math.round(tookMs)} ms, before the slow PUT's 4 s`);
  await sleep(4_200); // the losing PUT ends before the store closes
});
