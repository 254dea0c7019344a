/**
 * Coordinator conformance, part 3 (migration 3): idempotent producers (sequence checks inside the commit,
 * InitProducerId, expiry, removal with the topic), retention steps, DeleteRecords under concurrency, and
 * the object lifecycle (key registration, the orphan reaper, objects to delete, leases). Called from
 * `coordinatorConformance` inside its describe block, so it shares its coordinator and run-scoped names.
 *
 * Expiry and the reaper are global to the database; the suite's database is its own (PGlite in a
 * temporary folder, a fresh PostgreSQL database), and its tests run one at a time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CommitBatch, CommitBatchResult, Coordinator, TopicInfo } from '../../src/coordinator/coordinator.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

const { OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH, UNKNOWN_PRODUCER_ID } = ErrorCode;
const INT32_MAX = 2 ** 31 - 1;

export interface ProducersConformanceContext {
  coordinator(): Coordinator;
  topic(n: string, partitionCount?: number, configs?: Record<string, string>): Promise<TopicInfo>;
  batch(topic: TopicInfo, partition: number, recordCount: number, opts?: { byteSize?: number; byteOffset?: number; maxTimestamp?: number }): CommitBatch;
  objectKey(): string;
  objectStates?(c: Coordinator, keys: readonly string[]): Promise<Record<string, { state: string; markedForDeletionAt: Date | null }>>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function producersConformance(x: ProducersConformanceContext): void {
  const c = (): Coordinator => x.coordinator();
  const sql = () => (c() as SqlCoordinator).connection;

  async function commit(batches: CommitBatch[], key = x.objectKey()): Promise<CommitBatchResult[]> {
    const size = batches.reduce((s, b) => Math.max(s, b.byteOffset + b.byteSize), 0);
    return c().commitObject({ objectKey: key, objectSize: size, brokerId: 1, batches });
  }

  /** A batch of an idempotent producer: `records` records from sequence `seq` (wrapping at 2^31 - 1). */
  function idem(t: TopicInfo, partition: number, pid: number, epoch: number, seq: number, records = 1, byteOffset = 0): CommitBatch {
    return {
      ...x.batch(t, partition, records, { byteOffset, byteSize: 10 }),
      producerId: pid,
      producerEpoch: epoch,
      baseSequence: seq,
      lastSequence: (seq + records - 1) % 2 ** 31,
    };
  }

  const summary = (rs: CommitBatchResult[]) => rs.map((r) => [r.errorCode, r.baseOffset, r.duplicate === true]);

  async function hwm(t: TopicInfo, partition = 0): Promise<number> {
    return (await c().getPartitionOffsets([{ topicId: t.topicId, partition }]))[0]!.highWatermark;
  }

  test('idempotence: duplicate → the offset first assigned; gap → OUT_OF_ORDER; old epoch → INVALID_PRODUCER_EPOCH', async () => {
    const t = await x.topic('idem-basic', 1);
    const { producerId: pid } = await c().initProducerId(-1, -1);
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 0, 3)])), [[0, 0, false]]);
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 3, 2)])), [[0, 3, false]]);
    // The same batch again (a retry): success with its original offset, nothing appended.
    const dup = await commit([idem(t, 0, pid, 0, 3, 2)]);
    assert.deepEqual(summary(dup), [[0, 3, true]]);
    assert.ok(dup[0]!.logAppendTime > 0);
    assert.equal(await hwm(t), 5);
    // A gap: sequence 6 after 4.
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 6)])), [[OUT_OF_ORDER_SEQUENCE_NUMBER, -1, false]]);
    // A sequence already passed that is not one of the stored batches (3..3 vs the stored 3..4).
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 3)])), [[OUT_OF_ORDER_SEQUENCE_NUMBER, -1, false]]);
    // An epoch bump restarts the sequences at 0; a non-zero start with the new epoch is out of order.
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 1, 5)])), [[OUT_OF_ORDER_SEQUENCE_NUMBER, -1, false]]);
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 1, 0)])), [[0, 5, false]]);
    // The old epoch is fenced now, even for its own duplicates.
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 5)])), [[INVALID_PRODUCER_EPOCH, -1, false]]);
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 3, 2)])), [[INVALID_PRODUCER_EPOCH, -1, false]]);
    assert.equal(await hwm(t), 6);
  });

  test('idempotence: a producer without state must start at sequence 0 (UNKNOWN_PRODUCER_ID otherwise); non-idempotent batches are never checked', async () => {
    const t = await x.topic('idem-unknown', 2);
    const { producerId: pid } = await c().initProducerId(-1, -1);
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 10)])), [[UNKNOWN_PRODUCER_ID, -1, false]]);
    // State is per partition: sequence 0 on partition 1 does not help partition 0.
    assert.deepEqual(summary(await commit([idem(t, 1, pid, 0, 0)])), [[0, 0, false]]);
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 1)])), [[UNKNOWN_PRODUCER_ID, -1, false]]);
    const plain = x.batch(t, 0, 2);
    assert.deepEqual(summary(await commit([plain, plain, plain])), [[0, 0, false], [0, 2, false], [0, 4, false]]);
  });

  test('idempotence: the last 5 batches per producer and partition are remembered, not more', async () => {
    const t = await x.topic('idem-five', 1);
    const { producerId: pid } = await c().initProducerId(-1, -1);
    for (let i = 0; i < 7; i++) assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, i * 2, 2)])), [[0, i * 2, false]]);
    // Batches 2..6 (sequences 4..13) are remembered; batches 0 and 1 are not.
    for (let i = 2; i < 7; i++) assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, i * 2, 2)])), [[0, i * 2, true]], `batch ${i}`);
    for (const i of [0, 1]) assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, i * 2, 2)])), [[OUT_OF_ORDER_SEQUENCE_NUMBER, -1, false]]);
    assert.equal(await hwm(t), 14);
  });

  test('idempotence: inside one object a producer\'s batches are checked in order, against each other', async () => {
    const t = await x.topic('idem-object', 2);
    const { producerId: p1 } = await c().initProducerId(-1, -1);
    const { producerId: p2 } = await c().initProducerId(-1, -1);
    const res = await commit([
      idem(t, 0, p1, 0, 0, 2, 0), //   accepted at 0
      idem(t, 0, p2, 0, 0, 1, 10), //  another producer, same partition: accepted at 2
      idem(t, 0, p1, 0, 2, 3, 20), //  follows p1's first batch: accepted at 3
      idem(t, 0, p1, 0, 2, 3, 30), //  a duplicate of the previous batch, in the same object: its offset
      idem(t, 0, p1, 0, 9, 1, 40), //  a gap after 2..4
      x.batch(t, 0, 1, { byteOffset: 50, byteSize: 10 }), // not idempotent: accepted at 6
      idem(t, 0, p1, 0, 5, 1, 60), //  still in order after the rejected batch: accepted at 7
      idem(t, 0, p1, 1, 0, 1, 70), //  epoch bump inside the object: accepted at 8
      idem(t, 0, p1, 0, 6, 1, 80), //  the old epoch is fenced from here on
      idem(t, 1, p1, 0, 3, 1, 90), //  another partition: no state there
    ]);
    assert.deepEqual(summary(res), [
      [0, 0, false],
      [0, 2, false],
      [0, 3, false],
      [0, 3, true],
      [OUT_OF_ORDER_SEQUENCE_NUMBER, -1, false],
      [0, 6, false],
      [0, 7, false],
      [0, 8, false],
      [INVALID_PRODUCER_EPOCH, -1, false],
      [UNKNOWN_PRODUCER_ID, -1, false],
    ]);
    assert.equal(await hwm(t), 9);
    // What was stored is what the next object is checked against: epoch 1, last sequence 0.
    assert.deepEqual(summary(await commit([idem(t, 0, p1, 1, 0), idem(t, 0, p1, 1, 1), idem(t, 0, p2, 0, 0), idem(t, 0, p2, 0, 1)])), [
      [0, 8, true],
      [0, 9, false],
      [0, 2, true],
      [0, 10, false],
    ]);
  });

  test('idempotence: sequences wrap from 2^31 - 1 to 0', async () => {
    const t = await x.topic('idem-wrap', 1);
    const { producerId: pid } = await c().initProducerId(-1, -1);
    await commit([idem(t, 0, pid, 0, 0)]);
    // Jump near the end through an epoch bump (sequence 0) and enough records to reach INT32_MAX - 1.
    const { producerEpoch } = await c().initProducerId(pid, 0);
    assert.equal(producerEpoch, 1);
    assert.deepEqual(summary(await commit([{ ...idem(t, 0, pid, 1, 0, 1), lastSequence: INT32_MAX - 2 }])), [[0, 1, false]]);
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 1, INT32_MAX - 1, 2)])), [[0, 2, false]]); // last sequence: 2^31 - 1
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 1, 0)])), [[0, 4, false]]);
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 1, 2)])), [[OUT_OF_ORDER_SEQUENCE_NUMBER, -1, false]]);
  });

  test('an object whose batches are all duplicates holds no batch and is deleting at once', async () => {
    const t = await x.topic('idem-dup-object', 1);
    const { producerId: pid } = await c().initProducerId(-1, -1);
    await commit([idem(t, 0, pid, 0, 0, 4)]);
    const key = x.objectKey();
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 0, 4)], key)), [[0, 0, true]]);
    if (x.objectStates) assert.equal((await x.objectStates(c(), [key]))[key]?.state, 'deleting');
    const [found] = await c().findBatches([{ topicId: t.topicId, partition: 0, offset: 0, maxBytes: 1 << 20 }]);
    assert.equal(found!.batches.length, 1);
  });

  test('initProducerId: unique ids under concurrency; re-init with the current epoch bumps it; anything else gets a new id', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, () => c().initProducerId(-1, -1)));
    assert.equal(new Set(ids.map((i) => i.producerId)).size, 20);
    assert.ok(ids.every((i) => i.producerEpoch === 0 && i.producerId >= 0));
    const { producerId: pid } = ids[0]!;
    assert.deepEqual(await c().initProducerId(pid, 0), { producerId: pid, producerEpoch: 1 });
    assert.deepEqual(await c().initProducerId(pid, 1), { producerId: pid, producerEpoch: 2 });
    const stale = await c().initProducerId(pid, 1);
    assert.notEqual(stale.producerId, pid);
    assert.equal(stale.producerEpoch, 0);
    const unknown = await c().initProducerId(2 ** 40, 3);
    assert.notEqual(unknown.producerId, 2 ** 40);
  });

  test('producer state: expiry after idleness, removal with the topic', async () => {
    const t = await x.topic('idem-expiry', 1);
    const { producerId: pid } = await c().initProducerId(-1, -1);
    await commit([idem(t, 0, pid, 0, 0)]);
    assert.equal(await c().expireProducers(60_000), 0, 'recent state stays');
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 0)])), [[0, 0, true]]);
    await sleep(30);
    assert.ok((await c().expireProducers(10)) >= 1);
    // Forgotten: a new sequence must start at 0 again; the old one is unknown.
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 1)])), [[UNKNOWN_PRODUCER_ID, -1, false]]);
    assert.deepEqual(summary(await commit([idem(t, 0, pid, 0, 0)])), [[0, 1, false]]);
    // The id itself went too (no state left, idle): re-init with it gives a new id.
    assert.notEqual((await c().initProducerId(pid, 0)).producerId, pid);

    const gone = await x.topic('idem-topic-delete', 2);
    await commit([idem(gone, 0, pid, 0, 0), idem(gone, 1, pid, 0, 0)]);
    const count = async (topicId: string) =>
      Number((await sql().query<{ n: number | string }>('SELECT count(*) AS n FROM producer_state WHERE topic_id = $1', [topicId])).rows[0]!.n);
    assert.equal(await count(gone.topicId), 2);
    await c().deleteTopic(gone.name);
    assert.equal(await count(gone.topicId), 0);
  });

  test('retention step: retention.ms moves the log start past wholly expired batches and releases their objects', async () => {
    const t = await x.topic('ret-time', 2);
    const now = Date.now();
    const old1 = x.objectKey();
    const old2 = x.objectKey();
    const mixed = x.objectKey();
    // p0: [0..1] [2..3] old (two objects), [4..5] old and [6..7] recent in `mixed`; p1: recent only.
    await commit([x.batch(t, 0, 2, { maxTimestamp: 1_000 })], old1);
    await commit([x.batch(t, 0, 2, { maxTimestamp: 2_000 })], old2);
    await commit([x.batch(t, 0, 2, { maxTimestamp: 3_000 }), x.batch(t, 0, 2, { maxTimestamp: now, byteOffset: 100 }), x.batch(t, 1, 1, { maxTimestamp: now, byteOffset: 200 })], mixed);
    const step = await c().enforceRetention([{ topicId: t.topicId, retentionMs: 60_000, retentionBytes: -1 }], 1_000);
    assert.deepEqual(step.logStarts.filter((l) => l.topicId === t.topicId), [{ topicId: t.topicId, partition: 0, logStartOffset: 6 }]);
    assert.equal(step.more, false);
    assert.ok(step.batchesDeleted >= 3);
    if (x.objectStates) {
      const states = await x.objectStates(c(), [old1, old2, mixed]);
      assert.deepEqual([states[old1]?.state, states[old2]?.state, states[mixed]?.state], ['deleting', 'deleting', 'uploaded']);
    }
    const [below, at] = await c().findBatches([
      { topicId: t.topicId, partition: 0, offset: 5, maxBytes: 1000 },
      { topicId: t.topicId, partition: 0, offset: 6, maxBytes: 1000 },
    ]);
    assert.equal(below!.errorCode, OFFSET_OUT_OF_RANGE);
    assert.deepEqual(at!.batches.map((b) => b.baseOffset), [6]);
    assert.deepEqual(await c().getPartitionSizes([{ topicId: t.topicId, partition: 0 }]), [100]);
    // Nothing more to do; a topic without retention is left alone.
    const again = await c().enforceRetention([{ topicId: t.topicId, retentionMs: 60_000, retentionBytes: -1 }], 1_000);
    assert.deepEqual(again.logStarts.filter((l) => l.topicId === t.topicId), []);
    const keep = await x.topic('ret-none', 1);
    await commit([x.batch(keep, 0, 2, { maxTimestamp: 1_000 })]);
    await c().enforceRetention([], 1_000);
    assert.deepEqual(await c().getPartitionOffsets([{ topicId: keep.topicId, partition: 0 }]), [{ logStartOffset: 0, highWatermark: 2 }]);
    // Everything expired: the log start reaches the high watermark.
    await c().enforceRetention([{ topicId: t.topicId, retentionMs: 0, retentionBytes: -1 }], 1_000);
    assert.deepEqual(await c().getPartitionOffsets([0, 1].map((p) => ({ topicId: t.topicId, partition: p }))), [
      { logStartOffset: 8, highWatermark: 8 },
      { logStartOffset: 1, highWatermark: 1 },
    ]);
    if (x.objectStates) assert.equal((await x.objectStates(c(), [mixed]))[mixed]?.state, 'deleting');
  });

  test('retention step: retention.bytes keeps at least retention.bytes (Kafka\'s rule); work is bounded per step', async () => {
    const t = await x.topic('ret-size', 1);
    for (let i = 0; i < 5; i++) await commit([x.batch(t, 0, 1, { byteSize: 100 })]);
    let step = await c().enforceRetention([{ topicId: t.topicId, retentionMs: -1, retentionBytes: 250 }], 1_000);
    // 500 bytes: dropping one leaves 400, two 300, three would leave 200 < 250.
    assert.deepEqual(step.logStarts, [{ topicId: t.topicId, partition: 0, logStartOffset: 2 }]);
    assert.deepEqual(await c().getPartitionSizes([{ topicId: t.topicId, partition: 0 }]), [300]);

    // A bound of 2 batches per step: the log start moves at once, the deletions take several steps.
    const b = await x.topic('ret-bounded', 1);
    for (let i = 0; i < 5; i++) await commit([x.batch(b, 0, 1, { maxTimestamp: 1_000 })]);
    const retention = [{ topicId: b.topicId, retentionMs: 1_000, retentionBytes: -1 }];
    step = await c().enforceRetention(retention, 2);
    assert.deepEqual([step.batchesDeleted, step.more], [2, true]);
    assert.deepEqual(await c().getPartitionOffsets([{ topicId: b.topicId, partition: 0 }]), [{ logStartOffset: 5, highWatermark: 5 }]);
    let steps = 1;
    while (step.more) {
      step = await c().enforceRetention(retention, 2);
      steps++;
    }
    assert.equal(steps, 3);
    assert.deepEqual(await c().getPartitionSizes([{ topicId: b.topicId, partition: 0 }]), [0]);
  });

  test('DeleteRecords on two partitions at once empties a shared object: it is released, not leaked', async () => {
    for (let round = 0; round < 5; round++) {
      const t = await x.topic(`delrec-race-${round}`, 2);
      const shared = x.objectKey();
      await commit([x.batch(t, 0, 3), x.batch(t, 1, 3, { byteOffset: 100 })], shared);
      const results = await Promise.all([
        c().deleteRecords([{ topicId: t.topicId, partition: 0, offset: -1 }]),
        c().deleteRecords([{ topicId: t.topicId, partition: 1, offset: -1 }]),
      ]);
      assert.deepEqual(results, [[{ errorCode: 0, logStartOffset: 3 }], [{ errorCode: 0, logStartOffset: 3 }]]);
      if (x.objectStates) assert.equal((await x.objectStates(c(), [shared]))[shared]?.state, 'deleting', `round ${round}`);
    }
  });

  test('object lifecycle: registered keys, the commit takes its registration, the reaper takes the rest', async () => {
    const t = await x.topic('lifecycle', 1);
    const committed = x.objectKey();
    const orphan = x.objectKey();
    const never = x.objectKey();
    await c().registerPendingObjects(1, [committed, orphan]);
    assert.deepEqual(await c().unknownObjectKeys([committed, orphan, never]), [never]);
    assert.deepEqual(summary(await commit([x.batch(t, 0, 1)], committed)), [[0, 0, false]]);
    await sleep(30);
    assert.equal(await c().reapPendingObjects(10), 1, 'only the uncommitted registration is an orphan');
    if (x.objectStates) {
      const states = await x.objectStates(c(), [committed, orphan]);
      assert.deepEqual([states[committed]?.state, states[orphan]?.state], ['uploaded', 'deleting']);
    }
    // A late commit of the reaped key appends nothing.
    const late = await commit([x.batch(t, 0, 1)], orphan).catch(() => null);
    if (late !== null) assert.ok(late.every((r) => r.errorCode !== 0));
    assert.equal(await hwm(t), 1);
    // Withdrawn registrations are not orphans.
    const unused = x.objectKey();
    await c().registerPendingObjects(1, [unused]);
    await c().forgetPendingObjects([unused]);
    assert.deepEqual(await c().unknownObjectKeys([unused]), [unused]);

    // Objects to delete: only after the grace period, then forgotten.
    assert.ok(!(await c().objectsToDelete(60_000, 1000)).includes(orphan));
    const due = await c().objectsToDelete(0, 100_000);
    assert.ok(due.includes(orphan));
    assert.ok(!due.includes(committed), 'an object with batches is never due');
    assert.ok((await c().markObjectsDeleted([orphan, committed])) >= 1);
    const known = await c().listObjectKeys();
    assert.ok(!known.includes(orphan));
    assert.ok(known.includes(committed), 'an uploaded object is never forgotten');
    const [found] = await c().findBatches([{ topicId: t.topicId, partition: 0, offset: 0, maxBytes: 100 }]);
    assert.equal(found!.batches[0]?.objectKey, committed);
    assert.notEqual(found!.errorCode, UNKNOWN_TOPIC_OR_PARTITION);
  });

  test('job leases: one holder at a time, renewable, released, taken over once expired', async () => {
    const name = `lease-${x.objectKey()}`;
    assert.equal(await c().tryAcquireLease(name, 'a', 10_000), true);
    assert.equal(await c().tryAcquireLease(name, 'b', 10_000), false);
    assert.equal(await c().tryAcquireLease(name, 'a', 10_000), true);
    await c().releaseLease(name, 'b'); // not b's: no effect
    assert.equal(await c().tryAcquireLease(name, 'b', 10_000), false);
    await c().releaseLease(name, 'a');
    assert.equal(await c().tryAcquireLease(name, 'b', 20), true);
    await sleep(40);
    assert.equal(await c().tryAcquireLease(name, 'a', 10_000), true);
  });
}
