/**
 * What issue 4 keeps in the coordinator survives a broker restart (two `floe start` processes on one data
 * dir, the first killed with SIGKILL): committed offsets (simple and member commits, with metadata), topic
 * configs altered at runtime, partitions added, and the groups themselves — a Stable group comes back
 * Stable with its generation, members and assignments, so its member goes on heartbeating as if nothing
 * happened, and is removed once it stops; empty and offset-only groups are listed again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnBroker } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopic, topicMetadata } from '../helpers/topics.ts';
import { sleep } from '../helpers/wait.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { encodeAssignment, encodeSubscription } from '../../src/groups/consumer-protocol.ts';

const OVERRIDES = { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 500 };

function commitBody(groupId: string, generation: number, memberId: string, partitions: [number, bigint, string][]) {
  return {
    groupId, generationIdOrMemberEpoch: generation, memberId, groupInstanceId: null,
    topics: [{ name: 'rs', partitions: partitions.map(([partitionIndex, committedOffset, committedMetadata]) => ({ partitionIndex, committedOffset, committedLeaderEpoch: 2, committedMetadata })) }],
  };
}

async function fetchOffsets(c: RawClient, groupId: string) {
  const r = await c.request(ApiKey.OffsetFetch, 8, { groups: [{ groupId, memberId: null, memberEpoch: -1, topics: null }], requireStable: false });
  return r.groups[0].topics.flatMap((t: any) => t.partitions.map((p: any) => `${t.name}:${p.partitionIndex}=${p.committedOffset}/${p.committedLeaderEpoch}/${p.metadata}`)).sort();
}

test('offsets, groups, topic configs and partition counts survive a broker restart (SIGKILL)', { timeout: 180_000 }, async () => {
  const dir = await tempDir();
  const first = await spawnBroker(dir, OVERRIDES);
  const c = await RawClient.connect(first.port);
  await createTopic(c, 'rs', 2);
  const altered = await c.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [{ resourceType: 2, resourceName: 'rs', configs: [{ name: 'retention.ms', configOperation: 0, value: '123456' }, { name: 'max.message.bytes', configOperation: 0, value: '65536' }] }],
    validateOnly: false,
  });
  assert.equal(altered.responses[0].errorCode, 0);
  const grown = await c.request(ApiKey.CreatePartitions, 3, { topics: [{ name: 'rs', count: 3, assignments: null }], timeoutMs: 5000, validateOnly: false });
  assert.equal(grown.results[0].errorCode, 0);

  // A simple group (offsets only).
  const simple = await c.request(ApiKey.OffsetCommit, 8, commitBody('simple', -1, '', [[0, 11n, 'a'], [2, 13n, 'c']]));
  assert.deepEqual(simple.topics[0].partitions.map((p: any) => p.errorCode), [0, 0]);
  // A Stable group with one member, its assignment and a member commit.
  const member = await RawClient.connect(first.port);
  const joinBody = (memberId: string) => ({ groupId: 'live', sessionTimeoutMs: 2000, rebalanceTimeoutMs: 5000, memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: encodeSubscription(['rs']) }], reason: null });
  const required = await member.request(ApiKey.JoinGroup, 7, joinBody(''));
  const joined = await member.request(ApiKey.JoinGroup, 7, joinBody(required.memberId));
  const assignment = encodeAssignment([{ topic: 'rs', partitions: [0, 1, 2] }]);
  await member.request(ApiKey.SyncGroup, 5, { groupId: 'live', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: joined.memberId, assignment }] });
  const live = await member.request(ApiKey.OffsetCommit, 8, commitBody('live', joined.generationId, joined.memberId, [[1, 21n, 'live']]));
  assert.equal(live.topics[0].partitions[0].errorCode, 0);
  // An empty consumer group with offsets (its member left).
  const other = await RawClient.connect(first.port);
  const req2 = await other.request(ApiKey.JoinGroup, 7, { ...joinBody(''), groupId: 'left' });
  const j2 = await other.request(ApiKey.JoinGroup, 7, { ...joinBody(req2.memberId), groupId: 'left' });
  await other.request(ApiKey.SyncGroup, 5, { groupId: 'left', generationId: j2.generationId, memberId: j2.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
  await other.request(ApiKey.OffsetCommit, 8, commitBody('left', j2.generationId, j2.memberId, [[0, 31n, '']]));
  await other.request(ApiKey.LeaveGroup, 4, { groupId: 'left', members: [{ memberId: j2.memberId, groupInstanceId: null }] });
  other.close();

  const before = { simple: await fetchOffsets(c, 'simple'), live: await fetchOffsets(c, 'live'), left: await fetchOffsets(c, 'left') };
  assert.deepEqual(before.simple, ['rs:0=11/2/a', 'rs:2=13/2/c']);
  c.close();
  member.close();
  first.child.kill('SIGKILL');
  await first.exited;

  const second = await spawnBroker(dir, OVERRIDES);
  const d = await RawClient.connect(second.port);
  assert.deepEqual({ simple: await fetchOffsets(d, 'simple'), live: await fetchOffsets(d, 'live'), left: await fetchOffsets(d, 'left') }, before);

  const configs = await d.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: 'rs', configurationKeys: ['retention.ms', 'max.message.bytes'] }], includeSynonyms: false, includeDocumentation: false });
  assert.deepEqual(configs.results[0].configs.map((e: any) => [e.name, e.value, e.configSource]).sort(), [['max.message.bytes', '65536', 1], ['retention.ms', '123456', 1]]);
  assert.equal((await topicMetadata(d, 'rs')).partitions.length, 3);

  const listed = await d.request(ApiKey.ListGroups, 4, { statesFilter: [] });
  assert.deepEqual(listed.groups.map((g: any) => [g.groupId, g.protocolType, g.groupState]).sort(), [['left', 'consumer', 'Empty'], ['live', 'consumer', 'Stable'], ['simple', '', 'Empty']]);
  const described = await d.request(ApiKey.DescribeGroups, 5, { groups: ['live'], includeAuthorizedOperations: false });
  const g = described.groups[0];
  assert.deepEqual([g.groupState, g.protocolData, g.members.length, g.members[0].memberId], ['Stable', 'range', 1, joined.memberId]);
  assert.ok(g.members[0].memberAssignment.equals(assignment));

  // The member carries on with its generation; SyncGroup returns its assignment.
  const m2 = await RawClient.connect(second.port);
  const hb = () => m2.request(ApiKey.Heartbeat, 4, { groupId: 'live', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null }).then((r: any) => r.errorCode);
  assert.equal(await hb(), 0);
  const s = await m2.request(ApiKey.SyncGroup, 5, { groupId: 'live', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
  assert.ok(s.assignment.equals(assignment));
  const more = await m2.request(ApiKey.OffsetCommit, 8, commitBody('live', joined.generationId, joined.memberId, [[1, 22n, 'after']]));
  assert.equal(more.topics[0].partitions[0].errorCode, 0);
  // Once it stops heartbeating, its session (2 s) runs out and the group becomes empty.
  await sleep(3000);
  assert.equal(await hb(), ErrorCode.UNKNOWN_MEMBER_ID);
  const after = await d.request(ApiKey.DescribeGroups, 5, { groups: ['live'], includeAuthorizedOperations: false });
  assert.equal(after.groups[0].groupState, 'Empty');
  assert.deepEqual(await fetchOffsets(d, 'live'), ['rs:1=22/2/after']);
  m2.close();
  d.close();
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
});
