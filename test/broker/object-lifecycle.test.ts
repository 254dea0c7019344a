/**
 * Storage does not leak: retention frees the objects of expired data after the grace period, an object
 * uploaded by a broker killed before its commit is reaped, and at the end the store holds exactly the
 * objects the coordinator knows, each holding retained batches. Also DeleteRecords and ListOffsets /
 * Fetch at the moved log start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RawClient } from '../helpers/raw-client.ts';
import { spawnBroker, startTestBroker, tempDir, type TestBroker } from '../helpers/broker.ts';
import { buildRecordBatch } from '../helpers/record-batch.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';

/** Fast background jobs, so a test sees retention, grace and reaping within seconds. */
const FAST_JOBS = {
  'diskless.retention.check.interval.ms': 200,
  'diskless.object.cleaner.interval.ms': 200,
  'diskless.object.deletion.grace.ms': 500,
  'diskless.orphan.min.age.ms': 1000,
};

async function createTopics(client: RawClient, topics: { name: string; partitions: number; configs?: Record<string, string> }[]): Promise<void> {
  const r = await client.request(ApiKey.CreateTopics, 7, {
    topics: topics.map((t) => ({ name: t.name, numPartitions: t.partitions, replicationFactor: 1, configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })) })),
    timeoutMs: 5000,
  });
  for (const t of r.topics) assert.equal(t.errorCode, 0, t.errorMessage);
}

async function batch(values: string[]): Promise<Buffer> {
  return buildRecordBatch({ baseTimestamp: BigInt(Date.now()), records: values.map((v) => ({ value: Buffer.from(v) })) });
}

/** One produce request (one object, as the test waits for each answer) to several partitions. */
async function produce(client: RawClient, parts: { topic: string; partition: number; values: string[] }[]): Promise<void> {
  const byTopic = new Map<string, { index: number; records: Buffer }[]>();
  for (const p of parts) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), { index: p.partition, records: await batch(p.values) }]);
  const r = await client.request(ApiKey.Produce, 9, {
    acks: -1, timeoutMs: 5000, transactionalId: null,
    topicData: [...byTopic].map(([name, partitionData]) => ({ name, partitionData })),
  });
  for (const t of r.responses) for (const p of t.partitionResponses) assert.equal(p.errorCode, 0);
}

async function earliest(client: RawClient, topic: string, partition: number): Promise<number> {
  const r = await client.request(ApiKey.ListOffsets, 7, {
    replicaId: -1, isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -2n }] }],
  });
  const p = r.topics[0].partitions[0];
  assert.equal(p.errorCode, 0);
  return Number(p.offset);
}

async function fetchAt(client: RawClient, topic: string, partition: number, offset: number): Promise<{ errorCode: number; logStartOffset: number; bytes: number }> {
  const r = await client.request(ApiKey.Fetch, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, fetchOffset: BigInt(offset), partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1n }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const p = r.responses[0].partitions[0];
  return { errorCode: p.errorCode, logStartOffset: Number(p.logStartOffset), bytes: p.records?.length ?? 0 };
}

async function storeKeys(broker: TestBroker): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of broker.broker.objectStore.list('wal/')) keys.push(o.key);
  return keys.sort();
}

function sql(broker: TestBroker) {
  return (broker.broker.coordinator as SqlCoordinator).connection;
}

/** The coordinator's objects by state. */
async function objectStates(broker: TestBroker): Promise<Map<string, string>> {
  const rows = (await sql(broker).query<{ object_key: string; state: string }>("SELECT object_key, state FROM objects WHERE object_key LIKE 'wal/%'")).rows;
  return new Map(rows.map((r) => [r.object_key, r.state]));
}

/** Objects holding a batch at or after its partition's log start. */
async function retainedObjects(broker: TestBroker): Promise<string[]> {
  const rows = (await sql(broker).query<{ object_key: string }>(
    `SELECT DISTINCT o.object_key FROM batches b
       JOIN partitions p ON p.topic_id = b.topic_id AND p.partition = b.partition
       JOIN objects o ON o.object_id = b.object_id
      WHERE b.last_offset >= p.log_start_offset`,
  )).rows;
  return rows.map((r) => r.object_key).sort();
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('retention.ms=2000: expired data goes, then its objects after the grace period; the store equals the coordinator', async () => {
  const broker = await startTestBroker(FAST_JOBS);
  const client = await RawClient.connect(broker.port);
  await createTopics(client, [
    { name: 'ret', partitions: 2, configs: { 'retention.ms': '2000' } },
    { name: 'keep', partitions: 1 },
  ]);
  // Phase 1: 6 objects; two of them also hold a batch of `keep`, which stays.
  for (let i = 0; i < 6; i++) {
    const parts = [{ topic: 'ret', partition: i % 2, values: [`old-${i}-a`, `old-${i}-b`] }];
    if (i % 3 === 0) parts.push({ topic: 'keep', partition: 0, values: [`keep-${i}`] });
    await produce(client, parts);
  }
  const phase1 = await objectStates(broker);
  assert.equal(phase1.size, 6);
  await new Promise((r) => setTimeout(r, 2300));
  // Phase 2: fresh data in new objects.
  for (let i = 0; i < 2; i++) await produce(client, [{ topic: 'ret', partition: 0, values: [`new-${i}`] }, { topic: 'ret', partition: 1, values: [`new-${i}`] }]);

  await waitFor('retention, the grace period and the cleaner', async () => {
    const starts = [await earliest(client, 'ret', 0), await earliest(client, 'ret', 1)];
    if (starts.some((s) => s < 6)) return false;
    const states = await objectStates(broker);
    return [...states.values()].every((s) => s === 'uploaded') && (await storeKeys(broker)).length === states.size;
  });

  // The store holds exactly the coordinator's objects, and those are the objects of retained data.
  const keys = await storeKeys(broker);
  assert.deepEqual(keys, [...(await objectStates(broker)).keys()].sort());
  assert.deepEqual(keys, await retainedObjects(broker));
  const sharedWithKeep = [...phase1.keys()].filter((_, i) => i % 3 === 0);
  for (const k of sharedWithKeep) assert.ok(keys.includes(k), 'an object still holding retained data of another topic stays');
  assert.equal(keys.filter((k) => phase1.has(k)).length, 2, 'the other phase-1 objects are gone');
  assert.equal(await earliest(client, 'keep', 0), 0);

  // Below the log start: OFFSET_OUT_OF_RANGE; at it: data (unless phase 2 expired meanwhile).
  const start = await earliest(client, 'ret', 0);
  const below = await fetchAt(client, 'ret', 0, 0);
  assert.deepEqual([below.errorCode, below.logStartOffset], [ErrorCode.OFFSET_OUT_OF_RANGE, start]);
  const at = await fetchAt(client, 'ret', 0, start);
  assert.equal(at.errorCode, ErrorCode.NONE);
  client.close();
});

test('DeleteRecords moves the earliest offset at once; the emptied objects are deleted after the grace period', async () => {
  const broker = await startTestBroker(FAST_JOBS);
  const client = await RawClient.connect(broker.port);
  await createTopics(client, [{ name: 'dr', partitions: 1 }]);
  for (let i = 0; i < 4; i++) await produce(client, [{ topic: 'dr', partition: 0, values: [`v${i}-0`, `v${i}-1`] }]);
  // Read through the cache first, so the index cache has to learn the new log start.
  assert.equal((await fetchAt(client, 'dr', 0, 0)).errorCode, ErrorCode.NONE);
  const r = await client.request(ApiKey.DeleteRecords, 2, { topics: [{ name: 'dr', partitions: [{ partitionIndex: 0, offset: 5n }] }], timeoutMs: 5000 });
  assert.deepEqual([r.topics[0].partitions[0].errorCode, r.topics[0].partitions[0].lowWatermark], [0, 5n]);
  assert.equal(await earliest(client, 'dr', 0), 5);
  assert.equal((await fetchAt(client, 'dr', 0, 3)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.equal((await fetchAt(client, 'dr', 0, 4)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  const at = await fetchAt(client, 'dr', 0, 5);
  assert.equal(at.errorCode, ErrorCode.NONE);
  assert.ok(at.bytes > 0, 'the batch holding offset 5 (it starts at 4) is served');
  const beyond = await client.request(ApiKey.DeleteRecords, 2, { topics: [{ name: 'dr', partitions: [{ partitionIndex: 0, offset: 99n }] }], timeoutMs: 5000 });
  assert.equal(beyond.topics[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  await waitFor('the two emptied objects deleted', async () => (await storeKeys(broker)).length === 2);
  assert.deepEqual(await storeKeys(broker), await retainedObjects(broker));
  client.close();
});

test('a broker killed between upload and commit leaves an orphan, which the reaper deletes', async () => {
  const dir = await tempDir();
  const walDir = join(dir, 'objects', 'wal');
  const files = async () => (await readdir(walDir).catch(() => [] as string[])).filter((f) => !f.startsWith('.'));
  let orphan: string | null = null;
  for (let attempt = 0; attempt < 5 && orphan === null; attempt++) {
    // s3-standard latency: the object is written at once, the PUT answers ~100 ms later; the commit waits for the answer.
    const child = await spawnBroker(dir, { 'diskless.object.store.latency.profile': 's3-standard', 'diskless.commit.interval.ms': 20 });
    const client = await RawClient.connect(child.port);
    if (attempt === 0) await createTopics(client, [{ name: 'orphan', partitions: 1 }]);
    const before = new Set(await files());
    client.write(RawClient.frame(ApiKey.Produce, 9, {
      acks: -1, timeoutMs: 5000, transactionalId: null,
      topicData: [{ name: 'orphan', partitionData: [{ index: 0, records: await batch([`attempt-${attempt}`]) }] }],
    }, 1));
    let uploaded: string | undefined;
    while (uploaded === undefined) {
      uploaded = (await files()).find((f) => !before.has(f));
      if (uploaded === undefined) await new Promise((r) => setTimeout(r, 1));
    }
    child.child.kill('SIGKILL');
    await child.exited;
    client.close();

    const broker = await startTestBroker(FAST_JOBS, dir);
    const key = `wal/${uploaded}`;
    const known = await broker.broker.coordinator.listObjectKeys();
    if (known.includes(key)) {
      await broker.close(); // the commit won the race against the kill: try again
      continue;
    }
    orphan = key;
    assert.ok((await storeKeys(broker)).includes(orphan), 'the orphan is in the store');
    // Reaped: gone from the store, and the store equals the coordinator (the cleaner deletes from the
    // store first, then forgets the rows).
    await waitFor('the orphan reaped', async () => {
      const inStore = await storeKeys(broker);
      return !inStore.includes(orphan!) && JSON.stringify(inStore) === JSON.stringify([...(await objectStates(broker)).keys()].sort());
    });
    await broker.close();
  }
  assert.notEqual(orphan, null, 'an upload was caught before its commit');
});
