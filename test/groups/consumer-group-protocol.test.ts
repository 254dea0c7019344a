/**
 * The KIP-848 consumer group protocol (src/groups/consumer-group-protocol.ts) through the GroupCoordinator,
 * on a real in-memory PGlite coordinator DB, a manual clock and a topic list of the test's own: member
 * epochs and the revoke-before-assign reconciliation step by step, Kafka's errors, static membership,
 * regex subscriptions and metadata changes, session expiry, offsets with member epochs, a second broker
 * taking the group over from the stored state, and the assignors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import type { TopicInfo } from '../../src/coordinator/coordinator.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { GroupCoordinator, type ConsumerHeartbeatParams, type GroupCoordinatorOptions } from '../../src/groups/group-coordinator.ts';
import { rangeAssign, uniformAssign } from '../../src/groups/assignors.ts';
import { compileTopicRegex } from '../../src/groups/consumer-group-protocol.ts';
import { encodeSubscription } from '../../src/groups/consumer-protocol.ts';
import { waitFor } from '../helpers/wait.ts';

const SESSION_MS = 10_000;
let store: SqlCoordinator;
let now = 1_000_000;
const topics: TopicInfo[] = [];

before(async () => {
  store = await openPGliteCoordinator(null);
  topics.push(await store.createTopic({ name: 'orders', partitionCount: 4, diskless: true, configs: {} }));
  topics.push(await store.createTopic({ name: 'orders-eu', partitionCount: 2, diskless: true, configs: {} }));
  topics.push(await store.createTopic({ name: 'payments', partitionCount: 1, diskless: true, configs: {} }));
});
after(() => store.close());

const topicView = {
  get: (name: string) => topics.find((t) => t.name === name),
  getById: (id: string) => topics.find((t) => t.topicId === id),
  all: () => topics,
};

function coordinator(extra: Partial<GroupCoordinatorOptions> = {}): GroupCoordinator {
  return new GroupCoordinator(store, {
    initialRebalanceDelayMs: 0, minSessionTimeoutMs: 10, maxSessionTimeoutMs: 600_000, maxSize: 100,
    offsetsRetentionMs: 600_000, offsetsRetentionCheckIntervalMs: 600_000, offsetMetadataMaxBytes: 4096,
    now: () => now, consumerSessionTimeoutMs: SESSION_MS, consumerHeartbeatIntervalMs: 500, topics: topicView, ...extra,
  });
}

const id = (name: string) => topics.find((t) => t.name === name)!.topicId;

function hb(groupId: string, memberId: string, memberEpoch: number, more: Partial<ConsumerHeartbeatParams> = {}): ConsumerHeartbeatParams {
  return {
    groupId, memberId, memberEpoch, instanceId: null, rackId: null,
    rebalanceTimeoutMs: memberEpoch === 0 ? 30_000 : -1,
    subscribedTopicNames: memberEpoch === 0 ? ['orders'] : null,
    subscribedTopicRegex: null, serverAssignor: null,
    topicPartitions: memberEpoch === 0 ? [] : null,
    clientId: 'c', clientHost: '/127.0.0.1', apiVersion: 1, ...more,
  };
}

/** The partitions of `topic` in an answer's assignment (null: no assignment in the answer). */
function parts(a: { topicId: string; partitions: number[] }[] | null, topic = 'orders'): number[] | null {
  if (a === null) return null;
  return a.find((t) => t.topicId === id(topic))?.partitions ?? [];
}
const owned = (ps: number[], topic = 'orders') => [{ topicId: id(topic), partitions: ps }];

test('two members: the second gets partitions only after the first revoked them (revoke before assign), epochs step up', async () => {
  const gc = coordinator();
  await gc.load();
  const a1 = await gc.consumerHeartbeat(hb('g1', 'a', 0));
  assert.equal(a1.errorCode, ErrorCode.NONE);
  assert.equal(a1.memberEpoch, 1);
  assert.equal(a1.heartbeatIntervalMs, 500);
  assert.deepEqual(parts(a1.assignment), [0, 1, 2, 3]);

  const b1 = await gc.consumerHeartbeat(hb('g1', 'b', 0));
  assert.equal(b1.memberEpoch, 2, 'b joins at the new group epoch');
  assert.deepEqual(parts(b1.assignment), [], 'everything is still a\'s');
  assert.equal(gc.inspectConsumerGroup('g1')!.state, 'Reconciling');

  // a is told to keep two partitions (revoking the others) and stays at epoch 1 until it has revoked them.
  const a2 = await gc.consumerHeartbeat(hb('g1', 'a', 1, { topicPartitions: owned([0, 1, 2, 3]) }));
  assert.equal(a2.memberEpoch, 1);
  const kept = parts(a2.assignment)!;
  assert.equal(kept.length, 2);
  const b2 = await gc.consumerHeartbeat(hb('g1', 'b', 2, { topicPartitions: owned([]) }));
  assert.equal(b2.assignment, null, 'nothing released yet: b gets nothing new');
  const a3 = await gc.consumerHeartbeat(hb('g1', 'a', 1, { topicPartitions: owned([0, 1, 2, 3]) }));
  assert.equal(a3.memberEpoch, 1, 'still owns the revoked partitions: same epoch');

  const a4 = await gc.consumerHeartbeat(hb('g1', 'a', 1, { topicPartitions: owned(kept) }));
  assert.equal(a4.memberEpoch, 2, 'revoked: the next epoch');
  const b3 = await gc.consumerHeartbeat(hb('g1', 'b', 2, { topicPartitions: owned([]) }));
  assert.deepEqual(parts(b3.assignment), [0, 1, 2, 3].filter((p) => !kept.includes(p)));
  assert.equal(gc.inspectConsumerGroup('g1')!.state, 'Stable');

  // A previous-epoch heartbeat with a subset of the assignment is accepted (a lost response); a higher one is fenced.
  assert.equal((await gc.consumerHeartbeat(hb('g1', 'a', 1, { topicPartitions: owned(kept) }))).errorCode, ErrorCode.NONE);
  assert.equal((await gc.consumerHeartbeat(hb('g1', 'a', 5))).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  assert.equal((await gc.consumerHeartbeat(hb('g1', 'a', 1))).errorCode, ErrorCode.FENCED_MEMBER_EPOCH, 'previous epoch without its owned partitions');
  assert.equal((await gc.consumerHeartbeat(hb('g1', 'zz', 2))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);

  // b leaves: a gets everything back once it heartbeats.
  const left = await gc.consumerHeartbeat(hb('g1', 'b', -1));
  assert.equal(left.memberEpoch, -1);
  const a5 = await gc.consumerHeartbeat(hb('g1', 'a', 2, { topicPartitions: owned(kept) }));
  assert.equal(a5.memberEpoch, 3);
  assert.deepEqual(parts(a5.assignment), [0, 1, 2, 3]);
  await gc.shutdown();
});

test('Kafka\'s errors for bad heartbeats', async () => {
  const gc = coordinator({ consumerMaxSize: 1 });
  await gc.load();
  const code = async (p: ConsumerHeartbeatParams) => (await gc.consumerHeartbeat(p)).errorCode;
  assert.equal(await code(hb('', 'a', 0)), ErrorCode.INVALID_REQUEST);
  assert.equal(await code(hb('e', '', 0)), ErrorCode.INVALID_REQUEST, 'v1: the client names itself');
  assert.equal(await code(hb('e', 'a', 0, { subscribedTopicNames: [] })), ErrorCode.INVALID_REQUEST);
  assert.equal(await code(hb('e', 'a', 0, { rebalanceTimeoutMs: -1 })), ErrorCode.INVALID_REQUEST);
  assert.equal(await code(hb('e', 'a', 0, { topicPartitions: null })), ErrorCode.INVALID_REQUEST);
  assert.equal(await code(hb('e', 'a', -3)), ErrorCode.INVALID_REQUEST);
  assert.equal(await code(hb('e', 'a', 0, { serverAssignor: 'sticky' })), ErrorCode.UNSUPPORTED_ASSIGNOR);
  assert.equal(await code(hb('e', 'a', 0, { subscribedTopicRegex: 'orders[' })), ErrorCode.INVALID_REGULAR_EXPRESSION);
  assert.equal(await code(hb('e', 'a', 0, { subscribedTopicRegex: '(?=x)orders' })), ErrorCode.INVALID_REGULAR_EXPRESSION, 'lookahead: not RE2');
  assert.equal(await code(hb('e', 'a', 3)), ErrorCode.GROUP_ID_NOT_FOUND, 'epoch > 0 for a group that does not exist');
  const v0 = await gc.consumerHeartbeat(hb('e', '', 0, { apiVersion: 0 }));
  assert.equal(v0.errorCode, ErrorCode.NONE);
  assert.ok(v0.memberId && v0.memberId.length > 0, 'v0: the coordinator names the member');
  assert.equal(await code(hb('e', 'second', 0)), ErrorCode.GROUP_MAX_SIZE_REACHED);
  await gc.shutdown();
});

test('static members: -2 keeps the partitions for a new member id of the instance; a live instance id is UNRELEASED_INSTANCE_ID', async () => {
  const gc = coordinator();
  await gc.load();
  const s1 = await gc.consumerHeartbeat(hb('g2', 's1', 0, { instanceId: 'i1' }));
  assert.deepEqual(parts(s1.assignment), [0, 1, 2, 3]);
  assert.equal((await gc.consumerHeartbeat(hb('g2', 's2', 0, { instanceId: 'i1' }))).errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
  assert.equal((await gc.consumerHeartbeat(hb('g2', 's2', 1, { instanceId: 'i1' }))).errorCode, ErrorCode.FENCED_INSTANCE_ID);
  const leave = await gc.consumerHeartbeat(hb('g2', 's1', -2, { instanceId: 'i1' }));
  assert.equal(leave.memberEpoch, -2);
  const epochBefore = gc.inspectConsumerGroup('g2')!.groupEpoch;
  const back = await gc.consumerHeartbeat(hb('g2', 's2', 0, { instanceId: 'i1' }));
  assert.equal(back.errorCode, ErrorCode.NONE);
  assert.deepEqual(parts(back.assignment), [0, 1, 2, 3], 'the new member id of the instance has its partitions back');
  assert.equal(gc.inspectConsumerGroup('g2')!.groupEpoch, epochBefore, 'no rebalance');
  assert.deepEqual(gc.inspectConsumerGroup('g2')!.members.map((m) => m.memberId), ['s2']);
  await gc.shutdown();
});

test('regex subscriptions, and a partition count change bumps the group epoch', async () => {
  const gc = coordinator();
  await gc.load();
  const r = await gc.consumerHeartbeat(hb('g3', 'r', 0, { subscribedTopicNames: null, subscribedTopicRegex: 'orders.*' }));
  assert.deepEqual(parts(r.assignment), [0, 1, 2, 3]);
  assert.deepEqual(parts(r.assignment, 'orders-eu'), [0, 1]);
  assert.deepEqual(parts(r.assignment, 'payments'), []);
  const grown = await store.createPartitions('orders-eu', 3);
  topics[1] = grown;
  const r2 = await gc.consumerHeartbeat(hb('g3', 'r', r.memberEpoch, { topicPartitions: [...owned([0, 1, 2, 3]), ...owned([0, 1], 'orders-eu')] }));
  assert.equal(r2.memberEpoch, r.memberEpoch + 1);
  assert.deepEqual(parts(r2.assignment, 'orders-eu'), [0, 1, 2]);
  assert.ok(compileTopicRegex('orders')!.test('orders') && !compileTopicRegex('orders')!.test('orders-eu'), 'whole names only');
  await gc.shutdown();
});

test('session expiry removes a member; offsets need the current member epoch; another broker carries on from the stored group', async () => {
  const gc = coordinator();
  await gc.load();
  gc.start();
  const a = await gc.consumerHeartbeat(hb('g4', 'a', 0));
  const b = await gc.consumerHeartbeat(hb('g4', 'b', 0));
  assert.equal(b.memberEpoch, 2);
  const commit = (memberId: string, epoch: number, apiVersion = 9) => gc.commitOffsets({
    groupId: 'g4', generationId: epoch, memberId, groupInstanceId: null, retentionTimeMs: -1, apiVersion,
    commits: [{ topicId: id('orders'), partition: 0, offset: 42n, leaderEpoch: -1, metadata: '' }],
  });
  assert.equal(a.memberEpoch, 1);
  assert.equal(await commit('a', 2), ErrorCode.STALE_MEMBER_EPOCH, 'a is still at epoch 1 (it has not heartbeated since b joined)');
  assert.deepEqual(await commit('a', 1), [0], 'its current epoch');
  assert.deepEqual(await commit('b', 2), [0]);
  assert.equal(await commit('b', 2, 8), ErrorCode.UNSUPPORTED_VERSION);
  assert.equal(await commit('nobody', 2), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(await commit('', -1), ErrorCode.UNKNOWN_MEMBER_ID, 'no simple commits while the group has members');
  const [fetched] = await gc.fetchOffsets([{ groupId: 'g4', topics: null, memberId: 'b', memberEpoch: 1 }]);
  assert.equal(fetched!.errorCode, ErrorCode.STALE_MEMBER_EPOCH);
  const [admin] = await gc.fetchOffsets([{ groupId: 'g4', topics: null }]);
  assert.equal(admin!.topics[0]!.partitions[0]!.offset, 42n);

  // Another broker takes the group over: same epochs and assignments (members get a full session from then).
  const other = coordinator();
  await other.load();
  assert.deepEqual(other.inspectConsumerGroup('g4'), gc.inspectConsumerGroup('g4'));
  assert.equal((await other.consumerHeartbeat(hb('g4', 'b', 2, { topicPartitions: owned([]) }))).errorCode, ErrorCode.NONE);

  // a stops heartbeating: after the session timeout it is removed and b gets everything.
  now += SESSION_MS + 1;
  await gc.consumerHeartbeat(hb('g4', 'b', 2, { topicPartitions: owned([]) }));
  await new Promise((res) => setTimeout(res, 600));
  const g = gc.inspectConsumerGroup('g4')!;
  assert.deepEqual(g.members.map((m) => m.memberId), ['b']);
  assert.equal(g.groupEpoch, 3);
  await gc.shutdown();
  await other.shutdown();
});

test('DeleteGroups and ListGroups: a consumer group is listed with its type, and deleted only when empty', async () => {
  const gc = coordinator();
  await gc.load();
  await gc.consumerHeartbeat(hb('g5', 'a', 0));
  assert.deepEqual(gc.list().filter((g) => g.groupId === 'g5'), [{ groupId: 'g5', protocolType: 'consumer', state: 'Stable', type: 'consumer' }]);
  assert.deepEqual(await gc.deleteGroups(['g5']), [{ groupId: 'g5', errorCode: ErrorCode.NON_EMPTY_GROUP }]);
  await gc.consumerHeartbeat(hb('g5', 'a', -1));
  assert.deepEqual(await gc.deleteGroups(['g5']), [{ groupId: 'g5', errorCode: ErrorCode.NONE }]);
  assert.equal(gc.isConsumerGroup('g5'), false);
  assert.equal((await store.loadConsumerGroups()).some((g) => g.groupId === 'g5'), false);
  await gc.shutdown();
});

test('assignors: uniform balances and is sticky; range gives contiguous ranges in member-id order', () => {
  const T = 't';
  const counts = new Map([[T, 7]]);
  const members = ['m1', 'm2', 'm3'].map((memberId) => ({ memberId, topics: new Set([T]) }));
  const first = uniformAssign({ members: members.slice(0, 2), partitionCounts: counts, previous: new Map() });
  const sizes = (r: Map<string, Map<string, Set<number>>>) => [...r.values()].map((a) => a.get(T)?.size ?? 0).sort();
  assert.deepEqual(sizes(first), [3, 4]);
  const second = uniformAssign({ members, partitionCounts: counts, previous: first });
  assert.deepEqual(sizes(second), [2, 2, 3]);
  for (const m of ['m1', 'm2']) {
    for (const p of second.get(m)!.get(T) ?? []) assert.ok(first.get(m)!.get(T)!.has(p), `${m} keeps ${p} (sticky)`);
  }
  const range = rangeAssign({ members, partitionCounts: counts, previous: new Map() });
  assert.deepEqual(['m1', 'm2', 'm3'].map((m) => [...range.get(m)!.get(T)!]), [[0, 1, 2], [3, 4], [5, 6]]);
});

test('classic members of a consumer group: removed when they do not sync, or do not rejoin when told to, within their rebalance timeout (Kafka\'s join and sync timeouts)', async () => {
  const gc = coordinator({ consumerSessionTimeoutMs: 600_000, tickMs: 5 });
  await gc.load();
  gc.start();
  const REBALANCE_MS = 5000;
  const join = (memberId: string) => gc.join({
    groupId: 'gct', memberId, groupInstanceId: null, requireKnownMemberId: false, supportSkippingAssignment: false, clientId: 'c', clientHost: '/127.0.0.1',
    rebalanceTimeoutMs: REBALANCE_MS, sessionTimeoutMs: 60_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: encodeSubscription(['orders']) }], reason: null,
  });
  const sync = (memberId: string, generationId: number) => gc.sync({ groupId: 'gct', generationId, memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
  /** JoinGroup then SyncGroup until the sync goes through (the group epoch may move on in between), as a client does. */
  const settle = async (memberId: string) => {
    for (let i = 0; i < 5; i++) {
      const j = await join(memberId);
      assert.equal(j.errorCode, ErrorCode.NONE);
      const r = await sync(memberId, j.generationId);
      if (r.errorCode === ErrorCode.NONE) return;
      assert.equal(r.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
    }
    assert.fail(`${memberId} never synced`);
  };
  const members = () => gc.inspectConsumerGroup('gct')!.members.map((m) => m.memberId).sort();
  const epochOf = (memberId: string) => gc.inspectConsumerGroup('gct')!.members.find((m) => m.memberId === memberId)!.memberEpoch;
  /** Lets the session ticker (every 5 ms of real time) look at the group a few times. */
  const ticks = () => new Promise((resolve) => setTimeout(resolve, 100));

  assert.equal((await gc.consumerHeartbeat(hb('gct', 'a', 0))).errorCode, ErrorCode.NONE);
  // Joined but never synced: gone once its rebalance timeout has passed, not before.
  const silent = await join('');
  assert.equal(silent.errorCode, ErrorCode.NONE);
  now += REBALANCE_MS - 1;
  await ticks();
  assert.deepEqual(members(), ['a', silent.memberId].sort());
  now += 2;
  await waitFor('the member that never synced removed', () => !members().includes(silent.memberId), { timeoutMs: 10_000 });

  // Joined and synced: no sync timeout left.
  const stays = (await join('')).memberId;
  const goes = (await join('')).memberId;
  await settle(stays);
  await settle(goes);
  now += REBALANCE_MS + 1;
  await ticks();
  assert.deepEqual(members(), ['a', goes, stays].sort(), 'synced members have no sync timeout');
  // Told to rejoin (the group epoch moved on), each has its rebalance timeout to do so: the one that rejoins
  // and syncs stays, the one that only heartbeats is removed.
  assert.equal((await gc.consumerHeartbeat(hb('gct', 'b', 0))).errorCode, ErrorCode.NONE, 'b joins: the group epoch moves on');
  assert.equal(gc.heartbeat('gct', goes, null, epochOf(goes)), ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal(gc.heartbeat('gct', stays, null, epochOf(stays)), ErrorCode.REBALANCE_IN_PROGRESS);
  now += REBALANCE_MS - 1000;
  await settle(stays);
  assert.equal(gc.heartbeat('gct', goes, null, epochOf(goes)), ErrorCode.REBALANCE_IN_PROGRESS, 'still told to rejoin (the deadline set at the first telling stays)');
  await ticks();
  assert.ok(members().includes(goes));
  now += 1001;
  await waitFor('the member that did not rejoin removed', () => !members().includes(goes), { timeoutMs: 10_000 });
  await ticks();
  assert.deepEqual(members(), ['a', 'b', stays].sort(), 'the member that rejoined in time stays');
  await gc.shutdown();
});
