/**
 * A deleted topic takes its share partitions' state with it (the coordinator's share_partitions rows go in
 * DeleteTopics' transaction), and a topic created again under the same name starts afresh for a share group
 * that consumed the old one. On the embedded backends (PGlite + folder) for both kinds of topic, and on
 * PostgreSQL + S3 (s3rver). Also: an acquisition that reaches the coordinator after the topic is gone (a share
 * fetch that read the log just before the deletion) leaves no row behind.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ZERO_UUID } from '../../src/protocol/uuid.ts';
import type { S3Server } from '../../tools/dev/local-servers.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { freshDatabase, sharedPostgres } from '../helpers/postgres.ts';
import { produce } from '../helpers/produce.ts';
import { withClient } from '../helpers/raw-client.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { freshBucket, s3Overrides, sharedS3 } from '../helpers/s3.ts';
import { ACCEPT, acksOf, ShareConsumer } from '../helpers/share-consumer.ts';
import { CLASSIC, createTopic, topicMetadata } from '../helpers/topics.ts';
import { waitFor } from '../helpers/wait.ts';

const SHARE_CONFIGS = {
  'group.share.heartbeat.interval.ms': 500,
  'group.share.min.heartbeat.interval.ms': 500,
  'diskless.commit.interval.ms': 20,
};

let s3: S3Server;
before(async () => {
  [s3] = await Promise.all([sharedS3(), sharedPostgres()]);
});

async function createWithId(broker: TestBroker, name: string, configs: Record<string, string>): Promise<string> {
  return withClient(broker.port, async (c) => {
    await createTopic(c, name, 1, configs);
    return (await topicMetadata(c, name)).topicId;
  });
}

async function produceValues(broker: TestBroker, topic: string, values: string[]): Promise<void> {
  await withClient(broker.port, async (c) => assert.equal((await produce(c, topic, 0, await batchOf(values))).errorCode, ErrorCode.NONE));
}

async function describeOffsets(broker: TestBroker, group: string): Promise<{ topicName: string; topicId: string; partitions: { partitionIndex: number; startOffset: bigint }[] }[]> {
  return withClient(broker.port, async (c) => (await c.request(ApiKey.DescribeShareGroupOffsets, 1, { groups: [{ groupId: group, topics: null }] })).groups[0].topics);
}

async function acquireAll(c: ShareConsumer, n: number): Promise<{ offset: number; deliveryCount: number }[]> {
  const got: { offset: number; deliveryCount: number }[] = [];
  await waitFor(`${n} records acquired`, async () => {
    got.push(...(await c.fetch(0, [], { maxWaitMs: 300 })).acquired);
    return got.length >= n;
  }, { timeoutMs: 20_000, intervalMs: 20 });
  return got;
}

async function deleteRecreate(broker: TestBroker, label: string, configs: Record<string, string>): Promise<void> {
  const topic = `share-deleted-${label}`;
  const group = `${topic}-group`;
  const alter = await withClient(broker.port, (c) => c.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [{ resourceType: 32, resourceName: group, configs: [{ name: 'share.auto.offset.reset', configOperation: 0, value: 'earliest' }] }], validateOnly: false,
  }));
  assert.equal(alter.responses[0].errorCode, ErrorCode.NONE);
  const oldId = await createWithId(broker, topic, configs);
  await produceValues(broker, topic, ['a', 'b', 'c', 'd', 'e']);
  const consumer = await ShareConsumer.join(broker.port, group, topic, oldId);
  assert.deepEqual((await acquireAll(consumer, 5)).map((r) => r.offset), [0, 1, 2, 3, 4]);
  // 0-2 accepted, 3-4 still held: the share partition has a start offset and records in flight.
  assert.equal((await consumer.acknowledge(0, acksOf([0, 1, 2], ACCEPT))).partitionError, ErrorCode.NONE);
  assert.deepEqual((await describeOffsets(broker, group)).map((t) => [t.topicName, t.topicId, t.partitions[0]!.startOffset]), [[topic, oldId, 3n]]);
  const shares = broker.broker.shareGroups;
  assert.deepEqual((await shares.offsets(group)).map((o) => o.topicId), [oldId], 'the coordinator holds the share partition');

  const deleted = await withClient(broker.port, (c) => c.request(ApiKey.DeleteTopics, 6, { topics: [{ name: topic, topicId: ZERO_UUID }], timeoutMs: 5000 }));
  assert.equal(deleted.responses[0].errorCode, ErrorCode.NONE);
  assert.deepEqual(await shares.offsets(group), [], 'the share partition went with the topic');
  assert.deepEqual(await describeOffsets(broker, group), []);
  // A fetch of the gone topic, and an acquisition reaching the coordinator late, create nothing.
  const gone = await consumer.fetchRaw(0, [], { maxWaitMs: 0 });
  assert.equal(gone.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  await shares.acquire(group, consumer.memberId, [{ topicId: oldId, partition: 0, initialOffset: 0, logStartOffset: 0, batches: [{ baseOffset: 0, lastOffset: 4, control: false }] }], 10, false);
  assert.deepEqual(await shares.offsets(group), [], 'no row for a topic that no longer exists');
  await consumer.leave();

  // The same name again: a new topic, whose share partition starts per share.auto.offset.reset.
  const newId = await createWithId(broker, topic, configs);
  assert.notEqual(newId, oldId);
  await produceValues(broker, topic, ['x', 'y']);
  const again = await ShareConsumer.join(broker.port, group, topic, newId);
  assert.deepEqual(await acquireAll(again, 2), [{ offset: 0, deliveryCount: 1 }, { offset: 1, deliveryCount: 1 }], 'from the new log start, first deliveries');
  assert.equal((await again.acknowledge(0, acksOf([0, 1], ACCEPT))).partitionError, ErrorCode.NONE);
  assert.deepEqual((await describeOffsets(broker, group)).map((t) => [t.topicName, t.topicId, t.partitions[0]!.startOffset]), [[topic, newId, 2n]]);
  await again.leave();
}

test('embedded (PGlite): deleting a diskless or classic topic deletes its share partitions; the name created again starts afresh', { timeout: 120_000 }, async () => {
  const broker = await startTestBroker(SHARE_CONFIGS);
  await deleteRecreate(broker, 'diskless', {});
  await deleteRecreate(broker, 'classic', CLASSIC);
});

test('PostgreSQL + S3: deleting a topic deletes its share partitions; the name created again starts afresh', { timeout: 120_000 }, async () => {
  const broker = await startTestBroker({ ...SHARE_CONFIGS, 'diskless.coordinator.url': await freshDatabase(), ...s3Overrides(s3, await freshBucket()) });
  await deleteRecreate(broker, 'pg', {});
});
