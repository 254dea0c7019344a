/**
 * The diskless write path against a real coordinator (PGlite) and a store whose uploads the test holds
 * and releases: commits happen in seal order even when a later upload finishes first, nothing is
 * acknowledged before its object is stored and committed, a failed upload answers a retriable error, and
 * back-pressure engages past the pending-bytes bound and releases when commits drain; an object's PUT carries
 * the CRC-32C of its bytes; an append that finds the open object due seals it when the interval timer is late;
 * an object of at least idleSealMinBytes is sealed once idle for idleSealMs (not below that size, not while
 * batches keep joining, not on a timer that ran late), and never without idleSealMs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import { DisklessWriter } from '../../src/storage/diskless/diskless-writer.ts';
import type { ProducedBatch } from '../../src/storage/partition-log.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { GatedStore } from '../helpers/gated-store.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { crc32c } from '@node-rs/crc32';

let coordinator: SqlCoordinator;
let topicId: string;

before(async () => {
  coordinator = await openPGliteCoordinator(null);
  topicId = (await coordinator.createTopic({ name: 'writer', partitionCount: 1, diskless: true, configs: {} })).topicId;
});
after(() => coordinator.close());

function batch(bytes: number): ProducedBatch {
  return { data: Buffer.alloc(bytes, 1), recordCount: 1, baseTimestamp: 0, maxTimestamp: 0, timestampType: 0, producerId: -1, producerEpoch: -1, baseSequence: -1, lastSequence: -1, txnKind: 0 };
}

const settled = async <T>(p: Promise<T>, ms = 100) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

test('commits follow seal order even when the second upload finishes first; no ack before commit', async () => {
  const store = new GatedStore();
  const writer = new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 10_000, bufferMaxBytes: 100, maxPendingBytes: 10_000, keyPrefix: 't/', onCommitted: () => {},
  });
  const first = writer.append({ topicId, partition: 0, batches: [batch(100)] }); // seals by size
  const second = writer.append({ topicId, partition: 0, batches: [batch(100)] });
  assert.equal(store.pending.length, 2, 'both objects are uploading at once');
  store.pending[1]!.release();
  assert.equal(await settled(second), false, 'the second object waits for the first to commit');
  assert.equal(await settled(first), false, 'nothing is acknowledged before its upload finishes');
  store.pending[0]!.release();
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.errorCode, 0);
  assert.equal(b.errorCode, 0);
  assert.equal(b.baseOffset, a.baseOffset + 1, 'offsets in seal order');
});

test('a failed upload answers KAFKA_STORAGE_ERROR and commits nothing', async () => {
  const store = new GatedStore();
  const writer = new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 10_000, bufferMaxBytes: 100, maxPendingBytes: 10_000, keyPrefix: 't/', onCommitted: () => {},
  });
  const before = (await coordinator.getPartitionOffsets([{ topicId, partition: 0 }]))[0]!.highWatermark;
  const result = writer.append({ topicId, partition: 0, batches: [batch(100)] });
  store.pending[0]!.release(new Error('store down'));
  assert.equal((await result).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  const afterHwm = (await coordinator.getPartitionOffsets([{ topicId, partition: 0 }]))[0]!.highWatermark;
  assert.equal(afterHwm, before);
});

test('back-pressure: paused past maxPendingBytes, resumed once commits drain', async () => {
  const store = new GatedStore();
  const writer = new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 10_000, bufferMaxBytes: 100, maxPendingBytes: 300, keyPrefix: 't/', onCommitted: () => {},
  });
  const results = [0, 1, 2].map(() => writer.append({ topicId, partition: 0, batches: [batch(100)] }));
  assert.equal(writer.paused, true);
  assert.equal(writer.stats.backPressureEvents, 1);
  let resumed = false;
  const waiting = writer.whenResumed().then(() => { resumed = true; });
  for (const p of store.pending) p.release();
  await Promise.all(results);
  await waiting;
  assert.equal(resumed, true);
  assert.equal(writer.paused, false);
});

test('an object is PUT with the CRC-32C of its bytes, made from its batches\' own CRCs', async () => {
  const store = new GatedStore();
  const writer = new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 10_000, bufferMaxBytes: 1 << 20, maxPendingBytes: 1 << 24, keyPrefix: 't/', onCommitted: () => {},
  });
  const appends: Promise<unknown>[] = [];
  for (let i = 0; i < 7; i++) {
    const data = await batchOf(Array.from({ length: 1 + i * 13 }, (_, j) => `record ${i}.${j} ${'x'.repeat(i * 31)}`));
    appends.push(writer.append({ topicId, partition: 0, batches: [{ ...batch(0), data, recordCount: 1 + i * 13 }] }));
  }
  const flushed = writer.flush();
  assert.equal(store.pending.length, 1);
  store.pending[0]!.release();
  await flushed;
  await Promise.all(appends);
  const body = store.objects.get(store.pending[0]!.key)!;
  assert.equal(store.pending[0]!.crc32c, crc32c(body), 'the PUT\'s checksum is the CRC-32C of the whole body');
});

test('an append that finds the open object past its interval seals it though the timer has not run (a late event loop)', async () => {
  const store = new GatedStore();
  const writer = new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 30, bufferMaxBytes: 10_000, maxPendingBytes: 100_000, keyPrefix: 't/', onCommitted: () => {},
  });
  const first = writer.append({ topicId, partition: 0, batches: [batch(100)] });
  // The event loop is held past the interval, so the timer cannot run.
  const until = performance.now() + 40;
  while (performance.now() < until) { /* busy */ }
  const second = writer.append({ topicId, partition: 0, batches: [batch(100)] });
  assert.equal(store.pending.length, 1, 'sealed by the append, before the timer ran');
  assert.equal(writer.stats.sealed.interval, 1);
  const third = writer.append({ topicId, partition: 0, batches: [batch(100)] }); // opens the next object
  assert.equal(store.pending.length, 1);
  store.pending[0]!.release();
  const [a, b] = await Promise.all([first, second]);
  assert.equal(b.baseOffset, a.baseOffset + 1, 'the due object held both appends');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(store.pending.length, 2, 'the next object sealed by its own timer');
  store.pending[1]!.release();
  assert.equal((await third).baseOffset, b.baseOffset + 1);
});

test('an object of at least idleSealMinBytes that no batch joins for idleSealMs is sealed then, long before its interval', async () => {
  const store = new GatedStore();
  const writer = idleSealingWriter(store);
  // Below the least size: idleness does not seal it.
  const small = writer.append({ topicId, partition: 0, batches: [batch(500)] });
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(store.pending.length, 0, 'an object below idleSealMinBytes waits for its interval or size');
  // Appends that keep coming (every 5 ms, under idleSealMs) keep it open though it is past the least size.
  const kept: Promise<unknown>[] = [small];
  for (let i = 0; i < 8; i++) {
    kept.push(writer.append({ topicId, partition: 0, batches: [batch(500)] }));
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(store.pending.length, 0, 'not idle while batches keep joining');
  const openedIdleAt = performance.now();
  await waitUntil(() => store.pending.length === 1, 1_000);
  assert.ok(performance.now() - openedIdleAt < 500, 'sealed within idleSealMs of the last append, not at the 5 s interval');
  assert.equal(writer.stats.sealed.idle, 1);
  assert.equal(writer.stats.sealed.interval, 0);
  store.pending[0]!.release();
  const results = await Promise.all(kept) as { baseOffset: number }[];
  assert.deepEqual(results.map((r) => r.baseOffset - results[0]!.baseOffset), results.map((_, i) => i), 'one object held them all, in order');
});

test('an idle timer that fires late (the event loop was held) does not seal: appends may be waiting behind it', async () => {
  const store = new GatedStore();
  const writer = idleSealingWriter(store);
  const first = writer.append({ topicId, partition: 0, batches: [batch(2_000)] });
  // Held past the idle time and half again: the timer runs late, before any I/O queued meanwhile.
  const until = performance.now() + 60;
  while (performance.now() < until) { /* busy */ }
  await new Promise((r) => setTimeout(r, 1)); // the idle timer, due long ago, runs before this one
  assert.equal(store.pending.length, 0, 'the late timer set itself again instead of sealing');
  await waitUntil(() => store.pending.length === 1, 1_000);
  assert.equal(writer.stats.sealed.idle, 1, 'sealed once it was seen idle on time');
  store.pending[0]!.release();
  await first;
});

test('idleSealMs unset: an object stays open until its interval', async () => {
  const store = new GatedStore();
  const writer = new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 150, bufferMaxBytes: 100_000, maxPendingBytes: 1_000_000, keyPrefix: 't/', onCommitted: () => {},
  });
  const first = writer.append({ topicId, partition: 0, batches: [batch(50_000)] });
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(store.pending.length, 0);
  await waitUntil(() => store.pending.length === 1, 1_000);
  assert.equal(writer.stats.sealed.interval, 1);
  store.pending[0]!.release();
  await first;
});

/** A writer whose objects seal once idle for 20 ms from 1,000 bytes; its interval (5 s) never comes in these tests. */
function idleSealingWriter(store: GatedStore): DisklessWriter {
  return new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 5_000, bufferMaxBytes: 100_000, maxPendingBytes: 1_000_000, keyPrefix: 't/', onCommitted: () => {},
    idleSealMs: 20, idleSealMinBytes: 1_000,
  });
}

async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`not done in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
