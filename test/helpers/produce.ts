/**
 * Producing in tests through raw Produce requests (v9 unless asked otherwise): `produce` sends one batch to
 * one partition (a batch's bytes, or string values made into one) and returns that partition's answer;
 * `producePartitions` sends batches for several partitions in one request; `produceRequest` builds the
 * body, for tests that write frames themselves (pipelining). Nothing is asserted here: the answers carry
 * the error codes. Batch bytes: record-batch.ts.
 */
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import type { Init } from '../../src/protocol/gen/init.ts';
import type { ProduceRequest, ProduceResponse, ProduceResponsePartitionProduceResponse } from '../../src/protocol/gen/messages/produce.ts';
import type { RawClient } from './raw-client.ts';
import { batchOf } from './record-batch.ts';

export interface PartitionRecords {
  topic: string;
  partition: number;
  records: Buffer;
}

export interface ProduceOptions {
  /** Default -1 (all). */
  acks?: number;
  /** Default 10 000 ms. */
  timeoutMs?: number;
  /** Default 9. */
  version?: number;
}

export type PartitionProduceAnswer = ProduceResponsePartitionProduceResponse;

/** A Produce request body; the partitions are grouped by topic, topics in the order they first appear. */
export function produceRequest(parts: PartitionRecords[], options: ProduceOptions = {}): Init<ProduceRequest> {
  const byTopic = new Map<string, { index: number; records: Buffer }[]>();
  for (const p of parts) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), { index: p.partition, records: p.records }]);
  return {
    acks: options.acks ?? -1, timeoutMs: options.timeoutMs ?? 10_000, transactionalId: null,
    topicData: [...byTopic].map(([name, partitionData]) => ({ name, partitionData })),
  };
}

/** Sends one Produce request; resolves with the partitions' answers, in the order of the request body. */
export async function producePartitions(client: RawClient, parts: PartitionRecords[], options: ProduceOptions = {}): Promise<PartitionProduceAnswer[]> {
  const r = await client.request<ProduceResponse>(ApiKey.Produce, options.version ?? 9, produceRequest(parts, options));
  return r.responses.flatMap((t) => t.partitionResponses);
}

/** Produces one batch to one partition: these bytes, or one uncompressed batch of these values. */
export async function produce(client: RawClient, topic: string, partition: number, records: Buffer | string | string[], options: ProduceOptions = {}): Promise<PartitionProduceAnswer> {
  const batch = Buffer.isBuffer(records) ? records : await batchOf(records);
  const [answer] = await producePartitions(client, [{ topic, partition, records: batch }], options);
  return answer!;
}
