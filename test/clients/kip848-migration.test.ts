/**
 * KIP-848's online migration between the classic and the consumer protocol, with real clients:
 * confluent-kafka on librdkafka 2.15.1 (test/helpers/librdkafka.ts), each member its own process
 * (kip848_client.py; FLOE_GROUP_PROTOCOL=classic makes a classic member, range assignor, eager). While a
 * producer runs:
 * 1. two classic members share the six partitions (a classic group);
 * 2. a consumer-protocol member joins: the group is upgraded to a consumer group and the server assigns the
 *    partitions over all three, the classic members getting theirs through JoinGroup/SyncGroup;
 * 3. the consumer-protocol member leaves: the group is downgraded to a classic group, the two classic
 *    members rebalance among themselves;
 * 4. a consumer-protocol member joins again (upgrade), then a classic member leaves (the group stays a
 *    consumer group of two), then the other classic member leaves.
 * No partition is owned by two members at once, every record is consumed, and the committed offsets end
 * at the log end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startTestBroker } from '../helpers/broker.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { kafkajs, keepProducing } from '../helpers/kafkajs.ts';
import { modernLibrdkafkaEnv } from '../helpers/librdkafka.ts';
import { balanced as balancedOver, consumedGaps, Kip848Member as Member, noOverlap } from '../helpers/kip848.ts';
import { withClient } from '../helpers/raw-client.ts';
import { waitFor } from '../helpers/wait.ts';

const PARTITIONS = 6;
const WAIT = { timeoutMs: 60_000 };

const balanced = (members: Member[]) => balancedOver(members, PARTITIONS);

test('online migration: classic members, a consumer-protocol member joins (upgrade) and leaves (downgrade), and back; everything consumed once per owner, offsets at the end', { timeout: 600_000 }, async () => {
  const env = await modernLibrdkafkaEnv();
  const classicEnv = { ...env, FLOE_GROUP_PROTOCOL: 'classic' };
  const broker = await startTestBroker({
    'group.consumer.heartbeat.interval.ms': 500,
    'group.initial.rebalance.delay.ms': 0,
    'group.min.session.timeout.ms': 1000,
    'diskless.commit.interval.ms': 20,
  });
  const topic = 'migration-topic';
  const group = 'migration-group';
  const kafka = kafkajs(broker.bootstrap, 'migration-test', { retries: 10, initialRetryTime: 50 });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
  const { produced, stop: stopProducing } = await keepProducing(kafka, topic);
  const consumed = new Set<string>();
  const members: Member[] = [];
  const sampler = setInterval(() => noOverlap(members), 50);
  onCleanup(() => clearInterval(sampler));
  const groupType = async (): Promise<string | undefined> => {
    const listed = await withClient(broker.port, (c) => c.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: [] }));
    return listed.groups.find((g: any) => g.groupId === group)?.groupType;
  };
  const described = () => withClient(broker.port, (c) => c.request(ApiKey.ConsumerGroupDescribe, 1, { groupIds: [group], includeAuthorizedOperations: false })).then((r) => r.groups[0]);
  const join = (protocolEnv: NodeJS.ProcessEnv) => {
    const m = new Member(broker.bootstrap, group, topic, protocolEnv, consumed);
    members.push(m);
    return m;
  };
  const live = () => members.filter((m) => m.alive);

  // 1. A classic group of two.
  const c1 = join(classicEnv);
  const c2 = join(classicEnv);
  await waitFor('two classic members balanced', () => balanced([c1, c2]), WAIT);
  assert.equal(await groupType(), 'classic');
  await waitFor('consuming', () => consumed.size > 50, WAIT);

  // 2. A consumer-protocol member joins: upgrade.
  const k1 = join(env);
  await waitFor('three members balanced after the upgrade', () => balanced([c1, c2, k1]), WAIT);
  assert.equal(await groupType(), 'consumer');
  await waitFor('the consumer group Stable', async () => (await described()).groupState === 'Stable', WAIT);
  const d = await described();
  assert.equal(d.errorCode, ErrorCode.NONE);
  assert.deepEqual(d.members.map((m: any) => m.memberType).sort(), [0, 0, 1], 'two classic members, one of the consumer protocol');
  assert.deepEqual(d.members.flatMap((m: any) => m.assignment.topicPartitions.flatMap((t: any) => t.partitions)).sort(), [0, 1, 2, 3, 4, 5]);

  // 3. It leaves: downgrade to a classic group of two.
  await k1.stop();
  await waitFor('the group downgraded to classic', async () => (await groupType()) === 'classic', WAIT);
  await waitFor('the two classic members balanced again', () => balanced([c1, c2]), WAIT);

  // 4. Upgrade again; then the classic members leave one by one.
  const k2 = join(env);
  await waitFor('three members balanced after the second upgrade', () => balanced([c1, c2, k2]), WAIT);
  assert.equal(await groupType(), 'consumer');
  await c1.stop();
  await waitFor('two members balanced', () => balanced([c2, k2]), WAIT);
  assert.equal(await groupType(), 'consumer');
  await c2.stop();
  await waitFor('the consumer member owns everything', () => balanced([k2]), WAIT);

  await stopProducing();
  await waitFor('every produced record consumed', () => [...produced].every((v) => consumed.has(v)), { timeoutMs: 90_000 }).catch((err: Error) => {
    const missing = [...produced].filter((v) => !consumed.has(v));
    throw new Error(`${err.message}: ${missing.length} of ${produced.size} missing; gaps ${JSON.stringify(consumedGaps(members))}; ${live().map((m) => m.output.slice(-300)).join(' | ')}`);
  });
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));
  await waitFor('committed offsets at the log end', async () => {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return committed!.partitions.every((p) => p.offset === ends.get(p.partition));
  }, WAIT);
  await k2.stop();
  clearInterval(sampler);
  const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  for (const p of committed!.partitions) assert.equal(p.offset, ends.get(p.partition), `partition ${p.partition}`);
  await admin.disconnect();
});
