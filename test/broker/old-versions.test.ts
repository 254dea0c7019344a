/**
 * The versions Kafka 4 dropped (KIP-896), served as Kafka 3.9 did, over a real socket with the generated
 * codec: Produce v0-2 with message format v0/v1, Fetch v0-3 converted down, ListOffsets v0, OffsetCommit
 * v0-1 / OffsetFetch v0, CreateTopics v0, DeleteTopics v0, DescribeConfigs v0, and ApiVersions advertising
 * them; on a diskless and a classic topic.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { withClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { CLASSIC, createTopics } from '../helpers/topics.ts';
import { buildLegacyMessageSet } from '../helpers/record-batch.ts';
import { readMessageSet } from '../../src/protocol/legacy-records.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

let broker: TestBroker;
const TOPICS = { diskless: 'old-diskless', classic: 'old-classic' };

before(async () => {
  broker = await startTestBroker({ 'auto.create.topics.enable': false });
  await withClient(broker.port, (c) => createTopics(c, [
    { name: TOPICS.diskless },
    { name: TOPICS.classic, configs: CLASSIC },
    { name: 'old-no-downconversion', configs: { 'message.downconversion.enable': 'false' } },
  ]));
});

const produceV = (version: number, topic: string, records: Buffer) =>
  withClient(broker.port, async (c) => {
    const r = await c.request(ApiKey.Produce, version, { acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
    return r.responses[0].partitionResponses[0];
  });

const fetchV = (version: number, topic: string, offset: bigint, partitionMaxBytes = 1 << 20) =>
  withClient(broker.port, async (c) => {
    const r = await c.request(ApiKey.Fetch, version, { replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [{ topic, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes }] }] });
    return r.responses[0].partitions[0];
  });

test('ApiVersions advertises the old versions', async () => {
  const r = await withClient(broker.port, (c) => c.request(ApiKey.ApiVersions, 0, {}));
  const min = (k: number) => r.apiKeys.find((a: { apiKey: number }) => a.apiKey === k).minVersion;
  for (const k of [ApiKey.Produce, ApiKey.Fetch, ApiKey.ListOffsets, ApiKey.OffsetCommit, ApiKey.OffsetFetch, ApiKey.CreateTopics, ApiKey.DeleteTopics, ApiKey.DescribeConfigs]) {
    assert.equal(min(k), 0, `api key ${k}`);
  }
});

for (const [kind, topic] of Object.entries(TOPICS)) {
  test(`${kind}: Produce v2 with magic 1 and v0 with magic 0, read back by Fetch v0-3 and v4`, async () => {
    const first = await produceV(2, topic, buildLegacyMessageSet(1, [{ key: 'a', value: 'one', timestamp: 1_700_000_000_001n }, { value: 'two', timestamp: 1_700_000_000_002n }]));
    assert.equal(first.errorCode, ErrorCode.NONE);
    assert.equal(first.baseOffset, 0n);
    const second = await produceV(0, topic, buildLegacyMessageSet(0, [{ value: 'three' }]));
    assert.equal(second.errorCode, ErrorCode.NONE);
    assert.equal(second.baseOffset, 2n);
    for (const version of [0, 1, 2, 3]) {
      const p = await fetchV(version, topic, 1n);
      assert.equal(p.errorCode, ErrorCode.NONE, `v${version}`);
      assert.equal(p.highWatermark, 3n);
      const read = readMessageSet(p.records);
      assert.ok(!('errorCode' in read), `v${version}: a valid message set`);
      const magic = version <= 1 ? 0 : 1;
      assert.deepEqual(read.messages.map((m) => [m.offset, m.magic, m.value!.toString()]), [[1n, magic, 'two'], [2n, magic, 'three']]);
      if (magic === 1) assert.deepEqual(read.messages.map((m) => m.timestamp), [1_700_000_000_002n, -1n]);
    }
    const modern = await fetchV(4, topic, 0n);
    assert.equal(modern.records.readInt8(16), 2, 'stored as magic 2');
  });

  test(`${kind}: ListOffsets v0 answers max_num_offsets offsets, newest first`, async () => {
    const r = await withClient(broker.port, (c) => c.request(ApiKey.ListOffsets, 0, { replicaId: -1, topics: [{ name: topic, partitions: [
      { partitionIndex: 0, timestamp: -1n, maxNumOffsets: 10 },
    ] }] }));
    const p = r.topics[0].partitions[0];
    assert.equal(p.errorCode, ErrorCode.NONE);
    assert.deepEqual(p.oldStyleOffsets, [3n, 0n]);
    const one = await withClient(broker.port, (c) => c.request(ApiKey.ListOffsets, 0, { replicaId: -1, topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n, maxNumOffsets: 1 }] }] }));
    assert.deepEqual(one.topics[0].partitions[0].oldStyleOffsets, [3n]);
    const earliest = await withClient(broker.port, (c) => c.request(ApiKey.ListOffsets, 0, { replicaId: -1, topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -2n, maxNumOffsets: 5 }] }] }));
    assert.deepEqual(earliest.topics[0].partitions[0].oldStyleOffsets, [0n]);
  });

  test(`${kind}: OffsetCommit v0 and v1, read back by OffsetFetch v0`, async () => {
    const group = `old-group-${kind}`;
    await withClient(broker.port, async (c) => {
      const v0 = await c.request(ApiKey.OffsetCommit, 0, { groupId: group, topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 2n, committedMetadata: 'm0' }] }] });
      assert.equal(v0.topics[0].partitions[0].errorCode, ErrorCode.NONE);
      let f = await c.request(ApiKey.OffsetFetch, 0, { groupId: group, topics: [{ name: topic, partitionIndexes: [0] }] });
      assert.deepEqual([f.topics[0].partitions[0].committedOffset, f.topics[0].partitions[0].metadata], [2n, 'm0']);
      const v1 = await c.request(ApiKey.OffsetCommit, 1, { groupId: group, generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 3n, commitTimestamp: -1n, committedMetadata: 'm1' }] }] });
      assert.equal(v1.topics[0].partitions[0].errorCode, ErrorCode.NONE);
      f = await c.request(ApiKey.OffsetFetch, 0, { groupId: group, topics: [{ name: topic, partitionIndexes: [0] }] });
      assert.deepEqual([f.topics[0].partitions[0].committedOffset, f.topics[0].partitions[0].metadata], [3n, 'm1']);
      // v1's commit timestamp is the offset's commit time, as in Kafka 3.9: one from 1970 has outlived
      // offsets.retention.minutes (a group without group management), one stamped now (-1) has not.
      const old = `${group}-1970`;
      const stamped = await c.request(ApiKey.OffsetCommit, 1, { groupId: old, generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 4n, commitTimestamp: 1_000n, committedMetadata: null }] }] });
      assert.equal(stamped.topics[0].partitions[0].errorCode, ErrorCode.NONE);
      const committed = async (g: string) => (await c.request(ApiKey.OffsetFetch, 0, { groupId: g, topics: [{ name: topic, partitionIndexes: [0] }] })).topics[0].partitions[0].committedOffset;
      assert.equal(await committed(old), 4n);
      await broker.broker.groups.expireOffsets();
      assert.equal(await committed(old), -1n, 'expired by its own commit time');
      assert.equal(await committed(group), 3n, 'kept');
    });
  });
}

test('Fetch v2 on a topic with message.downconversion.enable=false: UNSUPPORTED_VERSION', async () => {
  assert.equal((await produceV(2, 'old-no-downconversion', buildLegacyMessageSet(1))).errorCode, ErrorCode.NONE);
  assert.equal((await fetchV(2, 'old-no-downconversion', 0n)).errorCode, ErrorCode.UNSUPPORTED_VERSION);
  assert.equal((await fetchV(4, 'old-no-downconversion', 0n)).errorCode, ErrorCode.NONE);
});

test('CreateTopics v0, DescribeConfigs v0 (IsDefault) and DeleteTopics v0', async () => {
  await withClient(broker.port, async (c) => {
    const created = await c.request(ApiKey.CreateTopics, 0, { topics: [{ name: 'old-created', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: '60000' }] }], timeoutMs: 10_000 });
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
    const described = await c.request(ApiKey.DescribeConfigs, 0, { resources: [{ resourceType: 2, resourceName: 'old-created', configurationKeys: ['retention.ms', 'segment.bytes'] }] });
    const configs = new Map(described.results[0].configs.map((x: { name: string; isDefault: boolean; value: string }) => [x.name, x]));
    assert.deepEqual([(configs.get('retention.ms') as any).value, (configs.get('retention.ms') as any).isDefault], ['60000', false]);
    assert.equal((configs.get('segment.bytes') as any).isDefault, true);
    const deleted = await c.request(ApiKey.DeleteTopics, 0, { topicNames: ['old-created'], timeoutMs: 10_000 });
    assert.equal(deleted.responses[0].errorCode, ErrorCode.NONE);
  });
});

test('ListOffsets with a timestamp near 2^63 answers no offset, as Kafka (no rounding through a double)', async () => {
  for (const [topic, timestamp] of Object.values(TOPICS).flatMap((t) => [(1n << 63n) - 1n, (1n << 63n) - 1000n, 1n << 53n].map((ts) => [t, ts] as const))) {
    const r = await withClient(broker.port, (c) => c.request(ApiKey.ListOffsets, 1, { replicaId: -1, topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp }] }] }));
    const p = r.topics[0].partitions[0];
    assert.equal(p.errorCode, ErrorCode.NONE, String(timestamp));
    assert.equal(p.offset, -1n);
  }
});
