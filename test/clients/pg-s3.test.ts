/**
 * The client round trips on the production backends: a broker whose coordinator is a real PostgreSQL
 * server and whose objects live in a real S3-speaking server (s3rver), both started by this file.
 * confluent-kafka (librdkafka) and kafkajs produce and read back, and a second broker process sharing the
 * same database and bucket serves what the first one wrote (brokers keep no state of diskless topics).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { CompressionTypes } from 'kafkajs';
import type { S3Server } from '../../tools/dev/local-servers.ts';
import { spawnBroker, startTestBroker } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { checkRoundTrip, confluent } from '../helpers/confluent.ts';
import { kafkajs, readWithKafkajs } from '../helpers/kafkajs.ts';
import { freshDatabase, sharedPostgres } from '../helpers/postgres.ts';
import { freshBucket, s3Overrides, s3Store, sharedS3 } from '../helpers/s3.ts';

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
  const kafka = kafkajs(broker.bootstrap, 'kafkajs-pg-s3');
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
  const consumerKafka = kafkajs(other.bootstrap, 'kafkajs-pg-s3-2');
  const otherAdmin = consumerKafka.admin();
  await otherAdmin.connect();
  const seen = await otherAdmin.fetchTopicOffsets('kjs');
  assert.deepEqual(seen.map((o) => [o.partition, o.high]).sort(), offsets.map((o) => [o.partition, o.high]).sort());
  await otherAdmin.disconnect();
  const got = await readWithKafkajs(consumerKafka, 'kjs', [0, 1], 200);
  for (const [p, values] of sent) assert.deepEqual(got.get(p)!.map((m) => m.value!.toString()), values, `partition ${p} read through the second broker`);
  other.child.kill('SIGTERM');
  assert.equal(await other.exited, 0);
});
