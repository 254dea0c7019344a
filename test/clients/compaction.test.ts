/**
 * Compacted classic topics with real clients (issue 14): kafkajs and kcat (librdkafka) produce 200 keys × 50
 * updates and 50 tombstones, then more records so the bulk leaves the active segment; the log cleaner
 * compacts, and a consumer from offset 0 reads one record per key, the latest, at the offset its producer
 * was told, the tombstones until delete.retention.ms has passed, then none; the high watermark never moves and
 * DescribeLogDirs shows the log shrink. Also: keyless records → INVALID_RECORD with Kafka's record error,
 * absurd compaction settings → INVALID_CONFIG naming the key, cleanup.policy changed at runtime, the
 * compacted view surviving a restart, and the topics Schema Registry and Kafka Connect create.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { Kafka } from 'kafkajs';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { kafkajs } from '../helpers/kafkajs.ts';
import { kcat, kcatConsume } from '../helpers/kcat.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { produce } from '../helpers/produce.ts';
import { buildRecordBatch } from '../helpers/record-batch.ts';
import { CLASSIC, createTopics } from '../helpers/topics.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { KEYS, TOMBSTONES, UPDATES, expectedView, highWatermark as hwOf, logDirSize as sizeOf, produceUpdates, readPartition, type Acked } from '../helpers/compaction.ts';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

const DELETE_RETENTION_MS = 8000;
const SEGMENT_MS = 500;
const COMPACT = { ...CLASSIC, 'cleanup.policy': 'compact', 'segment.ms': String(SEGMENT_MS), 'delete.retention.ms': String(DELETE_RETENTION_MS), 'min.cleanable.dirty.ratio': '0.01' };

let broker: TestBroker;
let client: RawClient;
let kafka: Kafka;

const readAll = (topic: string) => readPartition(broker.bootstrap, topic);
const highWatermark = (topic: string) => hwOf(client, topic);
const logDirSize = (topic: string) => sizeOf(client, topic);
const produceWithKafkajs = (topic: string) => produceUpdates(kafka, topic, SEGMENT_MS + 100);

before(async () => {
  broker = await startTestBroker({ 'log.cleaner.backoff.ms': 200 });
  client = await RawClient.connect(broker.port);
  kafka = kafkajs(broker.bootstrap, 'compaction-test');
});

/**
 * The same workload with kcat (librdkafka, lz4, idempotent). kcat prints no delivery offsets, so the
 * acknowledged offsets are read back before any compaction (the topic's dirty ratio threshold holds it).
 */
async function produceWithKcat(topic: string): Promise<Acked> {
  const dir = await tempDir('floe-kcat-');
  const lines: string[] = [];
  for (let u = 0; u < UPDATES; u++) for (let k = 0; k < KEYS; k++) lines.push(`key-${k}:value-${k}-${u}`);
  for (let k = 0; k < TOMBSTONES; k++) lines.push(`key-${k}:`);
  const input = join(dir, 'input.txt');
  await writeFile(input, lines.join('\n') + '\n');
  await kcat(['-b', broker.bootstrap, '-t', topic, '-p', '0', '-P', '-K', ':', '-Z', '-z', 'lz4', '-X', 'acks=all', '-X', 'enable.idempotence=true', '-l', input]);
  await sleep(SEGMENT_MS + 100);
  await kcat(['-b', broker.bootstrap, '-t', topic, '-p', '0', '-P', '-K', ':', '-X', 'acks=all', '-l', await writeLines(dir, Array.from({ length: 5 }, (_, i) => `filler-${i}:after the roll`))]);
  // The acknowledged offsets: the log as written, read before any compaction (the cleaner waits on a ratio of 1).
  const acked: Acked = new Map();
  for (const r of await readAll(topic)) acked.set(r.key, { offset: r.offset, value: r.value });
  return acked;
}

async function writeLines(dir: string, lines: string[]): Promise<string> {
  const path = join(dir, `lines-${Math.random().toString(36).slice(2)}.txt`);
  await writeFile(path, lines.join('\n') + '\n');
  return path;
}

async function checkCompaction(topic: string, acked: Acked): Promise<void> {
  const hw = await highWatermark(topic);
  assert.equal(hw, BigInt(KEYS * UPDATES + TOMBSTONES + 5));
  const sizeBefore = await logDirSize(topic);
  assert.equal((await readAll(topic)).length, KEYS * UPDATES + TOMBSTONES + 5, 'nothing compacted yet');
  const r = await client.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: topic, configs: [{ name: 'min.cleanable.dirty.ratio', configOperation: 0, value: '0.01' }] }], validateOnly: false });
  assert.equal(r.responses[0].errorCode, 0);
  // Compacted (with tombstones still there) well within the horizon.
  const withTombstones = expectedView(acked, true);
  await waitFor(`${topic} compacted`, async () => (await readAll(topic)).length === withTombstones.length, { timeoutMs: DELETE_RETENTION_MS - 2000, intervalMs: 200 });
  assert.deepEqual(await readAll(topic), withTombstones, 'one record per key, the latest, at its acknowledged offset; tombstones still there');
  assert.equal(await highWatermark(topic), hw, 'the high watermark is unchanged');
  const sizeAfter = await logDirSize(topic);
  assert.ok(sizeAfter < sizeBefore / 10, `DescribeLogDirs shows the log shrink (${sizeBefore} → ${sizeAfter})`);
  console.log(`classic compaction of ${topic}: ${KEYS * UPDATES + TOMBSTONES + 5} records → ${withTombstones.length}; DescribeLogDirs ${sizeBefore} → ${sizeAfter} bytes; ${JSON.stringify(broker.broker.storage.classic.cleaner.stats)}`);
  // After delete.retention.ms the tombstones go too.
  const live = expectedView(acked, false);
  await waitFor(`${topic} tombstones removed`, async () => (await readAll(topic)).length === live.length, { timeoutMs: DELETE_RETENTION_MS + 30_000, intervalMs: 500 });
  assert.deepEqual(await readAll(topic), live, 'tombstones gone after delete.retention.ms, the rest unchanged');
  assert.equal(await highWatermark(topic), hw);
}

test('kafkajs (idempotent) produces 200 keys × 50 updates + 50 tombstones to a compacted classic topic: compacted view, tombstones gone after delete.retention.ms', async () => {
  // A dirty ratio no log exceeds holds the cleaner back until the uncompacted log was measured.
  await createTopics(client, [{ name: 'cmp-kafkajs', configs: { ...COMPACT, 'min.cleanable.dirty.ratio': '1' } }]);
  const acked = await produceWithKafkajs('cmp-kafkajs');
  await checkCompaction('cmp-kafkajs', acked);
  const m = await broker.broker.metrics.registry.metrics();
  assert.match(m, /floe_log_cleaner_records_removed_total [1-9]/);
});

test('kcat (librdkafka, lz4, idempotent) produces the same workload: the same compacted view', async () => {
  // A ratio no log reaches: the cleaner waits until the acknowledged offsets were read, then the ratio drops.
  await createTopics(client, [{ name: 'cmp-kcat', configs: { ...COMPACT, 'min.cleanable.dirty.ratio': '1' } }]);
  const acked = await produceWithKcat('cmp-kcat');
  assert.equal(acked.size, KEYS + 5);
  await checkCompaction('cmp-kcat', acked);
});

test('records without a key are refused on a compacted topic with INVALID_RECORD and Kafka\'s record error (raw, kafkajs)', async () => {
  await createTopics(client, [{ name: 'cmp-keyless', configs: COMPACT }]);
  for (const compression of [0, 1, 2, 3, 4]) {
    const batch = await buildRecordBatch({ compression, records: [{ key: 'k', value: 'v' }, { key: null, value: 'no key' }, { key: null, value: 'none either' }] });
    const r = await produce(client, 'cmp-keyless', 0, batch, { version: 9 });
    assert.equal(r.errorCode, ErrorCode.INVALID_RECORD, `codec ${compression}`);
    assert.deepEqual(r.recordErrors.map((e: any) => e.batchIndex), [1, 2]);
    assert.equal(r.recordErrors[0]!.batchIndexErrorMessage, 'Compacted topic cannot accept message without key in topic partition cmp-keyless-0.');
    assert.match(r.errorMessage!, /One or more records have been rejected due to 2 record errors/);
  }
  assert.equal(await highWatermark('cmp-keyless'), 0n, 'nothing was appended');
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  await assert.rejects(producer.send({ topic: 'cmp-keyless', messages: [{ value: 'no key' }] }), (err: any) => err.type === 'INVALID_RECORD' || /INVALID_RECORD|invalid/i.test(String(err.message ?? err)));
  await producer.send({ topic: 'cmp-keyless', messages: [{ key: 'k', value: 'keyed' }] });
  await producer.disconnect();
  assert.equal(await highWatermark('cmp-keyless'), 1n);
});

test('absurd compaction settings are refused with INVALID_CONFIG naming the key (create and alter)', async () => {
  const cases: [string, string][] = [
    ['min.cleanable.dirty.ratio', '1.5'], ['min.cleanable.dirty.ratio', '-0.1'], ['min.compaction.lag.ms', '-1'],
    ['max.compaction.lag.ms', '0'], ['delete.retention.ms', '-5'], ['segment.ms', '0'], ['segment.bytes', '1000'],
    ['cleanup.policy', 'compactt'],
  ];
  for (const [name, value] of cases) {
    const r = await client.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'cmp-bad', numPartitions: 1, replicationFactor: 1, configs: [...Object.entries(CLASSIC).map(([n, v]) => ({ name: n, value: v })), { name: 'cleanup.policy', value: 'compact' }, { name, value }] }], timeoutMs: 5000 });
    assert.equal(r.topics[0].errorCode, ErrorCode.INVALID_CONFIG, `${name}=${value}`);
    assert.ok(r.topics[0].errorMessage.includes(name), `the message names ${name}: ${r.topics[0].errorMessage}`);
  }
  const lags = await client.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'cmp-bad', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'diskless.enable', value: 'false' }, { name: 'min.compaction.lag.ms', value: '10' }, { name: 'max.compaction.lag.ms', value: '5' }] }], timeoutMs: 5000 });
  assert.equal(lags.topics[0].errorCode, ErrorCode.INVALID_CONFIG);
  assert.match(lags.topics[0].errorMessage, /min\.compaction\.lag\.ms/);
  await createTopics(client, [{ name: 'cmp-alter-bad', configs: COMPACT }]);
  const alter = await client.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: 'cmp-alter-bad', configs: [{ name: 'min.cleanable.dirty.ratio', configOperation: 0, value: '2' }] }], validateOnly: false });
  assert.equal(alter.responses[0].errorCode, ErrorCode.INVALID_CONFIG);
  assert.match(alter.responses[0].errorMessage, /min\.cleanable\.dirty\.ratio/);
});

test('cleanup.policy changed at runtime: delete → compact compacts, compact → delete applies retention and accepts keyless records', async () => {
  await createTopics(client, [{ name: 'cmp-switch', configs: { ...CLASSIC, 'segment.ms': String(SEGMENT_MS) } }]);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  for (let u = 0; u < 5; u++) await producer.send({ topic: 'cmp-switch', messages: Array.from({ length: 20 }, (_, k) => ({ key: `k${k}`, value: `v${u}`, partition: 0 })) });
  await sleep(SEGMENT_MS + 100);
  await producer.send({ topic: 'cmp-switch', messages: [{ key: 'last', value: 'x', partition: 0 }] });
  await sleep(1000);
  assert.equal((await readAll('cmp-switch')).length, 101, 'cleanup.policy=delete: nothing is compacted');
  const set = (value: string) => client.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: 'cmp-switch', configs: [{ name: 'cleanup.policy', configOperation: 0, value }] }], validateOnly: false });
  assert.equal((await set('compact,delete')).responses[0].errorCode, 0);
  await waitFor('compacted after the policy change', async () => (await readAll('cmp-switch')).length === 21, { timeoutMs: 30_000, intervalMs: 200 });
  await assert.rejects(producer.send({ topic: 'cmp-switch', messages: [{ value: 'keyless' }] }));
  assert.equal((await set('delete')).responses[0].errorCode, 0);
  await producer.send({ topic: 'cmp-switch', messages: [{ value: 'keyless', partition: 0 }] });
  await producer.disconnect();
});

test('a compacted topic keeps its compacted view and cleaner checkpoint across a broker restart', async () => {
  const dataDir = await tempDir();
  const b1 = await startTestBroker({ 'log.cleaner.backoff.ms': 200 }, dataDir);
  const c1 = await RawClient.connect(b1.port);
  await createTopics(c1, [{ name: 'cmp-restart', configs: { ...COMPACT, 'min.cleanable.dirty.ratio': '0.01' } }]);
  const k1 = kafkajs(b1.bootstrap, 'restart');
  const producer = k1.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  for (let u = 0; u < 10; u++) await producer.send({ topic: 'cmp-restart', messages: Array.from({ length: 50 }, (_, k) => ({ key: `k${k}`, value: `v${u}`, partition: 0 })) });
  await sleep(SEGMENT_MS + 100);
  await producer.send({ topic: 'cmp-restart', messages: [{ key: 'after', value: 'roll', partition: 0 }] });
  await producer.disconnect();
  const read = async (bootstrap: string) => (await kcatConsume(bootstrap, 'cmp-restart', '%o\t%k\t%s\n')).sort();
  await waitFor('compacted', async () => (await read(b1.bootstrap)).length === 51, { timeoutMs: 30_000, intervalMs: 200 });
  const view = await read(b1.bootstrap);
  c1.close();
  await b1.close();
  const b2 = await startTestBroker({ 'log.cleaner.backoff.ms': 200 }, dataDir);
  assert.deepEqual(await read(b2.bootstrap), view, 'the same records at the same offsets after the restart');
  await b2.close();
});

test('Schema Registry\'s _schemas (1 partition, compact) and Kafka Connect\'s offset/config/status topics are created, described as compacted and usable', async () => {
  const topics = [
    { name: '_schemas', partitions: 1 },
    { name: 'connect-offsets', partitions: 25 },
    { name: 'connect-configs', partitions: 1 },
    { name: 'connect-status', partitions: 5 },
  ];
  await createTopics(client, topics.map((t) => ({ ...t, configs: { ...CLASSIC, 'cleanup.policy': 'compact' } })));
  for (const t of topics) {
    const d = await client.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: t.name, configurationKeys: ['cleanup.policy'] }], includeSynonyms: false, includeDocumentation: false });
    assert.equal(d.results[0].configs[0].value, 'compact', `${t.name} reports cleanup.policy=compact`);
  }
  const admin = kafka.admin();
  await admin.connect();
  const described = await admin.describeConfigs({ resources: [{ type: 2, name: '_schemas', configNames: ['cleanup.policy'] }], includeSynonyms: false });
  assert.equal(described.resources[0]!.configEntries[0]!.configValue, 'compact');
  const meta = await admin.fetchTopicMetadata({ topics: ['_schemas'] });
  assert.equal(meta.topics[0]!.partitions.length, 1);
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic: '_schemas', messages: [{ key: '{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}', value: '{"schema":"\\"string\\""}' }] });
  await producer.send({ topic: 'connect-configs', messages: [{ key: 'connector-c1', value: '{"properties":{}}' }] });
  await producer.send({ topic: 'connect-offsets', messages: [{ key: '["c1",{"file":"f"}]', value: '{"position":1}', partition: 3 }] });
  await producer.send({ topic: 'connect-status', messages: [{ key: 'status-connector-c1', value: '{"state":"RUNNING"}', partition: 2 }] });
  await producer.disconnect();
  const rows = await kcatConsume(broker.bootstrap, '_schemas', '%o\t%k\n');
  assert.deepEqual(rows, ['0\t{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}']);
});
