/**
 * Classic topics through the Kafka protocol, in a broker that also serves diskless topics: creation rules
 * (diskless.enable=false, replication factor 1 only), Produce/Fetch/ListOffsets at pinned versions, requests
 * mixing classic and diskless partitions (order, one shared byte budget), long poll woken by appends,
 * where the bytes live, retention and DeleteTopics.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { batchesIn, fetchRequest, fetchValues, valuesIn } from '../helpers/fetch.ts';
import { listOffset } from '../helpers/list-offsets.ts';
import { produce, produceRequest } from '../helpers/produce.ts';
import { batchOf, buildRecordBatch } from '../helpers/record-batch.ts';
import { CLASSIC, createTopic, createTopics, topicMetadata } from '../helpers/topics.ts';
import { sleep } from '../helpers/wait.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

let broker: TestBroker;
let client: RawClient;

before(async () => {
  broker = await startTestBroker({ 'diskless.commit.interval.ms': 100 });
  client = await RawClient.connect(broker.port);
  await createTopics(client, [
    { name: 'cl', partitions: 3, configs: CLASSIC },
    { name: 'cl-lat', configs: { ...CLASSIC, 'message.timestamp.type': 'LogAppendTime' } },
    { name: 'dl', partitions: 2 },
  ]);
});


test('classic topics: replication factor > 1 is refused with INVALID_REPLICATION_FACTOR; the topic is classic in DescribeConfigs', async () => {
  const r = await client.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'cl-rf3', numPartitions: 1, replicationFactor: 3, configs: [{ name: 'diskless.enable', value: 'false' }] }], timeoutMs: 5000 });
  assert.equal(r.topics[0].errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
  assert.match(r.topics[0].errorMessage, /replicated classic topics are not supported yet/);
  const rfDiskless = await client.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'dl-rf3', numPartitions: 1, replicationFactor: 3, configs: [] }], timeoutMs: 5000, validateOnly: true });
  assert.equal(rfDiskless.topics[0].errorCode, 0, 'diskless topics take any replication factor');
  const d = await client.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: 'cl', configurationKeys: ['diskless.enable'] }], includeSynonyms: false, includeDocumentation: false });
  assert.equal(d.results[0].configs[0].value, 'false');
  const meta = await topicMetadata(client, 'cl');
  assert.equal(meta.partitions.length, 3);
  for (const p of meta.partitions) assert.equal(p.leaderId, broker.broker.config.nodeId);
});

test('log.diskless.enable=false makes new topics classic, auto-created ones included', async () => {
  const b = await startTestBroker({ 'log.diskless.enable': false });
  const c = await RawClient.connect(b.port);
  const meta = await c.request(ApiKey.Metadata, 4, { topics: [{ name: 'auto-classic' }], allowAutoTopicCreation: true });
  assert.equal(meta.topics[0].errorCode, 0);
  assert.equal((await produce(c, 'auto-classic', 0, 'hello')).errorCode, 0);
  assert.ok((await readdir(join(b.dataDir, 'logs'))).includes('auto-classic-0'));
  assert.equal(b.broker.topics.get('auto-classic')!.diskless, false);
  c.close();
  await b.close();
});

test('pipelined produce requests mixing classic and diskless partitions are answered in order with contiguous offsets', async () => {
  const ids: number[] = [];
  for (let i = 0; i < 40; i++) {
    ids.push(2000 + i);
    const req = produceRequest([
      { topic: 'cl', partition: 0, records: await batchOf([`c${i}`, `c${i}b`]) },
      { topic: 'dl', partition: 0, records: await batchOf(`d${i}`) },
    ]);
    client.write(RawClient.frame(ApiKey.Produce, 9, req, 2000 + i));
  }
  let lastClassic = -1;
  let lastDiskless = -1;
  for (const id of ids) {
    const r = await client.readResponse(ApiKey.Produce, 9, id);
    const byName = new Map(r.responses.map((t: any) => [t.name, t.partitionResponses[0]]));
    const c: any = byName.get('cl');
    const d: any = byName.get('dl');
    assert.equal(c.errorCode, 0);
    assert.equal(d.errorCode, 0);
    assert.equal(Number(c.baseOffset), lastClassic + 1);
    assert.equal(Number(d.baseOffset), lastDiskless + 1);
    assert.equal(c.logStartOffset, 0n);
    lastClassic = Number(c.baseOffset) + 1;
    lastDiskless = Number(d.baseOffset);
  }
  const f = await client.request(ApiKey.Fetch, 11, fetchRequest([{ topic: 'cl', partition: 0, offset: 0n }, { topic: 'dl', partition: 0, offset: 0n }]));
  const [cl, dl] = f.responses.map((t: any) => t.partitions[0]);
  assert.equal(cl.errorCode, 0);
  assert.equal(cl.highWatermark, 80n);
  assert.deepEqual(await valuesIn(cl.records), Array.from({ length: 40 }, (_, i) => [`c${i}`, `c${i}b`]).flat());
  assert.deepEqual(await valuesIn(dl.records), Array.from({ length: 40 }, (_, i) => `d${i}`));
  let expected = 0n;
  for (const b of batchesIn(cl.records)) {
    assert.equal(b.readBigInt64BE(0), expected);
    assert.equal(b.readInt32BE(12), 0, 'leader epoch 0');
    assert.equal(b.readUInt32BE(17), crc32c(b.subarray(21)) >>> 0);
    expected += BigInt(b.readInt32BE(23) + 1);
  }
});

test('Fetch: a mid-batch offset returns that batch; the byte budget is shared across classic and diskless partitions in request order', async () => {
  const mid = await client.request(ApiKey.Fetch, 11, fetchRequest([{ topic: 'cl', partition: 0, offset: 5n }]));
  assert.equal(batchesIn(mid.responses[0].partitions[0].records)[0]!.readBigInt64BE(0), 4n);

  // maxBytes 1: only the first partition in request order gets data (one whole batch, KIP-74).
  for (const order of [['cl', 'dl'], ['dl', 'cl']] as const) {
    const f = await client.request(ApiKey.Fetch, 11, fetchRequest(order.map((topic) => ({ topic, partition: 0, offset: 0n })), { maxBytes: 1 }));
    const [first, second] = f.responses.map((t: any) => t.partitions[0]);
    assert.equal(batchesIn(first.records).length, 1, `${order[0]} first: one batch`);
    assert.equal(second.records.length, 0, `${order[1]} second: nothing left of the budget`);
  }
  // A budget of three classic batches: the classic partition takes them, the diskless one gets the rest.
  const classicBatch = batchesIn(mid.responses[0].partitions[0].records)[0]!.length;
  const f = await client.request(ApiKey.Fetch, 11, fetchRequest([{ topic: 'cl', partition: 0, offset: 0n, maxBytes: classicBatch * 3 }, { topic: 'dl', partition: 0, offset: 0n }], { maxBytes: classicBatch * 3 + 200 }));
  const [cl, dl] = f.responses.map((t: any) => t.partitions[0]);
  assert.equal(batchesIn(cl.records).length, 3);
  assert.ok(dl.records.length <= 200 && dl.records.length > 0, `diskless got ${dl.records.length} bytes of the remaining 200`);
  // Partition limit smaller than a batch, not first: nothing (no partial batches).
  const g = await client.request(ApiKey.Fetch, 11, fetchRequest([{ topic: 'dl', partition: 0, offset: 0n }, { topic: 'cl', partition: 0, offset: 0n, maxBytes: 10 }]));
  assert.equal(g.responses[1].partitions[0].records.length, 0);
  // Out of range.
  const oor = await client.request(ApiKey.Fetch, 11, fetchRequest([{ topic: 'cl', partition: 0, offset: 1000n }]));
  assert.equal(oor.responses[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
});

test('a long poll on a classic partition is woken by an append, well before max.wait.ms', async () => {
  const start = Date.now();
  const waiting = client.request(ApiKey.Fetch, 11, fetchRequest([{ topic: 'cl', partition: 1, offset: 0n }, { topic: 'dl', partition: 1, offset: 0n }], { maxWaitMs: 10_000, minBytes: 1 }));
  const producer = await RawClient.connect(broker.port);
  await sleep(200);
  assert.equal((await produce(producer, 'cl', 1, 'wake')).errorCode, 0);
  const f = await waiting;
  const elapsed = Date.now() - start;
  assert.deepEqual(await valuesIn(f.responses[0].partitions[0].records), ['wake']);
  assert.ok(elapsed < 3000, `woken after ${elapsed} ms`);
  producer.close();
});

test('acks=1 and acks=0 produce to classic partitions; Fetch v4, v12 and v17 read the same bytes', async () => {
  assert.equal((await produce(client, 'cl', 2, 'acks1', { acks: 1 })).errorCode, 0);
  client.write(RawClient.frame(ApiKey.Produce, 9, produceRequest([{ topic: 'cl', partition: 2, records: await batchOf('acks0') }], { acks: 0 }), 77));
  const r3 = await produce(client, 'cl', 2, 'acksall');
  assert.equal(r3.baseOffset, 2n, 'the acks=0 batch took offset 1');
  const { topicId } = await topicMetadata(client, 'cl');
  const v4 = await client.request(ApiKey.Fetch, 4, fetchRequest([{ topic: 'cl', partition: 2, offset: 0n }]));
  const v12 = await client.request(ApiKey.Fetch, 12, fetchRequest([{ topic: 'cl', partition: 2, offset: 0n }]));
  const v17 = await client.request(ApiKey.Fetch, 17, fetchRequest([{ topic: 'cl', topicId, partition: 2, offset: 0n }]));
  assert.deepEqual(await valuesIn(v4.responses[0].partitions[0].records), ['acks1', 'acks0', 'acksall']);
  assert.deepEqual(v12.responses[0].partitions[0].records, v4.responses[0].partitions[0].records);
  assert.deepEqual(v17.responses[0].partitions[0].records, v4.responses[0].partitions[0].records);
  const p13 = await client.request(ApiKey.Produce, 13, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ topicId, partitionData: [{ index: 2, records: await batchOf('by-id') }] }] });
  assert.equal(p13.responses[0].partitionResponses[0].baseOffset, 3n);
});

test('classic LogAppendTime: produce response and fetched batch carry the append time; ListOffsets is record-granular', async () => {
  const before = Date.now();
  const p = await produce(client, 'cl-lat', 0, await batchOf('a', { baseTimestamp: 1000n }));
  const appendTime = Number(p.logAppendTimeMs);
  assert.ok(appendTime >= before - 5 && appendTime <= Date.now() + 5);
  const f = await client.request(ApiKey.Fetch, 11, fetchRequest([{ topic: 'cl-lat', partition: 0, offset: 0n }]));
  const b = batchesIn(f.responses[0].partitions[0].records)[0]!;
  assert.equal(b.readInt16BE(21) & 0x08, 0x08);
  assert.equal(Number(b.readBigInt64BE(35)), appendTime);
  assert.equal(b.readUInt32BE(17), crc32c(b.subarray(21)) >>> 0);

  // CreateTime topic: a record at 100, then records at 1000, 3000, 2000, then a compressed batch at 5000, 5010.
  await createTopic(client, 'cl-times', 1, CLASSIC);
  await produce(client, 'cl-times', 0, await batchOf('z', { baseTimestamp: 100n }));
  await produce(client, 'cl-times', 0, await buildRecordBatch({
    baseTimestamp: 1000n, records: [{ value: Buffer.from('a'), timestampDelta: 0n }, { value: Buffer.from('b'), timestampDelta: 2000n }, { value: Buffer.from('c'), timestampDelta: 1000n }],
  }));
  await produce(client, 'cl-times', 0, await buildRecordBatch({ baseTimestamp: 5000n, compression: 4, records: [{ value: Buffer.from('d') }, { value: Buffer.from('e'), timestampDelta: 10n }] }));
  const ask = async (timestamp: bigint) => {
    const q = await listOffset(client, 'cl-times', 0, timestamp, 8);
    assert.equal(q.errorCode, 0);
    return [Number(q.offset), Number(q.timestamp)];
  };
  assert.deepEqual(await ask(-2n), [0, -1]);
  assert.deepEqual(await ask(-1n), [6, -1]);
  assert.deepEqual(await ask(-3n), [5, 5010]);
  assert.deepEqual(await ask(0n), [0, 100]);
  assert.deepEqual(await ask(1500n), [2, 3000]);
  assert.deepEqual(await ask(3001n), [4, 5000]);
  assert.deepEqual(await ask(5005n), [5, 5010], 'inside a compressed batch');
  assert.deepEqual(await ask(-4n), [0, -1], 'earliest-local = earliest');
});

test('where the bytes live: classic data only in log.dirs, diskless data only in objects', async () => {
  const marker = `classic-only-${Date.now()}`;
  await produce(client, 'cl', 0, marker);
  const dmarker = `diskless-only-${Date.now()}`;
  await produce(client, 'dl', 0, dmarker);
  const contents = async (dir: string) => {
    const chunks: string[] = [];
    for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) chunks.push((await readFile(join(e.parentPath ?? (e as any).path, e.name))).toString('latin1'));
    }
    return chunks.join('\n');
  };
  const logs = await contents(join(broker.dataDir, 'logs'));
  const objects = await contents(join(broker.dataDir, 'objects'));
  assert.ok(logs.includes(marker) && !objects.includes(marker));
  assert.ok(objects.includes(dmarker) && !logs.includes(dmarker));
  const dirs = (await readdir(join(broker.dataDir, 'logs'))).filter((d) => !d.startsWith('.')).sort();
  assert.deepEqual(dirs, ['cl-0', 'cl-1', 'cl-2', 'cl-lat-0', 'cl-times-0']);
});

test('retention deletes whole classic segments and moves the log start offset; DeleteTopics removes the log folders', async () => {
  await createTopic(client, 'cl-ret', 1, { ...CLASSIC, 'segment.bytes': '1048576', 'retention.bytes': '1048576', 'file.delete.delay.ms': '0' });
  const big = 'x'.repeat(100_000);
  for (let i = 0; i < 35; i++) {
    const p = await produce(client, 'cl-ret', 0, await batchOf(`${i}:${big}`, { baseTimestamp: BigInt(Date.now()) }));
    assert.equal(p.errorCode, 0);
  }
  const dir = join(broker.dataDir, 'logs', 'cl-ret-0');
  const segments = async () => (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
  assert.equal((await segments()).length, 4, '35 × 100 kB in 1 MiB segments');
  await broker.broker.storage.classic.runRetention();
  const left = await segments();
  assert.equal(left.length, 2, 'only whole segments beyond retention.bytes go');
  const l = await listOffset(client, 'cl-ret', 0, -2n, 8);
  assert.equal(Number(l.offset), Number(left[0]!.slice(0, 20)));
  let total = 0;
  for (const f of left) total += (await stat(join(dir, f))).size;
  assert.ok(total >= 1048576 - 200_000, `${total} bytes kept`);

  const del = await client.request(ApiKey.DeleteTopics, 6, { topics: [{ name: 'cl-ret', topicId: '00000000-0000-0000-0000-000000000000' }], timeoutMs: 5000 });
  assert.equal(del.responses[0].errorCode, 0);
  assert.ok(!(await readdir(join(broker.dataDir, 'logs'))).some((d) => d.startsWith('cl-ret')), 'log folders removed');
  // A new topic with the same name starts empty.
  await createTopic(client, 'cl-ret', 1, CLASSIC);
  assert.equal((await produce(client, 'cl-ret', 0, 'fresh')).baseOffset, 0n);
});

test('several log.dirs: partitions are spread over them, and found again after a restart', async () => {
  const base = broker.dataDir;
  const dirs = [join(base, 'extra-a'), join(base, 'extra-b')];
  const b = await startTestBroker({ 'log.dirs': dirs.join(','), 'log.diskless.enable': false });
  let c = await RawClient.connect(b.port);
  await createTopic(c, 'spread', 4);
  for (let p = 0; p < 4; p++) await produce(c, 'spread', p, `p${p}`);
  const counts = await Promise.all(dirs.map(async (d) => (await readdir(d)).filter((n) => n.startsWith('spread-')).length));
  assert.deepEqual(counts, [2, 2]);
  c.close();
  await b.close();
  for (const d of dirs) assert.ok((await readdir(d)).includes('.floe_cleanshutdown'), 'clean shutdown marker written');

  const again = await startTestBroker({ 'log.dirs': dirs.join(','), 'log.diskless.enable': false }, b.dataDir);
  c = await RawClient.connect(again.port);
  for (let p = 0; p < 4; p++) {
    assert.deepEqual(await fetchValues(c, 'spread', p), [`p${p}`]);
  }
  for (const d of dirs) assert.ok(!(await readdir(d)).includes('.floe_cleanshutdown'), 'marker removed while running');
  c.close();
  await again.close();
});

test('idempotent producer on a classic partition: a retried batch is stored once and answered with its first offset', async () => {
  const init = await client.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
  assert.equal(init.errorCode, 0);
  const { producerId, producerEpoch } = init;
  const send = async (seq: number, value: string) => {
    return produce(client, 'cl', 2, await batchOf(value, { producerId, producerEpoch, baseSequence: seq }));
  };
  const first = await send(0, 'idem-0');
  assert.equal(first.errorCode, 0);
  const again = await send(0, 'idem-0');
  assert.deepEqual([again.errorCode, again.baseOffset], [0, first.baseOffset]);
  assert.equal((await send(5, 'gap')).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  const second = await send(1, 'idem-1');
  assert.equal(second.baseOffset, first.baseOffset + 1n);
  assert.deepEqual(await fetchValues(client, 'cl', 2, first.baseOffset), ['idem-0', 'idem-1']);
});
