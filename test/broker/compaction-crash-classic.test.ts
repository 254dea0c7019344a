/**
 * kill -9 in the middle of a compaction of a classic topic, on broker processes (compaction-crash.test.ts does
 * the same for diskless topics): the broker is killed at moments spread over its log cleaner's work; after
 * each restart every key's latest record is there at its acknowledged offset, nothing else is new, and no
 * `.cleaned` file is left; the last restart compacts fully.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnBroker, type BrokerProcess } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { expectedView, readPartition, type Acked, type Row } from '../helpers/compaction.ts';
import { kafkajs } from '../helpers/kafkajs.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopics } from '../helpers/topics.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';

const SEGMENT_MS = 300;

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

/** Every record is one written (at its acknowledged offset) and every key's latest is there. */
function assertValidState(rows: Row[], written: Map<number, Row>, acked: Acked): void {
  for (const r of rows) assert.deepEqual(r, written.get(r.offset), `record at ${r.offset} is one that was written there`);
  const offsets = new Set(rows.map((r) => r.offset));
  for (const [key, { offset }] of acked) assert.ok(offsets.has(offset), `the latest record of ${key} (offset ${offset}) is there`);
  assert.equal(new Set(rows.map((r) => r.offset)).size, rows.length, 'no duplicate');
}

test('classic: kill -9 at moments spread over the log cleaner\'s work; every restart reads a valid compacted state, the last one compacts fully', async () => {
  const dataDir = await tempDir();
  const overrides = { 'log.cleaner.backoff.ms': 100, 'log.diskless.enable': 'false' };
  let broker = await spawnBroker(dataDir, overrides);
  const client = await RawClient.connect(broker.port);
  await createTopics(client, [{ name: 'ck', configs: { 'cleanup.policy': 'compact', 'segment.ms': String(SEGMENT_MS), 'segment.bytes': '1048576', 'min.cleanable.dirty.ratio': '1' } }]);
  client.close();
  // Enough data for several segments (1 MiB each) and a cleaner run that takes a while.
  const acked = new Map() as Acked;
  const producer = kafkajs(broker.bootstrap, 'crash-classic').producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const big = 'x'.repeat(900);
  for (let u = 0; u < 40; u++) {
    const [r] = await producer.send({ topic: 'ck', acks: -1, messages: Array.from({ length: 100 }, (_, k) => ({ key: `k${k}`, value: `${u}-${big}`, partition: 0 })) });
    for (let k = 0; k < 100; k++) acked.set(`k${k}`, { offset: Number(r!.baseOffset) + k, value: `${u}-${big}` });
  }
  await sleep(SEGMENT_MS + 100);
  const [f] = await producer.send({ topic: 'ck', acks: -1, messages: [{ key: 'after', value: 'roll', partition: 0 }] });
  acked.set('after', { offset: Number(f!.baseOffset), value: 'roll' });
  await producer.disconnect();
  const before = await readPartition(broker.bootstrap, 'ck');
  const written = new Map(before.map((r) => [r.offset, r]));
  await setRatio(broker.port, 'ck', '0.01');
  for (const delay of [5, 40, 150]) {
    await sleep(delay);
    await kill(broker);
    const leftovers = (await readdir(join(dataDir, 'logs', 'ck-0'))).filter((n) => n.endsWith('.cleaned'));
    broker = await spawnBroker(dataDir, { ...overrides, 'log.cleaner.enable': 'false' });
    assert.ok(!(await readdir(join(dataDir, 'logs', 'ck-0'))).some((n) => n.endsWith('.cleaned')), `leftovers removed at start (${leftovers.join(', ') || 'none'})`);
    assertValidState(await readPartition(broker.bootstrap, 'ck'), written, acked);
    await kill(broker);
    broker = await spawnBroker(dataDir, overrides);
  }
  const compacted = expectedView(acked, true);
  await waitFor('fully compacted', async () => (await readPartition(broker.bootstrap, 'ck')).length === compacted.length, { timeoutMs: 60_000, intervalMs: 200 });
  assert.deepEqual(await readPartition(broker.bootstrap, 'ck'), compacted);
  await kill(broker);
});
