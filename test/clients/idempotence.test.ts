/**
 * Exactly once, in order, from librdkafka's idempotent producer (5 requests in flight per connection)
 * while the object store fails and times out (uploads fail with 503s, hang until their deadline, take
 * S3-like time) and the client's connections are cut: every failure answers a retriable error or loses the
 * answer, librdkafka retries, and the sequence checks in the commit make sure nothing is stored twice or
 * out of order (a retry of a batch that was committed after all is answered with its first offset).
 * Also DeleteRecords through kafkajs's admin client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { checkExactlyOnceInOrder, runIdempotentProducer } from '../helpers/confluent.ts';
import { kafkajs } from '../helpers/kafkajs.ts';
import { startBrokerBehindProxy } from '../helpers/tcp-proxy.ts';
import type { FaultyObjectStore } from '../../src/objectstore/faulty.ts';

/**
 * librdkafka 2.0.2 keeps one produce request per partition in flight when idempotent (up to 5 per
 * connection). Retries that overlap with their first attempt come from lost connections: the test's
 * proxy cuts every client connection now and then, librdkafka retries the requests in flight (possibly
 * persisted), and a retry is a duplicate when its first attempt was committed after all.
 */
const PRODUCER = { 'request.timeout.ms': 5000, 'reconnect.backoff.ms': 20, 'reconnect.backoff.max.ms': 100 };

test('librdkafka idempotent producer (5 in flight per connection), object store errors, hangs and timeouts, cut connections: consumed exactly once and in order', async (t) => {
  const { broker, proxy } = await startBrokerBehindProxy({
    // Small objects (about two produce requests each), so the requests in flight land in different
    // objects that fail independently: a later object then commits while an earlier one failed.
    'diskless.commit.interval.ms': 5,
    'diskless.buffer.max.bytes': 1000,
    'diskless.object.store.latency.profile': 's3-standard',
    'diskless.object.store.fault.error.rate': 0.1,
    // A hung upload fails after 1.5 s; the objects sealed after it wait for it (commits are in seal order),
    // so their requests time out at the client, which retries them while their first attempts commit.
    'diskless.object.store.fault.hang.rate': 0.02,
    'diskless.object.store.fault.operations': 'put',
    'diskless.object.store.request.timeout.ms': 1500,
    'diskless.object.store.fault.seed': 7,
  });
  // Count what the commits answered (sequence errors, duplicates), to show which paths the run exercised.
  const answers = new Map<string, number>();
  const coordinator = broker.broker.coordinator;
  const commitObject = coordinator.commitObject.bind(coordinator);
  coordinator.commitObject = async (request) => {
    const results = await commitObject(request);
    for (const r of results) {
      const k = r.duplicate ? 'duplicate' : String(r.errorCode);
      answers.set(k, (answers.get(k) ?? 0) + 1);
    }
    return results;
  };
  // Clients reach the broker through a proxy (advertised) that cuts their connections every second.
  const r = await runIdempotentProducer(proxy, 'idem-faults', 3, 3000, PRODUCER);
  checkExactlyOnceInOrder(r, 3, 3000);
  const faults = (broker.broker.objectStore as unknown as { inner: FaultyObjectStore }).inner?.stats ?? null;
  const writer = broker.broker.inspect.diskless().writer;
  t.diagnostic(`commit answers per batch (error code or duplicate): ${JSON.stringify(Object.fromEntries(answers))}`);
  t.diagnostic(`writer: ${JSON.stringify(writer)}; faulty store: ${JSON.stringify(faults)}; librdkafka eos: ${JSON.stringify(r.eos)}`);
  assert.ok((answers.get('duplicate') ?? 0) > 0, 'retries of committed batches were answered as duplicates');
  assert.ok(writer.uploadFailures >= 5, `the faults were exercised (${writer.uploadFailures} failed uploads; faulty store: ${JSON.stringify(faults)})`);
});

test('DeleteRecords through kafkajs moves the earliest offset', async () => {
  const broker = await startTestBroker();
  const kafka = kafkajs(broker.bootstrap, 'kafkajs-delete-records');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'kjs-dr', numPartitions: 2 }] });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  for (let i = 0; i < 5; i++) {
    await producer.send({ topic: 'kjs-dr', messages: [0, 1].map((partition) => ({ partition, value: `v${i}` })) });
  }
  await producer.disconnect();
  await admin.fetchTopicMetadata({ topics: ['kjs-dr'] }); // kafkajs's deleteTopicRecords needs the leaders known
  await admin.deleteTopicRecords({ topic: 'kjs-dr', partitions: [{ partition: 0, offset: '3' }, { partition: 1, offset: '-1' }] });
  const offsets = await admin.fetchTopicOffsets('kjs-dr');
  const byPartition = new Map(offsets.map((o) => [o.partition, o]));
  assert.deepEqual([byPartition.get(0)!.low, byPartition.get(0)!.high], ['3', '5']);
  assert.deepEqual([byPartition.get(1)!.low, byPartition.get(1)!.high], ['5', '5']);
  await admin.disconnect();
});
