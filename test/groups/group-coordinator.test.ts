/**
 * GroupCoordinator against an in-memory store with injected failures and clock: what the broker tests
 * cannot provoke easily — a generation or offsets that cannot be stored, groups rebuilt from stored
 * generations, session expiry on a manual clock, and shutdown with requests waiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Coordinator, GroupOffsetCommit, GroupRecord } from '../../src/coordinator/coordinator.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { GroupCoordinator, type GroupCoordinatorOptions, type JoinParams } from '../../src/groups/group-coordinator.ts';
import { encodeSubscription } from '../../src/groups/consumer-protocol.ts';

class FakeStore {
  saved: GroupRecord[] = [];
  stored = new Map<string, GroupRecord>();
  failSave = false;
  failCommit = false;
  commits: { groupId: string; commits: readonly GroupOffsetCommit[] }[] = [];

  async saveGroup(g: GroupRecord): Promise<void> {
    if (this.failSave) throw new Error('db down');
    this.saved.push(g);
    this.stored.set(g.groupId, g);
  }
  async loadGroups(): Promise<GroupRecord[]> {
    return [...this.stored.values()];
  }
  async loadConsumerGroups(): Promise<[]> {
    return [];
  }
  async commitGroupOffsets(groupId: string, _ts: number, commits: readonly GroupOffsetCommit[]): Promise<number[]> {
    if (this.failCommit) throw new Error('db down');
    this.commits.push({ groupId, commits });
    return commits.map(() => 0);
  }
  async deleteGroups(): Promise<void> {}
  async fetchGroupOffsets(): Promise<[]> {
    return [];
  }
}

function coordinator(store: FakeStore, now: () => number, extra: Partial<GroupCoordinatorOptions> = {}): GroupCoordinator {
  return new GroupCoordinator(store as unknown as Coordinator, {
    initialRebalanceDelayMs: 0, minSessionTimeoutMs: 10, maxSessionTimeoutMs: 600_000, maxSize: 100,
    offsetsRetentionMs: 60_000, offsetsRetentionCheckIntervalMs: 600_000, offsetMetadataMaxBytes: 4096, now, tickMs: 5, ...extra,
  });
}

const join = (groupId: string, memberId = '', o: Partial<JoinParams> = {}): JoinParams => ({
  groupId, memberId, groupInstanceId: null, requireKnownMemberId: false, supportSkippingAssignment: false, clientId: 'c', clientHost: '/127.0.0.1',
  rebalanceTimeoutMs: 1000, sessionTimeoutMs: 1000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: encodeSubscription(['t']) }], reason: null, ...o,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a generation that cannot be stored: SyncGroup gets COORDINATOR_NOT_AVAILABLE and the group rebalances', async () => {
  const store = new FakeStore();
  const gc = coordinator(store, Date.now);
  const j = await gc.join(join('g'));
  assert.equal(j.generationId, 1);
  store.failSave = true;
  const s = await gc.sync({ groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  assert.equal(s.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.equal(gc.inspect('g')!.state, 'PreparingRebalance');
  store.failSave = false;
  const again = await gc.join(join('g', j.memberId));
  assert.equal(again.generationId, 2);
  const ok = await gc.sync({ groupId: 'g', generationId: 2, memberId: j.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: j.memberId, assignment: Buffer.from('x') }] });
  assert.deepEqual([ok.errorCode, ok.assignment.toString()], [0, 'x']);
  assert.equal(store.stored.get('g')!.members[0]!.assignment.toString(), 'x');
  await gc.shutdown();
});

test('offsets that cannot be stored: COORDINATOR_NOT_AVAILABLE (retriable)', async () => {
  const store = new FakeStore();
  const gc = coordinator(store, Date.now);
  store.failCommit = true;
  const r = await gc.commitOffsets({ groupId: 's', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, commits: [{ topicId: 'x', partition: 0, offset: 1n, leaderEpoch: -1, metadata: '' }] });
  assert.equal(r, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  store.failCommit = false;
  const ok = await gc.commitOffsets({ groupId: 's', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: 5000, commits: [{ topicId: 'x', partition: 0, offset: 1n, leaderEpoch: -1, metadata: '' }] });
  assert.deepEqual(ok, [0]);
  assert.ok(store.commits[0]!.commits[0]!.expireTimestamp > Date.now());
  await gc.shutdown();
});

test('groups are rebuilt from stored generations; members expire on the clock and the empty generation is stored', async () => {
  let now = 1_000_000;
  const store = new FakeStore();
  store.stored.set('back', {
    groupId: 'back', protocolType: 'consumer', generation: 7, protocolName: 'range', leader: 'm1', stateTimestamp: now - 5000,
    members: [
      { memberId: 'm1', groupInstanceId: null, clientId: 'c1', clientHost: '/h', rebalanceTimeoutMs: 1000, sessionTimeoutMs: 1000, subscription: encodeSubscription(['t']), assignment: Buffer.from('a1') },
      { memberId: 'm2', groupInstanceId: 'i2', clientId: 'c2', clientHost: '/h', rebalanceTimeoutMs: 1000, sessionTimeoutMs: 3000, subscription: encodeSubscription(['t']), assignment: Buffer.from('a2') },
    ],
  });
  store.stored.set('simple', { groupId: 'simple', protocolType: null, generation: 0, protocolName: null, leader: null, stateTimestamp: -1, members: [] });
  const gc = coordinator(store, () => now);
  await gc.load();
  gc.start();
  assert.deepEqual(gc.inspect('back'), { state: 'Stable', generationId: 7, leaderId: 'm1', members: ['m1', 'm2'], protocolName: 'range' });
  assert.equal(gc.inspect('simple')!.state, 'Empty');
  assert.equal(gc.heartbeat('back', 'm2', 'i2', 7), 0);
  assert.equal(gc.heartbeat('back', 'm2', null, 6), ErrorCode.ILLEGAL_GENERATION);
  assert.equal(gc.describe('back')!.members[1]!.assignment.toString(), 'a2');

  // m1's session (1 s) runs out: the group rebalances without it; m2 (3 s) is still in.
  now += 1500;
  await sleep(30);
  assert.equal(gc.inspect('back')!.state, 'PreparingRebalance');
  assert.deepEqual(gc.inspect('back')!.members, ['m2']);
  assert.equal(gc.heartbeat('back', 'm2', 'i2', 7), ErrorCode.REBALANCE_IN_PROGRESS);
  // m2 (static) does not rejoin: the rebalance timeout does not remove static members, its session does.
  now += 10_000;
  await sleep(30);
  const state = gc.inspect('back')!;
  assert.equal(state.members.length, 0);
  assert.equal(state.state, 'Empty');
  const last = store.saved.at(-1)!;
  assert.deepEqual([last.groupId, last.members.length, last.generation], ['back', 0, state.generationId]);
  await gc.shutdown();
});

test('shutdown answers waiting JoinGroup requests with NOT_COORDINATOR', async () => {
  const store = new FakeStore();
  const gc = coordinator(store, Date.now, { initialRebalanceDelayMs: 60_000 });
  const pending = gc.join(join('wait'));
  await sleep(10);
  await gc.shutdown();
  assert.equal((await pending).errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal((await gc.join(join('wait'))).errorCode, ErrorCode.NOT_COORDINATOR);
});
