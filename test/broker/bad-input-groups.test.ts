/**
 * Bad input for groups, offsets and the admin APIs (issue 4, "Bad input"): unknown groups, members and
 * generations, empty or oversized group ids, wrong protocol types, invalid session timeouts, commits for
 * unknown topics, config values out of range or of the wrong type, partition counts that shrink, records
 * deleted beyond the end. Each gets Kafka's error code, and after each one a Stable group, its committed
 * offsets, a topic's configs and its partitions are checked to be exactly as before.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { createTopic } from '../helpers/topics.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { encodeSubscription } from '../../src/groups/consumer-protocol.ts';

let broker: TestBroker;
let c: RawClient;
let victim: { memberId: string; generationId: number };

const GROUP = 'victim';
const LONG_ID = 'g'.repeat(3000);
const SUB = encodeSubscription(['bi']);

function joinBody(groupId: string, o: { memberId?: string; protocolType?: string; sessionTimeoutMs?: number; protocols?: { name: string; metadata: Buffer }[] } = {}) {
  return {
    groupId, sessionTimeoutMs: o.sessionTimeoutMs ?? 30_000, rebalanceTimeoutMs: 30_000, memberId: o.memberId ?? '', groupInstanceId: null,
    protocolType: o.protocolType ?? 'consumer', protocols: o.protocols ?? [{ name: 'range', metadata: SUB }], reason: null,
  };
}

const heartbeat = (groupId: string, memberId: string, generationId: number) => c.request(ApiKey.Heartbeat, 4, { groupId, generationId, memberId, groupInstanceId: null }).then((r: any) => r.errorCode);
const syncGroup = (groupId: string, memberId: string, generationId: number, protocolType: string | null = 'consumer') =>
  c.request(ApiKey.SyncGroup, 5, { groupId, generationId, memberId, groupInstanceId: null, protocolType, protocolName: 'range', assignments: [] }).then((r: any) => r.errorCode);
const leave = (groupId: string, memberId: string) => c.request(ApiKey.LeaveGroup, 4, { groupId, members: [{ memberId, groupInstanceId: null }] }).then((r: any) => r.errorCode || r.members[0]?.errorCode);
const commitCode = (groupId: string, generation: number, memberId: string, topic = 'bi', partition = 0) =>
  c.request(ApiKey.OffsetCommit, 8, { groupId, generationIdOrMemberEpoch: generation, memberId, groupInstanceId: null, topics: [{ name: topic, partitions: [{ partitionIndex: partition, committedOffset: 99n, committedLeaderEpoch: -1, committedMetadata: '' }] }] })
    .then((r: any) => r.topics[0].partitions[0].errorCode);

before(async () => {
  broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': 0, 'auto.create.topics.enable': false });
  c = await RawClient.connect(broker.port);
  await createTopic(c, 'bi', 2, { 'retention.ms': '86400000' });
  const m = await RawClient.connect(broker.port);
  const first = await m.request(ApiKey.JoinGroup, 7, joinBody(GROUP));
  const j = await m.request(ApiKey.JoinGroup, 7, joinBody(GROUP, { memberId: first.memberId }));
  await m.request(ApiKey.SyncGroup, 5, { groupId: GROUP, generationId: j.generationId, memberId: j.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: j.memberId, assignment: Buffer.from('a') }] });
  victim = { memberId: j.memberId, generationId: j.generationId };
  m.close();
  assert.equal(await commitCode(GROUP, victim.generationId, victim.memberId), 0);
});

/** The Stable group, its offsets, the topic's configs and partitions are as they were. */
async function assertUndisturbed(label: string): Promise<void> {
  assert.equal(await heartbeat(GROUP, victim.memberId, victim.generationId), 0, `${label}: heartbeat`);
  const d = await c.request(ApiKey.DescribeGroups, 5, { groups: [GROUP], includeAuthorizedOperations: false });
  assert.deepEqual([d.groups[0].groupState, d.groups[0].members.length], ['Stable', 1], `${label}: group`);
  const f = await c.request(ApiKey.OffsetFetch, 7, { groupId: GROUP, topics: null, requireStable: false });
  assert.deepEqual(f.topics.map((t: any) => t.partitions.map((p: any) => Number(p.committedOffset))), [[99]], `${label}: offsets`);
  const cfg = await c.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: 'bi', configurationKeys: ['retention.ms'] }], includeSynonyms: false, includeDocumentation: false });
  assert.equal(cfg.results[0].configs[0].value, '86400000', `${label}: config`);
  const md = await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'bi', topicId: '00000000-0000-0000-0000-000000000000' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  assert.equal(md.topics[0].partitions.length, 2, `${label}: partitions`);
}

test('unknown groups: UNKNOWN_MEMBER_ID for member operations, GROUP_ID_NOT_FOUND for group operations', async () => {
  assert.equal(await heartbeat('nope', 'm', 1), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(await syncGroup('nope', 'm', 1), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(await leave('nope', 'm'), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await c.request(ApiKey.JoinGroup, 7, joinBody('nope', { memberId: 'm' }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await c.request(ApiKey.OffsetDelete, 0, { groupId: 'nope', topics: [{ name: 'bi', partitions: [{ partitionIndex: 0 }] }] })).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal((await c.request(ApiKey.DeleteGroups, 2, { groupsNames: ['nope'] })).results[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal((await c.request(ApiKey.DescribeGroups, 6, { groups: ['nope'], includeAuthorizedOperations: false })).groups[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal(await commitCode('nope', 4, 'm'), ErrorCode.ILLEGAL_GENERATION);
  await assertUndisturbed('unknown groups');
});

test('unknown members and wrong generations of an existing group', async () => {
  assert.equal(await heartbeat(GROUP, 'ghost', victim.generationId), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(await syncGroup(GROUP, 'ghost', victim.generationId), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(await leave(GROUP, 'ghost'), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(await commitCode(GROUP, victim.generationId, 'ghost'), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(await commitCode(GROUP, -1, ''), ErrorCode.UNKNOWN_MEMBER_ID); // simple commits only into empty groups
  for (const g of [victim.generationId + 5, victim.generationId - 1, -1]) {
    assert.equal(await heartbeat(GROUP, victim.memberId, g), ErrorCode.ILLEGAL_GENERATION, `heartbeat ${g}`);
    assert.equal(await syncGroup(GROUP, victim.memberId, g), ErrorCode.ILLEGAL_GENERATION, `sync ${g}`);
    assert.equal(await commitCode(GROUP, g, victim.memberId), ErrorCode.ILLEGAL_GENERATION, `commit ${g}`);
  }
  // The group's error wins over a too-large metadata, as in Kafka (the group is checked first).
  const big = await c.request(ApiKey.OffsetCommit, 8, { groupId: GROUP, generationIdOrMemberEpoch: victim.generationId + 1, memberId: victim.memberId, groupInstanceId: null, topics: [{ name: 'bi', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: 'x'.repeat(5000) }] }] });
  assert.equal(big.topics[0].partitions[0].errorCode, ErrorCode.ILLEGAL_GENERATION);
  await assertUndisturbed('unknown members');
});

test('empty and oversized group ids: INVALID_GROUP_ID', async () => {
  for (const id of ['', LONG_ID]) {
    const label = id === '' ? 'empty' : 'oversized';
    assert.equal((await c.request(ApiKey.JoinGroup, 7, joinBody(id))).errorCode, ErrorCode.INVALID_GROUP_ID, `join ${label}`);
    assert.equal(await syncGroup(id, 'm', 1), ErrorCode.INVALID_GROUP_ID, `sync ${label}`);
    assert.equal(await heartbeat(id, 'm', 1), ErrorCode.INVALID_GROUP_ID, `heartbeat ${label}`);
    assert.equal(await leave(id, 'm'), ErrorCode.INVALID_GROUP_ID, `leave ${label}`);
    assert.equal((await c.request(ApiKey.OffsetDelete, 0, { groupId: id, topics: [] })).errorCode, ErrorCode.INVALID_GROUP_ID, `offset delete ${label}`);
  }
  // Kafka accepts the empty group id for OffsetCommit/OffsetFetch/DescribeGroups/DeleteGroups; not an oversized one.
  assert.equal(await commitCode(LONG_ID, -1, ''), ErrorCode.INVALID_GROUP_ID);
  assert.equal((await c.request(ApiKey.OffsetFetch, 7, { groupId: LONG_ID, topics: null, requireStable: false })).errorCode, ErrorCode.INVALID_GROUP_ID);
  assert.equal((await c.request(ApiKey.DescribeGroups, 5, { groups: [LONG_ID], includeAuthorizedOperations: false })).groups[0].errorCode, ErrorCode.INVALID_GROUP_ID);
  assert.equal((await c.request(ApiKey.DeleteGroups, 2, { groupsNames: [LONG_ID] })).results[0].errorCode, ErrorCode.INVALID_GROUP_ID);
  const list = await c.request(ApiKey.ListGroups, 4, { statesFilter: [] });
  assert.ok(!list.groups.some((g: any) => g.groupId === LONG_ID));
  await assertUndisturbed('group ids');
});

test('wrong protocol types and protocols: INCONSISTENT_GROUP_PROTOCOL; bad session timeouts: INVALID_SESSION_TIMEOUT', async () => {
  assert.equal((await c.request(ApiKey.JoinGroup, 7, joinBody(GROUP, { protocolType: 'connect' }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await c.request(ApiKey.JoinGroup, 7, joinBody(GROUP, { memberId: victim.memberId, protocolType: 'connect' }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await c.request(ApiKey.JoinGroup, 7, joinBody(GROUP, { protocols: [{ name: 'other', metadata: SUB }] }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal(await syncGroup(GROUP, victim.memberId, victim.generationId, 'connect'), ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await c.request(ApiKey.JoinGroup, 7, joinBody('fresh', { protocolType: '' }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  for (const ms of [1, 5999, 1_800_001, -1]) {
    assert.equal((await c.request(ApiKey.JoinGroup, 7, joinBody(GROUP, { memberId: victim.memberId, sessionTimeoutMs: ms }))).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT, `${ms}`);
  }
  await assertUndisturbed('protocols');
});

test('commits for unknown topics and partitions: UNKNOWN_TOPIC_OR_PARTITION', async () => {
  assert.equal(await commitCode(GROUP, victim.generationId, victim.memberId, 'no-such-topic', 0), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal(await commitCode(GROUP, victim.generationId, victim.memberId, 'bi', 2), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal(await commitCode(GROUP, victim.generationId, victim.memberId, 'bi', -1), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  await assertUndisturbed('unknown topics');
});

test('config values out of range or of the wrong type: INVALID_CONFIG (both alter APIs)', async () => {
  for (const value of ['-7', 'forever', '1.5', '99999999999999999999']) {
    const inc = await c.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: 'bi', configs: [{ name: 'retention.ms', configOperation: 0, value }] }], validateOnly: false });
    assert.equal(inc.responses[0].errorCode, ErrorCode.INVALID_CONFIG, value);
    const alt = await c.request(ApiKey.AlterConfigs, 2, { resources: [{ resourceType: 2, resourceName: 'bi', configs: [{ name: 'retention.ms', value }] }], validateOnly: false });
    assert.equal(alt.responses[0].errorCode, ErrorCode.INVALID_CONFIG, value);
  }
  const bool = await c.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: 'bi', configs: [{ name: 'preallocate', configOperation: 0, value: 'maybe' }] }], validateOnly: false });
  assert.equal(bool.responses[0].errorCode, ErrorCode.INVALID_CONFIG);
  await assertUndisturbed('configs');
});

test('partition counts that shrink or stay: INVALID_PARTITIONS; DeleteRecords beyond the end: OFFSET_OUT_OF_RANGE', async () => {
  for (const count of [1, 2, 0, -3]) {
    const r = await c.request(ApiKey.CreatePartitions, 3, { topics: [{ name: 'bi', count, assignments: null }], timeoutMs: 5000, validateOnly: false });
    assert.equal(r.results[0].errorCode, ErrorCode.INVALID_PARTITIONS, `${count}`);
  }
  const d = await c.request(ApiKey.DeleteRecords, 2, { topics: [{ name: 'bi', partitions: [{ partitionIndex: 0, offset: 5n }] }], timeoutMs: 5000 });
  assert.equal(d.topics[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  await assertUndisturbed('partitions');
});
