/**
 * KIP-848 consumer groups (`group.protocol=consumer`) with a real client: confluent-kafka on librdkafka
 * 2.15.1 (built once per clone by test/helpers/librdkafka.ts), each member its own Python process
 * (kip848_client.py). Three members join one by one while a producer runs: the broker's assignor splits
 * the six partitions without overlap and no member waits in a stop-the-world rebalance; one leaves, one
 * is killed (SIGKILL) and its partitions move after group.consumer.session.timeout.ms; everything is
 * consumed and the committed offsets end at the log end. ConsumerGroupDescribe and ListGroups (types
 * filter) are checked on the way with raw requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startTestBroker } from '../helpers/broker.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { kafkajs, keepProducing } from '../helpers/kafkajs.ts';
import { modernLibrdkafkaEnv } from '../helpers/librdkafka.ts';
import { balanced as balancedOver, Kip848Member as Member, noOverlap } from '../helpers/kip848.ts';
import { withClient } from '../helpers/raw-client.ts';
import { waitFor } from '../helpers/wait.ts';

const PARTITIONS = 6;
const SESSION_TIMEOUT_MS = 4000;
const WAIT = { timeoutMs: 45_000 };

const balanced = (members: Member[]) => balancedOver(members, PARTITIONS);

test('librdkafka group.protocol=consumer: members join, leave and die while producing; no overlap, everything consumed, offsets at the log end', { timeout: 600_000 }, async () => {
  const env = await modernLibrdkafkaEnv();
  const broker = await startTestBroker({
    'group.consumer.heartbeat.interval.ms': 500,
    'group.consumer.session.timeout.ms': SESSION_TIMEOUT_MS,
    'diskless.commit.interval.ms': 20,
  });
  const topic = 'kip848-topic';
  const group = 'kip848-group';
  const kafka = kafkajs(broker.bootstrap, 'kip848-test', { retries: 10, initialRetryTime: 50 });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
  const { produced, stop: stopProducing } = await keepProducing(kafka, topic);
  const consumed = new Set<string>();
  const members: Member[] = [];
  const sampler = setInterval(() => noOverlap(members), 50);
  onCleanup(() => clearInterval(sampler));

  const m1 = new Member(broker.bootstrap, group, topic, env, consumed);
  members.push(m1);
  await waitFor('m1 assigned everything', () => balanced([m1]), WAIT);
  await waitFor('m1 to consume', () => consumed.size > 50, WAIT);
  const m2 = new Member(broker.bootstrap, group, topic, env, consumed);
  members.push(m2);
  await waitFor('m1 and m2 balanced', () => balanced([m1, m2]), WAIT);
  assert.deepEqual([m1, m2].map((m) => m.assigned.length), [3, 3]);
  const m3 = new Member(broker.bootstrap, group, topic, env, consumed);
  members.push(m3);
  await waitFor('three members balanced', () => balanced([m1, m2, m3]), WAIT);
  assert.deepEqual([m1, m2, m3].map((m) => m.assigned.length), [2, 2, 2]);

  // ConsumerGroupDescribe: three members at the group's assignment epoch, assignments as the clients see them.
  await waitFor('the group Stable', async () => {
    const res = await withClient(broker.port, (c) => c.request(ApiKey.ConsumerGroupDescribe, 1, { groupIds: [group], includeAuthorizedOperations: false }));
    return res.groups[0].groupState === 'Stable';
  }, WAIT);
  const described = await withClient(broker.port, (c) => c.request(ApiKey.ConsumerGroupDescribe, 1, { groupIds: [group, 'no-such-group'], includeAuthorizedOperations: false }));
  const g = described.groups[0];
  assert.equal(g.errorCode, ErrorCode.NONE);
  assert.equal(g.assignorName, 'uniform');
  assert.equal(g.members.length, 3);
  for (const m of g.members) {
    assert.equal(m.memberEpoch, g.assignmentEpoch);
    assert.deepEqual(m.assignment, m.targetAssignment);
    assert.equal(m.assignment.topicPartitions[0].topicName, topic);
    assert.equal(m.memberType, 1);
  }
  assert.deepEqual(g.members.flatMap((m: any) => m.assignment.topicPartitions[0].partitions).sort(), [0, 1, 2, 3, 4, 5]);
  assert.equal(described.groups[1].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  const listed = await withClient(broker.port, (c) => c.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] }));
  assert.deepEqual(listed.groups.map((x: any) => [x.groupId, x.groupType, x.protocolType, x.groupState]), [[group, 'consumer', 'consumer', 'Stable']]);
  const classicOnly = await withClient(broker.port, (c) => c.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['classic'] }));
  assert.deepEqual(classicOnly.groups, []);
  // A classic member may join the consumer group (online migration, kip848-migration.test.ts): a new one is
  // first given its member id; one of another protocol type is refused.
  const join = await withClient(broker.port, (c) => c.request(ApiKey.JoinGroup, 5, {
    groupId: group, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
  }));
  assert.equal(join.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  const other = await withClient(broker.port, (c) => c.request(ApiKey.JoinGroup, 5, {
    groupId: group, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'connect', protocols: [{ name: 'x', metadata: Buffer.alloc(0) }],
  }));
  assert.equal(other.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

  // One leaves: its partitions move to the two others.
  await m3.stop();
  await waitFor('m1 and m2 balanced again', () => balanced([m1, m2]), WAIT);
  // One dies: its partitions move once its session ends.
  m2.child.kill('SIGKILL');
  const killedAt = Date.now();
  await waitFor('m1 owns everything', () => m1.assigned.length === PARTITIONS, WAIT);
  const moved = Date.now() - killedAt;
  assert.ok(moved >= SESSION_TIMEOUT_MS - 500, `partitions moved after ${moved} ms, before the session timeout`);

  await stopProducing();
  await waitFor('every produced message consumed', () => [...produced].every((v) => consumed.has(v)), { timeoutMs: 90_000 });
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));
  await waitFor('committed offsets at the log end', async () => {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return committed!.partitions.every((p) => p.offset === ends.get(p.partition));
  }, WAIT);
  await m1.stop();
  clearInterval(sampler);
  const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  for (const p of committed!.partitions) assert.equal(p.offset, ends.get(p.partition), `partition ${p.partition}`);
  const empty = await withClient(broker.port, (c) => c.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: [group] }));
  assert.equal(empty.groups[0].groupState, 'Empty');
  assert.equal((await admin.deleteGroups([group]))[0]!.errorCode, ErrorCode.NONE);
  await admin.disconnect();
});
