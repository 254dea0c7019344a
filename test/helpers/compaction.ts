/**
 * The issue-14 compaction workload for tests, on any broker: `produceUpdates` writes KEYS keys × UPDATES
 * updates + TOMBSTONES tombstones to partition 0 with kafkajs (idempotent) and returns the acknowledged
 * latest record per key; `readPartition` reads partition 0 from offset 0 to its end with kcat (librdkafka),
 * tombstones as null; `expectedView` is what a consumer must see after compaction; `highWatermark` and
 * `logDirSize` ask the broker (ListOffsets, DescribeLogDirs).
 */
import assert from 'node:assert/strict';
import type { Kafka } from 'kafkajs';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { kcatConsume } from './kcat.ts';
import type { RawClient } from './raw-client.ts';
import { sleep } from './wait.ts';

export const KEYS = 200;
export const UPDATES = 50;
export const TOMBSTONES = 50;

export interface Row { offset: number; key: string; value: string | null }
export type Acked = Map<string, { offset: number; value: string | null }>;

/** Partition 0 of `topic` from offset 0 to its end, read by kcat, tombstones as null. */
export async function readPartition(bootstrap: string, topic: string): Promise<Row[]> {
  const lines = await kcatConsume(bootstrap, topic, '%o\t%k\t%S\t%s\n', ['-Z']);
  return lines.map((l) => {
    const [o, k, size, v] = l.split('\t');
    return { offset: Number(o), key: k!, value: size === '-1' ? null : v! };
  });
}

export async function highWatermark(client: RawClient, topic: string): Promise<bigint> {
  const r = await client.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] });
  return BigInt(r.topics[0].partitions[0].offset);
}

export async function logDirSize(client: RawClient, topic: string): Promise<number> {
  const r = await client.request(ApiKey.DescribeLogDirs, 4, { topics: [{ topic, partitions: [0] }] });
  for (const dir of r.results) for (const t of dir.topics) if (t.name === topic) return Number(t.partitions[0].partitionSize);
  throw new Error(`no log dir holds ${topic}`);
}

/** What a consumer from offset 0 must see: per key its latest record at its acknowledged offset. */
export function expectedView(acked: Acked, withTombstones: boolean): Row[] {
  const rows: Row[] = [];
  for (const [key, { offset, value }] of acked) if (value !== null || withTombstones) rows.push({ offset, key, value });
  return rows.sort((a, b) => a.offset - b.offset);
}

/**
 * The workload with kafkajs: updates, tombstones, then (after `pauseMs`, so the bulk leaves the active
 * segment) 5 more records of other keys.
 */
export async function produceUpdates(kafka: Kafka, topic: string, pauseMs: number): Promise<Acked> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const acked: Acked = new Map();
  const send = async (messages: { key: string; value: string | null }[]) => {
    const [r] = await producer.send({ topic, acks: -1, messages: messages.map((m) => ({ ...m, partition: 0 })) });
    assert.equal(r!.errorCode, 0);
    messages.forEach((m, i) => acked.set(m.key, { offset: Number(r!.baseOffset) + i, value: m.value }));
  };
  for (let u = 0; u < UPDATES; u++) await send(Array.from({ length: KEYS }, (_, k) => ({ key: `key-${k}`, value: `value-${k}-${u}` })));
  await send(Array.from({ length: TOMBSTONES }, (_, k) => ({ key: `key-${k}`, value: null })));
  await sleep(pauseMs);
  await send(Array.from({ length: 5 }, (_, i) => ({ key: `filler-${i}`, value: 'after the roll' })));
  await producer.disconnect();
  return acked;
}
