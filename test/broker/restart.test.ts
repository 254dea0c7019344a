/**
 * Restarts: SIGTERM seals and commits the open object before exiting; after kill -9 every acknowledged
 * record is still readable at the offset it was acknowledged with. (Classic topics: classic-restart.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnBroker } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { fetchAll } from '../helpers/fetch.ts';
import { produce } from '../helpers/produce.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopic } from '../helpers/topics.ts';
import { sleep } from '../helpers/wait.ts';

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
        const pr = await produce(c, 'crash', partition, value, { timeoutMs: 5000 });
        if (pr.errorCode === 0) acked.set(`${partition}/${value}`, Number(pr.baseOffset));
      } catch {
        return; // the broker died under us
      }
    }
  });
  // Kill once enough writes were acknowledged (a loaded machine may need longer than usual).
  const deadline = Date.now() + 30_000;
  while (acked.size < 50 && Date.now() < deadline) await sleep(50);
  first.child.kill('SIGKILL');
  stop = true;
  await first.exited;
  await Promise.all(producers);
  assert.ok(acked.size > 20, `enough acknowledged writes before the crash (${acked.size})`);

  const second = await spawnBroker(dir, {}, 0);
  const reader = await RawClient.connect(second.port);
  const stored = [await fetchAll(reader, 'crash', 0), await fetchAll(reader, 'crash', 1)];
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
  const pending = produce(c, 'graceful', 0, 'sealed-on-shutdown', { timeoutMs: 60000 });
  await sleep(300);
  first.child.kill('SIGTERM');
  assert.equal((await pending).errorCode, 0, 'the produce was answered, after its commit');
  assert.equal(await first.exited, 0);

  const second = await spawnBroker(dir);
  const reader = await RawClient.connect(second.port);
  const stored = await fetchAll(reader, 'graceful', 0);
  assert.equal(stored.get(0), 'sealed-on-shutdown');
  reader.close();
});
