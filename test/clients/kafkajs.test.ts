/**
 * kafkajs (non-flexible protocol versions: Produce ≤7, Fetch ≤11, Metadata ≤6, …) against a real broker.
 * kafkajs has no group-less consumer, so records are read back through kafkajs's own Cluster/Broker
 * fetch (its decoder is an independent oracle for our batches and patched headers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompressionTypes, type Kafka } from 'kafkajs';
import { startTestBroker } from '../helpers/broker.ts';
import { kafkajs, readWithKafkajs } from '../helpers/kafkajs.ts';

const kafkaFor = (bootstrap: string) => kafkajs(bootstrap, 'kafkajs-test');

test('kafkajs: admin, produce with every kafkajs codec, fetch back in order with contiguous offsets (diskless and classic topics)', async () => {
  const broker = await startTestBroker();
  const kafka = kafkaFor(broker.bootstrap);
  const admin = kafka.admin();
  await admin.connect();
  await roundTrip(kafka, admin, 'kjs', false);
  await roundTrip(kafka, admin, 'kjs-classic', true);
  await admin.disconnect();
});

async function roundTrip(kafka: Kafka, admin: ReturnType<Kafka['admin']>, topic: string, classic: boolean): Promise<void> {
  const configEntries = classic ? [{ name: 'diskless.enable', value: 'false' }] : [];
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3, configEntries }] }), true);
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(meta.topics[0]!.partitions.length, 3);
  const cluster = await admin.describeCluster();
  assert.equal(cluster.brokers.length, 1);

  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const perPartition = new Map<number, string[]>();
  let n = 0;
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
    for (let round = 0; round < 5; round++) {
      const messages = [];
      for (let i = 0; i < 100; i++, n++) {
        const partition = n % 3;
        const value = `value-${n}`;
        messages.push({ key: `key-${n}`, value, partition, headers: { h: `header-${n}` } });
        perPartition.set(partition, [...(perPartition.get(partition) ?? []), value]);
      }
      const acks = await producer.send({ topic, acks: -1, compression, messages });
      for (const a of acks) assert.equal(a.errorCode, 0);
    }
  }
  await producer.disconnect();

  const offsets = await admin.fetchTopicOffsets(topic);
  for (const o of offsets) {
    assert.equal(o.low, '0');
    assert.equal(Number(o.high), perPartition.get(o.partition)!.length);
  }
  for (const [partition, values] of perPartition) {
    const got = (await readWithKafkajs(kafka, topic, [partition], values.length)).get(partition)!;
    assert.deepEqual(got.map((m) => Number(m.offset)), values.map((_, i) => i), 'offsets contiguous from 0');
    assert.deepEqual(got.map((m) => m.value!.toString()), values, 'consumed order equals produced order');
    for (const m of got) {
      const i = m.value!.toString().slice('value-'.length);
      assert.equal(m.key!.toString(), `key-${i}`);
      assert.equal(m.headers.h!.toString(), `header-${i}`);
    }
  }

  // Timestamps: ListOffsets by timestamp through kafkajs.
  const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() + 3_600_000);
  for (const o of byTime) assert.equal(Number(o.offset), perPartition.get(o.partition)!.length, 'a future timestamp resolves to the end');

  const configs = await admin.describeConfigs({ resources: [{ type: 2, name: topic }], includeSynonyms: false });
  const diskless = configs.resources[0]!.configEntries.find((c) => c.configName === 'diskless.enable');
  assert.equal(diskless?.configValue, classic ? 'false' : 'true');

  await admin.deleteTopics({ topics: [topic] });
  const after = await admin.listTopics();
  assert.ok(!after.includes(topic));
}

test('kafkajs: producing to an unknown partition fails with a Kafka error, and the broker keeps serving', async () => {
  const broker = await startTestBroker({ 'auto.create.topics.enable': false });
  const kafka = kafkaFor(broker.bootstrap);
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  await assert.rejects(producer.send({ topic: 'does-not-exist', messages: [{ value: 'x' }] }), /This server does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION/);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'after-error', numPartitions: 1 }] });
  const acks = await producer.send({ topic: 'after-error', messages: [{ value: 'ok' }] });
  assert.equal(acks[0]!.baseOffset, '0');
  await producer.disconnect();
  await admin.disconnect();
});
