/**
 * The client round trips on the production backends: a broker whose coordinator is a real PostgreSQL
 * server and whose objects live in a real S3-speaking server (s3rver), both started by this file.
 * confluent-kafka (librdkafka) and kafkajs produce and read back, and a second broker process sharing the
 * same database and bucket serves what the first one wrote (brokers keep no state of diskless topics).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import { Kafka, logLevel, CompressionTypes } from 'kafkajs';
import type { S3Server } from '../../tools/dev/local-servers.ts';
import { spawnBroker, startTestBroker, tempDir } from '../helpers/broker.ts';
import { freshDatabase, sharedPostgres } from '../helpers/postgres.ts';
import { freshBucket, s3Overrides, s3Store, sharedS3 } from '../helpers/s3.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, 'confluent_client.py');

async function confluent(bootstrap: string, ...args: string[]): Promise<any> {
  const { stdout } = await run('/usr/bin/python3', [SCRIPT, bootstrap, ...args], { maxBuffer: 512 << 20, timeout: 180_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

interface Msg { p: number; o: number; k: string; v: string; h?: string }

function checkRoundTrip(acked: Msg[], consumed: Msg[]): void {
  for (const p of new Set(acked.map((m) => m.p))) {
    const sent = acked.filter((m) => m.p === p).sort((a, b) => a.o - b.o);
    const read = consumed.filter((m) => m.p === p);
    assert.deepEqual(read.map((m) => m.o), sent.map((_, i) => i), `partition ${p}: offsets contiguous from 0`);
    assert.deepEqual(read.map((m) => m.v), sent.map((m) => m.v), `partition ${p}: consumed = produced, in order`);
    for (const m of read) assert.equal(m.h, `header-${m.v.slice('value-'.length)}`);
  }
}

let s3: S3Server;
before(async () => {
  [s3] = await Promise.all([sharedS3(), sharedPostgres()]);
});

async function backends(): Promise<Record<string, string>> {
  return { 'diskless.coordinator.url': await freshDatabase(), ...s3Overrides(s3, await freshBucket()) };
}

test('confluent-kafka on PostgreSQL + S3: produce (acks=all) and consume, objects in the bucket', async () => {
  const overrides = await backends();
  const broker = await startTestBroker(overrides);
  for (const compression of ['none', 'zstd']) {
    const r = await confluent(broker.bootstrap, 'roundtrip', `pgs3-${compression}`, '2000', compression);
    assert.deepEqual(r.errors, []);
    assert.equal(r.acked.length, 2000);
    assert.equal(r.consumed.length, 2000, `${compression}: everything acknowledged is consumed`);
    checkRoundTrip(r.acked, r.consumed);
  }
  const bucket = overrides['diskless.object.store.url']!.slice('s3://'.length).split('/')[0]!;
  let objects = 0;
  for await (const o of s3Store(s3, bucket, 'floe').list('wal/')) objects += o.size > 0 ? 1 : 0;
  assert.ok(objects > 0, 'the WAL objects are in S3');
  assert.deepEqual((await broker.broker.coordinator.listObjectKeys()).length, objects, 'and each is committed in PostgreSQL');
});

test('kafkajs on PostgreSQL + S3, and a second broker process on the same database and bucket serves the data', async () => {
  const overrides = await backends();
  const broker = await startTestBroker(overrides);
  const kafka = new Kafka({ clientId: 'kafkajs-pg-s3', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const admin = kafka.admin();
  await admin.connect();
  assert.equal(await admin.createTopics({ topics: [{ topic: 'kjs', numPartitions: 2 }] }), true);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const sent = new Map<number, string[]>([[0, []], [1, []]]);
  for (let round = 0; round < 4; round++) {
    const messages = Array.from({ length: 50 }, (_, i) => {
      const n = round * 50 + i;
      sent.get(n % 2)!.push(`v${n}`);
      return { key: `k${n}`, value: `v${n}`, partition: n % 2 };
    });
    const acks = await producer.send({ topic: 'kjs', acks: -1, compression: round % 2 ? CompressionTypes.GZIP : CompressionTypes.None, messages });
    for (const a of acks) assert.equal(a.errorCode, 0);
  }
  await producer.disconnect();
  const offsets = await admin.fetchTopicOffsets('kjs');
  for (const o of offsets) assert.equal(Number(o.high), sent.get(o.partition)!.length);
  await admin.disconnect();

  // A second broker (another process, its own empty data.dir) on the same coordinator and bucket.
  const other = await spawnBroker(await tempDir(), { ...overrides, 'node.id': 2 });
  const consumerKafka = new Kafka({ clientId: 'kafkajs-pg-s3-2', brokers: [other.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const otherAdmin = consumerKafka.admin();
  await otherAdmin.connect();
  const seen = await otherAdmin.fetchTopicOffsets('kjs');
  assert.deepEqual(seen.map((o) => [o.partition, o.high]).sort(), offsets.map((o) => [o.partition, o.high]).sort());
  await otherAdmin.disconnect();
  const got = await readAll(consumerKafka, 'kjs', [0, 1], 200);
  for (const [p, values] of sent) assert.deepEqual(got.get(p), values, `partition ${p} read through the second broker`);
  other.child.kill('SIGTERM');
  assert.equal(await other.exited, 0);
});

/** Reads partitions with kafkajs's own Fetch request and decoder (kafkajs has no group-less consumer). */
async function readAll(kafka: Kafka, topic: string, partitions: number[], total: number): Promise<Map<number, string[]>> {
  const createCluster = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster')!;
  const cluster = (kafka as any)[createCluster]({ metadataMaxAge: 300000 });
  await cluster.connect();
  await cluster.addTargetTopic(topic);
  const out = new Map<number, string[]>(partitions.map((p) => [p, []]));
  const next = new Map<number, number>(partitions.map((p) => [p, 0]));
  const deadline = Date.now() + 30_000;
  while ([...out.values()].reduce((n, v) => n + v.length, 0) < total && Date.now() < deadline) {
    const leader = cluster.findLeaderForPartitions(topic, partitions);
    const broker = await cluster.findBroker({ nodeId: Object.keys(leader)[0] });
    const { responses } = await broker.fetch({
      maxWaitTime: 100, minBytes: 1, maxBytes: 1 << 20,
      topics: [{ topic, partitions: partitions.map((p) => ({ partition: p, fetchOffset: String(next.get(p)), maxBytes: 256 * 1024 })) }],
    });
    for (const pr of responses[0].partitions) {
      assert.equal(pr.errorCode, 0);
      for (const m of pr.messages) {
        if (Number(m.offset) < next.get(pr.partition)!) continue;
        out.get(pr.partition)!.push(m.value.toString());
        next.set(pr.partition, Number(m.offset) + 1);
      }
    }
  }
  await cluster.disconnect();
  return out;
}
