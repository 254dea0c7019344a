/**
 * Conformance suite for any `Coordinator` backend. A backend's test file calls
 * `coordinatorConformance(label, harness)`; the suite opens one coordinator for all its tests (PGlite
 * takes seconds to start) and isolates tests by topic name (a random run id is part of every name), so
 * it also runs against a shared, non-empty PostgreSQL database.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CoordinatorError,
  type CommitBatch,
  type Coordinator,
  type TimestampType,
  type TopicInfo,
} from '../../src/coordinator/coordinator.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import { groupsConformance } from './coordinator-groups.conformance.ts';
import { producersConformance } from './coordinator-producers.conformance.ts';
import { commitConformance } from './coordinator-commit.conformance.ts';
import { notificationsConformance } from './coordinator-notifications.conformance.ts';
import { membershipConformance } from './coordinator-membership.conformance.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

export interface CoordinatorHarness {
  /** Opens (and initialises) the coordinator shared by the suite's tests. */
  open(): Promise<Coordinator>;
  /**
   * Closes `current` and opens a new coordinator over the same storage (persistence test).
   * The suite uses the returned coordinator from then on and closes it at the end.
   */
  reopen(current: Coordinator): Promise<Coordinator>;
  /**
   * Optional: the stored state of the given objects (not part of the Coordinator interface yet), to
   * check that deleteTopic marks them. Keys the coordinator does not know are left out.
   */
  objectStates?(
    c: Coordinator,
    keys: readonly string[],
  ): Promise<Record<string, { state: string; markedForDeletionAt: Date | null }>>;
  /**
   * Moves a partition's log start offset to `logStartOffset` and drops the batches wholly
   * before it, as DeleteRecords / retention will (not part of the Coordinator interface yet).
   */
  deleteRecords(c: Coordinator, topicId: string, partition: number, logStartOffset: number): Promise<void>;
  /** Optional: another coordinator client over the same database, with its own connections (PostgreSQL). */
  openAnother?(): Promise<Coordinator>;
}

const { OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION, TOPIC_ALREADY_EXISTS } = ErrorCode;

export function coordinatorConformance(label: string, harness: CoordinatorHarness): void {
  describe(`Coordinator conformance: ${label}`, () => {
    let c: Coordinator;
    const run = randomUUID().slice(0, 8);
    const name = (n: string): string => `conf-${run}-${n}`;
    let objectSeq = 0;
    const objectKey = (): string => `conf/${run}/${++objectSeq}`;

    before(async () => {
      c = await harness.open();
    });
    after(async () => {
      await c?.close();
    });

    function batch(
      topic: TopicInfo,
      partition: number,
      recordCount: number,
      opts: { byteSize?: number; byteOffset?: number; maxTimestamp?: number; timestampType?: TimestampType } = {},
    ): CommitBatch {
      const ts = opts.maxTimestamp ?? 1_000;
      return {
        topicId: topic.topicId,
        partition,
        byteOffset: opts.byteOffset ?? 0,
        byteSize: opts.byteSize ?? 100,
        recordCount,
        baseTimestamp: ts - 1,
        maxTimestamp: ts,
        timestampType: opts.timestampType ?? 0,
        producerId: -1,
        producerEpoch: -1,
        baseSequence: -1,
        lastSequence: -1,
        txnKind: 0,
      };
    }

    async function commit(batches: CommitBatch[], key = objectKey()) {
      const size = batches.reduce((s, b) => Math.max(s, b.byteOffset + b.byteSize), 0);
      return c.commitObject({ objectKey: key, objectSize: size, brokerId: 1, batches });
    }

    async function topic(n: string, partitionCount = 3, configs: Record<string, string> = {}): Promise<TopicInfo> {
      return c.createTopic({ name: name(n), partitionCount, diskless: true, configs });
    }

    test('create, get, list, delete topics', async () => {
      const t = await topic('crud', 4, { 'retention.ms': '60000', 'cleanup.policy': 'delete' });
      assert.match(t.topicId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.deepEqual(t, {
        topicId: t.topicId,
        name: name('crud'),
        partitionCount: 4,
        diskless: true,
        configs: { 'retention.ms': '60000', 'cleanup.policy': 'delete' },
        leaderBrokerId: null,
      });
      const classic = await c.createTopic({ name: name('crud-classic'), partitionCount: 1, diskless: false, configs: {} });
      assert.equal(classic.diskless, false);
      assert.notEqual(classic.topicId, t.topicId);

      assert.deepEqual(await c.getTopic(name('crud')), t);
      assert.equal(await c.getTopic(name('missing')), null);

      const mine = (await c.listTopics()).filter((x) => x.name.startsWith(`conf-${run}-crud`));
      assert.deepEqual(mine, [t, classic]);

      const offsets = await c.getPartitionOffsets([0, 1, 2, 3, 4].map((p) => ({ topicId: t.topicId, partition: p })));
      assert.deepEqual(offsets, [
        { logStartOffset: 0, highWatermark: 0 },
        { logStartOffset: 0, highWatermark: 0 },
        { logStartOffset: 0, highWatermark: 0 },
        { logStartOffset: 0, highWatermark: 0 },
        null,
      ]);

      assert.deepEqual(await c.deleteTopic(name('crud')), t);
      assert.equal(await c.getTopic(name('crud')), null);
      assert.equal(await c.deleteTopic(name('crud')), null);
      assert.deepEqual(await c.getPartitionOffsets([{ topicId: t.topicId, partition: 0 }]), [null]);
      assert.deepEqual(
        (await c.listTopics()).filter((x) => x.name.startsWith(`conf-${run}-crud`)),
        [classic],
      );
      // The name can be used again, with a new id.
      const again = await topic('crud', 1);
      assert.notEqual(again.topicId, t.topicId);
    });

    test('duplicate create rejects with CoordinatorError(TOPIC_ALREADY_EXISTS)', async () => {
      await topic('dup', 1);
      await assert.rejects(
        () => topic('dup', 2),
        (err: unknown) => err instanceof CoordinatorError && err.errorCode === TOPIC_ALREADY_EXISTS,
      );
      assert.equal((await c.getTopic(name('dup')))?.partitionCount, 1);
    });

    test('commit of one object across partitions assigns contiguous offsets from 0', async () => {
      const t = await topic('commit', 3);
      const before = Date.now();
      const res = await commit([
        batch(t, 0, 5, { byteOffset: 0 }),
        batch(t, 0, 3, { byteOffset: 100 }),
        batch(t, 1, 10, { byteOffset: 200 }),
        batch(t, 2, 1, { byteOffset: 300 }),
        batch(t, 0, 2, { byteOffset: 400 }),
      ]);
      const afterMs = Date.now();
      assert.deepEqual(
        res.map((r) => [r.errorCode, r.baseOffset, r.logStartOffset]),
        [
          [0, 0, 0],
          [0, 5, 0],
          [0, 0, 0],
          [0, 0, 0],
          [0, 8, 0],
        ],
      );
      const lat = res[0]!.logAppendTime;
      assert.ok(res.every((r) => r.logAppendTime === lat), 'one log-append time per object');
      assert.ok(lat >= before - 5_000 && lat <= afterMs + 5_000, `logAppendTime ${lat} is about now`);

      const res2 = await commit([batch(t, 1, 4), batch(t, 0, 1)]);
      assert.deepEqual(
        res2.map((r) => [r.errorCode, r.baseOffset]),
        [
          [0, 10],
          [0, 10],
        ],
      );
      assert.ok(res2[0]!.logAppendTime >= lat);
      assert.deepEqual(await c.getPartitionOffsets([0, 1, 2].map((p) => ({ topicId: t.topicId, partition: p }))), [
        { logStartOffset: 0, highWatermark: 11 },
        { logStartOffset: 0, highWatermark: 14 },
        { logStartOffset: 0, highWatermark: 1 },
      ]);
    });

    test('20 concurrent commits to the same partitions: offsets contiguous, no duplicates, no gaps', async () => {
      const t = await topic('concurrent', 3);
      const commits = Array.from({ length: 20 }, (_, k) =>
        commit([
          batch(t, 2, 1 + (k % 4)),
          batch(t, 0, 1 + (k % 3)),
          batch(t, 1, 2),
          batch(t, 0, 1),
        ]),
      );
      const results = await Promise.all(commits);
      for (const partition of [0, 1, 2]) {
        const ranges: [number, number][] = [];
        results.forEach((res, k) => {
          const req = [
            { p: 2, n: 1 + (k % 4) },
            { p: 0, n: 1 + (k % 3) },
            { p: 1, n: 2 },
            { p: 0, n: 1 },
          ];
          req.forEach((r, j) => {
            if (r.p !== partition) return;
            assert.equal(res[j]!.errorCode, 0);
            ranges.push([res[j]!.baseOffset, res[j]!.baseOffset + r.n - 1]);
          });
        });
        ranges.sort((a, b) => a[0] - b[0]);
        let next = 0;
        for (const [first, last] of ranges) {
          assert.equal(first, next, `partition ${partition}: contiguous at ${next}`);
          next = last + 1;
        }
        const [offsets] = await c.getPartitionOffsets([{ topicId: t.topicId, partition }]);
        assert.equal(offsets!.highWatermark, next);
      }
      // Within one object, batches of the same partition keep their order.
      for (const res of results) assert.ok(res[1]!.baseOffset < res[3]!.baseOffset);
    });

    test('commit to a deleted topic: UNKNOWN_TOPIC_OR_PARTITION for its batches, others committed', async () => {
      const gone = await topic('gone', 2);
      const live = await topic('live', 2);
      await commit([batch(gone, 0, 3)]);
      await c.deleteTopic(gone.name);
      const res = await commit([batch(gone, 0, 1), batch(live, 1, 4), batch(gone, 1, 2), batch(live, 5, 1)]);
      assert.deepEqual(
        res.map((r) => [r.errorCode, r.baseOffset]),
        [
          [UNKNOWN_TOPIC_OR_PARTITION, -1],
          [0, 0],
          [UNKNOWN_TOPIC_OR_PARTITION, -1],
          [UNKNOWN_TOPIC_OR_PARTITION, -1], // partition 5 of a 2-partition topic
        ],
      );
      assert.deepEqual(await c.getPartitionOffsets([{ topicId: live.topicId, partition: 1 }]), [
        { logStartOffset: 0, highWatermark: 4 },
      ]);
    });

    test('an object with no accepted batch is still recorded', async () => {
      const key = objectKey();
      const res = await c.commitObject({
        objectKey: key,
        objectSize: 10,
        brokerId: 2,
        batches: [{ ...batch({ topicId: randomUUID() } as TopicInfo, 0, 1) }],
      });
      assert.equal(res[0]!.errorCode, UNKNOWN_TOPIC_OR_PARTITION);
      assert.ok((await c.listObjectKeys()).includes(key));
      if (harness.objectStates !== undefined) {
        const states = await harness.objectStates(c, [key]);
        assert.equal(states[key]?.state, 'deleting');
        assert.ok(states[key]?.markedForDeletionAt instanceof Date);
      }
      // An empty object too.
      const empty = objectKey();
      assert.deepEqual(await c.commitObject({ objectKey: empty, objectSize: 0, brokerId: 2, batches: [] }), []);
      assert.ok((await c.listObjectKeys()).includes(empty));
    });

    test('findBatches: at 0, mid-batch, at HWM, beyond HWM, maxBytes, unknown partition', async () => {
      const t = await topic('find', 2);
      const key1 = objectKey();
      const key2 = objectKey();
      // partition 0: [0..4] 100 B, [5..7] 200 B (object 1); [8..9] 50 B, [10..19] 300 B (object 2)
      await commit([batch(t, 0, 5, { byteOffset: 0, byteSize: 100 }), batch(t, 0, 3, { byteOffset: 100, byteSize: 200 })], key1);
      await commit([batch(t, 0, 2, { byteOffset: 0, byteSize: 50 }), batch(t, 0, 10, { byteOffset: 50, byteSize: 300 })], key2);
      const tp = { topicId: t.topicId, partition: 0 };
      const [all, mid, atHwm, beyond, one, two, three, zero, empty, unknownP, unknownT] = await c.findBatches([
        { ...tp, offset: 0, maxBytes: 1 << 20 },
        { ...tp, offset: 6, maxBytes: 1 << 20 },
        { ...tp, offset: 20, maxBytes: 1 << 20 },
        { ...tp, offset: 21, maxBytes: 1 << 20 },
        { ...tp, offset: 0, maxBytes: 100 }, // exactly the first batch
        { ...tp, offset: 0, maxBytes: 101 }, // past the first: the second is added, then stop
        { ...tp, offset: 5, maxBytes: 250 },
        { ...tp, offset: 12, maxBytes: 0 }, // always at least one batch
        { topicId: t.topicId, partition: 1, offset: 0, maxBytes: 1000 },
        { topicId: t.topicId, partition: 2, offset: 0, maxBytes: 1000 },
        { topicId: randomUUID(), partition: 0, offset: 0, maxBytes: 1000 },
      ]);
      const offs = (r: { batches: { baseOffset: number; lastOffset: number }[] }) =>
        r.batches.map((b) => [b.baseOffset, b.lastOffset]);

      assert.equal(all!.errorCode, 0);
      assert.equal(all!.logStartOffset, 0);
      assert.equal(all!.highWatermark, 20);
      assert.deepEqual(offs(all!), [
        [0, 4],
        [5, 7],
        [8, 9],
        [10, 19],
      ]);
      assert.deepEqual(
        all!.batches.map((b) => [b.objectKey, b.byteOffset, b.byteSize]),
        [
          [key1, 0, 100],
          [key1, 100, 200],
          [key2, 0, 50],
          [key2, 50, 300],
        ],
      );
      assert.equal(all!.batches[0]!.maxTimestamp, 1000);
      assert.equal(all!.batches[0]!.timestampType, 0);
      assert.ok(all!.batches[0]!.logAppendTime > 0);

      assert.deepEqual([mid!.errorCode, offs(mid!)], [0, [[5, 7], [8, 9], [10, 19]]]);
      assert.deepEqual([atHwm!.errorCode, atHwm!.highWatermark, atHwm!.batches], [0, 20, []]);
      assert.deepEqual([beyond!.errorCode, beyond!.batches], [OFFSET_OUT_OF_RANGE, []]);
      assert.equal(beyond!.highWatermark, 20);
      assert.deepEqual(offs(one!), [[0, 4]]);
      assert.deepEqual(offs(two!), [
        [0, 4],
        [5, 7],
      ]);
      assert.deepEqual(offs(three!), [
        [5, 7],
        [8, 9],
      ]);
      assert.deepEqual(offs(zero!), [[10, 19]]);
      assert.deepEqual([empty!.errorCode, empty!.highWatermark, empty!.batches], [0, 0, []]);
      assert.equal(unknownP!.errorCode, UNKNOWN_TOPIC_OR_PARTITION);
      assert.equal(unknownT!.errorCode, UNKNOWN_TOPIC_OR_PARTITION);
      assert.deepEqual(await c.findBatches([]), []);
    });

    test('findBatches: many batches, many partitions, in one call', async () => {
      const t = await topic('find-many', 3);
      for (let k = 0; k < 10; k++) {
        await commit(
          Array.from({ length: 30 }, (_, j) => batch(t, j % 3, 1 + (j % 2), { byteOffset: j * 10, byteSize: 10 })),
        );
      }
      const [p0, p1, p2, p0limited] = await c.findBatches([
        { topicId: t.topicId, partition: 0, offset: 0, maxBytes: 1 << 30 },
        { topicId: t.topicId, partition: 1, offset: 7, maxBytes: 1 << 30 },
        { topicId: t.topicId, partition: 2, offset: 149, maxBytes: 1 << 30 },
        { topicId: t.topicId, partition: 0, offset: 3, maxBytes: 95 },
      ]);
      assert.equal(p0!.batches.length, 100);
      for (const r of [p0!, p1!, p2!]) {
        for (let j = 1; j < r.batches.length; j++) {
          assert.equal(r.batches[j]!.baseOffset, r.batches[j - 1]!.lastOffset + 1);
        }
        assert.equal(r.batches.at(-1)!.lastOffset, r.highWatermark - 1);
      }
      assert.ok(p1!.batches[0]!.baseOffset <= 7 && p1!.batches[0]!.lastOffset >= 7);
      assert.equal(p2!.batches.length, 1);
      assert.equal(p0limited!.batches.length, 10); // 10 × 10 B: the tenth reaches 100 > 95
    });

    test('listOffsets: earliest, latest, by timestamp, max timestamp', async () => {
      const t = await topic('offsets', 3);
      // partition 0 (CreateTime): [0..1] ts 1000, [2..4] ts 3000, [5] ts 2000, [6..8] ts 3000, [9] ts 500
      await commit([
        batch(t, 0, 2, { maxTimestamp: 1000 }),
        batch(t, 0, 3, { maxTimestamp: 3000 }),
        batch(t, 1, 1, { maxTimestamp: 7, timestampType: 1 }),
      ]);
      await commit([
        batch(t, 0, 1, { maxTimestamp: 2000 }),
        batch(t, 0, 3, { maxTimestamp: 3000 }),
        batch(t, 0, 1, { maxTimestamp: 500 }),
      ]);
      const tp = { topicId: t.topicId, partition: 0 };
      const res = await c.listOffsets([
        { ...tp, timestamp: -2 },
        { ...tp, timestamp: -1 },
        { ...tp, timestamp: 0 },
        { ...tp, timestamp: 1000 },
        { ...tp, timestamp: 1001 },
        { ...tp, timestamp: 2000 },
        { ...tp, timestamp: 2500 },
        { ...tp, timestamp: 3000 },
        { ...tp, timestamp: 3001 },
        { ...tp, timestamp: -3 },
        { topicId: t.topicId, partition: 2, timestamp: -3 },
        { topicId: t.topicId, partition: 2, timestamp: 0 },
        { topicId: t.topicId, partition: 2, timestamp: -1 },
        { topicId: t.topicId, partition: 9, timestamp: -1 },
      ]);
      const base = (i: number) => res[i]!.batch?.baseOffset ?? null;
      assert.deepEqual(res[0], { errorCode: 0, logStartOffset: 0, highWatermark: 10, batch: null });
      assert.deepEqual(res[1], { errorCode: 0, logStartOffset: 0, highWatermark: 10, batch: null });
      assert.equal(base(2), 0);
      assert.equal(base(3), 0);
      assert.equal(base(4), 2);
      assert.equal(base(5), 2);
      assert.equal(base(6), 2);
      assert.equal(base(7), 2);
      assert.equal(base(8), null); // no timestamp that late
      assert.equal(base(9), 2); // first of the two batches holding 3000
      assert.deepEqual(res[9]!.batch, {
        objectKey: res[9]!.batch!.objectKey,
        byteOffset: 0,
        byteSize: 100,
        baseOffset: 2,
        lastOffset: 4,
        maxTimestamp: 3000,
        logAppendTime: res[9]!.batch!.logAppendTime,
        timestampType: 0,
      });
      assert.deepEqual(res[10], { errorCode: 0, logStartOffset: 0, highWatermark: 0, batch: null });
      assert.deepEqual(res[11], { errorCode: 0, logStartOffset: 0, highWatermark: 0, batch: null });
      assert.equal(res[12]!.highWatermark, 0);
      assert.equal(res[13]!.errorCode, UNKNOWN_TOPIC_OR_PARTITION);

      // LogAppendTime batches are found by their log-append time, not the producer's timestamp.
      const p1 = { topicId: t.topicId, partition: 1 };
      const [byProducerTs, byAppendTime, max] = await c.listOffsets([
        { ...p1, timestamp: 8 },
        { ...p1, timestamp: Date.now() - 60_000 },
        { ...p1, timestamp: -3 },
      ]);
      const lat = max!.batch!.logAppendTime;
      assert.equal(max!.batch!.timestampType, 1);
      assert.equal(max!.batch!.maxTimestamp, 7);
      assert.equal(byProducerTs!.batch?.baseOffset, 0);
      assert.equal(byAppendTime!.batch?.baseOffset, 0);
      const [late] = await c.listOffsets([{ ...p1, timestamp: lat + 1 }]);
      assert.equal(late!.batch, null);
      assert.deepEqual(await c.listOffsets([]), []);
    });

    test('log start moved (records deleted): findBatches and listOffsets respect it', async () => {
      const t = await topic('logstart', 1);
      // [0..4] ts 9000, [5..9] ts 2000, [10..14] ts 3000, [15..19] ts 3000, [20..24] ts 1000
      await commit([
        batch(t, 0, 5, { maxTimestamp: 9000 }),
        batch(t, 0, 5, { maxTimestamp: 2000 }),
        batch(t, 0, 5, { maxTimestamp: 3000 }),
        batch(t, 0, 5, { maxTimestamp: 3000 }),
        batch(t, 0, 5, { maxTimestamp: 1000 }),
      ]);
      const tp = { topicId: t.topicId, partition: 0 };
      // Log start inside the second batch: the first batch goes, the second stays (it straddles).
      await harness.deleteRecords(c, t.topicId, 0, 7);
      const [before, at, straddle] = await c.findBatches([
        { ...tp, offset: 6, maxBytes: 1 },
        { ...tp, offset: 7, maxBytes: 1 },
        { ...tp, offset: 8, maxBytes: 150 },
      ]);
      assert.deepEqual([before!.errorCode, before!.logStartOffset, before!.batches], [OFFSET_OUT_OF_RANGE, 7, []]);
      assert.deepEqual([at!.errorCode, at!.batches.map((b) => b.baseOffset)], [0, [5]]);
      assert.deepEqual(straddle!.batches.map((b) => b.baseOffset), [5, 10]);
      const res = await c.listOffsets([
        { ...tp, timestamp: -2 },
        { ...tp, timestamp: -3 }, // the max (9000) is gone: 3000 is the largest left, first at 10
        { ...tp, timestamp: 0 }, // the first retained batch
        { ...tp, timestamp: 2500 },
        { ...tp, timestamp: 5000 }, // only the deleted batch had one that late
      ]);
      assert.equal(res[0]!.logStartOffset, 7);
      assert.deepEqual(res.slice(1).map((r) => r.batch?.baseOffset ?? null), [10, 5, 10, null]);
      // Log start exactly at a batch boundary, past every batch holding 3000.
      await harness.deleteRecords(c, t.topicId, 0, 20);
      const [max, hwm] = await c.listOffsets([{ ...tp, timestamp: -3 }, { ...tp, timestamp: -1 }]);
      assert.equal(max!.batch?.baseOffset, 20);
      assert.deepEqual([hwm!.logStartOffset, hwm!.highWatermark], [20, 25]);
      // Everything deleted: log start = high watermark.
      await harness.deleteRecords(c, t.topicId, 0, 25);
      const [none] = await c.listOffsets([{ ...tp, timestamp: -3 }]);
      assert.equal(none!.batch, null);
      const [empty] = await c.findBatches([{ ...tp, offset: 25, maxBytes: 1 }]);
      assert.deepEqual([empty!.errorCode, empty!.logStartOffset, empty!.batches], [0, 25, []]);
    });

    test('deleteTopic marks objects that lost their last batch as deleting', async () => {
      const a = await topic('del-a', 1);
      const b = await topic('del-b', 1);
      const onlyA = objectKey();
      const shared = objectKey();
      const onlyB = objectKey();
      await commit([batch(a, 0, 1)], onlyA);
      await commit([batch(a, 0, 1), batch(b, 0, 1)], shared);
      await commit([batch(b, 0, 1)], onlyB);
      const states = async (): Promise<Record<string, string>> => {
        if (harness.objectStates === undefined) return {};
        const got = await harness.objectStates(c, [onlyA, shared, onlyB]);
        return Object.fromEntries(
          Object.entries(got).map(([k, v]) => [k, `${v.state}/${v.markedForDeletionAt !== null}`]),
        );
      };
      const before = await states();
      if (Object.keys(before).length > 0) {
        assert.deepEqual(before, { [onlyA]: 'uploaded/false', [shared]: 'uploaded/false', [onlyB]: 'uploaded/false' });
      }
      await c.deleteTopic(a.name);
      const afterA = await states();
      if (Object.keys(afterA).length > 0) {
        assert.deepEqual(afterA, { [onlyA]: 'deleting/true', [shared]: 'uploaded/false', [onlyB]: 'uploaded/false' });
      }
      await c.deleteTopic(b.name);
      const afterB = await states();
      if (Object.keys(afterB).length > 0) {
        assert.deepEqual(afterB, { [onlyA]: 'deleting/true', [shared]: 'deleting/true', [onlyB]: 'deleting/true' });
      }
      const keys = await c.listObjectKeys();
      for (const k of [onlyA, shared, onlyB]) assert.ok(keys.includes(k), `${k} still known`);
      // The batches are gone with the topic.
      const [res] = await c.findBatches([{ topicId: b.topicId, partition: 0, offset: 0, maxBytes: 1000 }]);
      assert.equal(res!.errorCode, UNKNOWN_TOPIC_OR_PARTITION);
    });

    groupsConformance({
      coordinator: () => c,
      name,
      topic,
      batch,
      commit,
      objectKey,
      ...(harness.objectStates ? { objectStates: harness.objectStates } : {}),
    });

    commitConformance({
      coordinator: () => c,
      topic,
      batch,
      objectKey,
      ...(harness.openAnother ? { openAnother: () => harness.openAnother!() } : {}),
    });

    producersConformance({
      coordinator: () => c,
      topic,
      batch,
      objectKey,
      ...(harness.objectStates ? { objectStates: harness.objectStates } : {}),
    });

    membershipConformance({ coordinator: () => c });

    notificationsConformance({ coordinator: () => c, topic, batch, objectKey });

    test('persistence: data survives close and reopen', async () => {
      const t = await topic('persist', 2, { 'diskless.enable': 'true' });
      const key = objectKey();
      await commit([batch(t, 1, 7, { byteSize: 70 })], key);
      c = await harness.reopen(c);
      assert.deepEqual(await c.getTopic(t.name), t);
      const [r] = await c.findBatches([{ topicId: t.topicId, partition: 1, offset: 3, maxBytes: 1 }]);
      assert.equal(r!.highWatermark, 7);
      assert.deepEqual(
        r!.batches.map((b) => [b.objectKey, b.baseOffset, b.lastOffset, b.byteSize]),
        [[key, 0, 6, 70]],
      );
      assert.ok((await c.listObjectKeys()).includes(key));
      const [next] = await commit([batch(t, 1, 1)]);
      assert.equal(next!.baseOffset, 7);
    });
  });
}

/** `CoordinatorHarness.objectStates` for SQL backends (`SqlCoordinator`). */
export async function sqlObjectStates(
  c: Coordinator,
  keys: readonly string[],
): Promise<Record<string, { state: string; markedForDeletionAt: Date | null }>> {
  const sql = (c as SqlCoordinator).connection;
  const res = await sql.query<{ object_key: string; state: string; marked_for_deletion_at: Date | string | null }>(
    'SELECT object_key, state, marked_for_deletion_at FROM objects WHERE object_key = ANY($1::text[])',
    [[...keys]],
  );
  return Object.fromEntries(
    res.rows.map((r) => [
      r.object_key,
      {
        state: r.state,
        markedForDeletionAt: r.marked_for_deletion_at === null ? null : new Date(r.marked_for_deletion_at),
      },
    ]),
  );
}

/** `CoordinatorHarness.deleteRecords` for SQL backends (a stand-in until the coordinator has DeleteRecords). */
export async function sqlDeleteRecords(
  c: Coordinator,
  topicId: string,
  partition: number,
  logStartOffset: number,
): Promise<void> {
  await (c as SqlCoordinator).connection.transaction(async (tx) => {
    await tx.query(
      'UPDATE partitions SET log_start_offset = greatest(log_start_offset, $3) WHERE topic_id = $1 AND partition = $2',
      [topicId, partition, logStartOffset],
    );
    await tx.query('DELETE FROM batches WHERE topic_id = $1 AND partition = $2 AND last_offset < $3', [
      topicId,
      partition,
      logStartOffset,
    ]);
  });
}
