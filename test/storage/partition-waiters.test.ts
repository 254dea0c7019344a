/** PartitionWaiters: long polls wake on their own keys only; `generation` tells a reader that data arrived while it read. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionWaiters } from '../../src/storage/partition-waiters.ts';

test('a wait wakes on a notify of one of its keys, not of another', async () => {
  const waiters = new PartitionWaiters();
  let woken: boolean | null = null;
  const waiting = waiters.wait(['t:0', 't:1'], 5_000).then((w) => (woken = w));
  waiters.notify(['t:2']);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(woken, null, 'another partition does not wake it');
  waiters.notify(['t:1']);
  await waiting;
  assert.equal(woken, true);
});

test('a wait times out with false; generation counts notifies; close answers later waits at once', async () => {
  const waiters = new PartitionWaiters();
  assert.equal(await waiters.wait(['t:0'], 10), false);
  const g = waiters.generation;
  waiters.notify(['nobody:0']);
  assert.equal(waiters.generation, g + 1, 'a notify nobody waited for still counts');
  const pending = waiters.wait(['t:0'], 60_000);
  waiters.close();
  assert.equal(await pending, true, 'close wakes the waiting');
  const started = Date.now();
  assert.equal(await waiters.wait(['t:0'], 60_000), false);
  assert.ok(Date.now() - started < 1_000, 'a wait after close returns at once');
});
