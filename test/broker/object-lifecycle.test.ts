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
import { spawnBroker, startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { fetchPartition } from '../helpers/fetch.ts';
import { EARLIEST, listOffset } from '../helpers/list-offsets.ts';
import { producePartitions, produceRequest } from '../helpers/produce.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { createTopic, createTopics } from '../helpers/topics.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
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
/** How long to wait for those jobs, and how often to look. */
const JOBS_WAIT = { timeoutMs: 20_000, intervalMs: 100 };

/** One uncompressed batch of `values`, timestamped now (so that retention counts from now). */
function batch(values: string[]): Promise<Buffer> {
  return batchOf(values, { baseTimestamp: BigInt(Date.now()) });
}

/** One produce request (one object, as the test waits for each answer) to several partitions. */
async function produce(client: RawClient, parts: { topic: string; partition: number; values: string[] }[]): Promise<void> {
  const answers = await producePartitions(client, await Promise.all(parts.map(async (p) => ({ topic: p.topic, partition: p.partition, records: await batch(p.values) }))), { timeoutMs: 5000 });
  for (const p of answers) assert.equal(p.errorCode, 0);
}

async function earliest(client: RawClient, topic: string, partition: number): Promise<number> {
  const p = await listOffset(client, topic, partition, EARLIEST);
  assert.equal(p.errorCode, 0);
  return Number(p.offset);
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
  await sleep(2300);
  // Phase 2: fresh data in new objects.
  for (let i = 0; i < 2; i++) await produce(client, [{ topic: 'ret', partition: 0, values: [`new-${i}`] }, { topic: 'ret', partition: 1, values: [`new-${i}`] }]);

  await waitFor('retention, the grace period and the cleaner', async () => {
    const starts = [await earliest(client, 'ret', 0), await earliest(client, 'ret', 1)];
    if (starts.some((s) => s < 6)) return false;
    const states = await objectStates(broker);
    return [...states.values()].every((s) => s === 'uploaded') && (await storeKeys(broker)).length === states.size;
  }, JOBS_WAIT);

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
  const below = await fetchPartition(client, 'ret', 0, 0n);
  assert.deepEqual([below.errorCode, Number(below.logStartOffset)], [ErrorCode.OFFSET_OUT_OF_RANGE, start]);
  const at = await fetchPartition(client, 'ret', 0, BigInt(start));
  assert.equal(at.errorCode, ErrorCode.NONE);
  client.close();
});

test('DeleteRecords moves the earliest offset at once; the emptied objects are deleted after the grace period', async () => {
  const broker = await startTestBroker(FAST_JOBS);
  const client = await RawClient.connect(broker.port);
  await createTopic(client, 'dr');
  for (let i = 0; i < 4; i++) await produce(client, [{ topic: 'dr', partition: 0, values: [`v${i}-0`, `v${i}-1`] }]);
  // Read through the cache first, so the index cache has to learn the new log start.
  assert.equal((await fetchPartition(client, 'dr', 0, 0n)).errorCode, ErrorCode.NONE);
  const r = await client.request(ApiKey.DeleteRecords, 2, { topics: [{ name: 'dr', partitions: [{ partitionIndex: 0, offset: 5n }] }], timeoutMs: 5000 });
  assert.deepEqual([r.topics[0].partitions[0].errorCode, r.topics[0].partitions[0].lowWatermark], [0, 5n]);
  assert.equal(await earliest(client, 'dr', 0), 5);
  assert.equal((await fetchPartition(client, 'dr', 0, 3n)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.equal((await fetchPartition(client, 'dr', 0, 4n)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  const at = await fetchPartition(client, 'dr', 0, 5n);
  assert.equal(at.errorCode, ErrorCode.NONE);
  assert.ok((at.records?.length ?? 0) > 0, 'the batch holding offset 5 (it starts at 4) is served');
  const beyond = await client.request(ApiKey.DeleteRecords, 2, { topics: [{ name: 'dr', partitions: [{ partitionIndex: 0, offset: 99n }] }], timeoutMs: 5000 });
  assert.equal(beyond.topics[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  await waitFor('the two emptied objects deleted', async () => (await storeKeys(broker)).length === 2, JOBS_WAIT);
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
    if (attempt === 0) await createTopic(client, 'orphan');
    const before = new Set(await files());
    client.write(RawClient.frame(ApiKey.Produce, 9, produceRequest([{ topic: 'orphan', partition: 0, records: await batch([`attempt-${attempt}`]) }], { timeoutMs: 5000 }), 1));
    let uploaded: string | undefined;
    while (uploaded === undefined) {
      uploaded = (await files()).find((f) => !before.has(f));
      if (uploaded === undefined) await sleep(1);
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
    }, JOBS_WAIT);
    await broker.close();
  }
  assert.notEqual(orphan, null, 'an upload was caught before its commit');
});
