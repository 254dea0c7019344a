/**
 * @platformatic/kafka 1.35 (flexible versions only: Fetch v12-17, OffsetCommit/Fetch v8-9, Metadata v9-12, …)
 * with the classic group protocol against a broker whose fetch session cache has 4 slots: the consumer sends
 * every fetch as a full request with session epoch 0 and ignores the session id it gets back, so the first 4
 * fetches open sessions and the rest, with a full cache of young sessions, are answered without one (session
 * id 0), as Kafka answers them; the group consumes every record either way. Then its admin calls: list topics,
 * describe configs, the group's committed offsets (equal to the end offsets).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Admin, Consumer, MessagesStreamModes, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { startTestBroker } from '../helpers/broker.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { withClient } from '../helpers/raw-client.ts';
import { createTopic } from '../helpers/topics.ts';
import { waitFor } from '../helpers/wait.ts';

test('@platformatic/kafka: produce, consume in a classic group with the session cache full, admin calls', { timeout: 120_000 }, async () => {
  const broker = await startTestBroker({ 'max.incremental.fetch.session.cache.slots': 4, 'diskless.commit.interval.ms': 20 });
  const topic = 'platformatic-classic';
  const group = 'platformatic-classic-group';
  await withClient(broker.port, (c) => createTopic(c, topic, 3));
  const producer = new Producer({ clientId: 'p', bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers });
  onCleanup(() => producer.close(true));
  const sent = Array.from({ length: 150 }, (_, i) => `value-${i}`);
  await producer.send({ messages: sent.map((value, i) => ({ topic, key: `key-${i}`, value, partition: i % 3 })) });

  const consumer = new Consumer({ clientId: 'c', groupId: group, bootstrapBrokers: [broker.bootstrap], deserializers: stringDeserializers, maxWaitTime: 200 });
  onCleanup(() => consumer.close(true));
  const consumed = new Set<string>();
  const errors: string[] = [];
  let closing = false;
  const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: 100 });
  stream.on('data', (m) => { consumed.add(m.value as string); });
  stream.on('error', (err: Error) => { if (!closing) errors.push(err.message); });
  await waitFor('every record consumed', () => sent.every((v) => consumed.has(v)), { timeoutMs: 60_000 });
  // Keep polling until the cache is full and fetches go on without sessions.
  await waitFor('the session cache full', () => broker.broker.fetchSessions.stats().sessions === 4, { timeoutMs: 30_000 });
  assert.equal(consumed.size, sent.length);
  await producer.send({ messages: [{ topic, key: 'late', value: 'late', partition: 1 }] });
  await waitFor('a record produced after the cache filled is consumed', () => consumed.has('late'), { timeoutMs: 30_000 });
  assert.equal(broker.broker.fetchSessions.stats().sessions, 4, 'no more than the slots');
  assert.deepEqual(errors, [], 'no stream failed');

  const admin = new Admin({ clientId: 'a', bootstrapBrokers: [broker.bootstrap] });
  onCleanup(() => admin.close());
  assert.ok((await admin.listTopics()).includes(topic));
  const [described] = await admin.describeConfigs({ resources: [{ resourceType: 2, resourceName: topic, configurationKeys: ['diskless.enable', 'cleanup.policy'] }] });
  assert.deepEqual(described!.configs.map((c) => [c.name, c.value]).sort(), [['cleanup.policy', 'delete'], ['diskless.enable', 'true']]);
  await waitFor('committed offsets at the end offsets', async () => {
    const [offsets] = await admin.listConsumerGroupOffsets({ groups: [group] });
    const byPartition = new Map(offsets!.topics.find((t) => t.name === topic)?.partitions.map((p) => [p.partitionIndex, p.committedOffset]) ?? []);
    return byPartition.get(0) === 50n && byPartition.get(1) === 51n && byPartition.get(2) === 50n;
  }, { timeoutMs: 30_000 });

  closing = true;
  await stream.close();
  await Promise.all([consumer.close(true), producer.close(true), admin.close()]);
});

// @platformatic/kafka 1.35 leaves a handle open after its clients are closed (see platformatic-kip848.test.ts).
after(() => {
  setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
});
