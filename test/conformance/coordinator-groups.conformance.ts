/**
 * Coordinator conformance, part 2: topic administration (alter configs, create partitions, delete
 * records, partition sizes) and consumer groups (offsets, stored generations, expiry). Called from
 * `coordinatorConformance` inside its describe block, so it shares its coordinator and its run-scoped names.
 *
 * Expiry is global to the database (it may run against a shared PostgreSQL), so these tests use commit and
 * state timestamps near the epoch (1970) with a short retention: only their own rows can be old enough.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CoordinatorError,
  type CommitBatch,
  type Coordinator,
  type GroupRecord,
  type TopicInfo,
} from '../../src/coordinator/coordinator.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

const { OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS } = ErrorCode;

export interface GroupsConformanceContext {
  coordinator(): Coordinator;
  /** A run-scoped name. */
  name(n: string): string;
  topic(n: string, partitionCount?: number, configs?: Record<string, string>): Promise<TopicInfo>;
  batch(topic: TopicInfo, partition: number, recordCount: number, opts?: { byteSize?: number; byteOffset?: number }): CommitBatch;
  commit(batches: CommitBatch[], key?: string): Promise<unknown>;
  objectKey(): string;
  objectStates?(c: Coordinator, keys: readonly string[]): Promise<Record<string, { state: string; markedForDeletionAt: Date | null }>>;
}

export function groupsConformance(x: GroupsConformanceContext): void {
  const c = (): Coordinator => x.coordinator();

  test('alterTopicConfigs replaces the explicit configs; null for an unknown topic', async () => {
    const t = await x.topic('grp-alter', 1, { 'retention.ms': '1000', 'diskless.enable': 'true' });
    const altered = await c().alterTopicConfigs(t.name, { 'diskless.enable': 'true', 'max.message.bytes': '2000' });
    assert.deepEqual(altered, { ...t, configs: { 'diskless.enable': 'true', 'max.message.bytes': '2000' } });
    assert.deepEqual(await c().getTopic(t.name), altered);
    assert.equal(await c().alterTopicConfigs(x.name('alter-missing'), {}), null);
  });

  test('createPartitions grows a topic; same or smaller counts and unknown topics are refused', async () => {
    const t = await x.topic('grp-grow', 2);
    const grown = await c().createPartitions(t.name, 5);
    assert.deepEqual(grown, { ...t, partitionCount: 5 });
    assert.deepEqual(await c().getTopic(t.name), grown);
    const offsets = await c().getPartitionOffsets([0, 4, 5].map((p) => ({ topicId: t.topicId, partition: p })));
    assert.deepEqual(offsets, [{ logStartOffset: 0, highWatermark: 0 }, { logStartOffset: 0, highWatermark: 0 }, null]);
    // The new partitions take writes.
    await x.commit([x.batch(t, 4, 3)]);
    const [p4] = await c().getPartitionOffsets([{ topicId: t.topicId, partition: 4 }]);
    assert.equal(p4!.highWatermark, 3);

    for (const [count, re] of [[5, /already has 5/], [3, /currently has 5 partitions, which is higher than the requested 3/]] as const) {
      await assert.rejects(() => c().createPartitions(t.name, count),
        (err: unknown) => err instanceof CoordinatorError && err.errorCode === INVALID_PARTITIONS && re.test(err.message));
    }
    await assert.rejects(() => c().createPartitions(x.name('grow-missing'), 3),
      (err: unknown) => err instanceof CoordinatorError && err.errorCode === UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal((await c().getTopic(t.name))!.partitionCount, 5);
  });

  test('deleteRecords moves the log start, drops whole batches, shrinks sizes and marks emptied objects', async () => {
    const t = await x.topic('grp-delrec', 2);
    const first = x.objectKey();
    const second = x.objectKey();
    // p0: [0..4] [5..9] in `first`, [10..14] in `second`; p1: [0..1] in `second`.
    await x.commit([x.batch(t, 0, 5, { byteSize: 100 }), x.batch(t, 0, 5, { byteSize: 100, byteOffset: 100 })], first);
    await x.commit([x.batch(t, 0, 5, { byteSize: 50 }), x.batch(t, 1, 2, { byteSize: 10, byteOffset: 50 })], second);
    const p0 = { topicId: t.topicId, partition: 0 };
    const p1 = { topicId: t.topicId, partition: 1 };
    assert.deepEqual(await c().getPartitionSizes([p0, p1, { topicId: t.topicId, partition: 9 }]), [250, 10, null]);

    const res = await c().deleteRecords([
      { ...p0, offset: 7 }, // inside the second batch: the first goes
      { ...p1, offset: 3 }, // beyond the high watermark (2)
      { topicId: t.topicId, partition: 7, offset: 0 },
      { ...p1, offset: -2 },
    ]);
    assert.deepEqual(res, [
      { errorCode: 0, logStartOffset: 7 },
      { errorCode: OFFSET_OUT_OF_RANGE, logStartOffset: 0 },
      { errorCode: UNKNOWN_TOPIC_OR_PARTITION, logStartOffset: -1 },
      { errorCode: OFFSET_OUT_OF_RANGE, logStartOffset: 0 },
    ]);
    assert.deepEqual(await c().getPartitionSizes([p0, p1]), [150, 10]);
    const [found] = await c().findBatches([{ ...p0, offset: 7, maxBytes: 1000 }]);
    assert.deepEqual(found!.batches.map((b) => b.baseOffset), [5, 10]);
    const [low] = await c().listOffsets([{ ...p0, timestamp: -2 }]);
    assert.equal(low!.logStartOffset, 7);

    // Below the log start: nothing changes. -1: the high watermark.
    assert.deepEqual(await c().deleteRecords([{ ...p0, offset: 3 }]), [{ errorCode: 0, logStartOffset: 7 }]);
    assert.deepEqual(await c().deleteRecords([{ ...p0, offset: -1 }, { ...p1, offset: 2 }]), [
      { errorCode: 0, logStartOffset: 15 },
      { errorCode: 0, logStartOffset: 2 },
    ]);
    assert.deepEqual(await c().getPartitionSizes([p0, p1]), [0, 0]);
    const [empty] = await c().findBatches([{ ...p0, offset: 15, maxBytes: 1000 }]);
    assert.deepEqual([empty!.errorCode, empty!.batches], [0, []]);
    const [before] = await c().findBatches([{ ...p0, offset: 14, maxBytes: 1000 }]);
    assert.equal(before!.errorCode, OFFSET_OUT_OF_RANGE);
    if (x.objectStates) {
      const states = await x.objectStates(c(), [first, second]);
      assert.deepEqual(Object.values(states).map((s) => s.state), ['deleting', 'deleting']);
    }
    // Appends continue at the high watermark.
    await x.commit([x.batch(t, 0, 1)]);
    const [after] = await c().getPartitionOffsets([p0]);
    assert.deepEqual(after, { logStartOffset: 15, highWatermark: 16 });
  });

  test('group offsets: commit, overwrite, unknown partitions, duplicates, fetch several groups, delete', async () => {
    const t = await x.topic('grp-offsets', 2);
    const g1 = x.name('group-1');
    const g2 = x.name('group-2');
    const codes = await c().commitGroupOffsets(g1, 1234, [
      { topicId: t.topicId, partition: 0, offset: 10n, leaderEpoch: -1, metadata: null, expireTimestamp: -1 },
      { topicId: t.topicId, partition: 1, offset: 20n, leaderEpoch: 3, metadata: 'meta', expireTimestamp: -1 },
      { topicId: t.topicId, partition: 2, offset: 30n, leaderEpoch: -1, metadata: '', expireTimestamp: -1 },
      { topicId: '00000000-0000-0000-0000-000000000001', partition: 0, offset: 1n, leaderEpoch: -1, metadata: '', expireTimestamp: -1 },
      { topicId: t.topicId, partition: 1, offset: 21n, leaderEpoch: 4, metadata: 'last wins', expireTimestamp: -1 },
    ]);
    assert.deepEqual(codes, [0, 0, UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_OR_PARTITION, 0]);
    await c().commitGroupOffsets(g2, 99, [{ topicId: t.topicId, partition: 0, offset: 5n, leaderEpoch: -1, metadata: 'x', expireTimestamp: -1 }]);
    const base = { topicId: t.topicId, topicName: t.name };
    assert.deepEqual(await c().fetchGroupOffsets([g1, g2, x.name('group-none')]), [
      { groupId: g1, ...base, partition: 0, offset: 10n, leaderEpoch: -1, metadata: null, commitTimestamp: 1234 },
      { groupId: g1, ...base, partition: 1, offset: 21n, leaderEpoch: 4, metadata: 'last wins', commitTimestamp: 1234 },
      { groupId: g2, ...base, partition: 0, offset: 5n, leaderEpoch: -1, metadata: 'x', commitTimestamp: 99 },
    ]);
    // Overwrite.
    await c().commitGroupOffsets(g1, 2000, [{ topicId: t.topicId, partition: 0, offset: 11n, leaderEpoch: 1, metadata: 'm', expireTimestamp: -1 }]);
    const [o] = await c().fetchGroupOffsets([g1]);
    assert.deepEqual([o!.offset, o!.leaderEpoch, o!.metadata, o!.commitTimestamp], [11n, 1, 'm', 2000]);

    assert.equal(await c().deleteGroupOffsets(g1, [{ topicId: t.topicId, partition: 0 }, { topicId: t.topicId, partition: 1 }]), 2);
    assert.equal(await c().deleteGroupOffsets(g1, [{ topicId: t.topicId, partition: 0 }]), 0);
    assert.deepEqual(await c().fetchGroupOffsets([g1]), []);

    // Deleting the topic deletes its offsets.
    await c().deleteTopic(t.name);
    assert.deepEqual(await c().fetchGroupOffsets([g2]), []);
  });

  test('groups: save, load (with offset-only groups), replace, delete with their offsets', async () => {
    const t = await x.topic('grp-groups', 1);
    const g = x.name('stored');
    const simple = x.name('simple');
    const record: GroupRecord = {
      groupId: g,
      protocolType: 'consumer',
      generation: 3,
      protocolName: 'range',
      leader: 'm-1',
      stateTimestamp: 1_700_000_000_000,
      members: [
        { memberId: 'm-1', groupInstanceId: null, clientId: 'c1', clientHost: '/127.0.0.1', rebalanceTimeoutMs: 60000, sessionTimeoutMs: 10000,
          subscription: Buffer.from([0, 1, 2, 255]), assignment: Buffer.from('assigned') },
        { memberId: 'm-2', groupInstanceId: 'instance-2', clientId: 'c2', clientHost: '/127.0.0.2', rebalanceTimeoutMs: 30000, sessionTimeoutMs: 6000,
          subscription: Buffer.alloc(0), assignment: Buffer.alloc(0) },
      ],
    };
    await c().saveGroup(record);
    await c().commitGroupOffsets(simple, 5, [{ topicId: t.topicId, partition: 0, offset: 1n, leaderEpoch: -1, metadata: '', expireTimestamp: -1 }]);
    await c().commitGroupOffsets(g, 5, [{ topicId: t.topicId, partition: 0, offset: 2n, leaderEpoch: -1, metadata: '', expireTimestamp: -1 }]);
    const mine = async () => (await c().loadGroups()).filter((r) => r.groupId === g || r.groupId === simple).sort((a, b) => a.groupId.localeCompare(b.groupId));
    assert.deepEqual(await mine(), [
      { groupId: simple, protocolType: null, generation: 0, protocolName: null, leader: null, stateTimestamp: -1, members: [] },
      record,
    ]);
    // A stored generation or offsets alone make a group a share group may not take the id of.
    assert.deepEqual(await Promise.all([g, simple, x.name('never')].map((id) => c().hasStoredGroup(id))), [true, true, false]);
    const consumer = x.name('consumer-kind');
    await c().saveConsumerGroup({ groupId: consumer, groupEpoch: 1, state: { members: [] } }, 5);
    assert.equal(await c().hasStoredGroup(consumer), true);
    await c().deleteGroups([consumer]);
    const empty: GroupRecord = { ...record, generation: 4, protocolName: null, leader: null, members: [], stateTimestamp: 1_700_000_001_000 };
    await c().saveGroup(empty);
    assert.deepEqual((await mine())[1], empty);
    await c().deleteGroups([g, simple, x.name('never')]);
    assert.deepEqual(await mine(), []);
    assert.deepEqual(await c().fetchGroupOffsets([g, simple]), []);
    assert.deepEqual(await Promise.all([g, simple, consumer].map((id) => c().hasStoredGroup(id))), [false, false, false]);
  });

  test('expireGroupOffsets follows Kafka: empty groups by state time, simple groups by commit time, explicit expiry, active groups kept', async () => {
    const t = await x.topic('grp-expiry', 3);
    const off = (partition: number, expireTimestamp = -1) => ({ topicId: t.topicId, partition, offset: 1n, leaderEpoch: -1, metadata: '', expireTimestamp });
    const simple = x.name('exp-simple');
    const emptyGroup = x.name('exp-empty');
    const stable = x.name('exp-stable');
    const active = x.name('exp-active');
    const bare = x.name('exp-bare'); // empty, stored, no offsets
    const memoryOnly = x.name('exp-memory');
    const member = { memberId: 'm', groupInstanceId: null, clientId: 'c', clientHost: 'h', rebalanceTimeoutMs: 1, sessionTimeoutMs: 1, subscription: Buffer.alloc(0), assignment: Buffer.alloc(0) };
    const stored = (groupId: string, stateTimestamp: number, members: GroupRecord['members']): GroupRecord =>
      ({ groupId, protocolType: 'consumer', generation: 1, protocolName: members.length ? 'range' : null, leader: null, stateTimestamp, members });

    // Retention 1000 ms; "now" is 2500 (ms after the epoch).
    await c().commitGroupOffsets(simple, 1000, [off(0)]); // 1000 + 1000 <= 2500: expires
    await c().commitGroupOffsets(simple, 2000, [off(1)]); // 3000 > 2500: kept
    await c().commitGroupOffsets(simple, 2400, [off(2, 2500)]); // explicit expiry at 2500: expires
    await c().saveGroup(stored(emptyGroup, 1400, []));
    await c().commitGroupOffsets(emptyGroup, 100, [off(0)]); // group empty since 1400: 2400 <= 2500, expires
    await c().commitGroupOffsets(emptyGroup, 2450, [off(1)]); // Kafka: also by the group's state time
    await c().saveGroup(stored(stable, 0, [member]));
    await c().commitGroupOffsets(stable, 1, [off(0)]); // members: never by time
    await c().commitGroupOffsets(active, 1, [off(0)]); // active in memory: left alone
    await c().saveGroup(stored(bare, 2400, []));

    const res = await c().expireGroupOffsets(2500, 1000, [active], [memoryOnly, emptyGroup]);
    const mine = new Set([simple, emptyGroup, stable, active, bare, memoryOnly]);
    const got = res.filter((r) => mine.has(r.groupId)).sort((a, b) => a.groupId.localeCompare(b.groupId));
    assert.deepEqual(got, [
      { groupId: bare, expiredOffsets: 0, deleted: true },
      { groupId: emptyGroup, expiredOffsets: 2, deleted: true },
      { groupId: memoryOnly, expiredOffsets: 0, deleted: true },
      { groupId: simple, expiredOffsets: 2, deleted: false },
    ]);
    const left = await c().fetchGroupOffsets([simple, emptyGroup, stable, active]);
    const label = new Map([[simple, 'simple'], [emptyGroup, 'empty'], [stable, 'stable'], [active, 'active']]);
    assert.deepEqual(left.map((o) => `${label.get(o.groupId)}:${o.partition}`).sort(), ['active:0', 'simple:1', 'stable:0']);
    const groups = (await c().loadGroups()).filter((r) => mine.has(r.groupId)).map((r) => r.groupId).sort();
    assert.deepEqual(groups, [active, simple, stable].sort());

    // Later, the rest of the simple group's offsets expire and it is gone.
    const later = await c().expireGroupOffsets(3000, 1000, [active], []);
    assert.deepEqual(later.filter((r) => mine.has(r.groupId)), [{ groupId: simple, expiredOffsets: 1, deleted: true }]);
    await c().deleteGroups([active, stable]);
  });
}
