/**
 * Restarts: SIGTERM seals and commits the open object before exiting; after kill -9 every acknowledged
 * record is still readable at the offset it was acknowledged with. (Classic topics: classic-restart.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnBroker, tempDir } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { buildRecordBatch } from '../helpers/record-batch.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { readRecords } from '../../src/protocol/records.ts';

async function createTopic(client: RawClient, name: string, partitions: number): Promise<void> {
  const r = await client.request(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: 1, configs: [] }], timeoutMs: 5000 });
  assert.equal(r.topics[0].errorCode, 0);
}

/** Every record of a partition as value strings, by offset. */
async function readAll(client: RawClient, topic: string, partition: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let offset = 0n;
  for (;;) {
    const f = await client.request(ApiKey.Fetch, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 4 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '',
    });
    const p = f.responses[0].partitions[0];
    assert.equal(p.errorCode, 0);
    const records: Buffer = p.records;
    if (!records || records.length === 0) return out;
    let at = 0;
    while (at < records.length) {
      const size = records.readInt32BE(at + 8) + 12;
      const batch = records.subarray(at, at + size);
      const base = Number(batch.readBigInt64BE(0));
      for (const r of await readRecords(batch)) out.set(base + r.offsetDelta, r.value!.toString());
      at += size;
      offset = BigInt(base + batch.readInt32BE(23) + 1);
    }
  }
}

test('after kill -9 during produce, every acknowledged record is readable at its acknowledged offset', async () => {
  const dir = await tempDir();
  const first = await spawnBroker(dir, { 'diskless.commit.interval.ms': 20 });
  const admin = await RawClient.connect(first.port);
  await createTopic(admin, 'crash', 2);
  admin.close();

  // Several connections produce concurrently; we remember what was acknowledged.
  const acked = new Map<string, number>(); // value → offset (per partition key)
  let stop = false;
  const producers = [0, 1, 2, 3].map(async (id) => {
    const c = await RawClient.connect(first.port);
    for (let i = 0; !stop; i++) {
      const partition = i % 2;
      const value = `p${id}-m${i}`;
      try {
        const r = await c.request(ApiKey.Produce, 9, {
          acks: -1, timeoutMs: 5000, transactionalId: null,
          topicData: [{ name: 'crash', partitionData: [{ index: partition, records: await buildRecordBatch({ records: [{ value: Buffer.from(value) }] }) }] }],
        });
        const pr = r.responses[0].partitionResponses[0];
        if (pr.errorCode === 0) acked.set(`${partition}/${value}`, Number(pr.baseOffset));
      } catch {
        return; // the broker died under us
      }
    }
  });
  // Kill once enough writes were acknowledged (a loaded machine may need longer than usual).
  const deadline = Date.now() + 30_000;
  while (acked.size < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  first.child.kill('SIGKILL');
  stop = true;
  await first.exited;
  await Promise.all(producers);
  assert.ok(acked.size > 20, `enough acknowledged writes before the crash (${acked.size})`);

  const second = await spawnBroker(dir, {}, 0);
  const reader = await RawClient.connect(second.port);
  const stored = [await readAll(reader, 'crash', 0), await readAll(reader, 'crash', 1)];
  for (const [key, offset] of acked) {
    const [partition, value] = key.split('/') as [string, string];
    assert.equal(stored[Number(partition)]!.get(offset), value, `acknowledged ${value} at ${partition}@${offset}`);
  }
  for (const partition of stored) {
    const offsets = [...partition.keys()].sort((a, b) => a - b);
    assert.deepEqual(offsets, offsets.map((_, i) => i), 'offsets contiguous from 0 after restart');
  }
  reader.close();
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
});

test('SIGTERM seals and commits the open object before the process exits', async () => {
  const dir = await tempDir();
  // A long interval: only the shutdown can have committed these batches.
  const first = await spawnBroker(dir, { 'diskless.commit.interval.ms': 60000 });
  const c = await RawClient.connect(first.port);
  await createTopic(c, 'graceful', 1);
  const pending = c.request(ApiKey.Produce, 9, {
    acks: -1, timeoutMs: 60000, transactionalId: null,
    topicData: [{ name: 'graceful', partitionData: [{ index: 0, records: await buildRecordBatch({ records: [{ value: Buffer.from('sealed-on-shutdown') }] }) }] }],
  });
  await new Promise((r) => setTimeout(r, 300));
  first.child.kill('SIGTERM');
  const r = await pending;
  assert.equal(r.responses[0].partitionResponses[0].errorCode, 0, 'the produce was answered, after its commit');
  assert.equal(await first.exited, 0);

  const second = await spawnBroker(dir);
  const reader = await RawClient.connect(second.port);
  const stored = await readAll(reader, 'graceful', 0);
  assert.equal(stored.get(0), 'sealed-on-shutdown');
  reader.close();
});
