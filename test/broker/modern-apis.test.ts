/**
 * What Kafka 4.1's newest versions add, over raw requests: ListConfigResources (KIP-1142, v0-1), and
 * OffsetCommit v10 / OffsetFetch v10, which name topics by id (UNKNOWN_TOPIC_ID for an id no topic has).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, withClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { createTopics, topicMetadata } from '../helpers/topics.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';

let broker: TestBroker;
let c: RawClient;

before(async () => {
  broker = await startTestBroker();
  c = await RawClient.connect(broker.port);
  await createTopics(c, [{ name: 'lcr-b', partitions: 1 }, { name: 'lcr-a', partitions: 2 }]);
});
after(async () => {
  c.close();
  await broker.close();
});

test('ListConfigResources: brokers then topics as Kafka orders them; a filter; v0 lists client metrics only; an undefined type fails the request', async () => {
  const list = async (version: number, resourceTypes: number[] = []) => {
    const r = await c.request(ApiKey.ListConfigResources, version, { resourceTypes });
    return [r.errorCode, r.configResources.map((x: any) => [x.resourceType, x.resourceName])];
  };
  const id = String(broker.broker.nodeId);
  const [code, all] = await list(1);
  assert.equal(code, 0);
  assert.deepEqual(all, [[4, id], [2, 'lcr-a'], [2, 'lcr-b']]);
  assert.deepEqual(await list(1, [2]), [0, [[2, 'lcr-a'], [2, 'lcr-b']]]);
  assert.deepEqual(await list(1, [2, 4, 2]), [0, [[4, id], [2, 'lcr-a'], [2, 'lcr-b']]], 'the order of types is Kafka\'s, each once');
  assert.deepEqual(await list(1, [16, 32, 8]), [0, []], 'Floe keeps no client-metrics, group or logger resources');
  assert.deepEqual(await list(1, [2, 64]), [ErrorCode.UNSUPPORTED_VERSION, []]);
  assert.deepEqual(await list(1, [1]), [ErrorCode.UNSUPPORTED_VERSION, []], 'type 1 (UNKNOWN in the admin client) is not a config resource');
  assert.deepEqual(await list(0), [0, []]);
});

test('OffsetCommit v10 and OffsetFetch v10 name topics by id; an unknown id gets UNKNOWN_TOPIC_ID', async () => {
  const group = 'v10-group';
  const idA = (await topicMetadata(c, 'lcr-a')).topicId;
  const idB = (await topicMetadata(c, 'lcr-b')).topicId;
  const missing = '0badc0de-0000-4000-8000-00000000000a';
  const commit = await c.request(ApiKey.OffsetCommit, 10, {
    groupId: group, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
    topics: [
      { topicId: idA, partitions: [{ partitionIndex: 0, committedOffset: 7n, committedLeaderEpoch: -1, committedMetadata: 'm' }, { partitionIndex: 5, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }] },
      { topicId: missing, partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }] },
      { topicId: idB, partitions: [{ partitionIndex: 0, committedOffset: 3n, committedLeaderEpoch: -1, committedMetadata: null }] },
    ],
  });
  assert.deepEqual(commit.topics.map((t: any) => [t.topicId, t.partitions.map((p: any) => [p.partitionIndex, p.errorCode])]), [
    [idA, [[0, 0], [5, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
    [missing, [[0, ErrorCode.UNKNOWN_TOPIC_ID]]],
    [idB, [[0, 0]]],
  ]);

  const view = (r: any) => r.groups.map((g: any) => [g.groupId, g.errorCode, g.topics.map((t: any) => [t.topicId, t.partitions.map((p: any) => [p.partitionIndex, p.committedOffset, p.errorCode])])]);
  const some = await c.request(ApiKey.OffsetFetch, 10, { groups: [{ groupId: group, memberId: null, memberEpoch: -1, topics: [{ topicId: idA, partitionIndexes: [0, 1] }, { topicId: missing, partitionIndexes: [0, 2] }] }], requireStable: false });
  assert.deepEqual(view(some), [[group, 0, [[idA, [[0, 7n, 0], [1, -1n, 0]]], [missing, [[0, -1n, ErrorCode.UNKNOWN_TOPIC_ID], [2, -1n, ErrorCode.UNKNOWN_TOPIC_ID]]]]]]);
  const every = await c.request(ApiKey.OffsetFetch, 10, { groups: [{ groupId: group, memberId: null, memberEpoch: -1, topics: null }], requireStable: false });
  const byId = new Map(every.groups[0].topics.map((t: any) => [t.topicId, t.partitions.map((p: any) => [p.partitionIndex, p.committedOffset])]));
  assert.deepEqual([...byId.keys()].sort(), [idA, idB].sort());
  assert.deepEqual(byId.get(idA), [[0, 7n]]);
  assert.deepEqual(byId.get(idB), [[0, 3n]]);
  // The same offsets by name at v9.
  const v9 = await c.request(ApiKey.OffsetFetch, 9, { groups: [{ groupId: group, memberId: null, memberEpoch: -1, topics: [{ name: 'lcr-b', partitionIndexes: [0] }] }], requireStable: false });
  assert.deepEqual(v9.groups[0].topics.map((t: any) => [t.name, t.partitions[0].committedOffset]), [['lcr-b', 3n]]);
  const versions = await withClient(broker.port, (x) => x.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'floe-test', clientSoftwareVersion: '1' }));
  for (const key of [ApiKey.OffsetCommit, ApiKey.OffsetFetch]) assert.equal(versions.apiKeys.find((k: any) => k.apiKey === key).maxVersion, 10);
  const lcr = versions.apiKeys.find((k: any) => k.apiKey === ApiKey.ListConfigResources);
  assert.deepEqual([lcr.minVersion, lcr.maxVersion], [0, 1]);
});
