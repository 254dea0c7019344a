/**
 * @platformatic/kafka 1.35 (the last release for Node 20) with the KIP-848 consumer protocol
 * (`groupProtocol: 'consumer'`, ConsumerGroupHeartbeat): two consumers of one group share a topic's four
 * partitions (ConsumerGroupDescribe shows two members with two partitions each) and together consume every
 * record produced, from the earliest offset.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Consumer, MessagesStreamModes, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { startTestBroker } from '../helpers/broker.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { withClient } from '../helpers/raw-client.ts';
import { createTopic } from '../helpers/topics.ts';
import { waitFor } from '../helpers/wait.ts';

test('@platformatic/kafka groupProtocol=consumer: two consumers split four partitions and consume every record', { timeout: 120_000 }, async () => {
  const broker = await startTestBroker({ 'group.consumer.heartbeat.interval.ms': 500, 'diskless.commit.interval.ms': 20 });
  const topic = 'platformatic-kip848';
  const group = 'platformatic-kip848-group';
  await withClient(broker.port, (c) => createTopic(c, topic, 4));
  const producer = new Producer({ clientId: 'p', bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers });
  onCleanup(() => producer.close(true));
  const sent: string[] = [];
  for (let i = 0; i < 200; i++) sent.push(`value-${i}`);
  await producer.send({ messages: sent.map((value, i) => ({ topic, key: `key-${i}`, value, partition: i % 4 })) });

  const consumed = new Map<string, string>();
  const consumers = ['c1', 'c2'].map((clientId) => new Consumer({
    clientId, groupId: group, groupProtocol: 'consumer', bootstrapBrokers: [broker.bootstrap], deserializers: stringDeserializers,
  }));
  const streams = [];
  const errors: string[] = [];
  let closing = false;
  for (const c of consumers) {
    onCleanup(() => c.close(true));
    const stream = await c.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: 100 });
    stream.on('data', (m) => { consumed.set(m.value as string, c.clientId); });
    // A stream still fetching when its consumer closes fails with "Client is closed": expected then only.
    stream.on('error', (err: Error) => { if (!closing) errors.push(err.message); });
    streams.push(stream);
  }
  await waitFor('two members with two partitions each', async () => {
    const d = await withClient(broker.port, (c) => c.request(ApiKey.ConsumerGroupDescribe, 1, { groupIds: [group] }));
    const g = d.groups[0];
    return g.groupState === 'Stable' && g.members.length === 2
      && g.members.every((m: any) => m.assignment.topicPartitions[0]?.partitions.length === 2);
  }, { timeoutMs: 60_000 });
  await waitFor('every record consumed', () => sent.every((v) => consumed.has(v)), { timeoutMs: 60_000 });
  assert.equal(consumed.size, sent.length);
  assert.deepEqual(errors, [], 'no stream failed');
  // Closed here, while the broker still runs: a client closed after it keeps reconnecting and holds the file
  // open. The streams first, so none fetches through a closed consumer.
  closing = true;
  await Promise.all(streams.map((s) => s.close()));
  await Promise.all([...consumers.map((c) => c.close(true)), producer.close(true)]);
});

// @platformatic/kafka 1.35 leaves a handle open after its clients are closed, which would hold this file open
// until the runner's timeout: once every test here has finished and the broker is shut down, end the process.
after(() => {
  setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
});
