/**
 * One namespace for the three kinds of group, answered as Kafka 4.1/4.2's GroupMetadataManager does (raw
 * requests): a classic JoinGroup naming a share group gets INCONSISTENT_GROUP_PROTOCOL with no member id,
 * SyncGroup/Heartbeat/LeaveGroup UNKNOWN_MEMBER_ID, ConsumerGroupHeartbeat and ConsumerGroupDescribe
 * GROUP_ID_NOT_FOUND "Group X is not a consumer group.", OffsetCommit GROUP_ID_NOT_FOUND (and no simple group
 * is created); a ShareGroupHeartbeat naming a classic, consumer or offsets-only group gets GROUP_ID_NOT_FOUND
 * "Group X is not a share group.", also when another broker coordinates that group; DescribeGroups on a
 * consumer group: "Group X is not a classic group." (v6), Dead without an error before.
 * Two brokers on one real PostgreSQL, so that groups live on different coordinators.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { encodeSubscription } from '../../src/groups/consumer-protocol.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopic } from '../helpers/topics.ts';
import { waitFor } from '../helpers/wait.ts';

const TOPIC = 'kinds-topic';

let a: TestBroker;
let b: TestBroker;
let ca: RawClient;
let cb: RawClient;

before(async () => {
  const url = await freshDatabase();
  const shared = {
    'diskless.coordinator.url': url,
    'diskless.object.store.url': `file://${await tempDir('floe-kinds-objects-')}`,
    'group.initial.rebalance.delay.ms': 0,
  };
  a = await startTestBroker({ ...shared, 'node.id': 1 });
  b = await startTestBroker({ ...shared, 'node.id': 2 });
  [ca, cb] = await Promise.all([RawClient.connect(a.port), RawClient.connect(b.port)]);
  await createTopic(ca, TOPIC, 2);
  // Both brokers see each other (group placement is by hash over the live brokers).
  await waitFor('two live brokers', async () => (await ca.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })).brokers.length === 2
    && (await cb.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })).brokers.length === 2, { timeoutMs: 30_000 });
});

after(() => {
  ca?.close();
  cb?.close();
});

/** The connection to the broker that coordinates the group, and one to the other broker. */
async function coordinatorOf(group: string): Promise<{ coordinator: RawClient; other: RawClient }> {
  const r = await ca.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: [group] });
  const nodeId = r.coordinators[0].nodeId;
  assert.equal(r.coordinators[0].errorCode, 0);
  return nodeId === 1 ? { coordinator: ca, other: cb } : { coordinator: cb, other: ca };
}

const memberId = () => randomUUID().replace(/-/g, '').slice(0, 22);

function shareHeartbeat(c: RawClient, group: string, id = memberId(), epoch = 0): Promise<any> {
  return c.request(ApiKey.ShareGroupHeartbeat, 1, { groupId: group, memberId: id, memberEpoch: epoch, rackId: null, subscribedTopicNames: epoch === 0 ? [TOPIC] : null });
}

function consumerHeartbeat(c: RawClient, group: string, epoch = 0, id = memberId()): Promise<any> {
  return c.request(ApiKey.ConsumerGroupHeartbeat, 1, {
    groupId: group, memberId: id, memberEpoch: epoch, instanceId: null, rackId: null, rebalanceTimeoutMs: epoch === 0 ? 30_000 : -1,
    subscribedTopicNames: epoch === 0 ? [TOPIC] : null, subscribedTopicRegex: null, serverAssignor: null, topicPartitions: epoch === 0 ? [] : null,
  });
}

function joinGroup(c: RawClient, group: string, version = 9, member = ''): Promise<any> {
  return c.request(ApiKey.JoinGroup, version, {
    groupId: group, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: member, groupInstanceId: null, protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: encodeSubscription([TOPIC]) }], reason: null,
  });
}

function commit(c: RawClient, group: string, version = 9, generation = -1): Promise<number> {
  return c.request(ApiKey.OffsetCommit, version, {
    groupId: group, generationIdOrMemberEpoch: generation, memberId: '', groupInstanceId: null, retentionTimeMs: -1n,
    topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, committedMetadata: '' }] }],
  }).then((r: any) => r.topics[0].partitions[0].errorCode);
}

test('classic and consumer-protocol requests naming a share group get Kafka\'s errors, and create nothing', async () => {
  const group = 'kinds-share';
  const { coordinator } = await coordinatorOf(group);
  const joined = await shareHeartbeat(ca, group);
  assert.equal(joined.errorCode, 0, joined.errorMessage);

  for (const v of [5, 9]) {
    const j = await joinGroup(coordinator, group, v);
    assert.equal(j.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `JoinGroup v${v}`);
    assert.equal(j.memberId, '');
    assert.equal(j.generationId, -1);
  }
  const sync = await coordinator.request(ApiKey.SyncGroup, 5, { groupId: group, generationId: 1, memberId: 'm', groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
  assert.equal(sync.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const hb = await coordinator.request(ApiKey.Heartbeat, 4, { groupId: group, generationId: 1, memberId: 'm', groupInstanceId: null });
  assert.equal(hb.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const leave = await coordinator.request(ApiKey.LeaveGroup, 5, { groupId: group, members: [{ memberId: 'm', groupInstanceId: null, reason: null }] });
  assert.deepEqual([leave.errorCode, leave.members.map((m: any) => m.errorCode)], [0, [ErrorCode.UNKNOWN_MEMBER_ID]]);

  for (const epoch of [0, 3]) {
    const r = await consumerHeartbeat(coordinator, group, epoch);
    assert.equal(r.errorCode, ErrorCode.GROUP_ID_NOT_FOUND, `ConsumerGroupHeartbeat epoch ${epoch}`);
    assert.equal(r.errorMessage, `Group ${group} is not a consumer group.`);
  }
  const described = await coordinator.request(ApiKey.ConsumerGroupDescribe, 1, { groupIds: [group], includeAuthorizedOperations: false });
  assert.deepEqual(described.groups.map((g: any) => [g.errorCode, g.errorMessage]), [[ErrorCode.GROUP_ID_NOT_FOUND, `Group ${group} is not a consumer group.`]]);
  const nothing = await (await coordinatorOf('kinds-nothing')).coordinator.request(ApiKey.ConsumerGroupDescribe, 1, { groupIds: ['kinds-nothing'], includeAuthorizedOperations: false });
  assert.deepEqual(nothing.groups.map((g: any) => [g.errorCode, g.errorMessage]), [[ErrorCode.GROUP_ID_NOT_FOUND, 'Group kinds-nothing not found.']]);

  // OffsetCommit: refused at every version, simple (generation -1) or not; no classic group appears.
  for (const [v, generation] of [[2, -1], [8, -1], [9, -1], [9, 4]] as const) {
    assert.equal(await commit(coordinator, group, v, generation), ErrorCode.GROUP_ID_NOT_FOUND, `OffsetCommit v${v} generation ${generation}`);
  }
  const listed = await coordinator.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: [] });
  assert.deepEqual(listed.groups.filter((g: any) => g.groupId === group).map((g: any) => g.groupType), ['share']);
  // The share group carries on.
  assert.equal((await shareHeartbeat(cb, group)).errorCode, 0);
});

test('ShareGroupHeartbeat naming a classic, consumer or offsets-only group: "not a share group", from either broker', async () => {
  const classic = 'kinds-classic';
  {
    const { coordinator } = await coordinatorOf(classic);
    const first = await joinGroup(coordinator, classic);
    assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    const j = await joinGroup(coordinator, classic, 9, first.memberId);
    assert.equal(j.errorCode, 0);
    const s = await coordinator.request(ApiKey.SyncGroup, 5, { groupId: classic, generationId: j.generationId, memberId: j.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: j.memberId, assignment: Buffer.alloc(0) }] });
    assert.equal(s.errorCode, 0);
  }
  const consumer = 'kinds-consumer';
  assert.equal((await consumerHeartbeat((await coordinatorOf(consumer)).coordinator, consumer)).errorCode, 0);
  const simple = 'kinds-simple';
  assert.equal(await commit((await coordinatorOf(simple)).coordinator, simple), 0);

  for (const group of [classic, consumer, simple]) {
    for (const c of [ca, cb]) {
      const r = await shareHeartbeat(c, group);
      assert.equal(r.errorCode, ErrorCode.GROUP_ID_NOT_FOUND, `${group} via broker ${c === ca ? 1 : 2}`);
      assert.equal(r.errorMessage, `Group ${group} is not a share group.`);
    }
  }
  const listed = await ca.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['share'] });
  assert.deepEqual(listed.groups.filter((g: any) => [classic, consumer, simple].includes(g.groupId)), []);
});

test('DescribeGroups on a KIP-848 consumer group: "is not a classic group." at v6, Dead without an error before', async () => {
  const group = 'kinds-describe';
  const { coordinator } = await coordinatorOf(group);
  assert.equal((await consumerHeartbeat(coordinator, group)).errorCode, 0);
  const v6 = await coordinator.request(ApiKey.DescribeGroups, 6, { groups: [group], includeAuthorizedOperations: false });
  assert.deepEqual([v6.groups[0].errorCode, v6.groups[0].errorMessage, v6.groups[0].groupState], [ErrorCode.GROUP_ID_NOT_FOUND, `Group ${group} is not a classic group.`, 'Dead']);
  const v5 = await coordinator.request(ApiKey.DescribeGroups, 5, { groups: [group], includeAuthorizedOperations: false });
  assert.deepEqual([v5.groups[0].errorCode, v5.groups[0].groupState, v5.groups[0].members], [0, 'Dead', []]);
});
