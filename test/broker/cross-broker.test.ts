/**
 * Two brokers on one PostgreSQL coordinator and one object folder (issue 7, item 4): a long poll on B is
 * woken by a commit through A within milliseconds, not when max.wait.ms ends, and is answered from B's
 * batch index cache (no coordinator query); topics created, altered, grown and deleted through A are
 * seen by B at once; after a PostgreSQL restart the wake-ups work again.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startTestBroker, tempDir, type TestBroker } from '../helpers/broker.ts';
import { freshDatabase, sharedPostgres } from '../helpers/postgres.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { buildRecordBatch } from '../helpers/record-batch.ts';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

let a: TestBroker;
let b: TestBroker;
let ca: RawClient;
let cb: RawClient;

before(async () => {
  const url = await freshDatabase();
  const objects = await tempDir('floe-xb-objects-');
  const shared = { 'diskless.coordinator.url': url, 'diskless.object.store.url': `file://${objects}` };
  a = await startTestBroker({ ...shared, 'node.id': 1 });
  b = await startTestBroker({ ...shared, 'node.id': 2 });
  [ca, cb] = await Promise.all([RawClient.connect(a.port), RawClient.connect(b.port)]);
});

async function createTopic(c: RawClient, name: string, numPartitions: number): Promise<void> {
  const r = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions, replicationFactor: 1, configs: [] }], timeoutMs: 5000 });
  assert.equal(r.topics[0].errorCode, 0, r.topics[0].errorMessage);
}

async function produce(c: RawClient, topic: string, partition: number, value: string): Promise<{ errorCode: number; baseOffset: bigint }> {
  const records = await buildRecordBatch({ records: [{ value: Buffer.from(value) }] });
  const r = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 10_000, transactionalId: null, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
  return r.responses[0].partitionResponses[0];
}

function fetchRequest(topic: string, partition: number, offset: bigint, maxWaitMs: number) {
  return {
    replicaId: -1, maxWaitMs, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  };
}

/** Sends a Fetch (v11) without waiting; the promise resolves with the partition's answer. */
function startFetch(c: RawClient, topic: string, partition: number, offset: bigint, maxWaitMs: number): Promise<any> {
  return c.request(ApiKey.Fetch, 11, fetchRequest(topic, partition, offset, maxWaitMs)).then((r) => r.responses[0].partitions[0]);
}

async function metadataPartitions(c: RawClient, topic: string): Promise<{ errorCode: number; partitions: number }> {
  const md = await c.request(ApiKey.Metadata, 12, { topics: [{ name: topic, topicId: ZERO_UUID }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  return { errorCode: md.topics[0].errorCode, partitions: md.topics[0].partitions.length };
}

/** Polls `read` until `ok`; returns how long it took (ms). */
async function within<T>(read: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 5_000): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (ok(await read())) return performance.now() - start;
    if (performance.now() - start > timeoutMs) assert.fail(`not within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** A long poll on B at `offset`, woken by a produce through A: resolves with the latency from A's ack to B's answer. */
async function wakeUp(topic: string, offset: bigint, value: string): Promise<{ latencyMs: number; queries: number; answer: any }> {
  const queriesBefore = b.broker.inspect.diskless().fetchCoordinatorQueries;
  const polling = startFetch(cb, topic, 0, offset, 10_000);
  await sleep(100); // parked in B's long poll
  let answeredAt = 0;
  void polling.then(() => { answeredAt = performance.now(); });
  const acked = await produce(ca, topic, 0, value);
  const ackedAt = performance.now();
  assert.equal(acked.errorCode, 0);
  assert.equal(acked.baseOffset, offset);
  const answer = await polling;
  return { latencyMs: Math.max(0, answeredAt - ackedAt), queries: b.broker.inspect.diskless().fetchCoordinatorQueries - queriesBefore, answer };
}

/** How many batches the fetched bytes hold, and whether `value` is in them (one single-record batch per produce). */
function batches(records: Buffer): number {
  let n = 0;
  for (let at = 0; at < records.length; n++) at += records.readInt32BE(at + 8) + 12;
  return n;
}

function holds(records: Buffer, value: string): boolean {
  return records.includes(Buffer.from(value));
}

test('a long poll on B is woken by a commit through A within milliseconds, answered from B\'s batch index cache', async () => {
  await createTopic(ca, 'xb', 1);
  // Warm-up: B reads the empty tail once (one coordinator query; the empty tail is cached from then on).
  const empty = await startFetch(cb, 'xb', 0, 0n, 0);
  assert.equal(empty.errorCode, 0);
  assert.equal(empty.highWatermark, 0n);

  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    const { latencyMs, queries, answer } = await wakeUp('xb', BigInt(i), `v${i}`);
    assert.equal(answer.errorCode, 0);
    assert.equal(answer.highWatermark, BigInt(i + 1));
    assert.equal(batches(answer.records), 1);
    assert.ok(holds(answer.records, `v${i}`));
    assert.equal(queries, 0, 'B answered from its batch index cache: no find-batches query');
    latencies.push(latencyMs);
  }
  console.log(`cross-broker wake-up latency (A's ack → B's answer), ms: ${latencies.map((l) => l.toFixed(1)).join(' ')}`);
  for (const l of latencies) assert.ok(l < 1_000, `woken in ${l.toFixed(1)} ms, far below max.wait.ms 10000`);
  assert.ok(b.broker.inspect.diskless().notifications.commits >= 5);
  assert.equal(b.broker.inspect.diskless().notifications.lookups, 0, 'small objects list their batches in the notification');
});

test('topics created, altered, grown and deleted through A are seen by B at once', async () => {
  // Created through A: produced and fetched through B right away (B looks the topic up on its first miss).
  await createTopic(ca, 'xt', 2);
  const p = await produce(cb, 'xt', 1, 'through-b');
  assert.equal(p.errorCode, 0);
  const f = await startFetch(cb, 'xt', 1, 0n, 0);
  assert.equal(f.errorCode, 0);
  assert.ok(holds(f.records, 'through-b'));
  assert.equal((await metadataPartitions(cb, 'xt')).partitions, 2);

  // Configs altered through A: B's registry has them (the notification), with no request to B.
  const altered = await ca.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: 'xt', configs: [{ name: 'retention.ms', configOperation: 0, value: '123456' }] }], validateOnly: false });
  assert.equal(altered.responses[0].errorCode, 0);
  const alterMs = await within(() => b.broker.topics.get('xt')?.configs['retention.ms'], (v) => v === '123456');

  // Grown through A: B's Metadata reports the new partitions, and B accepts records for them.
  const grown = await ca.request(ApiKey.CreatePartitions, 3, { topics: [{ name: 'xt', count: 4, assignments: null }], timeoutMs: 5000, validateOnly: false });
  assert.equal(grown.results[0].errorCode, 0);
  const growMs = await within(() => metadataPartitions(cb, 'xt'), (m) => m.partitions === 4);
  assert.equal((await produce(cb, 'xt', 3, 'new-partition')).errorCode, 0);

  // Deleted through A: gone on B (Metadata, Produce, Fetch), and B's caches of it dropped.
  const topicId = b.broker.topics.get('xt')!.topicId;
  const deleted = await ca.request(ApiKey.DeleteTopics, 6, { topics: [{ name: 'xt', topicId: ZERO_UUID }], timeoutMs: 5000 });
  assert.equal(deleted.responses[0].errorCode, 0);
  const deleteMs = await within(() => metadataPartitions(cb, 'xt'), (m) => m.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal(b.broker.topics.getById(topicId), undefined);
  assert.equal(b.broker.inspect.cachedOffsets(topicId, 1), undefined, 'B dropped the deleted topic from its batch index cache');
  assert.equal((await produce(cb, 'xt', 1, 'late')).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal((await startFetch(cb, 'xt', 1, 0n, 0)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  console.log(`seen on B after: alter ${alterMs.toFixed(1)} ms, create partitions ${growMs.toFixed(1)} ms, delete ${deleteMs.toFixed(1)} ms`);
  for (const ms of [alterMs, growMs, deleteMs]) assert.ok(ms < 1_000);
});

test('a long poll on B that A\'s commit wakes while B has not cached the partition reads it from the coordinator', async () => {
  await createTopic(ca, 'xc', 1);
  // B never read 'xc': its long poll's first read asks the coordinator, and A's commit still wakes it.
  const { latencyMs, answer } = await wakeUp('xc', 0n, 'cold');
  assert.equal(answer.errorCode, 0);
  assert.ok(holds(answer.records, 'cold'));
  assert.ok(latencyMs < 1_000, `woken in ${latencyMs.toFixed(1)} ms`);
});

test('after a PostgreSQL restart, B listens again (resync) and wake-ups work again', async () => {
  await createTopic(ca, 'xr', 1);
  assert.equal((await produce(ca, 'xr', 0, 'r0')).errorCode, 0);
  const server = await sharedPostgres();
  const resyncs = b.broker.inspect.diskless().notifications.resyncs;
  await server.stop();
  await server.start();
  await within(() => b.broker.inspect.diskless().notifications.resyncs, (n) => n > resyncs, 20_000);
  // A's pool reconnects by itself: its first produce after the restart may still fail, then succeeds.
  await within(() => produce(ca, 'xr', 0, 'r1'), (r) => r.errorCode === 0, 20_000);
  await startFetch(cb, 'xr', 0, 2n, 0); // B's cache was dropped on resync: read the tail once again
  const { latencyMs, queries, answer } = await wakeUp('xr', 2n, 'r2');
  assert.equal(batches(answer.records), 1);
  assert.ok(holds(answer.records, 'r2'));
  assert.equal(queries, 0);
  assert.ok(latencyMs < 1_000, `woken in ${latencyMs.toFixed(1)} ms after the restart`);
});
