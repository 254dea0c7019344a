/**
 * Bad input, one case per test: each gets Kafka's error code, or — for framing errors — a closed
 * connection, and the broker goes on serving everyone else.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, withClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { fetchPartition, fetchRequest } from '../helpers/fetch.ts';
import { LATEST, listOffset } from '../helpers/list-offsets.ts';
import { produce, produceRequest } from '../helpers/produce.ts';
import { createTopics } from '../helpers/topics.ts';
import { buildLegacyMessageSet, buildRecordBatch } from '../helpers/record-batch.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker({ 'socket.request.max.bytes': 1 << 20, 'auto.create.topics.enable': false });
  await withClient(broker.port, (c) => createTopics(c, [{ name: 'bad-input', partitions: 2 }, { name: 'small-messages', configs: { 'max.message.bytes': '1000' } }]));
});

/** The broker still answers a fresh client. */
async function assertServing(): Promise<void> {
  const c = await RawClient.connect(broker.port);
  const r = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'floe-test', clientSoftwareVersion: '1.0' });
  assert.equal(r.errorCode, 0);
  c.close();
}

/** Produces `records` on a connection of its own; resolves with the partition's answer. */
function produceOne(records: Buffer, topic = 'bad-input', partition = 0, acks = -1, version = 9) {
  return withClient(broker.port, (c) => produce(c, topic, partition, records, { acks, timeoutMs: 5000, version }));
}

async function validBatch(value = 'hello'): Promise<Buffer> {
  return buildRecordBatch({ records: [{ key: Buffer.from('k'), value: Buffer.from(value) }] });
}

test('a negative frame size closes the connection', async () => {
  const c = await RawClient.connect(broker.port);
  c.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
  assert.equal(await c.expectClosed(), true);
  await assertServing();
});

test('a frame larger than socket.request.max.bytes closes the connection', async () => {
  const c = await RawClient.connect(broker.port);
  const header = Buffer.alloc(4);
  header.writeInt32BE((1 << 20) + 1);
  c.write(header);
  assert.equal(await c.expectClosed(), true);
  await assertServing();
});

test('a frame too short for a request header closes the connection', async () => {
  const c = await RawClient.connect(broker.port);
  c.write(Buffer.from([0, 0, 0, 3, 0, 18, 0]));
  assert.equal(await c.expectClosed(), true);
  await assertServing();
});

test('a truncated request body (length says more than the body holds) closes the connection', async () => {
  const c = await RawClient.connect(broker.port);
  const frame = RawClient.frame(ApiKey.Metadata, 12, { topics: [{ name: 'bad-input', topicId: '00000000-0000-0000-0000-000000000000' }] }, 1);
  // Cut the body short but fix the size field so the frame itself is complete.
  const cut = frame.subarray(0, frame.length - 6);
  cut.writeInt32BE(cut.length - 4, 0);
  c.write(cut);
  assert.equal(await c.expectClosed(), true);
  await assertServing();
});

test('garbage frames close the connection and never crash the broker', async () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 40; i++) {
    const c = await RawClient.connect(broker.port);
    const body = Buffer.alloc(8 + Math.floor(rand() * 200));
    for (let j = 0; j < body.length; j++) body[j] = Math.floor(rand() * 256);
    // Keep a known API key and version half the time, so the body decoder itself is fuzzed.
    if (i % 2 === 0) { body.writeInt16BE([0, 1, 2, 3, 19, 32][i % 6]!, 0); body.writeInt16BE(4, 2); }
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    c.write(Buffer.concat([size, body]));
    try {
      await c.readFrame(2000); // a decodable frame may get an answer; that is fine too
    } catch {
      // closed or no answer
    }
    c.close();
  }
  await assertServing();
});

test('an unknown API key closes the connection', async () => {
  const c = await RawClient.connect(broker.port);
  const frame = RawClient.frame(ApiKey.ApiVersions, 0, {}, 7);
  frame.writeInt16BE(999, 4);
  c.write(frame);
  assert.equal(await c.expectClosed(), true);
  await assertServing();
});

test('an unsupported version of a known API closes the connection', async () => {
  const c = await RawClient.connect(broker.port);
  const frame = RawClient.frame(ApiKey.Metadata, 12, { topics: null }, 7);
  frame.writeInt16BE(99, 6);
  c.write(frame);
  assert.equal(await c.expectClosed(), true);
  await assertServing();
});

test('ApiVersions with a too-new version is answered at v0 with UNSUPPORTED_VERSION and the API list', async () => {
  const c = await RawClient.connect(broker.port);
  const frame = RawClient.frame(ApiKey.ApiVersions, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' }, 77);
  frame.writeInt16BE(99, 6);
  c.write(frame);
  const r = await c.readResponse(ApiKey.ApiVersions, 0, 77);
  assert.equal(r.errorCode, ErrorCode.UNSUPPORTED_VERSION);
  assert.ok(r.apiKeys.some((k: any) => k.apiKey === ApiKey.ApiVersions && k.maxVersion >= 3));
  c.close();
});

test('ApiVersions v3 with an invalid client software name gets INVALID_REQUEST', async () => {
  const c = await RawClient.connect(broker.port);
  const r = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: '-bad name!', clientSoftwareVersion: '1.0' });
  assert.equal(r.errorCode, ErrorCode.INVALID_REQUEST);
  c.close();
});

test('a batch with a bad CRC gets CORRUPT_MESSAGE', async () => {
  const batch = await validBatch();
  batch[batch.length - 1] ^= 0xff;
  assert.equal((await produceOne(batch)).errorCode, ErrorCode.CORRUPT_MESSAGE);
});

test('a truncated batch gets CORRUPT_MESSAGE', async () => {
  const batch = await validBatch();
  assert.equal((await produceOne(batch.subarray(0, batch.length - 3))).errorCode, ErrorCode.CORRUPT_MESSAGE);
});

test('magic 0 and magic 1 message sets at Produce v3+ get INVALID_RECORD, as Kafka', async () => {
  for (const magic of [0, 1] as const) {
    assert.equal((await produceOne(buildLegacyMessageSet(magic))).errorCode, ErrorCode.INVALID_RECORD);
  }
});

test('a batch over the topic max.message.bytes gets MESSAGE_TOO_LARGE', async () => {
  const batch = await validBatch('x'.repeat(2000));
  assert.equal((await produceOne(batch, 'small-messages')).errorCode, ErrorCode.MESSAGE_TOO_LARGE);
  assert.equal((await produceOne(await validBatch('small'), 'small-messages')).errorCode, ErrorCode.NONE);
});

test('a batch whose record count disagrees with its offset deltas gets INVALID_RECORD', async () => {
  const batch = await buildRecordBatch({ records: [{ value: Buffer.from('a') }, { value: Buffer.from('b') }] });
  batch.writeInt32BE(5, 23); // lastOffsetDelta
  const { crc32c } = await import('@node-rs/crc32');
  batch.writeUInt32BE(crc32c(batch.subarray(21)) >>> 0, 17);
  assert.equal((await produceOne(batch)).errorCode, ErrorCode.INVALID_RECORD);
});

test('an empty records field gets INVALID_RECORD', async () => {
  assert.equal((await produceOne(Buffer.alloc(0))).errorCode, ErrorCode.INVALID_RECORD);
});

test('acks other than -1, 0, 1 get INVALID_REQUIRED_ACKS', async () => {
  assert.equal((await produceOne(await validBatch(), 'bad-input', 0, 5)).errorCode, ErrorCode.INVALID_REQUIRED_ACKS);
});

test('unknown topics and partitions get UNKNOWN_TOPIC_OR_PARTITION in Produce, Fetch and ListOffsets', async () => {
  assert.equal((await produceOne(await validBatch(), 'no-such-topic')).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal((await produceOne(await validBatch(), 'bad-input', 7)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal((await produceOne(await validBatch(), 'bad-input', -1)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const c = await RawClient.connect(broker.port);
  const f = await c.request(ApiKey.Fetch, 11, fetchRequest([{ topic: 'no-such-topic', partition: 0, offset: 0n }, { topic: 'bad-input', partition: 9, offset: 0n }]));
  assert.equal(f.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal(f.responses[1].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal((await listOffset(c, 'no-such-topic', 0, LATEST)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  c.close();
});

test('Fetch v13 with an unknown topic id gets UNKNOWN_TOPIC_ID', async () => {
  const c = await RawClient.connect(broker.port);
  const f = await c.request(ApiKey.Fetch, 13, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topicId: '11111111-2222-3333-4444-555555555555', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
  });
  assert.equal(f.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  c.close();
});

test('fetch offsets beyond the high watermark or negative get OFFSET_OUT_OF_RANGE', async () => {
  assert.equal((await produceOne(await validBatch(), 'bad-input', 1)).errorCode, 0);
  const c = await RawClient.connect(broker.port);
  for (const offset of [1000n, -5n]) {
    assert.equal((await fetchPartition(c, 'bad-input', 1, offset)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset}`);
  }
  c.close();
});

test('invalid topic names get INVALID_TOPIC_EXCEPTION in CreateTopics and Metadata', async () => {
  const c = await RawClient.connect(broker.port);
  const names = ['bad/name', '..', '', 'x'.repeat(250), 'space name'];
  const r = await c.request(ApiKey.CreateTopics, 7, {
    topics: names.map((name) => ({ name, numPartitions: 1, replicationFactor: 1, configs: [] })), timeoutMs: 5000,
  });
  for (const t of r.topics) assert.equal(t.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION, `name ${JSON.stringify(t.name)}`);
  const m = await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'bad/name', topicId: '00000000-0000-0000-0000-000000000000' }], allowAutoTopicCreation: true });
  assert.equal(m.topics[0].errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
  c.close();
});

test('absurd partition counts, replication factors and config values are refused with Kafka codes', async () => {
  const c = await RawClient.connect(broker.port);
  const r = await c.request(ApiKey.CreateTopics, 7, {
    topics: [
      { name: 'zero-parts', numPartitions: 0, replicationFactor: 1, configs: [] },
      { name: 'neg-parts', numPartitions: -7, replicationFactor: 1, configs: [] },
      { name: 'huge-parts', numPartitions: 2_000_000_000, replicationFactor: 1, configs: [] },
      { name: 'zero-rf', numPartitions: 1, replicationFactor: 0, configs: [] },
      { name: 'bad-config', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'retention.ms', value: 'soon' }] },
      { name: 'unknown-config', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'no.such.config', value: '1' }] },
      { name: 'compact', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'min.cleanable.dirty.ratio', value: '1.5' }] },
    ],
    timeoutMs: 5000,
  });
  const codes = Object.fromEntries(r.topics.map((t: any) => [t.name, t.errorCode]));
  assert.deepEqual(codes, {
    'zero-parts': ErrorCode.INVALID_PARTITIONS,
    'neg-parts': ErrorCode.INVALID_PARTITIONS,
    'huge-parts': ErrorCode.INVALID_PARTITIONS,
    'zero-rf': ErrorCode.INVALID_REPLICATION_FACTOR,
    'bad-config': ErrorCode.INVALID_CONFIG,
    'unknown-config': ErrorCode.INVALID_CONFIG,
    compact: ErrorCode.INVALID_CONFIG,
  });
  const compactMessage = r.topics.find((t: any) => t.name === 'compact').errorMessage;
  assert.match(compactMessage, /min\.cleanable\.dirty\.ratio/);
  const listed = await c.request(ApiKey.Metadata, 12, { topics: null, allowAutoTopicCreation: false });
  assert.ok(!listed.topics.some((t: any) => Object.keys(codes).includes(t.name)), 'nothing was created');
  c.close();
});

test('ListOffsets with an invalid negative timestamp gets INVALID_REQUEST', async () => {
  const c = await RawClient.connect(broker.port);
  assert.equal((await listOffset(c, 'bad-input', 0, -17n, 9)).errorCode, ErrorCode.INVALID_REQUEST);
  c.close();
});

test('a failed acks=0 produce closes the connection; a good one gets no response', async () => {
  const c = await RawClient.connect(broker.port);
  c.write(RawClient.frame(ApiKey.Produce, 9, produceRequest([{ topic: 'bad-input', partition: 0, records: await validBatch() }], { acks: 0, timeoutMs: 1000 }), 1));
  const meta = await c.request(ApiKey.Metadata, 12, { topics: null, allowAutoTopicCreation: false });
  assert.ok(meta.brokers.length === 1, 'the next response is the metadata one: acks=0 got none');
  c.write(RawClient.frame(ApiKey.Produce, 9, produceRequest([{ topic: 'no-such-topic', partition: 0, records: await validBatch() }], { acks: 0, timeoutMs: 1000 }), 2));
  assert.equal(await c.expectClosed(), true);
  await assertServing();
});

/** Coordinator operations of `op` this broker has run so far (its /metrics counter). */
async function coordinatorOps(op: string): Promise<number> {
  const metric = await broker.broker.metrics.coordinatorOps.get();
  return metric.values.filter((v) => v.labels.op === op).reduce((n, v) => n + v.value, 0);
}

test('a topic name no topic can have (a NUL byte) is unknown at once, without a coordinator query', async () => {
  const name = 'nul\0name';
  const before = await coordinatorOps('getTopic');
  assert.equal((await produceOne(await validBatch(), name)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const c = await RawClient.connect(broker.port);
  const f = await c.request(ApiKey.Fetch, 11, fetchRequest([{ topic: name, partition: 0, offset: 0n }]));
  assert.equal(f.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal((await listOffset(c, name, 0, LATEST)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const m = await c.request(ApiKey.Metadata, 12, { topics: [{ name, topicId: '00000000-0000-0000-0000-000000000000' }], allowAutoTopicCreation: true });
  assert.equal(m.topics[0].errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
  c.close();
  assert.equal(await coordinatorOps('getTopic'), before, 'the coordinator was not asked');
  await assertServing();
});

test('a group id with a NUL byte gets INVALID_GROUP_ID (the coordinator cannot store it)', async () => {
  const c = await RawClient.connect(broker.port);
  const found = await c.request(ApiKey.FindCoordinator, 3, { key: 'nul\0group', keyType: 0 });
  assert.equal(found.errorCode, ErrorCode.INVALID_GROUP_ID);
  const committed = await c.request(ApiKey.OffsetCommit, 8, {
    groupId: 'nul\0group', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'bad-input', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  assert.equal(committed.topics[0].partitions[0].errorCode, ErrorCode.INVALID_GROUP_ID);
  c.close();
  await assertServing();
});

test('int64 offsets and timestamps past 2^53 are answered as Kafka does, never rounded into another value', async () => {
  const c = await RawClient.connect(broker.port);
  // No record has a timestamp near 2^63: no offset, no error.
  const late = await listOffset(c, 'bad-input', 0, 2n ** 63n - 1n, 9);
  assert.deepEqual([late.errorCode, late.offset], [ErrorCode.NONE, -1n]);
  const deleted = await c.request(ApiKey.DeleteRecords, 2, { topics: [{ name: 'bad-input', partitions: [{ partitionIndex: 0, offset: 2n ** 62n }] }], timeoutMs: 5000 });
  assert.equal(deleted.topics[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.equal((await fetchPartition(c, 'bad-input', 0, 2n ** 62n + 1n)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  // A committed offset is any int64 (Kafka stores what it is given): it reads back exactly.
  const huge = 2n ** 62n + 1n;
  const committed = await c.request(ApiKey.OffsetCommit, 8, {
    groupId: 'int64-offsets', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'bad-input', partitions: [{ partitionIndex: 0, committedOffset: huge, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  assert.equal(committed.topics[0].partitions[0].errorCode, ErrorCode.NONE);
  const fetched = await c.request(ApiKey.OffsetFetch, 8, { groups: [{ groupId: 'int64-offsets', memberId: null, memberEpoch: -1, topics: null }], requireStable: false });
  assert.equal(fetched.groups[0].topics[0].partitions[0].committedOffset, huge);
  c.close();
});

test('a produce with a producer id past 2^53 gets UNKNOWN_PRODUCER_ID, not another producer\'s sequence state', async () => {
  const batch = await buildRecordBatch({ producerId: 2n ** 60n + 1n, producerEpoch: 0, baseSequence: 0, records: [{ key: null, value: Buffer.from('forged') }] });
  const r = await produceOne(batch);
  assert.equal(r.errorCode, ErrorCode.UNKNOWN_PRODUCER_ID);
  assert.match(r.errorMessage ?? '', /2\^53/);
  const c = await RawClient.connect(broker.port);
  const ids = await c.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: -1, producerId: 2n ** 60n, producerEpoch: 3 });
  assert.equal(ids.errorCode, ErrorCode.NONE, 'an id never handed out gets a new one');
  assert.ok(ids.producerId >= 0n && ids.producerId < 2n ** 53n && ids.producerEpoch === 0);
  c.close();
});
