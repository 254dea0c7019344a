/**
 * Produce and Fetch behaviour at pinned protocol versions: pipelining, ordering, long poll, byte limits,
 * LogAppendTime patching, record-granular ListOffsets, and where the bytes live.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { batchesIn, fetchPartition, fetchRequest } from '../helpers/fetch.ts';
import { listOffset } from '../helpers/list-offsets.ts';
import { produce, produceRequest } from '../helpers/produce.ts';
import { batchOf, buildRecordBatch } from '../helpers/record-batch.ts';
import { createTopics, topicMetadata } from '../helpers/topics.ts';
import { sleep } from '../helpers/wait.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { crc32c } from '@node-rs/crc32';

let broker: TestBroker;
let client: RawClient;

before(async () => {
  broker = await startTestBroker({ 'diskless.commit.interval.ms': 100, 'node.id': 1 });
  client = await RawClient.connect(broker.port);
  await createTopics(client, [
    { name: 'pf', partitions: 4 },
    { name: 'lat', configs: { 'message.timestamp.type': 'LogAppendTime' } },
    { name: 'times' },
  ]);
});

test('pipelined produce requests on one connection are answered in order with increasing offsets', async () => {
  const ids: number[] = [];
  for (let i = 0; i < 50; i++) {
    const id = 1000 + i;
    ids.push(id);
    client.write(RawClient.frame(ApiKey.Produce, 9, produceRequest([{ topic: 'pf', partition: 0, records: await batchOf([`m${i}`, `n${i}`]) }]), id));
  }
  let last = -1;
  for (const id of ids) {
    const r = await client.readResponse(ApiKey.Produce, 9, id);
    const p = r.responses[0].partitionResponses[0];
    assert.equal(p.errorCode, 0);
    assert.equal(Number(p.baseOffset), last + 1, 'each request continues where the previous one ended');
    last = Number(p.baseOffset) + 1;
  }
});

test('fetched batches carry the assigned offsets, a valid CRC and leader epoch 0', async () => {
  const p = await fetchPartition(client, 'pf', 0);
  assert.equal(p.errorCode, 0);
  assert.equal(p.highWatermark, 100n);
  assert.equal(p.lastStableOffset, 100n);
  let expected = 0n;
  for (const batch of batchesIn(p.records)) {
    assert.equal(batch.readBigInt64BE(0), expected);
    assert.equal(batch.readInt32BE(12), 0);
    assert.equal(batch.readUInt32BE(17), crc32c(batch.subarray(21)) >>> 0);
    expected += BigInt(batch.readInt32BE(23) + 1);
  }
  assert.equal(expected, 100n);
});

test('a fetch in the middle of a batch returns that whole batch', async () => {
  const first = batchesIn((await fetchPartition(client, 'pf', 0, 5n)).records)[0]!;
  assert.equal(first.readBigInt64BE(0), 4n);
});

test('partition and request byte limits hold, but the first partition always gets one batch', async () => {
  const tiny = await client.request(ApiKey.Fetch, 11, fetchRequest([{ topic: 'pf', partition: 0, offset: 0n, maxBytes: 1 }]));
  assert.equal(batchesIn(tiny.responses[0].partitions[0].records).length, 1, 'at least one batch despite a 1-byte partition limit');
  const one = batchesIn(tiny.responses[0].partitions[0].records)[0]!;
  const limited = await client.request(ApiKey.Fetch, 11, fetchRequest([{ topic: 'pf', partition: 0, offset: 0n, maxBytes: one.length * 3 }]));
  assert.equal(batchesIn(limited.responses[0].partitions[0].records).length, 3);
  const request = await fetchPartition(client, 'pf', 0, 0n, { maxBytes: one.length * 2 });
  assert.equal(batchesIn(request.records).length, 2);
});

test('a long poll is woken by a commit, well before max.wait.ms', async () => {
  const start = Date.now();
  const waiting = fetchPartition(client, 'pf', 1, 0n, { maxWaitMs: 10_000, minBytes: 1 });
  const producer = await RawClient.connect(broker.port);
  await sleep(200);
  assert.equal((await produce(producer, 'pf', 1, 'wake')).errorCode, 0);
  const f = await waiting;
  const elapsed = Date.now() - start;
  assert.equal(batchesIn(f.records).length, 1);
  assert.ok(elapsed < 5000, `woken after ${elapsed} ms`);
  producer.close();
});

test('a long poll with no data answers empty when max.wait.ms ends', async () => {
  const start = Date.now();
  const f = await fetchPartition(client, 'pf', 2, 0n, { maxWaitMs: 300, minBytes: 1 });
  assert.ok(Date.now() - start >= 280);
  assert.equal(f.errorCode, 0);
  assert.equal(f.records!.length, 0);
});

test('Fetch v4 (oldest), v12 (flexible) and v17 (topic ids) all read the same data', async () => {
  const { topicId } = await topicMetadata(client, 'pf');
  const v4 = await fetchPartition(client, 'pf', 0, 0n, { version: 4 });
  const v12 = await fetchPartition(client, 'pf', 0, 0n, { version: 12 });
  const v17 = await client.request(ApiKey.Fetch, 17, fetchRequest([{ topic: 'pf', topicId, partition: 0, offset: 0n }]));
  assert.deepEqual(v12.records, v4.records);
  assert.deepEqual(v17.responses[0].partitions[0].records, v4.records);
  assert.equal(v17.responses[0].topicId, topicId);
});

test('Produce v13 addresses topics by id', async () => {
  const { topicId } = await topicMetadata(client, 'pf');
  const r = await client.request(ApiKey.Produce, 13, {
    acks: -1, timeoutMs: 5000, transactionalId: null,
    topicData: [{ topicId, partitionData: [{ index: 3, records: await batchOf('by-id') }] }],
  });
  assert.equal(r.responses[0].partitionResponses[0].errorCode, 0);
  assert.equal(r.responses[0].partitionResponses[0].baseOffset, 0n);
});

test('LogAppendTime topics: the produce response and fetched headers carry the append time, CRC valid', async () => {
  const before = Date.now();
  const p = await produce(client, 'lat', 0, await batchOf('a', { baseTimestamp: 1000n }));
  assert.equal(p.errorCode, 0);
  const appendTime = Number(p.logAppendTimeMs);
  assert.ok(appendTime >= before - 5 && appendTime <= Date.now() + 5);
  const batch = batchesIn((await fetchPartition(client, 'lat', 0)).records)[0]!;
  assert.equal(batch.readInt16BE(21) & 0x08, 0x08, 'timestamp type bit set');
  assert.equal(Number(batch.readBigInt64BE(35)), appendTime);
  assert.equal(batch.readUInt32BE(17), crc32c(batch.subarray(21)) >>> 0);
});

test('ListOffsets: earliest, latest, max timestamp and by timestamp are record-granular', async () => {
  // One batch with three records at t=1000, 3000, 2000 and a second batch at t=5000.
  await produce(client, 'times', 0, await buildRecordBatch({
    baseTimestamp: 1000n, records: [{ value: Buffer.from('a'), timestampDelta: 0n }, { value: Buffer.from('b'), timestampDelta: 2000n }, { value: Buffer.from('c'), timestampDelta: 1000n }],
  }));
  await produce(client, 'times', 0, await buildRecordBatch({ baseTimestamp: 5000n, compression: 4, records: [{ value: Buffer.from('d') }, { value: Buffer.from('e'), timestampDelta: 10n }] }));
  const ask = async (timestamp: bigint) => {
    const p = await listOffset(client, 'times', 0, timestamp, 8);
    assert.equal(p.errorCode, 0);
    return [Number(p.offset), Number(p.timestamp)];
  };
  assert.deepEqual(await ask(-2n), [0, -1]);
  assert.deepEqual(await ask(-1n), [5, -1]);
  assert.deepEqual(await ask(-3n), [4, 5010]);
  assert.deepEqual(await ask(0n), [0, 1000]);
  assert.deepEqual(await ask(1500n), [1, 3000], 'the first record with timestamp >= 1500 is offset 1');
  assert.deepEqual(await ask(3000n), [1, 3000]);
  assert.deepEqual(await ask(3001n), [3, 5000]);
  assert.deepEqual(await ask(5005n), [4, 5010], 'inside a compressed batch');
  assert.deepEqual(await ask(9999n), [-1, -1]);
});

test('read_committed fetches see the same high watermark as the last stable offset', async () => {
  const p = await fetchPartition(client, 'pf', 0, 0n, { isolationLevel: 1 });
  assert.equal(p.lastStableOffset, p.highWatermark);
  assert.deepEqual(p.abortedTransactions, []);
});

test('DescribeConfigs: topic configs with sources, broker configs, and unknown resources', async () => {
  const r = await client.request(ApiKey.DescribeConfigs, 4, {
    resources: [
      { resourceType: 2, resourceName: 'lat', configurationKeys: null },
      { resourceType: 4, resourceName: '1', configurationKeys: ['num.partitions', 'log.diskless.enable'] },
      { resourceType: 2, resourceName: 'nope', configurationKeys: null },
    ],
    includeSynonyms: true, includeDocumentation: true,
  });
  const [topic, brokerRes, unknown] = r.results;
  const type = topic.configs.find((c: any) => c.name === 'message.timestamp.type');
  assert.equal(type.value, 'LogAppendTime');
  assert.equal(type.configSource, 1);
  const retention = topic.configs.find((c: any) => c.name === 'retention.ms');
  assert.equal(retention.value, '604800000');
  assert.notEqual(retention.configSource, 1);
  assert.deepEqual(brokerRes.configs.map((c: any) => c.name).sort(), ['log.diskless.enable', 'num.partitions']);
  assert.equal(unknown.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
});

test('DescribeCluster names this broker and the cluster id kept in data.dir', async () => {
  const r = await client.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
  assert.equal(r.errorCode, 0);
  assert.equal(r.brokers.length, 1);
  assert.equal(r.brokers[0].port, broker.port);
  assert.equal(r.clusterId, broker.broker.clusterId);
});

test('Metadata auto-creates a requested topic with num.partitions', async () => {
  const r = await client.request(ApiKey.Metadata, 4, { topics: [{ name: 'auto-made' }], allowAutoTopicCreation: true });
  assert.equal(r.topics[0].errorCode, 0);
  assert.equal(r.topics[0].partitions.length, 1);
  const none = await client.request(ApiKey.Metadata, 4, { topics: [{ name: 'not-made' }], allowAutoTopicCreation: false });
  assert.equal(none.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
});
