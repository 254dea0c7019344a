/**
 * kill -9 in the middle of a compaction of a diskless topic, on broker processes (compaction-crash-classic.test.ts
 * does the same for classic topics): the broker is killed the moment its compacted object is in the store
 * (uploaded, not swapped: the s3-standard latency profile holds the upload's answer back). After a restart
 * the partition reads exactly as before or exactly as after, a later compaction completes, and once the
 * orphan reaper has run every file in the store is an object the coordinator knows and every live object is
 * in the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnBroker, type BrokerProcess } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { expectedView, readPartition, type Acked } from '../helpers/compaction.ts';
import { kafkajs } from '../helpers/kafkajs.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopics } from '../helpers/topics.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';

const SEGMENT_MS = 300;

async function produceKeys(bootstrap: string, topic: string, keys: number, updates: number): Promise<Acked> {
  const producer = kafkajs(bootstrap, 'crash').producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const acked: Acked = new Map();
  const send = async (messages: { key: string; value: string }[]) => {
    const [r] = await producer.send({ topic, acks: -1, messages: messages.map((m) => ({ ...m, partition: 0 })) });
    messages.forEach((m, i) => acked.set(m.key, { offset: Number(r!.baseOffset) + i, value: m.value }));
  };
  for (let u = 0; u < updates; u++) await send(Array.from({ length: keys }, (_, k) => ({ key: `k${k}`, value: `v${k}-${u}` })));
  await sleep(SEGMENT_MS + 100);
  await send([{ key: 'after', value: 'roll' }]);
  await producer.disconnect();
  return acked;
}

async function setRatio(port: number, topic: string, ratio: string): Promise<void> {
  const client = await RawClient.connect(port);
  const r = await client.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: topic, configs: [{ name: 'min.cleanable.dirty.ratio', configOperation: 0, value: ratio }] }], validateOnly: false });
  assert.equal(r.responses[0].errorCode, 0);
  client.close();
}

async function kill(p: BrokerProcess): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

test('diskless: kill -9 between the upload of the compacted object and the swap leaves the partition as before; no orphan survives', async () => {
  const dataDir = await tempDir();
  const overrides = {
    'log.cleaner.backoff.ms': 200,
    'diskless.object.store.latency.profile': 's3-standard',
    'diskless.object.cleaner.interval.ms': 200,
    'diskless.object.deletion.grace.ms': 500,
    'diskless.orphan.min.age.ms': 1000,
    'diskless.commit.interval.ms': 20,
  };
  const objectsDir = join(dataDir, 'objects', 'wal');
  // Objects only: the folder store writes `.floe-tmp-*` first and renames (a kill may leave one; it is no object).
  const files = async () => (await readdir(objectsDir).catch(() => [] as string[])).filter((f) => !f.startsWith('.floe-tmp-')).sort();
  let broker = await spawnBroker(dataDir, overrides);
  const client = await RawClient.connect(broker.port);
  await createTopics(client, [{ name: 'dk', configs: { 'cleanup.policy': 'compact', 'segment.ms': String(SEGMENT_MS), 'min.cleanable.dirty.ratio': '1' } }]);
  client.close();
  const acked = await produceKeys(broker.bootstrap, 'dk', 30, 15);
  const before = await readPartition(broker.bootstrap, 'dk');
  assert.equal(before.length, 30 * 15 + 1);
  const known = new Set(await files());
  await setRatio(broker.port, 'dk', '0.01');
  let uploaded: string | undefined;
  const deadline = Date.now() + 30_000;
  while (uploaded === undefined && Date.now() < deadline) {
    uploaded = (await files()).find((f) => !known.has(f));
    if (uploaded === undefined) await sleep(1);
  }
  assert.ok(uploaded, 'the compaction uploaded its object');
  await kill(broker);

  broker = await spawnBroker(dataDir, { ...overrides, 'log.cleaner.enable': 'false' });
  const afterCrash = await readPartition(broker.bootstrap, 'dk');
  const compacted = expectedView(acked, true);
  assert.ok(JSON.stringify(afterCrash) === JSON.stringify(before) || JSON.stringify(afterCrash) === JSON.stringify(compacted),
    `exactly before (${before.length} records) or after (${compacted.length}); got ${afterCrash.length}`);
  // The orphan is reaped once it is older than diskless.orphan.min.age.ms.
  if (JSON.stringify(afterCrash) === JSON.stringify(before)) {
    await waitFor('orphan reaped', async () => !(await files()).includes(uploaded!), { timeoutMs: 30_000, intervalMs: 100 });
  }
  await kill(broker);

  broker = await spawnBroker(dataDir, overrides);
  await waitFor('compacted after the restart', async () => (await readPartition(broker.bootstrap, 'dk')).length === compacted.length, { timeoutMs: 30_000, intervalMs: 200 });
  assert.deepEqual(await readPartition(broker.bootstrap, 'dk'), compacted);
  await sleep(3000); // the replaced objects' grace and a few cleaner passes
  broker.child.kill('SIGTERM');
  await broker.exited;
  const coordinator = await openPGliteCoordinator(join(dataDir, 'coordinator'));
  try {
    const rows = (await coordinator.connection.query<{ object_key: string; state: string }>('SELECT object_key, state FROM objects')).rows;
    const stored = new Set((await files()).map((f) => `wal/${f}`));
    for (const f of stored) assert.ok(rows.some((r) => r.object_key === f), `${f} is an object the coordinator knows (no orphan)`);
    for (const r of rows) if (r.state === 'uploaded') assert.ok(stored.has(r.object_key), `live object ${r.object_key} is in the store`);
  } finally {
    await coordinator.close();
  }
});
