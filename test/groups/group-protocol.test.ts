/**
 * The classic group protocol through raw requests at pinned versions: FindCoordinator, the JoinGroup
 * MEMBER_ID_REQUIRED flow, SyncGroup, Heartbeat, LeaveGroup (single and batched), protocol selection,
 * static membership and fencing, session and rebalance timeouts, DescribeGroups, ListGroups, DeleteGroups.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { encodeAssignment, encodeSubscription } from '../../src/groups/consumer-protocol.ts';

let broker: TestBroker;
let c: RawClient;
let groupSeq = 0;
const newGroup = (name: string) => `${name}-${++groupSeq}`;

before(async () => {
  broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 100, 'group.max.session.timeout.ms': 600000 });
  c = await RawClient.connect(broker.port);
  const r = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'gp', numPartitions: 4, replicationFactor: 1, configs: [] }], timeoutMs: 5000 });
  assert.equal(r.topics[0].errorCode, 0);
});

interface JoinOpts {
  memberId?: string;
  instanceId?: string | null;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  protocolType?: string;
  protocols?: { name: string; metadata: Buffer }[];
}

const SUB = encodeSubscription(['gp']);
const rangeOnly = [{ name: 'range', metadata: SUB }];

function joinBody(groupId: string, o: JoinOpts = {}) {
  return {
    groupId,
    sessionTimeoutMs: o.sessionTimeoutMs ?? 10_000,
    rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? 10_000,
    memberId: o.memberId ?? '',
    groupInstanceId: o.instanceId ?? null,
    protocolType: o.protocolType ?? 'consumer',
    protocols: o.protocols ?? rangeOnly,
    reason: null,
  };
}

/** A fresh connection per member: a pending JoinGroup holds its connection's later responses. */
async function member(): Promise<RawClient> {
  return RawClient.connect(broker.port);
}

/** Joins with the v4+ MEMBER_ID_REQUIRED round trip; returns the JoinGroup response. */
async function joinNew(client: RawClient, groupId: string, o: JoinOpts = {}, version = 7) {
  const first = await client.request(ApiKey.JoinGroup, version, joinBody(groupId, o));
  if (first.errorCode !== ErrorCode.MEMBER_ID_REQUIRED) return first;
  return client.request(ApiKey.JoinGroup, version, joinBody(groupId, { ...o, memberId: first.memberId }));
}

function sync(client: RawClient, groupId: string, generationId: number, memberId: string, assignments: { memberId: string; assignment: Buffer }[] = [], version = 5, instanceId: string | null = null) {
  return client.request(ApiKey.SyncGroup, version, { groupId, generationId, memberId, groupInstanceId: instanceId, protocolType: 'consumer', protocolName: 'range', assignments });
}

function heartbeatOf(client: RawClient, groupId: string, generationId: number, memberId: string, version = 4, instanceId: string | null = null) {
  return client.request(ApiKey.Heartbeat, version, { groupId, generationId, memberId, groupInstanceId: instanceId });
}

async function describe(groupId: string, version = 5) {
  const r = await c.request(ApiKey.DescribeGroups, version, { groups: [groupId], includeAuthorizedOperations: false });
  return r.groups[0];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('FindCoordinator names this broker for groups, at every version; batched keys v4+', async () => {
  for (const v of [0, 1, 2, 3]) {
    const r = await c.request(ApiKey.FindCoordinator, v, { key: 'any-group', keyType: 0 });
    assert.deepEqual([r.errorCode, r.nodeId, r.host, r.port], [0, broker.broker.nodeId, '127.0.0.1', broker.port], `v${v}`);
  }
  const id = broker.broker.nodeId;
  for (const v of [4, 5, 6]) {
    const r = await c.request(ApiKey.FindCoordinator, v, { keyType: 0, coordinatorKeys: ['a', 'b', ''] });
    assert.deepEqual(r.coordinators.map((x: any) => [x.key, x.errorCode, x.nodeId, x.port]), [['a', 0, id, broker.port], ['b', 0, id, broker.port], ['', 0, id, broker.port]]);
  }
  const txn = await c.request(ApiKey.FindCoordinator, 4, { keyType: 1, coordinatorKeys: ['tx', ''] });
  assert.deepEqual(txn.coordinators.map((x: any) => [x.key, x.errorCode, x.nodeId]), [['tx', 0, id], ['', ErrorCode.INVALID_REQUEST, -1]], 'transactional ids: placed like groups; an empty one is refused');
  const bad = await c.request(ApiKey.FindCoordinator, 3, { key: 'g', keyType: 7 });
  assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
});

test('one member: MEMBER_ID_REQUIRED, join, sync, heartbeat, describe, leave', async () => {
  const g = newGroup('single');
  const m = await member();
  const first = await m.request(ApiKey.JoinGroup, 7, joinBody(g));
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.match(first.memberId, /^floe-test-[0-9a-f-]{36}$/);
  const joined = await m.request(ApiKey.JoinGroup, 7, joinBody(g, { memberId: first.memberId }));
  assert.equal(joined.errorCode, 0);
  assert.equal(joined.generationId, 1);
  assert.equal(joined.protocolType, 'consumer');
  assert.equal(joined.protocolName, 'range');
  assert.equal(joined.leader, first.memberId);
  assert.deepEqual(joined.members.map((x: any) => [x.memberId, Buffer.compare(x.metadata, SUB)]), [[first.memberId, 0]]);

  const assignment = encodeAssignment([{ topic: 'gp', partitions: [0, 1, 2, 3] }]);
  const s = await sync(m, g, 1, first.memberId, [{ memberId: first.memberId, assignment }]);
  assert.equal(s.errorCode, 0);
  assert.deepEqual([s.protocolType, s.protocolName, s.assignment.equals(assignment)], ['consumer', 'range', true]);
  assert.equal((await heartbeatOf(m, g, 1, first.memberId)).errorCode, 0);

  const d = await describe(g);
  assert.equal(d.groupState, 'Stable');
  assert.equal(d.protocolType, 'consumer');
  assert.equal(d.protocolData, 'range');
  assert.equal(d.members.length, 1);
  assert.equal(d.members[0].clientId, 'floe-test');
  assert.equal(d.members[0].clientHost, '/127.0.0.1');
  assert.ok(d.members[0].memberAssignment.equals(assignment));

  const left = await m.request(ApiKey.LeaveGroup, 5, { groupId: g, members: [{ memberId: first.memberId, groupInstanceId: null, reason: 'done' }] });
  assert.deepEqual([left.errorCode, left.members[0].errorCode], [0, 0]);
  const after = await describe(g);
  assert.deepEqual([after.groupState, after.members.length, after.protocolData], ['Empty', 0, '']);
  assert.equal((await heartbeatOf(m, g, 1, first.memberId)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  m.close();
});

test('old versions: JoinGroup v0-v3 adds the member at once; LeaveGroup v0 answers with the member error', async () => {
  for (const v of [0, 1, 2, 3]) {
    const g = newGroup(`old-v${v}`);
    const m = await member();
    const j = await m.request(ApiKey.JoinGroup, v, joinBody(g));
    assert.equal(j.errorCode, 0, `v${v}`);
    assert.equal(j.generationId, 1);
    assert.equal(j.protocolName, 'range');
    const s = await m.request(ApiKey.SyncGroup, Math.min(v, 2), { groupId: g, generationId: 1, memberId: j.memberId, assignments: [{ memberId: j.memberId, assignment: Buffer.from('x') }] });
    assert.deepEqual([s.errorCode, s.assignment.toString()], [0, 'x']);
    assert.equal((await m.request(ApiKey.Heartbeat, Math.min(v, 2), { groupId: g, generationId: 1, memberId: j.memberId })).errorCode, 0);
    assert.equal((await m.request(ApiKey.LeaveGroup, Math.min(v, 2), { groupId: g, memberId: 'nobody' })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal((await m.request(ApiKey.LeaveGroup, Math.min(v, 2), { groupId: g, memberId: j.memberId })).errorCode, 0);
    m.close();
  }
});

test('a second member triggers a rebalance: REBALANCE_IN_PROGRESS, both rejoin, the leader assigns, followers wait for it', async () => {
  const g = newGroup('two');
  const a = await member();
  const b = await member();
  const ja = await joinNew(a, g);
  assert.equal(ja.generationId, 1);
  await sync(a, g, 1, ja.memberId, [{ memberId: ja.memberId, assignment: Buffer.from('all') }]);

  const first = await b.request(ApiKey.JoinGroup, 7, joinBody(g));
  const jbPromise = b.request(ApiKey.JoinGroup, 7, joinBody(g, { memberId: first.memberId }));
  await sleep(50);
  assert.equal((await heartbeatOf(a, g, 1, ja.memberId)).errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal((await describe(g)).groupState, 'PreparingRebalance');
  // A commit during PreparingRebalance is still accepted (Kafka relies on the heartbeat to make the member rejoin).
  const commit = await a.request(ApiKey.OffsetCommit, 8, { groupId: g, generationIdOrMemberEpoch: 1, memberId: ja.memberId, groupInstanceId: null, topics: [{ name: 'gp', partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, committedMetadata: '' }] }] });
  assert.equal(commit.topics[0].partitions[0].errorCode, 0);

  const ja2 = await a.request(ApiKey.JoinGroup, 7, joinBody(g, { memberId: ja.memberId }));
  const jb = await jbPromise;
  assert.deepEqual([ja2.errorCode, jb.errorCode, ja2.generationId, jb.generationId], [0, 0, 2, 2]);
  assert.equal(ja2.leader, ja.memberId);
  assert.equal(jb.leader, ja.memberId);
  assert.equal(ja2.members.length, 2);
  assert.equal(jb.members.length, 0);

  // The follower's SyncGroup waits for the leader's.
  let followerDone = false;
  const sb = sync(b, g, 2, jb.memberId).then((r) => { followerDone = true; return r; });
  await sleep(50);
  assert.equal(followerDone, false);
  assert.equal((await describe(g)).groupState, 'CompletingRebalance');
  // A member commit before the rebalance completes: REBALANCE_IN_PROGRESS.
  const early = await a.request(ApiKey.OffsetCommit, 8, { groupId: g, generationIdOrMemberEpoch: 2, memberId: ja.memberId, groupInstanceId: null, topics: [{ name: 'gp', partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, committedMetadata: '' }] }] });
  assert.equal(early.topics[0].partitions[0].errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  const sa = await sync(a, g, 2, ja.memberId, [{ memberId: ja.memberId, assignment: Buffer.from('A') }, { memberId: jb.memberId, assignment: Buffer.from('B') }]);
  const sbr = await sb;
  assert.deepEqual([sa.errorCode, sa.assignment.toString(), sbr.errorCode, sbr.assignment.toString()], [0, 'A', 0, 'B']);
  assert.equal((await describe(g)).groupState, 'Stable');
  // Stale generation.
  assert.equal((await heartbeatOf(b, g, 1, jb.memberId)).errorCode, ErrorCode.ILLEGAL_GENERATION);
  assert.equal((await sync(b, g, 1, jb.memberId)).errorCode, ErrorCode.ILLEGAL_GENERATION);
  // A Stable group's SyncGroup answers the current assignment at once.
  assert.equal((await sync(b, g, 2, jb.memberId)).assignment.toString(), 'B');

  // Batched leave of both members.
  const left = await a.request(ApiKey.LeaveGroup, 4, { groupId: g, members: [{ memberId: ja.memberId, groupInstanceId: null }, { memberId: jb.memberId, groupInstanceId: null }, { memberId: 'ghost', groupInstanceId: null }] });
  assert.deepEqual(left.members.map((m: any) => m.errorCode), [0, 0, ErrorCode.UNKNOWN_MEMBER_ID]);
  assert.equal((await describe(g)).groupState, 'Empty');
  a.close();
  b.close();
});

test('protocol selection: the protocol every member supports that most prefer; incompatible members are refused', async () => {
  const g = newGroup('protocols');
  const a = await member();
  const b = await member();
  const x = Buffer.from('x');
  const ja = await joinNew(a, g, { protocols: [{ name: 'range', metadata: x }, { name: 'roundrobin', metadata: x }] });
  assert.equal(ja.protocolName, 'range');
  await sync(a, g, ja.generationId, ja.memberId);
  // B supports only roundrobin: the common protocol wins on rejoin.
  const fb = await b.request(ApiKey.JoinGroup, 7, joinBody(g, { protocols: [{ name: 'roundrobin', metadata: x }] }));
  const jbP = b.request(ApiKey.JoinGroup, 7, joinBody(g, { memberId: fb.memberId, protocols: [{ name: 'roundrobin', metadata: x }] }));
  await sleep(30);
  const ja2 = await a.request(ApiKey.JoinGroup, 7, joinBody(g, { memberId: ja.memberId, protocols: [{ name: 'range', metadata: x }, { name: 'roundrobin', metadata: x }] }));
  const jb = await jbP;
  assert.deepEqual([ja2.protocolName, jb.protocolName], ['roundrobin', 'roundrobin']);

  const other = await member();
  const wrongProtocol = await other.request(ApiKey.JoinGroup, 7, joinBody(g, { protocols: [{ name: 'sticky', metadata: x }] }));
  assert.equal(wrongProtocol.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  const wrongType = await other.request(ApiKey.JoinGroup, 7, joinBody(g, { protocolType: 'connect', protocols: [{ name: 'roundrobin', metadata: x }] }));
  assert.equal(wrongType.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  // A first member with no protocols (or an empty protocol type) cannot start a group.
  assert.equal((await other.request(ApiKey.JoinGroup, 7, joinBody(newGroup('noproto'), { protocols: [] }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await other.request(ApiKey.JoinGroup, 7, joinBody(newGroup('notype'), { protocolType: '' }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  // SyncGroup v5 with another protocol name.
  const s = await a.request(ApiKey.SyncGroup, 5, { groupId: g, generationId: ja2.generationId, memberId: ja.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
  assert.equal(s.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  for (const cl of [a, b, other]) cl.close();
});

test('static membership: no MEMBER_ID_REQUIRED, a new instance fences the old member id without a rebalance', async () => {
  const g = newGroup('static');
  const a = await member();
  const ja = await a.request(ApiKey.JoinGroup, 5, joinBody(g, { instanceId: 'inst-a' }));
  assert.equal(ja.errorCode, 0);
  assert.match(ja.memberId, /^inst-a-/);
  await a.request(ApiKey.SyncGroup, 3, { groupId: g, generationId: 1, memberId: ja.memberId, groupInstanceId: 'inst-a', assignments: [{ memberId: ja.memberId, assignment: Buffer.from('p') }] });
  // The same instance restarts: it gets a new member id, the same generation, and no rebalance.
  const a2 = await member();
  const jn = await a2.request(ApiKey.JoinGroup, 5, joinBody(g, { instanceId: 'inst-a' }));
  assert.equal(jn.errorCode, 0);
  assert.notEqual(jn.memberId, ja.memberId);
  assert.equal(jn.generationId, 1);
  assert.equal(jn.leader, ja.memberId); // before v9 the old leader id comes back, so no useless assignment runs
  assert.equal((await describe(g)).groupState, 'Stable');
  const sn = await a2.request(ApiKey.SyncGroup, 3, { groupId: g, generationId: 1, memberId: jn.memberId, groupInstanceId: 'inst-a', assignments: [] });
  assert.equal(sn.assignment.toString(), 'p');
  // The old member id is fenced.
  assert.equal((await heartbeatOf(a, g, 1, ja.memberId, 3, 'inst-a')).errorCode, ErrorCode.FENCED_INSTANCE_ID);
  assert.equal((await a.request(ApiKey.SyncGroup, 3, { groupId: g, generationId: 1, memberId: ja.memberId, groupInstanceId: 'inst-a', assignments: [] })).errorCode, ErrorCode.FENCED_INSTANCE_ID);
  const commit = await a.request(ApiKey.OffsetCommit, 7, { groupId: g, generationIdOrMemberEpoch: 1, memberId: ja.memberId, groupInstanceId: 'inst-a', topics: [{ name: 'gp', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }] }] });
  assert.equal(commit.topics[0].partitions[0].errorCode, ErrorCode.FENCED_INSTANCE_ID);
  assert.equal((await heartbeatOf(a2, g, 1, jn.memberId, 3, 'inst-a')).errorCode, 0);
  // An unknown instance id.
  assert.equal((await heartbeatOf(a2, g, 1, jn.memberId, 3, 'inst-zz')).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  // v9: a rejoining static leader is told to skip the assignment.
  const a3 = await member();
  const j9 = await a3.request(ApiKey.JoinGroup, 9, joinBody(g, { instanceId: 'inst-a' }));
  assert.deepEqual([j9.errorCode, j9.skipAssignment, j9.leader === j9.memberId, j9.members.length], [0, true, true, 1]);
  // Administrative removal by instance id (LeaveGroup v3+ with an empty member id).
  const left = await a3.request(ApiKey.LeaveGroup, 3, { groupId: g, members: [{ memberId: '', groupInstanceId: 'inst-a' }, { memberId: '', groupInstanceId: 'inst-none' }] });
  assert.deepEqual(left.members.map((m: any) => m.errorCode), [0, ErrorCode.UNKNOWN_MEMBER_ID]);
  assert.equal((await describe(g)).groupState, 'Empty');
  for (const cl of [a, a2, a3]) cl.close();
});

test('a member that stops heartbeating is removed after its session timeout; the other gets all partitions', async () => {
  const g = newGroup('session');
  const a = await member();
  const b = await member();
  const ja = await joinNew(a, g, { sessionTimeoutMs: 400 });
  await sync(a, g, 1, ja.memberId);
  const fb = await b.request(ApiKey.JoinGroup, 7, joinBody(g, { sessionTimeoutMs: 5000 }));
  const jbP = b.request(ApiKey.JoinGroup, 7, joinBody(g, { memberId: fb.memberId, sessionTimeoutMs: 5000 }));
  await sleep(30);
  await a.request(ApiKey.JoinGroup, 7, joinBody(g, { memberId: ja.memberId, sessionTimeoutMs: 400 }));
  const jb = await jbP;
  assert.equal(jb.generationId, 2);
  const assign = [{ memberId: ja.memberId, assignment: encodeAssignment([{ topic: 'gp', partitions: [0, 1] }]) }, { memberId: jb.memberId, assignment: encodeAssignment([{ topic: 'gp', partitions: [2, 3] }]) }];
  const leader = ja.memberId === jb.leader ? a : b;
  const leaderId = jb.leader;
  const followerP = leader === a ? sync(b, g, 2, jb.memberId) : sync(a, g, 2, ja.memberId);
  await sync(leader, g, 2, leaderId, assign);
  await followerP;

  // A stops heartbeating; B keeps going and is told to rejoin once A's session has run out.
  const started = Date.now();
  let code = 0;
  while (code === 0 && Date.now() - started < 5000) {
    await sleep(50);
    code = (await heartbeatOf(b, g, 2, jb.memberId)).errorCode;
  }
  const elapsed = Date.now() - started;
  assert.equal(code, ErrorCode.REBALANCE_IN_PROGRESS);
  assert.ok(elapsed >= 300 && elapsed < 2000, `removed after ${elapsed} ms`);
  const rejoin = await b.request(ApiKey.JoinGroup, 7, joinBody(g, { memberId: jb.memberId, sessionTimeoutMs: 5000 }));
  assert.equal(rejoin.generationId, 3);
  assert.deepEqual(rejoin.members.map((m: any) => m.memberId), [jb.memberId]);
  const all = encodeAssignment([{ topic: 'gp', partitions: [0, 1, 2, 3] }]);
  const s = await sync(b, g, 3, jb.memberId, [{ memberId: jb.memberId, assignment: all }]);
  assert.ok(s.assignment.equals(all));
  // The removed member is gone.
  assert.equal((await heartbeatOf(a, g, 3, ja.memberId)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  a.close();
  b.close();
});

test('members that do not rejoin within the rebalance timeout are dropped; members that do not sync too', async () => {
  const g = newGroup('rebalance-timeout');
  const a = await member();
  const b = await member();
  const ja = await joinNew(a, g, { rebalanceTimeoutMs: 300 });
  await sync(a, g, 1, ja.memberId);
  // B joins; A never rejoins: after A's rebalance timeout (300 ms) B's join completes without A.
  const started = Date.now();
  const jb = await joinNew(b, g, { rebalanceTimeoutMs: 300 });
  assert.equal(jb.errorCode, 0);
  assert.ok(Date.now() - started >= 250);
  assert.deepEqual([jb.generationId, jb.leader, jb.members.length], [2, jb.memberId, 1]);
  assert.equal((await heartbeatOf(a, g, 1, ja.memberId)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  // B never sends SyncGroup: after the rebalance timeout it is removed too and the group is empty.
  await sleep(600);
  const d = await describe(g);
  assert.deepEqual([d.groupState, d.members.length], ['Empty', 0]);
  a.close();
  b.close();
});

test('pending members (MEMBER_ID_REQUIRED never followed) expire after their session timeout', async () => {
  const g = newGroup('pending');
  const a = await member();
  const ja = await joinNew(a, g);
  await sync(a, g, 1, ja.memberId);
  const b = await member();
  const pending = await b.request(ApiKey.JoinGroup, 7, joinBody(g, { sessionTimeoutMs: 200 }));
  assert.equal(pending.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  await sleep(500);
  // Joining with the expired pending id: unknown.
  const late = await b.request(ApiKey.JoinGroup, 7, joinBody(g, { memberId: pending.memberId, sessionTimeoutMs: 200 }));
  assert.equal(late.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await heartbeatOf(a, g, 1, ja.memberId)).errorCode, 0);
  a.close();
  b.close();
});

test('ListGroups with state and type filters; DescribeGroups of unknown groups; DeleteGroups', async () => {
  const stable = newGroup('list-stable');
  const empty = newGroup('list-empty');
  const a = await member();
  const ja = await joinNew(a, stable);
  await sync(a, stable, 1, ja.memberId);
  const je = await joinNew(a, empty);
  await sync(a, empty, 1, je.memberId);
  await a.request(ApiKey.LeaveGroup, 3, { groupId: empty, members: [{ memberId: je.memberId, groupInstanceId: null }] });

  const all = await c.request(ApiKey.ListGroups, 3, {});
  const mine = (r: any) => r.groups.filter((x: any) => x.groupId === stable || x.groupId === empty).map((x: any) => [x.groupId, x.protocolType, x.groupState]).sort();
  assert.deepEqual(mine(all).map((x: any) => x.slice(0, 2)), [[empty, 'consumer'], [stable, 'consumer']]);
  assert.deepEqual(mine(await c.request(ApiKey.ListGroups, 4, { statesFilter: ['stable'] })), [[stable, 'consumer', 'Stable']]);
  assert.deepEqual(mine(await c.request(ApiKey.ListGroups, 4, { statesFilter: ['Empty', 'Dead'] })), [[empty, 'consumer', 'Empty']]);
  assert.equal(mine(await c.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] })).length, 0);
  const classic = await c.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['Classic'] });
  assert.equal(mine(classic).length, 2);
  assert.ok(classic.groups.every((x: any) => x.groupType === 'classic'));

  const unknown5 = await describe('no-such-group', 5);
  assert.deepEqual([unknown5.errorCode, unknown5.groupState, unknown5.members.length], [0, 'Dead', 0]);
  const unknown6 = await describe('no-such-group', 6);
  assert.deepEqual([unknown6.errorCode, unknown6.groupState], [ErrorCode.GROUP_ID_NOT_FOUND, 'Dead']);

  const del = await c.request(ApiKey.DeleteGroups, 2, { groupsNames: [stable, empty, 'no-such-group'] });
  assert.deepEqual(del.results.map((r: any) => [r.groupId, r.errorCode]), [[stable, ErrorCode.NON_EMPTY_GROUP], [empty, 0], ['no-such-group', ErrorCode.GROUP_ID_NOT_FOUND]]);
  assert.equal((await describe(empty, 6)).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal((await heartbeatOf(a, stable, 1, ja.memberId)).errorCode, 0);
  a.close();
});

test('group.max.size: one member too many gets GROUP_MAX_SIZE_REACHED', async () => {
  const small = await startTestBroker({ 'group.initial.rebalance.delay.ms': 0, 'group.max.size': 1 });
  const a = await RawClient.connect(small.port);
  const b = await RawClient.connect(small.port);
  const ja = await joinNew(a, 'max-size');
  assert.equal(ja.errorCode, 0);
  await sync(a, 'max-size', 1, ja.memberId);
  const jb = await joinNew(b, 'max-size');
  assert.equal(jb.errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
  assert.equal((await heartbeatOf(a, 'max-size', 1, ja.memberId)).errorCode, 0);
  a.close();
  b.close();
  await small.close();
});

test('the initial rebalance delay gathers the members of a new group into its first generation', async () => {
  const delayed = await startTestBroker({ 'group.initial.rebalance.delay.ms': 400 });
  const clients = await Promise.all([0, 1, 2].map(() => RawClient.connect(delayed.port)));
  const started = Date.now();
  const joins = await Promise.all(clients.map(async (cl, i) => {
    await sleep(i * 100);
    return joinNew(cl, 'delayed');
  }));
  assert.ok(Date.now() - started >= 400);
  assert.deepEqual(joins.map((j) => j.generationId), [1, 1, 1]);
  assert.equal(joins.find((j) => j.memberId === j.leader)!.members.length, 3);
  for (const cl of clients) cl.close();
  await delayed.close();
});
