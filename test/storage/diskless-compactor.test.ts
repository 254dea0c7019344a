/**
 * The diskless compactor against an in-process broker (PGlite + a folder), with its object store wrapped to
 * interrupt it: an upload that fails, a broker that "dies" after its upload and before the swap, and a
 * DeleteRecords that moves the partition between the compactor's read and its swap. Each time the partition
 * reads exactly as before (or, for DeleteRecords, as DeleteRecords left it), the swap is refused cleanly,
 * and once the object cleaner has run (orphans reaped) the store holds exactly the objects the coordinator
 * knows. Then a compaction that is let through gives the compacted view. Also the active-segment bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { readPartition } from '../helpers/compaction.ts';
import { kafkajs } from '../helpers/kafkajs.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopics } from '../helpers/topics.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { resolveTopicConfig } from '../../src/config/topic-config.ts';
import { defaultBrokerConfig } from '../../src/config/broker-config.ts';
import type { CompactionBatch, CompactionView } from '../../src/coordinator/coordinator.ts';
import type { ObjectStore } from '../../src/objectstore/object-store.ts';
import { cleanableUpperBound, DisklessCompactor } from '../../src/storage/diskless/compactor.ts';

const SEGMENT_MS = 300;

async function storeKeys(broker: TestBroker): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of broker.broker.objectStore.list('wal/')) keys.push(o.key);
  return keys.sort();
}

/** A compactor of `broker`'s partitions over `store` (the broker's store, wrapped). */
function compactorOver(broker: TestBroker, store: ObjectStore): DisklessCompactor {
  return new DisklessCompactor(broker.broker.coordinator, store, {
    brokerId: broker.broker.config.nodeId,
    keyPrefix: 'wal/',
    topics: async () => [],
    mapCapacity: 1 << 16,
    readBatch: (b) => broker.broker.storage.diskless.reader.readBatch(b),
    onSwapped: (key) => broker.broker.storage.diskless.forgetCompacted(key),
    registerKeys: true,
  });
}

test('an interrupted diskless compaction leaves the partition exactly as before; no object is left behind', async () => {
  const broker = await startTestBroker({
    'log.cleaner.enable': false,
    'diskless.object.cleaner.interval.ms': 200,
    'diskless.object.deletion.grace.ms': 500,
    'diskless.orphan.min.age.ms': 1000,
  });
  const client = await RawClient.connect(broker.port);
  await createTopics(client, [{ name: 'ck', configs: { 'cleanup.policy': 'compact', 'segment.ms': String(SEGMENT_MS) } }]);
  const producer = kafkajs(broker.bootstrap, 'interrupt').producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let u = 0; u < 10; u++) await producer.send({ topic: 'ck', messages: Array.from({ length: 20 }, (_, k) => ({ key: `k${k}`, value: `v${k}-${u}`, partition: 0 })) });
  await sleep(SEGMENT_MS + 100);
  await producer.send({ topic: 'ck', messages: [{ key: 'after', value: 'roll', partition: 0 }] });
  await producer.disconnect();
  const topic = broker.broker.topics.get('ck')!;
  const key = { topicId: topic.topicId, partition: 0 };
  const real = broker.broker.objectStore;
  const before = await readPartition(broker.bootstrap, 'ck');
  assert.equal(before.length, 201);
  const settled = () => waitFor('store = coordinator', async () => JSON.stringify(await storeKeys(broker)) === JSON.stringify((await broker.broker.coordinator.listObjectKeys()).sort()), { timeoutMs: 30_000, intervalMs: 200 });

  // 1. The upload fails.
  const failing: ObjectStore = { ...bind(real), put: async () => { throw new Error('injected: upload failed'); } };
  await assert.rejects(compactorOver(broker, failing).compactPartition(key, topic.config, Date.now(), true), /injected/);
  assert.deepEqual(await readPartition(broker.bootstrap, 'ck'), before, 'unchanged after a failed upload');

  // 2. The upload succeeds, then the broker "dies" before the swap: an orphan, reaped by the cleaner.
  const dying: ObjectStore = { ...bind(real), put: async (k, body) => { await real.put(k, body); throw new Error('injected: died after the upload'); } };
  await assert.rejects(compactorOver(broker, dying).compactPartition(key, topic.config, Date.now(), true), /injected/);
  assert.deepEqual(await readPartition(broker.bootstrap, 'ck'), before, 'unchanged after a crash between upload and swap');
  await settled();

  // 3. DeleteRecords moves the partition between the read and the swap: the swap is refused, the new object deleted.
  let deleted = false;
  const racing: ObjectStore = {
    ...bind(real),
    put: async (k, body) => {
      await real.put(k, body);
      if (!deleted) {
        deleted = true;
        const [r] = await broker.broker.coordinator.deleteRecords([{ ...key, offset: 20 }]);
        assert.equal(r!.errorCode, 0);
      }
    },
  };
  const c3 = compactorOver(broker, racing);
  assert.equal(await c3.compactPartition(key, topic.config, Date.now(), true), false);
  assert.equal(c3.stats.conflicts, 1);
  broker.broker.storage.diskless.applyLogStarts([{ ...key, logStartOffset: 20 }]);
  assert.deepEqual(await readPartition(broker.bootstrap, 'ck'), before.filter((r) => r.offset >= 20), 'only what DeleteRecords did');
  await settled();

  // 4. Let through: the compacted view, and the replaced objects go after the grace period.
  const c4 = compactorOver(broker, real);
  assert.equal(await c4.compactPartition(key, topic.config, Date.now(), true), true);
  const after = await readPartition(broker.bootstrap, 'ck');
  const latest = new Map<string, number>();
  for (const r of before) if (r.offset >= 20) latest.set(r.key, r.offset);
  assert.deepEqual(after.map((r) => r.offset), [...latest.values()].sort((a, b) => a - b), 'one record per key at its offset');
  await settled();
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

test('the active segment of a diskless partition: batches both younger than segment.ms and within the last segment.bytes; min.compaction.lag.ms holds back more', () => {
  const now = 1_000_000;
  const row = (base: number, size: number, appendedAgoMs: number): CompactionBatch => ({
    objectKey: 'k', byteOffset: 0, byteSize: size, baseOffset: base, lastOffset: base + 9, maxTimestamp: now - appendedAgoMs, logAppendTime: now - appendedAgoMs,
    timestampType: 0, recordCount: 10, baseTimestamp: now - appendedAgoMs, producerId: -1, producerEpoch: -1, baseSequence: -1, lastSequence: -1, txnKind: 0,
  });
  const view: CompactionView = {
    logStartOffset: 0, highWatermark: 50, cleanerCheckpoint: 0, compactionEpoch: 0, nextDeleteHorizonMs: -1, producerLastOffsets: new Map(), abortedTransactions: [],
    batches: [row(0, 600_000, 50_000), row(10, 600_000, 40_000), row(20, 600_000, 30_000), row(30, 600_000, 20_000), row(40, 600_000, 10_000)],
  };
  const config = (o: Record<string, string>) => resolveTopicConfig({ 'cleanup.policy': 'compact', ...o }, defaultBrokerConfig());
  // segment.bytes 1 MiB: only the last batch is within it; segment.ms 25 s: the last two are younger. The later start wins.
  assert.equal(cleanableUpperBound(view, config({ 'segment.bytes': '1048576', 'segment.ms': '25000' }), now), 40);
  assert.equal(cleanableUpperBound(view, config({ 'segment.bytes': '2000000', 'segment.ms': '25000' }), now), 30);
  assert.equal(cleanableUpperBound(view, config({ 'segment.bytes': '1048576', 'segment.ms': '1000' }), now), 50, 'no batch younger than segment.ms: no active segment');
  assert.equal(cleanableUpperBound(view, config({ 'segment.bytes': '1048576', 'segment.ms': '1000', 'min.compaction.lag.ms': '35000' }), now), 20);
  // max.compaction.lag.ms shorter than segment.ms ends the active segment sooner (Kafka's maxSegmentMs).
  assert.equal(cleanableUpperBound(view, config({ 'segment.bytes': '1073741824', 'segment.ms': '604800000', 'max.compaction.lag.ms': '15000' }), now), 40);
  assert.equal(cleanableUpperBound(view, config({}), now), 0, 'defaults: everything is the active segment');
});
