/**
 * confluent-kafka (librdkafka) consumer groups against a real broker, each member its own Python process
 * (confluent_group_client.py): three members join and leave one by one while a producer runs (every
 * message consumed, assignments rebalanced, committed offsets at the log end), and a member that stops
 * heartbeating (SIGSTOP) is removed after session.timeout.ms, its partitions moving to the other member.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { ConfluentGroupMember as Member } from '../helpers/confluent-group.ts';
import { kafkajs, keepProducing } from '../helpers/kafkajs.ts';
import { waitFor } from '../helpers/wait.ts';

const PARTITIONS = 6;

/** Group rebalances take a while on a loaded machine. */
const WAIT = { timeoutMs: 30_000 };

/** The members own disjoint, non-empty sets of partitions that together cover the topic. */
function balanced(members: Member[]): boolean {
  const dead = members.find((m) => m.child.exitCode !== null && !m.closed);
  if (dead) throw new Error(`a member exited: ${dead.output}`);
  if (members.some((m) => m.assigned === null || m.assigned.length === 0)) return false;
  const all = members.flatMap((m) => m.assigned!);
  return all.length === PARTITIONS && new Set(all).size === PARTITIONS;
}

async function setup(topic: string) {
  const broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 500, 'diskless.commit.interval.ms': 20 });
  const kafka = kafkajs(broker.bootstrap, 'confluent-groups-test', { retries: 10, initialRetryTime: 50 });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
  const { produced, stop: stopProducing } = await keepProducing(kafka, topic);
  return { broker, admin, produced, stopProducing };
}

test('confluent-kafka: three members join and leave one by one while producing; everything consumed, offsets at the log end', { timeout: 180_000 }, async () => {
  const topic = 'ck-groups';
  const group = 'ck-group';
  const { broker, admin, produced, stopProducing } = await setup(topic);
  const consumed = new Set<string>();
  const m1 = new Member(broker.bootstrap, group, topic, consumed, { sessionTimeoutMs: 6000 });
  await waitFor('m1 assigned everything', () => balanced([m1]), WAIT);
  await waitFor('m1 to consume', () => consumed.size > 50, WAIT);
  const m2 = new Member(broker.bootstrap, group, topic, consumed, { sessionTimeoutMs: 6000 });
  await waitFor('m1 and m2 balanced', () => balanced([m1, m2]), WAIT);
  const m3 = new Member(broker.bootstrap, group, topic, consumed, { sessionTimeoutMs: 6000 });
  await waitFor('three members balanced', () => balanced([m1, m2, m3]), WAIT);
  assert.deepEqual([m1, m2, m3].map((m) => m.assigned!.length), [2, 2, 2]);
  await m3.stop();
  await waitFor('m1 and m2 balanced again', () => balanced([m1, m2]), WAIT);
  await m2.stop();
  await waitFor('m1 alone', () => balanced([m1]), WAIT);
  await stopProducing();
  await waitFor('every produced message consumed', () => [...produced].every((v) => consumed.has(v)), { timeoutMs: 60_000 });

  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));
  await waitFor('committed offsets at the log end', async () => {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return committed!.partitions.every((p) => p.offset === ends.get(p.partition));
  }, WAIT);
  await m1.stop();
  const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  for (const p of committed!.partitions) assert.equal(p.offset, ends.get(p.partition), `partition ${p.partition}`);
  assert.equal((await admin.describeGroups([group])).groups[0]!.state, 'Empty');
  await admin.disconnect();
});

test('confluent-kafka: a member that stops heartbeating (SIGSTOP) is removed after session.timeout.ms; its partitions move', { timeout: 120_000 }, async () => {
  const topic = 'ck-session';
  const group = 'ck-session-group';
  const { broker, admin, produced, stopProducing } = await setup(topic);
  const consumed = new Set<string>();
  const sessionTimeoutMs = 1500;
  const a = new Member(broker.bootstrap, group, topic, consumed, { sessionTimeoutMs: sessionTimeoutMs });
  const b = new Member(broker.bootstrap, group, topic, consumed, { sessionTimeoutMs: 30_000 });
  await waitFor('a and b balanced', () => balanced([a, b]), WAIT);
  const aPartitions = a.assigned!;

  a.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  await waitFor('b to own every partition', () => b.assigned?.length === PARTITIONS, { timeoutMs: 20_000 });
  const moved = Date.now() - stoppedAt;
  assert.ok(moved >= sessionTimeoutMs - 200, `partitions moved after ${moved} ms, before the session timeout`);
  assert.ok(moved < sessionTimeoutMs + 5000, `partitions moved only after ${moved} ms`);
  const described = await admin.describeGroups([group]);
  assert.equal(described.groups[0]!.members.length, 1);
  // What A had not consumed yet is consumed by B.
  await stopProducing();
  await waitFor('every produced message consumed by the survivors', () => [...produced].every((v) => consumed.has(v)), { timeoutMs: 60_000 });
  assert.ok(aPartitions.length > 0);

  // A comes back, finds itself removed, and rejoins.
  a.child.kill('SIGCONT');
  await waitFor('a rejoined and the two are balanced', () => balanced([a, b]), WAIT);
  await a.stop();
  await b.stop();
  await admin.disconnect();
});
