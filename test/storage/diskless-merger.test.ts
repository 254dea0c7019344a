/**
 * Merging of small diskless objects (storage/diskless/merger.ts) on an in-process broker, on PGlite + a
 * folder and on PostgreSQL + s3rver: several producers (an idempotent kafkajs producer, a gzip kafkajs
 * producer, kcat, a transactional kafkajs producer with committed and aborted transactions) write many
 * small objects across three partitions; one merge pass turns them into one or two objects while a kafkajs
 * consumer reads the topic; then every batch fetched (read_uncommitted and read_committed, from the
 * beginning and from the middle, with the aborted-transaction lists), kcat's and kafkajs's reads and
 * ListOffsets answers are exactly what they were before, also once the replaced objects are gone from the
 * store. A DeleteRecords or a retention pass between the merger's read and its swap makes the swap refuse
 * cleanly (nothing changes, the new object is deleted); a pass let through afterwards merges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompressionTypes } from 'kafkajs';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { batchesIn, fetchPartition } from '../helpers/fetch.ts';
import { kafkajs, readWithKafkajs } from '../helpers/kafkajs.ts';
import { kcat, kcatProduce } from '../helpers/kcat.ts';
import { EARLIEST, LATEST, listOffset } from '../helpers/list-offsets.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { freshBucket, s3Overrides, sharedS3 } from '../helpers/s3.ts';
import { createTopics } from '../helpers/topics.ts';
import { waitFor } from '../helpers/wait.ts';
import type { ObjectStore } from '../../src/objectstore/object-store.ts';
import { DisklessMerger, isMergedObjectKey, nextGroup } from '../../src/storage/diskless/merger.ts';

const TOPIC = 'merged';
const PARTITIONS = 3;

/** Overrides of every broker here: merging only when a test runs a pass; old objects go 500 ms after release. */
const BASE = {
  'diskless.merge.enable': false,
  'diskless.merge.min.age.ms': 0,
  'diskless.merge.io.max.bytes.per.second': 1 << 30,
  'diskless.commit.interval.ms': 20,
  'diskless.object.cleaner.interval.ms': 200,
  'diskless.object.deletion.grace.ms': 500,
  'diskless.orphan.min.age.ms': 1000,
  'log.cleaner.enable': false,
};

/** Everything a reader can see of the topic, to compare before and after merging. */
interface Snapshot {
  /** Per partition and isolation level: every batch fetched from offset 0 (hex), the aborted transactions, the watermarks. */
  fetched: string[];
  /** The same from the middle of each partition. */
  fromMiddle: string[];
  kcat: string[];
  kcatFromMiddle: string[];
  listOffsets: string[];
}

async function fetchEverything(client: RawClient, partition: number, from: number, isolationLevel: number): Promise<string> {
  const out: string[] = [];
  let offset = from;
  for (let round = 0; round < 10_000; round++) {
    // Small partition limits: many fetches, each starting where the last one ended.
    const p = await fetchPartition(client, TOPIC, partition, BigInt(offset), { isolationLevel, maxBytes: 4096 });
    assert.equal(p.errorCode, 0, `fetch ${TOPIC}-${partition} at ${offset}`);
    const end = Number(isolationLevel === 1 ? p.lastStableOffset : p.highWatermark);
    out.push(`hw=${p.highWatermark} lso=${p.lastStableOffset} start=${p.logStartOffset} aborted=${JSON.stringify((p.abortedTransactions ?? []).map((a) => [String(a.producerId), String(a.firstOffset)]))}`);
    const batches = batchesIn(p.records as Buffer | null);
    for (const b of batches) out.push(b.toString('hex'));
    if (batches.length === 0) {
      assert.ok(offset >= end, `no batch at ${offset} below ${end}`);
      break;
    }
    const last = batches[batches.length - 1]!;
    offset = Number(last.readBigInt64BE(0)) + last.readInt32BE(23) + 1;
    if (offset >= end) break;
  }
  return out.join('\n');
}

const FORMAT = '%p|%o|%k|%s|%T|%h\\n';

async function snapshot(broker: TestBroker, client: RawClient): Promise<Snapshot> {
  const s: Snapshot = { fetched: [], fromMiddle: [], kcat: [], kcatFromMiddle: [], listOffsets: [] };
  for (let p = 0; p < PARTITIONS; p++) {
    const hw = Number((await listOffset(client, TOPIC, p, LATEST)).offset);
    const start = Number((await listOffset(client, TOPIC, p, EARLIEST)).offset);
    for (const isolation of [0, 1]) {
      s.fetched.push(await fetchEverything(client, p, start, isolation));
      s.fromMiddle.push(await fetchEverything(client, p, Math.floor((start + hw) / 2), isolation));
    }
    s.kcatFromMiddle.push(await kcat(['-b', broker.bootstrap, '-t', TOPIC, '-p', String(p), '-C', '-e', '-o', String(Math.floor(hw / 3)), '-q', '-f', FORMAT]));
    for (const ts of [EARLIEST, LATEST, -3n]) {
      const r = await listOffset(client, TOPIC, p, ts);
      s.listOffsets.push(`${p} ${ts}: ${r.errorCode} ${r.offset} ${r.timestamp}`);
    }
  }
  s.kcat = (await kcat(['-b', broker.bootstrap, '-t', TOPIC, '-C', '-e', '-o', 'beginning', '-q', '-f', FORMAT])).split('\n').filter(Boolean).sort();
  // Timestamp lookups at timestamps the records carry.
  const stamps = [...new Set(s.kcat.map((l) => l.split('|')[4]!))].sort();
  for (let p = 0; p < PARTITIONS; p++) {
    for (const ts of [stamps[0]!, stamps[Math.floor(stamps.length / 2)]!, stamps[stamps.length - 1]!]) {
      const r = await listOffset(client, TOPIC, p, BigInt(ts));
      s.listOffsets.push(`${p} @${ts}: ${r.errorCode} ${r.offset} ${r.timestamp}`);
    }
  }
  return s;
}

/** Many small objects from several producers across the partitions. */
async function produceSmallObjects(broker: TestBroker): Promise<void> {
  const kafka = kafkajs(broker.bootstrap, 'merge-test');
  const idempotent = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const gzip = kafka.producer();
  const txn = kafka.producer({ transactionalId: 'merge-txn', idempotent: true, maxInFlightRequests: 1 });
  await Promise.all([idempotent.connect(), gzip.connect(), txn.connect()]);
  for (let round = 0; round < 20; round++) {
    await idempotent.send({
      topic: TOPIC, acks: -1,
      messages: Array.from({ length: PARTITIONS * 2 }, (_, i) => ({ partition: i % PARTITIONS, key: `k${round}-${i}`, value: `idem ${round} ${i}`, headers: { round: String(round) } })),
    });
    if (round % 4 === 0) {
      await gzip.send({ topic: TOPIC, acks: -1, compression: CompressionTypes.GZIP, messages: Array.from({ length: 5 }, (_, i) => ({ partition: (round + i) % PARTITIONS, value: `gzip ${round} ${i}` })) });
    }
    if (round % 5 === 0) {
      const t = await txn.transaction();
      await t.send({ topic: TOPIC, messages: [0, 1, 2].map((p) => ({ partition: p, key: 'txn', value: `txn ${round} p${p}` })) });
      if (round % 10 === 0) await t.abort();
      else await t.commit();
    }
  }
  await kcatProduce(broker.bootstrap, TOPIC, Array.from({ length: 30 }, (_, i) => `kc${i}:kcat ${i}`), ['-p', '1']);
  await kcatProduce(broker.bootstrap, TOPIC, Array.from({ length: 30 }, (_, i) => `kc${i}:kcat again ${i}`), ['-p', '2', '-z', 'lz4']);
  await Promise.all([idempotent.disconnect(), gzip.disconnect(), txn.disconnect()]);
}

async function liveObjects(broker: TestBroker): Promise<string[]> {
  return (await broker.broker.coordinator.mergeCandidates(Number.MAX_SAFE_INTEGER, 0, 1_000_000)).map((c) => c.objectKey).sort();
}

async function storeKeys(broker: TestBroker): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of broker.broker.objectStore.list('wal/')) keys.push(o.key);
  return keys.sort();
}

/** Once the cleaner ran past the grace period: the store holds exactly the objects the coordinator knows. */
async function settled(broker: TestBroker): Promise<void> {
  await waitFor('store = coordinator', async () => JSON.stringify(await storeKeys(broker)) === JSON.stringify((await broker.broker.coordinator.listObjectKeys()).sort()),
    { timeoutMs: 30_000, intervalMs: 200 });
}

async function scenario(overrides: Record<string, string | number | boolean>, withSecondBroker: boolean): Promise<void> {
  const broker = await startTestBroker({ ...BASE, ...overrides });
  const client = await RawClient.connect(broker.port);
  await createTopics(client, [{ name: TOPIC, partitions: PARTITIONS }]);
  await produceSmallObjects(broker);
  const objectsBefore = await liveObjects(broker);
  assert.ok(objectsBefore.length >= 30, `many small objects (${objectsBefore.length})`);
  const before = await snapshot(broker, client);
  // A second broker of the cluster reads everything too (its batch index cache now holds locations in the
  // small objects): after the merge it must read the same, also once the small objects are gone.
  const other = withSecondBroker ? await startTestBroker({ ...BASE, ...overrides }) : null;
  const otherClient = other ? await RawClient.connect(other.port) : null;
  if (other) assert.deepEqual(await snapshot(other, otherClient!), before, 'the second broker reads the same');
  const committed = before.kcat.length;
  assert.ok(committed > 150, `kcat read ${committed} committed records`);

  // A consumer reads the topic while the merge runs. kafkajs's fetch hands out the aborted records (2
  // transactions × 3 partitions) and the markers (4 transactions × 3 partitions) too.
  const all = committed + 6 + 12;
  const reading = readWithKafkajs(kafkajs(broker.bootstrap, 'merge-reader'), TOPIC, [0, 1, 2], all, 60_000);
  await broker.broker.maintenance.runMerge();
  const during = await reading;
  const merger = broker.broker.maintenance.merger;
  assert.equal(merger.stats.conflicts, 0);
  assert.equal(merger.stats.failures, 0);
  assert.equal(merger.stats.objectsMerged, objectsBefore.length, 'every small object merged');
  const objectsAfter = await liveObjects(broker);
  assert.ok(objectsAfter.length <= 2 && objectsAfter.length === merger.stats.objectsWritten, `few larger objects (${objectsAfter.length})`);
  assert.ok(objectsAfter.every((k) => !objectsBefore.includes(k) && isMergedObjectKey(k)));
  assert.ok(objectsBefore.every((k) => !isMergedObjectKey(k)));
  assert.equal([...during.values()].reduce((n, v) => n + v.length, 0), all, 'kafkajs read everything during the merge');

  const after = await snapshot(broker, client);
  assert.deepEqual(after, before, 'readers see exactly what they saw before the merge');

  // The replaced objects go after the grace period; reads are unchanged (now only from the merged objects).
  await settled(broker);
  assert.deepEqual(await storeKeys(broker), objectsAfter);
  assert.deepEqual(await snapshot(broker, client), before, 'unchanged once the old objects are deleted');
  if (other) {
    assert.deepEqual(await snapshot(other, otherClient!), before, 'the second broker reads the same from the merged objects');
    otherClient!.close();
    await other.close();
  }
  const kafkajsAfter = await readWithKafkajs(kafkajs(broker.bootstrap, 'merge-reader-2'), TOPIC, [0, 1, 2], all, 60_000);
  assert.deepEqual(stripped(kafkajsAfter), stripped(during), 'kafkajs reads the same records after the merge');

  // Producing on after a merge: new batches follow the merged ones; a merged object still below half the
  // target is merged again, with the new small one.
  await kcatProduce(broker.bootstrap, TOPIC, ['late:after merge'], ['-p', '0']);
  const late = await kcat(['-b', broker.bootstrap, '-t', TOPIC, '-p', '0', '-C', '-e', '-o', '-1', '-q', '-f', '%k|%s\\n']);
  assert.equal(late.trim(), 'late|after merge');
  const withLate = (await kcat(['-b', broker.bootstrap, '-t', TOPIC, '-C', '-e', '-o', 'beginning', '-q', '-f', FORMAT])).split('\n').filter(Boolean).sort();
  assert.equal(withLate.length, committed + 1);
  const written = merger.stats.objectsWritten;
  await broker.broker.maintenance.runMerge();
  assert.equal(merger.stats.objectsWritten, written + 1);
  assert.equal((await liveObjects(broker)).length, 1);
  assert.deepEqual((await kcat(['-b', broker.bootstrap, '-t', TOPIC, '-C', '-e', '-o', 'beginning', '-q', '-f', FORMAT])).split('\n').filter(Boolean).sort(), withLate);
  client.close();
  await broker.close();
}

function stripped(read: Map<number, { offset: string; key: Buffer | null; value: Buffer | null; timestamp: string }[]>): string[] {
  return [...read.entries()].flatMap(([p, ms]) => ms.map((m) => `${p} ${m.offset} ${m.key?.toString()} ${m.value?.toString()} ${m.timestamp}`));
}

test('merging on PGlite + a folder: many small objects become one or two; readers see the same batches before, during and after', async () => {
  await scenario({}, false);
});

test('merging on PostgreSQL + S3 with a second broker: the same, and the other broker\'s cached locations are dropped in time', async () => {
  const s3 = await sharedS3();
  await scenario({ 'diskless.coordinator.url': await freshDatabase(), ...s3Overrides(s3, await freshBucket()) }, true);
});

test('merging is bounded by diskless.merge.io.max.bytes.per.second (bytes read and written together)', async () => {
  const broker = await startTestBroker(BASE);
  const client = await RawClient.connect(broker.port);
  await createTopics(client, [{ name: TOPIC, partitions: PARTITIONS }]);
  const producer = kafkajs(broker.bootstrap, 'merge-rate').producer();
  await producer.connect();
  for (let round = 0; round < 6; round++) await producer.send({ topic: TOPIC, acks: -1, messages: [{ partition: round % PARTITIONS, value: 'x'.repeat(10_000) }] });
  await producer.disconnect();
  const objects = await liveObjects(broker);
  const bytes = (await broker.broker.coordinator.mergeCandidates(Number.MAX_SAFE_INTEGER, 0, 100)).reduce((n, c) => n + c.size, 0);
  const rate = 40_000;
  const merger = new DisklessMerger(broker.broker.coordinator, broker.broker.objectStore, {
    brokerId: broker.broker.config.nodeId, keyPrefix: 'wal/', targetBytes: 1 << 26, minAgeMs: 0, maxBytesPerSecond: rate,
    onSwapped: (keys) => keys.forEach((k) => broker.broker.storage.diskless.forgetCompacted(k)), registerKeys: true, orphanMinAgeMs: 1000,
  });
  const started = performance.now();
  await merger.runPass();
  const seconds = (performance.now() - started) / 1000;
  assert.equal(merger.stats.objectsMerged, objects.length, JSON.stringify(merger.stats));
  assert.equal(merger.stats.bytesRead + merger.stats.bytesWritten, 2 * bytes);
  // Every read and the write wait until the bytes moved so far fit the rate.
  const floor = ((2 * bytes) / rate) * 0.9;
  assert.ok(seconds >= floor, `took ${seconds.toFixed(2)} s for ${2 * bytes} bytes at ${rate} B/s (at least ${floor.toFixed(2)} s)`);
  assert.ok(merger.stats.throttledSeconds > 0);
  client.close();
});

function bind(store: ObjectStore): ObjectStore {
  return {
    put: (k, b) => store.put(k, b),
    get: (k, r) => store.get(k, r),
    deleteMany: (k) => store.deleteMany(k),
    list: (p) => store.list(p),
    close: () => store.close(),
  };
}

test('a DeleteRecords or a retention pass between the merger\'s read and its swap: the swap is refused, nothing changes, the new object goes', async () => {
  const broker = await startTestBroker({ ...BASE, 'diskless.retention.check.interval.ms': 3_600_000 });
  const client = await RawClient.connect(broker.port);
  await createTopics(client, [{ name: TOPIC, partitions: PARTITIONS }]);
  const kafka = kafkajs(broker.bootstrap, 'merge-race');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let round = 0; round < 10; round++) {
    await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: `r${round} p${p}` })) });
  }
  await producer.disconnect();
  const topic = broker.broker.topics.get(TOPIC)!;
  const real = broker.broker.objectStore;
  const objects = await liveObjects(broker);
  const merging = (race: () => Promise<void>) => {
    let raced = false;
    const store: ObjectStore = {
      ...bind(real),
      put: async (k, body) => {
        await real.put(k, body);
        if (!raced) {
          raced = true;
          await race();
        }
      },
    };
    return new DisklessMerger(broker.broker.coordinator, store, {
      brokerId: broker.broker.config.nodeId, keyPrefix: 'wal/', targetBytes: 1 << 26, minAgeMs: 0, maxBytesPerSecond: 1 << 30,
      onSwapped: (keys) => keys.forEach((k) => broker.broker.storage.diskless.forgetCompacted(k)), registerKeys: true, orphanMinAgeMs: 1000,
    });
  };

  // 1. DeleteRecords on partition 1 meanwhile.
  const beforeDelete = await snapshot(broker, client);
  const m1 = merging(async () => {
    const [r] = await broker.broker.coordinator.deleteRecords([{ topicId: topic.topicId, partition: 1, offset: 3 }]);
    assert.equal(r!.errorCode, 0);
  });
  await m1.runPass();
  assert.equal(m1.stats.conflicts, 1);
  assert.equal(m1.stats.objectsWritten, 0);
  broker.broker.storage.diskless.applyLogStarts([{ topicId: topic.topicId, partition: 1, logStartOffset: 3 }]);
  const afterDelete = await snapshot(broker, client);
  assert.deepEqual(afterDelete.fetched.slice(0, 2), beforeDelete.fetched.slice(0, 2), 'partition 0 unchanged');
  assert.match(afterDelete.fetched[2]!, /start=3/, 'partition 1 starts where DeleteRecords put it');
  const remaining = await liveObjects(broker);
  assert.deepEqual(remaining.filter((k) => !objects.includes(k)), [], 'the merged object was not kept');
  await settled(broker);

  // 2. A retention pass that deletes the first objects' batches meanwhile (retention.ms=1 on the topic).
  const m2 = merging(async () => {
    const r = await broker.broker.coordinator.enforceRetention([{ topicId: topic.topicId, retentionMs: 1, retentionBytes: -1 }], 1000);
    assert.ok(r.batchesDeleted > 0);
  });
  await m2.runPass();
  assert.equal(m2.stats.conflicts, 1);
  assert.equal(m2.stats.objectsWritten, 0);
  await settled(broker);

  // 3. Let through: the objects left merge (there are none after retention took every batch: produce more first).
  const p2 = kafka.producer();
  await p2.connect();
  for (let round = 0; round < 5; round++) await p2.send({ topic: TOPIC, acks: -1, messages: [{ partition: round % PARTITIONS, value: `late ${round}` }] });
  await p2.disconnect();
  const beforeMerge = await snapshot(broker, client);
  const m3 = merging(async () => {});
  await m3.runPass();
  assert.equal(m3.stats.conflicts, 0);
  assert.equal(m3.stats.objectsWritten, 1);
  assert.deepEqual(await snapshot(broker, client), beforeMerge);
  await settled(broker);
  client.close();
});

test('nextGroup: the oldest candidates that fit in the target together', () => {
  const c = (key: string, size: number) => ({ objectKey: key, size, ageMs: 0 });
  assert.deepEqual(nextGroup([c('a', 10), c('b', 20), c('c', 30), c('d', 5)], 60).map((x) => x.objectKey), ['a', 'b', 'c']);
  assert.deepEqual(nextGroup([c('a', 40), c('b', 30)], 60).map((x) => x.objectKey), ['a']);
  assert.deepEqual(nextGroup([], 60), []);
  assert.ok(isMergedObjectKey('wal/merged-0b5e6a3c-4c1f-4c55-9d39-7d2c1d9e6f10'));
  assert.ok(!isMergedObjectKey('wal/0b5e6a3c-4c1f-4c55-9d39-7d2c1d9e6f10'));
  assert.ok(!isMergedObjectKey('merged-data/wal/0b5e6a3c'));
});
