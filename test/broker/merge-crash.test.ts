/**
 * kill -9 in the middle of a merge of small diskless objects, on broker processes: the broker is killed the
 * moment its merged object is in the store (uploaded, not swapped: the s3-standard latency profile holds
 * the upload's answer back). After a restart the topic reads exactly as before (kcat, every partition,
 * offsets, keys, values, timestamps), the coordinator holds either the old objects or the merged one, a later
 * merge completes, and once the orphan reaper and the object cleaner have run every file in the store is a
 * live object the coordinator knows and every live object is in the store: no orphan survives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnBroker, type BrokerProcess } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { kafkajs } from '../helpers/kafkajs.ts';
import { kcat } from '../helpers/kcat.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopics } from '../helpers/topics.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';

const TOPIC = 'mc';

async function stop(p: BrokerProcess, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  p.child.kill(signal);
  await p.exited;
}

const read = async (bootstrap: string) =>
  (await kcat(['-b', bootstrap, '-t', TOPIC, '-C', '-e', '-o', 'beginning', '-q', '-f', '%p|%o|%k|%s|%T\\n'])).split('\n').filter(Boolean).sort();

test('diskless: kill -9 between the upload of the merged object and the swap leaves the topic as before; no orphan survives', async () => {
  const dataDir = await tempDir();
  const base = {
    'diskless.commit.interval.ms': 20,
    'diskless.object.cleaner.interval.ms': 200,
    'diskless.object.deletion.grace.ms': 500,
    'diskless.orphan.min.age.ms': 1000,
    'diskless.merge.min.age.ms': 0,
    'diskless.merge.interval.ms': 200,
    'log.cleaner.enable': 'false',
  };
  const objectsDir = join(dataDir, 'objects', 'wal');
  const files = async () => (await readdir(objectsDir).catch(() => [] as string[])).filter((f) => !f.startsWith('.floe-tmp-')).sort();

  let broker = await spawnBroker(dataDir, { ...base, 'diskless.merge.enable': 'false' });
  const client = await RawClient.connect(broker.port);
  await createTopics(client, [{ name: TOPIC, partitions: 3 }]);
  client.close();
  const producer = kafkajs(broker.bootstrap, 'merge-crash').producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let round = 0; round < 30; round++) {
    await producer.send({ topic: TOPIC, acks: -1, messages: [0, 1, 2].map((p) => ({ partition: p, key: `k${round}`, value: `v${round} p${p}` })) });
  }
  await producer.disconnect();
  const before = await read(broker.bootstrap);
  assert.equal(before.length, 90);
  await stop(broker, 'SIGTERM');
  const small = await files();
  assert.ok(small.length >= 30, `many small objects (${small.length})`);

  // Merging on, with the s3-standard latency profile: killed once the merged object is in the store.
  broker = await spawnBroker(dataDir, { ...base, 'diskless.object.store.latency.profile': 's3-standard' });
  let uploaded: string | undefined;
  const deadline = Date.now() + 30_000;
  while (uploaded === undefined && Date.now() < deadline) {
    uploaded = (await files()).find((f) => !small.includes(f));
    if (uploaded === undefined) await sleep(1);
  }
  assert.ok(uploaded, 'the merge uploaded its object');
  await stop(broker, 'SIGKILL');

  // Before any restart: the coordinator holds either the old objects or the merged one, nothing in between.
  const coordinator = await openPGliteCoordinator(join(dataDir, 'coordinator'));
  let swapped: boolean;
  try {
    const live = (await coordinator.mergeCandidates(Number.MAX_SAFE_INTEGER, 0, 10_000)).map((c) => c.objectKey.slice('wal/'.length)).sort();
    swapped = live.length === 1 && live[0] === uploaded;
    assert.ok(swapped || JSON.stringify(live) === JSON.stringify(small), `the old objects (${small.length}) or the merged one; got ${live.length}`);
  } finally {
    await coordinator.close();
  }

  // Merging on again: the topic reads exactly as before (whether or not merging ran again yet), merging
  // completes, and the orphan (if the swap did not happen) and the old objects go.
  broker = await spawnBroker(dataDir, base);
  assert.deepEqual(await read(broker.bootstrap), before, 'exactly as before after the crash');
  await waitFor('merged, old objects deleted', async () => (await files()).length === 1, { timeoutMs: 60_000, intervalMs: 200 });
  if (!swapped) assert.ok(!(await files()).includes(uploaded!), 'the orphan was reaped');
  assert.deepEqual(await read(broker.bootstrap), before, 'exactly as before, from the merged object');
  await sleep(1500); // a few more cleaner passes
  await stop(broker, 'SIGTERM');
  const after = await openPGliteCoordinator(join(dataDir, 'coordinator'));
  try {
    const rows = (await after.connection.query<{ object_key: string; state: string }>('SELECT object_key, state FROM objects')).rows;
    const stored = new Set((await files()).map((f) => `wal/${f}`));
    for (const f of stored) assert.ok(rows.some((r) => r.object_key === f && r.state === 'uploaded'), `${f} is a live object the coordinator knows (no orphan)`);
    for (const r of rows) if (r.state === 'uploaded') assert.ok(stored.has(r.object_key), `live object ${r.object_key} is in the store`);
  } finally {
    await after.close();
  }
});
