/**
 * Pieces of the object lifecycle on the broker side: the pending-key pool (keys registered ahead, one
 * registration for the keys asked meanwhile, stale keys withdrawn), the writer with registered keys
 * (uploads wait for the registration, a key too old is not committed, duplicates are not announced),
 * and the index cache following a moved log start.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';
import type { Coordinator } from '../../src/coordinator/coordinator.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import type { ByteRange, ObjectInfo, ObjectStore } from '../../src/objectstore/object-store.ts';
import { PendingKeyPool, type ObjectKeySource, type PendingKey } from '../../src/storage/diskless/object-keys.ts';
import { DisklessWriter, type CommittedBatch } from '../../src/storage/diskless/diskless-writer.ts';
import type { ProducedBatch } from '../../src/storage/partition-log.ts';
import { BatchIndexCache } from '../../src/storage/diskless/batch-index-cache.ts';
import { partitionKey } from '../../src/storage/partition-log.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Buffer>();
  puts: string[] = [];
  async put(key: string, body: Buffer | readonly Buffer[]): Promise<void> {
    this.puts.push(key);
    this.objects.set(key, Buffer.isBuffer(body) ? body : Buffer.concat(body as Buffer[]));
  }
  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const body = this.objects.get(key)!;
    return range ? body.subarray(range.start, range.end) : body;
  }
  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const k of keys) this.objects.delete(k);
  }
  async *list(): AsyncIterable<ObjectInfo> {}
  async close(): Promise<void> {}
}

/** The two calls the pool makes, recorded; registrations wait until released when `hold` is set. */
function fakeCoordinator(hold = false) {
  const registered: string[][] = [];
  const forgotten: string[][] = [];
  const releases: (() => void)[] = [];
  const c = {
    registerPendingObjects: async (_broker: number, keys: readonly string[]) => {
      registered.push([...keys]);
      if (hold) await new Promise<void>((r) => releases.push(r));
    },
    forgetPendingObjects: async (keys: readonly string[]) => {
      forgotten.push([...keys]);
    },
  };
  return { coordinator: c as unknown as Coordinator, registered, forgotten, releases };
}

const tick = () => new Promise((r) => setImmediate(r));

test('pending-key pool: registers ahead, hands out registered keys at once, refills in one call', async () => {
  const f = fakeCoordinator();
  const pool = new PendingKeyPool(f.coordinator, { brokerId: 1, keyPrefix: 'wal/', orphanMinAgeMs: 60_000, size: 4 });
  pool.start();
  await tick();
  assert.equal(f.registered.length, 1);
  assert.equal(f.registered[0]!.length, 4);
  const a = pool.take();
  assert.ok(f.registered[0]!.includes(a.key) && a.key.startsWith('wal/'));
  await a.ready;
  pool.take();
  pool.take(); // 1 left: below half, a refill of 3 starts
  await tick();
  assert.equal(f.registered.length, 2);
  assert.equal(f.registered[1]!.length, 3);
  await pool.close();
  assert.deepEqual(f.forgotten.flat().length, 4, 'close withdraws the unused registrations');
});

test('pending-key pool: with the pool empty a key is made at once and its upload waits for one shared registration', async () => {
  const f = fakeCoordinator(true);
  const pool = new PendingKeyPool(f.coordinator, { brokerId: 1, keyPrefix: 'wal/', orphanMinAgeMs: 60_000, size: 2 });
  const first = pool.take(); // starts a registration of itself + 2 ahead
  const second = pool.take(); // waits for the next registration
  const third = pool.take();
  let ready = false;
  void first.ready.then(() => (ready = true));
  await tick();
  assert.equal(ready, false, 'not registered yet');
  assert.deepEqual(f.registered.length, 1);
  assert.ok(f.registered[0]!.includes(first.key));
  f.releases.shift()!();
  await first.ready;
  await tick();
  assert.equal(f.registered.length, 2, 'the keys asked for meanwhile go in one registration');
  assert.ok(f.registered[1]!.includes(second.key) && f.registered[1]!.includes(third.key));
  f.releases.shift()!();
  await Promise.all([second.ready, third.ready]);
  for (const r of f.releases) r();
  await pool.close();
});

test('pending-key pool: keys older than a quarter of the orphan age are withdrawn, not handed out', async () => {
  const f = fakeCoordinator();
  let now = 0;
  const pool = new PendingKeyPool(f.coordinator, { brokerId: 1, keyPrefix: 'wal/', orphanMinAgeMs: 4_000, size: 2, now: () => now });
  pool.start();
  await tick();
  const ahead = f.registered[0]!;
  now = 1_500; // > 4000 / 4
  const k = pool.take();
  assert.ok(!ahead.includes(k.key));
  assert.deepEqual(f.forgotten[0]!.sort(), [...ahead].sort());
  assert.equal(pool.commitDeadlineMs, 2_000);
  await tick();
  await pool.close();
});

let coordinator: SqlCoordinator;
let topicId: string;

before(async () => {
  coordinator = await openPGliteCoordinator(null);
  topicId = (await coordinator.createTopic({ name: 'keys', partitionCount: 1, diskless: true, configs: {} })).topicId;
});
after(() => coordinator.close());

function batch(seq = -1, pid = -1): ProducedBatch {
  return { data: Buffer.alloc(50, 1), recordCount: 1, baseTimestamp: 0, maxTimestamp: 0, timestampType: 0, producerId: pid, producerEpoch: pid < 0 ? -1 : 0, baseSequence: seq, lastSequence: seq, txnKind: 0 };
}

test('writer with registered keys: the key is committed (its registration goes), a stale key is refused, a duplicate is not announced', async () => {
  const store = new MemoryStore();
  const pool = new PendingKeyPool(coordinator, { brokerId: 1, keyPrefix: 'wal/', orphanMinAgeMs: 60_000, size: 2 });
  const announced: CommittedBatch[][] = [];
  const writer = new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 10_000, bufferMaxBytes: 50, maxPendingBytes: 10_000, keyPrefix: 'wal/', keys: pool,
    onCommitted: (_body, batches) => announced.push(batches),
  });
  const pid = (await coordinator.initProducerId(-1, -1)).producerId;
  const first = await writer.append({ topicId, partition: 0, batches: [batch(0, pid)] });
  assert.equal(first.errorCode, 0);
  const key = store.puts[0]!;
  const pending = await coordinator.connection.query<{ object_key: string }>('SELECT object_key FROM pending_objects');
  assert.ok(!pending.rows.some((r) => r.object_key === key), 'the commit took the registration');
  assert.ok((await coordinator.listObjectKeys()).includes(key));

  // The same batch again: answered with the first offset, and nothing announced for it.
  const dup = await writer.append({ topicId, partition: 0, batches: [batch(0, pid)] });
  assert.deepEqual([dup.errorCode, dup.baseOffset], [0, first.baseOffset]);
  assert.equal(announced.length, 2);
  assert.deepEqual(announced[1], []);

  // A key older than its commit deadline (the upload took too long): not committed.
  const stale: ObjectKeySource = {
    commitDeadlineMs: 10,
    take: (): PendingKey => ({ key: `wal/stale-${Date.now()}`, ready: Promise.resolve(), registeredAt: performance.now() - 1_000 }),
  };
  const staleWriter = new DisklessWriter(store, coordinator, {
    brokerId: 1, commitIntervalMs: 10_000, bufferMaxBytes: 50, maxPendingBytes: 10_000, keyPrefix: 'wal/', keys: stale, onCommitted: () => {},
  });
  const before = (await coordinator.getPartitionOffsets([{ topicId, partition: 0 }]))[0]!.highWatermark;
  assert.equal((await staleWriter.append({ topicId, partition: 0, batches: [batch()] })).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal((await coordinator.getPartitionOffsets([{ topicId, partition: 0 }]))[0]!.highWatermark, before);
  await pool.close();
});

test('index cache: a moved log start answers reads below it out of range and drops the batches wholly below it', () => {
  const cache = new BatchIndexCache();
  const k = partitionKey('t', 0);
  const loc = (base: number, last: number) => ({ objectKey: `o${base}`, byteOffset: 0, byteSize: 10, baseOffset: base, lastOffset: last, maxTimestamp: 0, logAppendTime: 0, timestampType: 0 as const });
  cache.append(k, loc(0, 4), 0);
  cache.append(k, loc(5, 9), 0);
  cache.append(k, loc(10, 14), 0);
  cache.advanceLogStart(k, 7);
  const below = cache.read(k, 3, 1000)!;
  assert.deepEqual([below.logStartOffset, below.batches], [7, []]);
  assert.deepEqual(cache.read(k, 7, 1000)!.batches.map((b) => b.baseOffset), [5, 10]);
  // A commit that read the old log start does not move it back.
  cache.append(k, loc(15, 15), 0);
  assert.equal(cache.offsets(k)!.logStartOffset, 7);
  cache.advanceLogStart(k, 3); // never backwards
  assert.equal(cache.offsets(k)!.logStartOffset, 7);
  cache.advanceLogStart(k, 16);
  assert.deepEqual([cache.read(k, 16, 1000)!.batches, cache.offsets(k)], [[], { logStartOffset: 16, highWatermark: 16 }]);
  assert.deepEqual(cache.keys(), [k]);
});
