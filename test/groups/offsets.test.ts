/**
 * Committed offsets through raw requests: OffsetCommit v2-v9 (simple and member commits), OffsetFetch
 * v1-v9 (including several groups per request), OffsetDelete, expiry, and what DeleteGroups and
 * DeleteTopics do to offsets.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { encodeSubscription } from '../../src/groups/consumer-protocol.ts';

let broker: TestBroker;
let c: RawClient;

before(async () => {
  broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': 0, 'auto.create.topics.enable': false });
  c = await RawClient.connect(broker.port);
  const r = await c.request(ApiKey.CreateTopics, 7, {
    topics: [
      { name: 'oa', numPartitions: 3, replicationFactor: 1, configs: [] },
      { name: 'ob', numPartitions: 1, replicationFactor: 1, configs: [] },
    ],
    timeoutMs: 5000,
  });
  for (const t of r.topics) assert.equal(t.errorCode, 0);
});

interface Part { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch?: number; committedMetadata?: string | null }

function commit(version: number, groupId: string, topics: { name: string; partitions: Part[] }[], member: { generation?: number; memberId?: string; instanceId?: string | null; retentionTimeMs?: bigint } = {}) {
  return c.request(ApiKey.OffsetCommit, version, {
    groupId,
    generationIdOrMemberEpoch: member.generation ?? -1,
    memberId: member.memberId ?? '',
    groupInstanceId: member.instanceId ?? null,
    retentionTimeMs: member.retentionTimeMs ?? -1n,
    topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ committedLeaderEpoch: -1, committedMetadata: '', ...p })) })),
  });
}

const codes = (r: any) => r.topics.map((t: any) => [t.name, t.partitions.map((p: any) => p.errorCode)]);

async function fetchOne(groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null, version = 7) {
  return c.request(ApiKey.OffsetFetch, version, { groupId, topics, requireStable: false });
}

const offsetsOf = (r: any) => r.topics.flatMap((t: any) => t.partitions.map((p: any) => `${t.name}:${p.partitionIndex}=${p.committedOffset}`)).sort();

test('simple commits (no member, generation -1) at every version, read back at every version', async () => {
  for (let v = 2; v <= 9; v++) {
    const g = `simple-v${v}`;
    const r = await commit(v, g, [{ name: 'oa', partitions: [{ partitionIndex: 0, committedOffset: BigInt(v * 10), committedLeaderEpoch: 3, committedMetadata: `meta-${v}` }, { partitionIndex: 1, committedOffset: 7n, committedMetadata: null }] }]);
    assert.deepEqual(codes(r), [['oa', [0, 0]]], `v${v}`);
    for (let fv = 1; fv <= 7; fv++) {
      const f = await fetchOne(g, [{ name: 'oa', partitionIndexes: [0, 1, 2] }], fv);
      const parts = f.topics[0].partitions;
      assert.deepEqual(parts.map((p: any) => [p.partitionIndex, Number(p.committedOffset), p.metadata, p.errorCode]),
        [[0, v * 10, `meta-${v}`, 0], [1, 7, '', 0], [2, -1, '', 0]], `commit v${v} fetch v${fv}`);
      if (fv >= 5) assert.deepEqual(parts.map((p: any) => p.committedLeaderEpoch), [v >= 6 ? 3 : -1, -1, -1]);
      if (fv >= 2) assert.equal(f.errorCode, 0);
    }
  }
});

test('OffsetFetch: all topics (null), unknown groups and topics give -1, several groups at once (v8+)', async () => {
  await commit(8, 'fetch-a', [{ name: 'oa', partitions: [{ partitionIndex: 2, committedOffset: 5n }] }, { name: 'ob', partitions: [{ partitionIndex: 0, committedOffset: 9n }] }]);
  await commit(8, 'fetch-b', [{ name: 'ob', partitions: [{ partitionIndex: 0, committedOffset: 1n }] }]);
  assert.deepEqual(offsetsOf(await fetchOne('fetch-a', null, 2)), ['oa:2=5', 'ob:0=9']);
  assert.deepEqual(offsetsOf(await fetchOne('fetch-a', null, 7)), ['oa:2=5', 'ob:0=9']);
  assert.deepEqual(offsetsOf(await fetchOne('nobody', null)), []);
  assert.deepEqual(offsetsOf(await fetchOne('nobody', [{ name: 'oa', partitionIndexes: [0] }, { name: 'nosuch', partitionIndexes: [0] }])), ['nosuch:0=-1', 'oa:0=-1']);
  for (const v of [8, 9]) {
    const r = await c.request(ApiKey.OffsetFetch, v, {
      groups: [
        { groupId: 'fetch-a', memberId: null, memberEpoch: -1, topics: null },
        { groupId: 'fetch-b', memberId: null, memberEpoch: -1, topics: [{ name: 'ob', partitionIndexes: [0] }, { name: 'oa', partitionIndexes: [1] }] },
        { groupId: 'x'.repeat(3000), memberId: null, memberEpoch: -1, topics: null },
        { groupId: 'nobody', memberId: null, memberEpoch: -1, topics: null },
      ],
      requireStable: true,
    });
    assert.deepEqual(r.groups.map((g: any) => [g.groupId.slice(0, 8), g.errorCode, offsetsOf(g)]), [
      ['fetch-a', 0, ['oa:2=5', 'ob:0=9']],
      ['fetch-b', 0, ['oa:1=-1', 'ob:0=1']],
      ['xxxxxxxx', ErrorCode.INVALID_GROUP_ID, []],
      ['nobody', 0, []],
    ]);
  }
});

test('OffsetCommit per-partition errors: unknown topic or partition, metadata too large; the rest is committed', async () => {
  const r = await commit(8, 'partial', [
    { name: 'oa', partitions: [{ partitionIndex: 0, committedOffset: 1n }, { partitionIndex: 3, committedOffset: 1n }, { partitionIndex: -1, committedOffset: 1n }, { partitionIndex: 1, committedOffset: 1n, committedMetadata: 'm'.repeat(4097) }, { partitionIndex: 2, committedOffset: 1n, committedMetadata: 'm'.repeat(4096) }] },
    { name: 'nosuch', partitions: [{ partitionIndex: 0, committedOffset: 1n }] },
  ]);
  assert.deepEqual(codes(r), [
    ['oa', [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.OFFSET_METADATA_TOO_LARGE, 0]],
    ['nosuch', [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
  ]);
  assert.deepEqual(offsetsOf(await fetchOne('partial', null)), ['oa:0=1', 'oa:2=1']);
});

test('member commits: generation and member checks; simple commits refused while the group has members', async () => {
  const m = await RawClient.connect(broker.port);
  const body = (memberId: string) => ({ groupId: 'members', sessionTimeoutMs: 30000, rebalanceTimeoutMs: 30000, memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: encodeSubscription(['oa']) }], reason: null });
  const first = await m.request(ApiKey.JoinGroup, 7, body(''));
  const j = await m.request(ApiKey.JoinGroup, 7, body(first.memberId));
  await m.request(ApiKey.SyncGroup, 5, { groupId: 'members', generationId: j.generationId, memberId: j.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
  const p = [{ name: 'oa', partitions: [{ partitionIndex: 0, committedOffset: 42n }] }];
  assert.deepEqual(codes(await commit(8, 'members', p, { generation: j.generationId, memberId: j.memberId })), [['oa', [0]]]);
  assert.deepEqual(codes(await commit(8, 'members', p, { generation: j.generationId + 1, memberId: j.memberId })), [['oa', [ErrorCode.ILLEGAL_GENERATION]]]);
  assert.deepEqual(codes(await commit(8, 'members', p, { generation: j.generationId, memberId: 'ghost' })), [['oa', [ErrorCode.UNKNOWN_MEMBER_ID]]]);
  assert.deepEqual(codes(await commit(8, 'members', p)), [['oa', [ErrorCode.UNKNOWN_MEMBER_ID]]]);
  // A generation for a group that does not exist: ILLEGAL_GENERATION, from v9 GROUP_ID_NOT_FOUND (Kafka 4);
  // the group is not created.
  assert.deepEqual(codes(await commit(8, 'never-joined', p, { generation: 3, memberId: 'm' })), [['oa', [ErrorCode.ILLEGAL_GENERATION]]]);
  assert.deepEqual(codes(await commit(9, 'never-joined', p, { generation: 3, memberId: 'm' })), [['oa', [ErrorCode.GROUP_ID_NOT_FOUND]]]);
  const list = await c.request(ApiKey.ListGroups, 4, { statesFilter: [] });
  assert.ok(!list.groups.some((g: any) => g.groupId === 'never-joined'));
  assert.deepEqual(offsetsOf(await fetchOne('members', null)), ['oa:0=42']);

  // OffsetDelete of a subscribed topic while the group has members.
  await commit(8, 'members', [{ name: 'ob', partitions: [{ partitionIndex: 0, committedOffset: 3n }] }], { generation: j.generationId, memberId: j.memberId });
  const del = await c.request(ApiKey.OffsetDelete, 0, { groupId: 'members', topics: [{ name: 'oa', partitions: [{ partitionIndex: 0 }] }, { name: 'ob', partitions: [{ partitionIndex: 0 }] }, { name: 'nosuch', partitions: [{ partitionIndex: 0 }] }] });
  assert.equal(del.errorCode, 0);
  assert.deepEqual(codes(del), [['oa', [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC]], ['ob', [0]], ['nosuch', [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]);
  assert.deepEqual(offsetsOf(await fetchOne('members', null)), ['oa:0=42']);
  m.close();
});

test('OffsetDelete: unknown group, an empty group losing its last offsets is deleted, group errors keep unknown-topic entries', async () => {
  const unknown = await c.request(ApiKey.OffsetDelete, 0, { groupId: 'no-such-group', topics: [{ name: 'oa', partitions: [{ partitionIndex: 0 }] }, { name: 'nosuch', partitions: [{ partitionIndex: 1 }] }] });
  assert.equal(unknown.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.deepEqual(codes(unknown), [['nosuch', [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]);
  await commit(8, 'od', [{ name: 'oa', partitions: [{ partitionIndex: 0, committedOffset: 1n }, { partitionIndex: 1, committedOffset: 2n }] }]);
  const one = await c.request(ApiKey.OffsetDelete, 0, { groupId: 'od', topics: [{ name: 'oa', partitions: [{ partitionIndex: 0 }] }] });
  assert.deepEqual([one.errorCode, codes(one)], [0, [['oa', [0]]]]);
  assert.deepEqual(offsetsOf(await fetchOne('od', null)), ['oa:1=2']);
  const inList = async () => (await c.request(ApiKey.ListGroups, 4, { statesFilter: [] })).groups.some((g: any) => g.groupId === 'od');
  assert.equal(await inList(), true);
  await c.request(ApiKey.OffsetDelete, 0, { groupId: 'od', topics: [{ name: 'oa', partitions: [{ partitionIndex: 1 }, { partitionIndex: 2 }] }] });
  assert.equal(await inList(), false);
  assert.equal((await c.request(ApiKey.OffsetDelete, 0, { groupId: '', topics: [] })).errorCode, ErrorCode.INVALID_GROUP_ID);
});

test('DeleteGroups removes the offsets; DeleteTopics removes the offsets of the topic', async () => {
  await commit(8, 'doomed', [{ name: 'oa', partitions: [{ partitionIndex: 0, committedOffset: 1n }] }]);
  const del = await c.request(ApiKey.DeleteGroups, 2, { groupsNames: ['doomed'] });
  assert.equal(del.results[0].errorCode, 0);
  assert.deepEqual(offsetsOf(await fetchOne('doomed', null)), []);

  const t = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'short-lived', numPartitions: 1, replicationFactor: 1, configs: [] }], timeoutMs: 5000 });
  assert.equal(t.topics[0].errorCode, 0);
  await commit(8, 'keeper', [{ name: 'short-lived', partitions: [{ partitionIndex: 0, committedOffset: 8n }] }, { name: 'ob', partitions: [{ partitionIndex: 0, committedOffset: 4n }] }]);
  await c.request(ApiKey.DeleteTopics, 6, { topics: [{ name: 'short-lived', topicId: '00000000-0000-0000-0000-000000000000' }], timeoutMs: 5000 });
  assert.deepEqual(offsetsOf(await fetchOne('keeper', null)), ['ob:0=4']);
});

test('expiry: explicit retention (v2) and offsets.retention.minutes for simple groups; empty groups without offsets go', async () => {
  const groups = broker.broker.groups;
  // An explicit retention of 1 ms (OffsetCommit v2-v4).
  await commit(2, 'exp-explicit', [{ name: 'oa', partitions: [{ partitionIndex: 0, committedOffset: 1n }] }], { retentionTimeMs: 1n });
  await commit(8, 'exp-kept', [{ name: 'oa', partitions: [{ partitionIndex: 0, committedOffset: 1n }] }]);
  await new Promise((r) => setTimeout(r, 20));
  await groups.expireOffsets();
  assert.deepEqual(offsetsOf(await fetchOne('exp-explicit', null)), []);
  assert.deepEqual(offsetsOf(await fetchOne('exp-kept', null)), ['oa:0=1']);
  const listed = async () => (await c.request(ApiKey.ListGroups, 4, { statesFilter: [] })).groups.map((g: any) => g.groupId);
  assert.ok(!(await listed()).includes('exp-explicit'));
  assert.ok((await listed()).includes('exp-kept'));
  // With a retention of 10 ms, the simple group's offsets expire too.
  const options = groups.options as { offsetsRetentionMs: number };
  const saved = options.offsetsRetentionMs;
  options.offsetsRetentionMs = 10;
  try {
    await new Promise((r) => setTimeout(r, 20));
    await groups.expireOffsets();
  } finally {
    options.offsetsRetentionMs = saved;
  }
  assert.deepEqual(offsetsOf(await fetchOne('exp-kept', null)), []);
  assert.ok(!(await listed()).includes('exp-kept'));
});
