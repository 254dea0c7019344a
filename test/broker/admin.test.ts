/**
 * The admin APIs Kafka tools use, through raw requests: AlterConfigs and IncrementalAlterConfigs (seen by
 * DescribeConfigs with their source, and by storage), CreatePartitions (seen by Metadata and produce),
 * DeleteRecords (seen by Fetch and ListOffsets), DescribeTopicPartitions paging, DescribeLogDirs and
 * ElectLeaders on diskless topics.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { fetchPartition } from '../helpers/fetch.ts';
import { EARLIEST, listOffset } from '../helpers/list-offsets.ts';
import { produce as produceTo } from '../helpers/produce.ts';
import { buildRecordBatch } from '../helpers/record-batch.ts';
import { createTopics, topicMetadata } from '../helpers/topics.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

let broker: TestBroker;
let c: RawClient;

const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;
const SOURCE_DYNAMIC_TOPIC = 1;
const SOURCE_DEFAULT = 5;

before(async () => {
  broker = await startTestBroker({ 'auto.create.topics.enable': false, 'node.id': 1 });
  c = await RawClient.connect(broker.port);
  await createTopics(c, ['cfg', 'legacy', 'grow', 'delrec', 'dtp-a', 'dtp-b', 'logdirs'].map((name) => ({ name, partitions: name === 'dtp-a' ? 3 : 1 })));
});

function incremental(resources: { type?: number; name: string; configs: { name: string; op: number; value: string | null }[] }[], validateOnly = false) {
  return c.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: resources.map((r) => ({ resourceType: r.type ?? TOPIC, resourceName: r.name, configs: r.configs.map((x) => ({ name: x.name, configOperation: x.op, value: x.value })) })),
    validateOnly,
  });
}

async function describeConfig(topic: string, key: string): Promise<{ value: string | null; source: number }> {
  const r = await c.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: TOPIC, resourceName: topic, configurationKeys: [key] }], includeSynonyms: false, includeDocumentation: false });
  const e = r.results[0].configs[0];
  return { value: e.value, source: e.configSource };
}

const errors = (r: any) => r.responses.map((x: any) => x.errorCode);

/** `count` records of `size` bytes (A, B, C, …) in one batch. */
async function produce(topic: string, partition: number, count: number, size = 10) {
  return produceTo(c, topic, partition, await buildRecordBatch({ records: Array.from({ length: count }, (_, i) => ({ value: Buffer.alloc(size, 65 + (i % 26)) })) }));
}

const fetchAt = (topic: string, partition: number, offset: bigint) => fetchPartition(c, topic, partition, offset, { version: 12 });

test('IncrementalAlterConfigs SET / DELETE / APPEND / SUBTRACT on a topic, seen by DescribeConfigs with its source', async () => {
  assert.deepEqual(errors(await incremental([{ name: 'cfg', configs: [{ name: 'retention.ms', op: SET, value: '3600000' }] }])), [0]);
  assert.deepEqual(await describeConfig('cfg', 'retention.ms'), { value: '3600000', source: SOURCE_DYNAMIC_TOPIC });
  assert.deepEqual(errors(await incremental([{ name: 'cfg', configs: [{ name: 'retention.ms', op: DELETE, value: null }] }])), [0]);
  assert.deepEqual(await describeConfig('cfg', 'retention.ms'), { value: '604800000', source: SOURCE_DEFAULT });

  const key = 'leader.replication.throttled.replicas';
  await incremental([{ name: 'cfg', configs: [{ name: key, op: APPEND, value: '0:1' }] }]);
  await incremental([{ name: 'cfg', configs: [{ name: key, op: APPEND, value: '1:1,0:1' }] }]);
  assert.equal((await describeConfig('cfg', key)).value, '0:1,1:1');
  await incremental([{ name: 'cfg', configs: [{ name: key, op: SUBTRACT, value: '0:1' }] }]);
  assert.equal((await describeConfig('cfg', key)).value, '1:1');

  // validateOnly changes nothing.
  assert.deepEqual(errors(await incremental([{ name: 'cfg', configs: [{ name: 'retention.ms', op: SET, value: '1000' }] }], true)), [0]);
  assert.equal((await describeConfig('cfg', 'retention.ms')).source, SOURCE_DEFAULT);
  // diskless.enable stays as it was.
  assert.equal((await describeConfig('cfg', 'diskless.enable')).value, 'true');
});

test('IncrementalAlterConfigs bad input: each resource gets Kafka\'s error and nothing changes', async () => {
  const cases: [string, { name: string; op: number; value: string | null }[], number, RegExp][] = [
    ['unknown key', [{ name: 'no.such.config', op: SET, value: '1' }], ErrorCode.INVALID_CONFIG, /Unknown topic config name/],
    ['wrong type', [{ name: 'retention.ms', op: SET, value: 'soon' }], ErrorCode.INVALID_CONFIG, /Invalid value soon for configuration retention.ms/],
    ['out of range', [{ name: 'retention.ms', op: SET, value: '-5' }], ErrorCode.INVALID_CONFIG, /at least -1/],
    ['out of range int', [{ name: 'max.message.bytes', op: SET, value: '99999999999' }], ErrorCode.INVALID_CONFIG, /max.message.bytes/],
    ['bad enum', [{ name: 'message.timestamp.type', op: SET, value: 'WallClock' }], ErrorCode.INVALID_CONFIG, /message.timestamp.type/],
    ['diskless.enable change', [{ name: 'diskless.enable', op: SET, value: 'false' }], ErrorCode.INVALID_CONFIG, /cannot be changed/],
    ['append to a non-list', [{ name: 'retention.ms', op: APPEND, value: '5' }], ErrorCode.INVALID_CONFIG, /append is not allowed/],
    ['duplicate key', [{ name: 'retention.ms', op: SET, value: '5' }, { name: 'retention.ms', op: DELETE, value: null }], ErrorCode.INVALID_REQUEST, /duplicate config keys/],
    ['null value', [{ name: 'retention.ms', op: SET, value: null }], ErrorCode.INVALID_REQUEST, /Null value/],
    ['unknown operation', [{ name: 'retention.ms', op: 9, value: '1' }], ErrorCode.INVALID_REQUEST, /operation/],
    ['one bad among good ones', [{ name: 'retention.bytes', op: SET, value: '1000' }, { name: 'segment.bytes', op: SET, value: '12' }], ErrorCode.INVALID_CONFIG, /segment.bytes/],
  ];
  for (const [label, configs, code, message] of cases) {
    const r = await incremental([{ name: 'cfg', configs }]);
    assert.equal(r.responses[0].errorCode, code, label);
    assert.match(r.responses[0].errorMessage, message, label);
  }
  assert.equal((await describeConfig('cfg', 'retention.bytes')).source, SOURCE_DEFAULT);
  assert.equal((await describeConfig('cfg', 'retention.ms')).source, SOURCE_DEFAULT);

  const unknown = await incremental([{ name: 'no-such-topic', configs: [{ name: 'retention.ms', op: SET, value: '1' }] }]);
  assert.equal(unknown.responses[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const invalidName = await incremental([{ name: 'bad name!', configs: [] }]);
  assert.equal(invalidName.responses[0].errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
  const dup = await incremental([{ name: 'cfg', configs: [] }, { name: 'cfg', configs: [] }, { name: 'legacy', configs: [] }]);
  assert.deepEqual(errors(dup), [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, 0]);

  // Broker resources (dynamic configs: test/security/dynamic-broker-configs.test.ts): static keys; per-broker
  // keys on the cluster default; a name that is no broker id; BROKER_LOGGER.
  const brokers = await incremental([
    { type: BROKER, name: '1', configs: [{ name: 'num.partitions', op: SET, value: '3' }] },
    { type: BROKER, name: '', configs: [{ name: 'ssl.keystore.location', op: SET, value: '/x.pem' }] },
    { type: BROKER, name: 'seven', configs: [] },
    { type: BROKER_LOGGER, name: '1', configs: [{ name: 'root', op: SET, value: 'DEBUG' }] },
  ]);
  assert.deepEqual(errors(brokers), [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]);
  assert.match(brokers.responses[0].errorMessage, /Cannot update these configs dynamically: Set\(num.partitions\)/);
  assert.match(brokers.responses[1].errorMessage, /broker id must be specified/);
  assert.deepEqual(errors(await incremental([{ type: BROKER, name: '1', configs: [] }])), [0]);
  const describedBroker = await c.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: BROKER, resourceName: '1', configurationKeys: ['log.retention.ms'] }], includeSynonyms: false, includeDocumentation: false });
  assert.equal(describedBroker.results[0].configs[0].value, null);
});

test('AlterConfigs replaces the whole set; the new max.message.bytes applies to produce at once', async () => {
  const alter = (configs: { name: string; value: string | null }[], validateOnly = false, version = 2) =>
    c.request(ApiKey.AlterConfigs, version, { resources: [{ resourceType: TOPIC, resourceName: 'legacy', configs }], validateOnly });
  assert.deepEqual(errors(await alter([{ name: 'retention.ms', value: '1000' }, { name: 'max.message.bytes', value: '200' }], false, 0)), [0]);
  assert.equal((await describeConfig('legacy', 'retention.ms')).value, '1000');
  const big = await produce('legacy', 0, 1, 500);
  assert.equal(big.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
  assert.deepEqual(errors(await alter([{ name: 'retention.ms', value: '2000' }])), [0]);
  assert.deepEqual(await describeConfig('legacy', 'retention.ms'), { value: '2000', source: SOURCE_DYNAMIC_TOPIC });
  assert.equal((await describeConfig('legacy', 'max.message.bytes')).source, SOURCE_DEFAULT);
  assert.equal((await produce('legacy', 0, 1, 500)).errorCode, 0);
  assert.equal((await alter([{ name: 'retention.ms', value: null }])).responses[0].errorCode, ErrorCode.INVALID_REQUEST);
  assert.equal((await alter([{ name: 'retention.ms', value: 'x' }])).responses[0].errorCode, ErrorCode.INVALID_CONFIG);
  assert.equal((await describeConfig('legacy', 'retention.ms')).value, '2000');
});

test('CreatePartitions grows a topic (Metadata and produce see it); shrinking and other bad input are refused', async () => {
  const create = (topics: { name: string; count: number; assignments?: { brokerIds: number[] }[] | null }[], validateOnly = false) =>
    c.request(ApiKey.CreatePartitions, 3, { topics: topics.map((t) => ({ assignments: null, ...t })), timeoutMs: 5000, validateOnly });
  const res = (r: any) => r.results.map((x: any) => [x.name, x.errorCode]);
  assert.deepEqual(res(await create([{ name: 'grow', count: 3 }], true)), [['grow', 0]]);
  const partitions = async () => (await topicMetadata(c, 'grow')).partitions.length;
  assert.equal(await partitions(), 1);
  assert.deepEqual(res(await create([{ name: 'grow', count: 3 }])), [['grow', 0]]);
  assert.equal(await partitions(), 3);
  const p = await produce('grow', 2, 3);
  assert.deepEqual([p.errorCode, Number(p.baseOffset)], [0, 0]);

  const bad = await create([
    { name: 'grow', count: 3 },
    { name: 'delrec', count: 0 },
    { name: 'no-such-topic', count: 4 },
    { name: 'dtp-b', count: 3, assignments: [{ brokerIds: [1] }] },
    { name: 'logdirs', count: 2, assignments: [{ brokerIds: [42] }] },
  ]);
  assert.deepEqual(res(bad), [
    ['grow', ErrorCode.INVALID_PARTITIONS],
    ['delrec', ErrorCode.INVALID_PARTITIONS],
    ['no-such-topic', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ['dtp-b', ErrorCode.INVALID_REPLICA_ASSIGNMENT],
    ['logdirs', ErrorCode.INVALID_REPLICA_ASSIGNMENT],
  ]);
  assert.match(bad.results[0].errorMessage, /already has 3 partitions/);
  assert.match(bad.results[1].errorMessage, /currently has 1 partitions, which is higher than the requested 0/);
  assert.deepEqual(res(await create([{ name: 'grow', count: 4 }, { name: 'grow', count: 5 }])), [['grow', ErrorCode.INVALID_REQUEST], ['grow', ErrorCode.INVALID_REQUEST]]);
  assert.equal(await partitions(), 3);
  // Assignments naming this broker are accepted.
  assert.deepEqual(res(await create([{ name: 'grow', count: 4, assignments: [{ brokerIds: [1] }] }])), [['grow', 0]]);
  assert.equal(await partitions(), 4);
});

test('DeleteRecords moves the log start: fetches below it are OFFSET_OUT_OF_RANGE, ListOffsets earliest returns it', async () => {
  assert.equal((await produce('delrec', 0, 5)).errorCode, 0); // offsets 0-4
  assert.equal((await produce('delrec', 0, 5)).errorCode, 0); // offsets 5-9
  const del = (partitions: { partitionIndex: number; offset: bigint }[], topic = 'delrec') =>
    c.request(ApiKey.DeleteRecords, 2, { topics: [{ name: topic, partitions }], timeoutMs: 5000 }).then((r: any) => r.topics[0].partitions.map((p: any) => [p.partitionIndex, Number(p.lowWatermark), p.errorCode]));
  assert.deepEqual(await del([{ partitionIndex: 0, offset: 7n }]), [[0, 7, 0]]);

  const below = await fetchAt('delrec', 0, 3n);
  assert.equal(below.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  const at = await fetchAt('delrec', 0, 7n);
  assert.deepEqual([at.errorCode, Number(at.logStartOffset), Number(at.highWatermark)], [0, 7, 10]);
  assert.ok(at.records!.length > 0);
  assert.equal(Number((await listOffset(c, 'delrec', 0, EARLIEST)).offset), 7);

  // Below the log start: no change; beyond the high watermark and below -1: OFFSET_OUT_OF_RANGE; unknown partitions.
  assert.deepEqual(await del([{ partitionIndex: 0, offset: 2n }]), [[0, 7, 0]]);
  assert.deepEqual(await del([{ partitionIndex: 0, offset: 11n }]), [[0, -1, ErrorCode.OFFSET_OUT_OF_RANGE]]);
  assert.deepEqual(await del([{ partitionIndex: 0, offset: -3n }]), [[0, -1, ErrorCode.OFFSET_OUT_OF_RANGE]]);
  assert.deepEqual(await del([{ partitionIndex: 5, offset: 1n }]), [[5, -1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
  assert.deepEqual(await del([{ partitionIndex: 0, offset: 1n }], 'no-such-topic'), [[0, -1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
  // -1: everything up to the high watermark.
  assert.deepEqual(await del([{ partitionIndex: 0, offset: -1n }]), [[0, 10, 0]]);
  assert.equal((await fetchAt('delrec', 0, 9n)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  const end = await fetchAt('delrec', 0, 10n);
  assert.deepEqual([end.errorCode, Number(end.logStartOffset), end.records?.length ?? 0], [0, 10, 0]);
  // Producing goes on at the high watermark.
  assert.equal(Number((await produce('delrec', 0, 1)).baseOffset), 10);
});

test('DescribeTopicPartitions pages by partitions with a cursor, in topic name order', async () => {
  const req = (topics: string[], limit: number, cursor: { topicName: string; partitionIndex: number } | null = null) =>
    c.request(ApiKey.DescribeTopicPartitions, 0, { topics: topics.map((name) => ({ name })), responsePartitionLimit: limit, cursor });
  const view = (r: any) => r.topics.map((t: any) => [t.name, t.errorCode, t.partitions.map((p: any) => p.partitionIndex)]);
  const first = await req(['dtp-b', 'dtp-a', 'no-such-topic'], 2);
  assert.deepEqual(view(first), [['dtp-a', 0, [0, 1]]]);
  assert.deepEqual(first.nextCursor, { topicName: 'dtp-a', partitionIndex: 2 });
  const second = await req(['dtp-b', 'dtp-a', 'no-such-topic'], 2, first.nextCursor);
  assert.deepEqual(view(second), [['dtp-a', 0, [2]], ['dtp-b', 0, [0]]]);
  assert.deepEqual(second.nextCursor, { topicName: 'no-such-topic', partitionIndex: 0 });
  const third = await req(['dtp-b', 'dtp-a', 'no-such-topic'], 2, second.nextCursor);
  assert.deepEqual(view(third), [['no-such-topic', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, []]]);
  assert.equal(third.nextCursor, null);
  const p = first.topics[0].partitions[0];
  const id = broker.broker.nodeId;
  assert.deepEqual([p.leaderId, p.replicaNodes, p.isrNodes], [id, [id], [id]]);
  // All topics (empty list): every topic once.
  const all = await req([], 2000);
  const names = all.topics.map((t: any) => t.name);
  assert.deepEqual(names, [...names].sort());
  assert.ok(names.includes('dtp-a') && names.includes('cfg'));
  const badCursor = await req(['dtp-a'], 10, { topicName: 'zzz', partitionIndex: 0 });
  assert.equal(badCursor.topics[0].errorCode, ErrorCode.INVALID_REQUEST);
});

test('DescribeLogDirs reports diskless partitions under the "diskless" pseudo log dir with their sizes', async () => {
  await produce('logdirs', 0, 10, 100);
  for (const v of [1, 2, 3, 4]) {
    const r = await c.request(ApiKey.DescribeLogDirs, v, { topics: [{ topic: 'logdirs', partitions: [0, 5] }, { topic: 'no-such-topic', partitions: [0] }] });
    const diskless = r.results.find((d: any) => d.logDir === 'diskless');
    assert.ok(diskless, `v${v}`);
    assert.equal(diskless.errorCode, 0);
    assert.equal(diskless.topics.length, 1);
    assert.equal(diskless.topics[0].name, 'logdirs');
    assert.deepEqual(diskless.topics[0].partitions.map((p: any) => p.partitionIndex), [0]);
    assert.ok(diskless.topics[0].partitions[0].partitionSize > 1000n);
  }
  const all = await c.request(ApiKey.DescribeLogDirs, 4, { topics: null });
  const diskless = all.results.find((d: any) => d.logDir === 'diskless');
  assert.ok(diskless.topics.some((t: any) => t.name === 'dtp-a' && t.partitions.length === 3));
  assert.equal(diskless.totalBytes, -1n);
});

test('ElectLeaders: nothing to elect on diskless partitions', async () => {
  const r = await c.request(ApiKey.ElectLeaders, 2, { electionType: 0, topicPartitions: [{ topic: 'dtp-a', partitions: [0, 2, 9] }, { topic: 'no-such-topic', partitions: [0] }], timeoutMs: 5000 });
  assert.equal(r.errorCode, 0);
  assert.deepEqual(r.replicaElectionResults.map((t: any) => [t.topic, t.partitionResult.map((p: any) => p.errorCode)]), [
    ['dtp-a', [ErrorCode.ELECTION_NOT_NEEDED, ErrorCode.ELECTION_NOT_NEEDED, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
    ['no-such-topic', [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
  ]);
  const all = await c.request(ApiKey.ElectLeaders, 1, { electionType: 1, topicPartitions: null, timeoutMs: 5000 });
  assert.deepEqual([all.errorCode, all.replicaElectionResults], [0, []]);
  const v0 = await c.request(ApiKey.ElectLeaders, 0, { topicPartitions: [{ topic: 'dtp-b', partitions: [0] }], timeoutMs: 5000 });
  assert.equal(v0.replicaElectionResults[0].partitionResult[0].errorCode, ErrorCode.ELECTION_NOT_NEEDED);
  const badType = await c.request(ApiKey.ElectLeaders, 2, { electionType: 5, topicPartitions: null, timeoutMs: 5000 });
  assert.equal(badType.errorCode, ErrorCode.INVALID_REQUEST);
});
