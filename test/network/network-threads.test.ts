/**
 * num.network.threads > 0: the sockets live in network threads and the main thread keeps the handlers and
 * the one open object per commit interval. Real clients (kafkajs, kcat) over real sockets: many producer
 * connections at once, everything stored once and in order, one object per interval for all of them, an
 * idempotent producer and a consumer group (librdkafka: network-threads-librdkafka.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { kafkajs, readWithKafkajs } from '../helpers/kafkajs.ts';

const INTERVAL_MS = 200;

test('many producer connections over two network threads: stored once, in order, one object per interval', { timeout: 240_000 }, async () => {
  const b = await startTestBroker({ 'num.network.threads': 2, 'diskless.commit.interval.ms': INTERVAL_MS });
  const kafka = kafkajs(b.bootstrap, 'threads');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'many', numPartitions: 4 }] });
  await admin.disconnect();

  const PRODUCERS = 8;
  const SENDS = 10;
  const PER_SEND = 5;
  const producers = Array.from({ length: PRODUCERS }, (_, i) => kafka.producer(i === 0 ? { idempotent: true, maxInFlightRequests: 1 } : {}));
  await Promise.all(producers.map((p) => p.connect()));
  const before = b.broker.inspect.diskless().writer.objectsCommitted;
  const t0 = performance.now();
  // Every producer writes its records to one partition (by key), one send after another: order per producer.
  await Promise.all(producers.map(async (p, i) => {
    for (let s = 0; s < SENDS; s++) {
      await p.send({ topic: 'many', acks: -1, messages: Array.from({ length: PER_SEND }, (_, k) => ({ key: `p${i}`, value: `p${i}-${s * PER_SEND + k}` })) });
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const objects = b.broker.inspect.diskless().writer.objectsCommitted - before;
  await Promise.all(producers.map((p) => p.disconnect()));
  const requests = PRODUCERS * SENDS;
  // One writer for all threads: requests from all connections share the interval's object.
  assert.ok(objects <= Math.ceil((seconds * 1000) / INTERVAL_MS) + 2, `${objects} objects in ${seconds.toFixed(2)} s at ${INTERVAL_MS} ms per interval`);
  assert.ok(objects < requests, `${objects} objects for ${requests} produce requests: connections do not share objects`);

  const total = PRODUCERS * SENDS * PER_SEND;
  const read = await readWithKafkajs(kafka, 'many', [0, 1, 2, 3], total, 60_000);
  const byProducer = new Map<string, number[]>();
  for (const [, msgs] of read) {
    msgs.forEach((m, i) => assert.equal(Number(m.offset), i, 'offsets run 0, 1, 2, … with no gap'));
    for (const m of msgs) {
      const [who, n] = String(m.value).split('-');
      if (!byProducer.has(who!)) byProducer.set(who!, []);
      byProducer.get(who!)!.push(Number(n));
    }
  }
  assert.equal(byProducer.size, PRODUCERS);
  for (const [who, ns] of byProducer) assert.deepEqual(ns, Array.from({ length: SENDS * PER_SEND }, (_, k) => k), `${who}: every record once, in order`);

  // A consumer group reads it all through the threads too.
  const consumer = kafka.consumer({ groupId: 'threads-group', sessionTimeout: 30_000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'many', fromBeginning: true });
  let consumed = 0;
  const done = new Promise<void>((resolve) => {
    void consumer.run({ eachMessage: async () => { if (++consumed === total) resolve(); } });
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`group consumer read ${consumed} of ${total}`)), 100_000); })]);
  clearTimeout(timer);
  await consumer.disconnect();
  assert.equal(consumed, total);
  await b.close();
});
