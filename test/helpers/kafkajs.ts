/**
 * kafkajs in tests: `kafkajs()` makes a client with its logging off; `readWithKafkajs` reads partitions
 * with kafkajs's own Fetch request and decoder (kafkajs has no group-less consumer; its decoder is an
 * independent oracle for the broker's batches and patched headers); `keepProducing` runs a producer until
 * stopped. Importing this file silences kafkajs's partitioner warning and gives kafkajs the codecs it
 * leaves to its users (snappy, lz4, zstd: as an application plugs in kafkajs-lz4 and the like), so it
 * reads what librdkafka producers write.
 */
import assert from 'node:assert/strict';
import kafkajsModule, { Kafka, logLevel, type RetryOptions } from 'kafkajs';
import { compress, decompress, CompressionType } from '../../src/protocol/compression.ts';
import { sleep } from './wait.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

// Not among the CommonJS exports Node finds by name.
const { CompressionCodecs, CompressionTypes } = kafkajsModule;

for (const [kafkajsType, codec] of [
  [CompressionTypes.Snappy, CompressionType.SNAPPY],
  [CompressionTypes.LZ4, CompressionType.LZ4],
  [CompressionTypes.ZSTD, CompressionType.ZSTD],
] as const) {
  CompressionCodecs[kafkajsType] = () => ({
    compress: (encoder: { buffer: Buffer }) => compress(codec, encoder.buffer),
    decompress: (buffer: Buffer) => decompress(codec, buffer),
  });
}

/** `bootstrap`: one host:port, or several comma-separated (a cluster). */
export function kafkajs(bootstrap: string, clientId: string, retry: RetryOptions = { retries: 3 }): Kafka {
  return new Kafka({ clientId, brokers: bootstrap.split(','), logLevel: logLevel.NOTHING, retry });
}

/** A record as kafkajs's Fetch decoder returns it. */
export interface KafkajsMessage { offset: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer>; timestamp: string }

/**
 * Reads `partitions` of `topic` from offset 0 until `total` records came back (or `timeoutMs` passed:
 * then it returns what it has, for the caller's assertions to show). Every fetch must answer without error.
 */
export async function readWithKafkajs(kafka: Kafka, topic: string, partitions: number[], total: number, timeoutMs = 30_000): Promise<Map<number, KafkajsMessage[]>> {
  const createCluster = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster')!;
  const cluster = (kafka as any)[createCluster]({ metadataMaxAge: 300000 });
  await cluster.connect();
  await cluster.addTargetTopic(topic);
  const out = new Map<number, KafkajsMessage[]>(partitions.map((p) => [p, []]));
  const next = new Map<number, number>(partitions.map((p) => [p, 0]));
  const deadline = Date.now() + timeoutMs;
  while ([...out.values()].reduce((n, v) => n + v.length, 0) < total && Date.now() < deadline) {
    const leader = cluster.findLeaderForPartitions(topic, partitions);
    const broker = await cluster.findBroker({ nodeId: Object.keys(leader)[0] });
    const { responses } = await broker.fetch({
      maxWaitTime: 100, minBytes: 1, maxBytes: 1 << 20,
      topics: [{ topic, partitions: partitions.map((p) => ({ partition: p, fetchOffset: String(next.get(p)), maxBytes: 256 * 1024 })) }],
    });
    for (const pr of responses[0].partitions) {
      assert.equal(pr.errorCode, 0);
      for (const m of pr.messages as KafkajsMessage[]) {
        if (Number(m.offset) < next.get(pr.partition)!) continue; // a batch may start before the fetch offset
        out.get(pr.partition)!.push(m);
        next.set(pr.partition, Number(m.offset) + 1);
      }
    }
  }
  await cluster.disconnect();
  return out;
}

export interface RunningProducer {
  /** The values acknowledged so far (`m0`, `m1`, …; keys `k0`, `k1`, …). */
  produced: Set<string>;
  /** Stops after the request in flight and disconnects. */
  stop(): Promise<void>;
}

/**
 * A kafkajs producer sending 10 keyed messages to `topic` (acks=all) every 20 ms until stopped. Each message
 * is its own send() (the 10 in parallel): kafkajs 2.2.4 resolves a send that spans several brokers without
 * sending the partitions that moved, when their broker dies, to a broker that had already answered for
 * others (kafkajs issue #1303: its retry skips brokers with a response), so one multi-broker send can
 * lose acknowledged messages in any cluster where leaders move.
 */
export async function keepProducing(kafka: Kafka, topic: string): Promise<RunningProducer> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const produced = new Set<string>();
  let producing = true;
  let seq = 0;
  const loop = (async () => {
    while (producing) {
      const messages = Array.from({ length: 10 }, () => ({ key: `k${seq}`, value: `m${seq++}` }));
      await Promise.all(messages.map(async (m) => {
        await producer.send({ topic, acks: -1, messages: [m] });
        produced.add(m.value);
      }));
      await sleep(20);
    }
  })();
  return {
    produced,
    async stop() {
      producing = false;
      await loop;
      await producer.disconnect();
    },
  };
}
