/**
 * Reading partitions back in tests through raw Fetch requests (v11 unless asked otherwise):
 * `fetchRequest` builds a body, `fetchPartition` returns one partition's answer, `fetchValues` the values it
 * holds (asserting no error), `fetchAll` every record of a partition by offset; `batchesIn` splits fetched
 * bytes into batches and `valuesIn` reads their records' values.
 */
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import type { Init } from '../../src/protocol/gen/init.ts';
import type { FetchRequest, FetchResponse, FetchResponsePartitionData } from '../../src/protocol/gen/messages/fetch.ts';
import { readRecords } from '../../src/protocol/records.ts';
import type { RawClient } from './raw-client.ts';

export interface PartitionFetch {
  topic: string;
  /** For Fetch v13+, which names topics by id. */
  topicId?: string;
  partition: number;
  offset: bigint;
  /** The partition's byte limit (default 1 MiB). */
  maxBytes?: number;
}

export interface FetchOptions {
  /** Default 0: answer at once. */
  maxWaitMs?: number;
  /** Default 0. */
  minBytes?: number;
  /** The request's byte limit (default 1 MiB). */
  maxBytes?: number;
  /** 0 read_uncommitted (default), 1 read_committed. */
  isolationLevel?: number;
}

export type FetchedPartition = FetchResponsePartitionData;

/** A Fetch request body (no fetch session), one topic entry per partition, in the given order. */
export function fetchRequest(parts: PartitionFetch[], options: FetchOptions = {}): Init<FetchRequest> {
  return {
    replicaId: -1, maxWaitMs: options.maxWaitMs ?? 0, minBytes: options.minBytes ?? 0, maxBytes: options.maxBytes ?? 1 << 20,
    isolationLevel: options.isolationLevel ?? 0, sessionId: 0, sessionEpoch: -1,
    topics: parts.map((p) => ({
      topic: p.topic,
      ...(p.topicId === undefined ? {} : { topicId: p.topicId }),
      partitions: [{ partition: p.partition, fetchOffset: p.offset, partitionMaxBytes: p.maxBytes ?? 1 << 20 }],
    })),
    forgottenTopicsData: [], rackId: '',
  };
}

/** Fetches one partition from `offset`; resolves with its answer (error code, watermarks, records). */
export async function fetchPartition(client: RawClient, topic: string, partition: number, offset = 0n, options: FetchOptions & { version?: number } = {}): Promise<FetchedPartition> {
  const r = await client.request<FetchResponse>(ApiKey.Fetch, options.version ?? 11, fetchRequest([{ topic, partition, offset }], options));
  return r.responses[0]!.partitions[0]!;
}

/** The values of the records one fetch returns from `offset` (whole batches: a batch may start before it). */
export async function fetchValues(client: RawClient, topic: string, partition: number, offset = 0n, options: FetchOptions & { version?: number } = {}): Promise<string[]> {
  const p = await fetchPartition(client, topic, partition, offset, options);
  assert.equal(p.errorCode, 0, `fetch ${topic}-${partition} at ${offset}`);
  return valuesIn(p.records);
}

/** Every record of a partition, from offset 0 to the end, as value strings by offset. */
export async function fetchAll(client: RawClient, topic: string, partition: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let offset = 0n;
  for (;;) {
    const p = await fetchPartition(client, topic, partition, offset, { maxBytes: 4 << 20 });
    assert.equal(p.errorCode, 0, `fetch ${topic}-${partition} at ${offset}`);
    const batches = batchesIn(p.records);
    if (batches.length === 0) return out;
    for (const batch of batches) {
      const base = Number(batch.readBigInt64BE(0));
      for (const r of await readRecords(batch)) out.set(base + r.offsetDelta, r.value!.toString());
      offset = BigInt(base + batch.readInt32BE(23) + 1);
    }
  }
}

/** The record batches in fetched bytes (each one whole, as the broker sends them). */
export function batchesIn(records: Buffer | null): Buffer[] {
  const out: Buffer[] = [];
  if (!records) return out;
  for (let at = 0; at < records.length;) {
    const size = records.readInt32BE(at + 8) + 12;
    out.push(records.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** The values of every record in fetched bytes, in order (compressed batches included). */
export async function valuesIn(records: Buffer | null): Promise<string[]> {
  const out: string[] = [];
  for (const b of batchesIn(records)) for (const r of await readRecords(b)) out.push(r.value!.toString());
  return out;
}
