/**
 * The kafkajs admin client (non-flexible versions: CreatePartitions v0-1, AlterConfigs/DescribeConfigs,
 * DeleteRecords, ListGroups/DescribeGroups/DeleteGroups, OffsetCommit/OffsetFetch) against a real broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { kafkajs } from '../helpers/kafkajs.ts';

test('kafkajs admin: partitions, configs, records, groups and offsets through the admin client', { timeout: 60_000 }, async () => {
  const broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': 0, 'diskless.commit.interval.ms': 20 });
  const kafka = kafkajs(broker.bootstrap, 'kjs-admin', { retries: 5, initialRetryTime: 50 });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'kjs-admin', numPartitions: 2 }] });

  await admin.createPartitions({ topicPartitions: [{ topic: 'kjs-admin', count: 4 }] });
  const md = await admin.fetchTopicMetadata({ topics: ['kjs-admin'] });
  assert.equal(md.topics[0]!.partitions.length, 4);
  await assert.rejects(() => admin.createPartitions({ topicPartitions: [{ topic: 'kjs-admin', count: 3 }] }), /partitions/i);

  const TOPIC_RESOURCE = 2;
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC_RESOURCE, name: 'kjs-admin', configEntries: [{ name: 'retention.ms', value: '7200000' }] }] });
  const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC_RESOURCE, name: 'kjs-admin', configNames: ['retention.ms'] }] });
  assert.equal(described.resources[0]!.configEntries[0]!.configValue, '7200000');
  await assert.rejects(() => admin.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC_RESOURCE, name: 'kjs-admin', configEntries: [{ name: 'retention.ms', value: 'never' }] }] }));

  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic: 'kjs-admin', messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}`, partition: 0 })) });
  await producer.disconnect();
  await admin.deleteTopicRecords({ topic: 'kjs-admin', partitions: [{ partition: 0, offset: '6' }] });
  const offsets = await admin.fetchTopicOffsets('kjs-admin');
  const p0 = offsets.find((o) => o.partition === 0)!;
  assert.deepEqual([p0.low, p0.high], ['6', '10']);

  // Offsets of a group without members (kafkajs joins and leaves it first): set, fetch, delete the group.
  await admin.setOffsets({ groupId: 'kjs-admin-group', topic: 'kjs-admin', partitions: [{ partition: 0, offset: '8' }, { partition: 1, offset: '0' }] });
  const [fetched] = await admin.fetchOffsets({ groupId: 'kjs-admin-group', topics: ['kjs-admin'] });
  assert.deepEqual(fetched!.partitions.filter((p) => p.partition < 2).map((p) => [p.partition, p.offset]).sort(), [[0, '8'], [1, '0']]);
  const listed = await admin.listGroups();
  assert.ok(listed.groups.some((g) => g.groupId === 'kjs-admin-group'));
  const groups = await admin.describeGroups(['kjs-admin-group']);
  assert.equal(groups.groups[0]!.state, 'Empty');
  await admin.deleteGroups(['kjs-admin-group']);
  assert.ok(!(await admin.listGroups()).groups.some((g) => g.groupId === 'kjs-admin-group'));
  await admin.disconnect();
});
