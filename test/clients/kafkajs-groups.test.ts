/**
 * kafkajs consumer groups against a real broker: three members of one group join and then leave one by
 * one while a producer runs. Every message is consumed (at least once), the assignments rebalance at each
 * step (each member owns part of the partitions, together all of them), and the committed offsets end at
 * the log end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Consumer } from 'kafkajs';
import { startTestBroker } from '../helpers/broker.ts';
import { kafkajs, keepProducing } from '../helpers/kafkajs.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const TOPIC = 'kjs-groups';
const PARTITIONS = 6;
const GROUP = 'kjs-group';

/** Group rebalances take a while on a loaded machine. */
const WAIT = { timeoutMs: 30_000 };

test('kafkajs: three consumers join and leave one by one while producing; everything consumed, offsets at the log end', { timeout: 120_000 }, async () => {
  const broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1000, 'diskless.commit.interval.ms': 20 });
  const kafka = kafkajs(broker.bootstrap, 'kjs-groups', { retries: 10, initialRetryTime: 50 });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });

  // The producer runs for the whole test.
  const { produced, stop: stopProducing } = await keepProducing(kafka, TOPIC);

  const consumed = new Set<string>();
  const assignments = new Map<string, number[]>();
  const consumers = new Map<string, Consumer>();
  async function startConsumer(name: string): Promise<void> {
    const consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 100, maxWaitTimeInMs: 100, retry: { retries: 10, initialRetryTime: 50 } });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      assignments.set(name, (e.payload.memberAssignment[TOPIC] ?? []).slice().sort((a, b) => a - b));
    });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => { consumed.add(message.value!.toString()); } });
    consumers.set(name, consumer);
  }
  async function stopConsumer(name: string): Promise<void> {
    await consumers.get(name)!.disconnect();
    consumers.delete(name);
    assignments.delete(name);
  }
  /** The live members own disjoint, non-empty parts that together cover every partition. */
  async function balancedAmong(names: string[]): Promise<void> {
    await waitFor(`a balanced assignment among ${names.join(', ')}`, () => {
      if (names.some((n) => !assignments.has(n)) || assignments.size !== names.length) return false;
      const all = names.flatMap((n) => assignments.get(n)!);
      return names.every((n) => assignments.get(n)!.length > 0) && all.length === PARTITIONS && new Set(all).size === PARTITIONS;
    }, WAIT);
  }
  const history: string[] = [];
  const snapshot = () => history.push([...assignments].map(([n, p]) => `${n}=${p.join(',')}`).sort().join(' '));

  await startConsumer('c1');
  await balancedAmong(['c1']);
  snapshot();
  await waitFor('c1 to consume', () => consumed.size > 50, WAIT);
  await startConsumer('c2');
  await balancedAmong(['c1', 'c2']);
  snapshot();
  await startConsumer('c3');
  await balancedAmong(['c1', 'c2', 'c3']);
  snapshot();
  assert.deepEqual([...assignments.values()].map((p) => p.length), [2, 2, 2]);
  await sleep(300);
  await stopConsumer('c3');
  await balancedAmong(['c1', 'c2']);
  snapshot();
  await stopConsumer('c2');
  await balancedAmong(['c1']);
  snapshot();

  await stopProducing();
  await waitFor('every produced message to be consumed', () => [...produced].every((v) => consumed.has(v)), { timeoutMs: 60_000 });

  // Committed offsets reach the log end (kafkajs commits after each batch).
  const ends = await admin.fetchTopicOffsets(TOPIC);
  const endOf = new Map(ends.map((o) => [o.partition, o.high]));
  await waitFor('committed offsets at the log end', async () => {
    const [committed] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    return committed!.partitions.every((p) => p.offset === endOf.get(p.partition));
  }, WAIT);
  await stopConsumer('c1');
  const [committed] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
  assert.deepEqual(committed!.partitions.map((p) => [p.partition, p.offset]).sort((a, b) => Number(a[0]) - Number(b[0])), ends.map((o) => [o.partition, o.high]).sort((a, b) => Number(a[0]) - Number(b[0])));
  assert.ok(produced.size >= 100, `produced ${produced.size}`);
  assert.equal(history.length, 5);

  const groups = await admin.describeGroups([GROUP]);
  assert.equal(groups.groups[0]!.state, 'Empty');
  await admin.disconnect();
});
