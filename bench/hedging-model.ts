/**
 * The diskless write path's latency with only the object store's modelled latency in it: the real
 * DisklessWriter and its upload hedging, over a FaultyObjectStore (`s3-standard` profile) around an
 * in-memory store, and a coordinator stub whose commits take a fixed time. Batches arrive as the bench's
 * producer sends them (1 KiB records, one batch per partition every linger.ms), so a produce request's
 * latency here is the write path's alone: no s3rver, no PostgreSQL, hardly any CPU. It tells what a
 * hedging policy does to the tail without the noise of a shared 2-core machine (bench/run.ts measures the
 * whole thing).
 *
 *   npx tsx bench/hedging-model.ts [--seconds 60] [--rate 27500] [--percentiles 0,95,75] [--commit-ms 10] [--seed 1]
 *                                  [--buffer-mib 8] (diskless.buffer.max.bytes in MiB: the size objects are sealed at)
 *
 * Per hedging percentile: produce latency p50 / p99 / p99.9 (append to answer, ms), PUTs per object, hedges.
 */
import { parseArgs } from 'node:util';
import type { Coordinator, CommitObjectRequest, CommitBatchResult } from '../src/coordinator/coordinator.ts';
import { FaultyObjectStore } from '../src/objectstore/faulty.ts';
import type { ByteRange, ObjectInfo, ObjectStore } from '../src/objectstore/object-store.ts';
import { DisklessWriter } from '../src/storage/diskless/diskless-writer.ts';
import type { ProducedBatch } from '../src/storage/partition-log.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '27500' },
    percentiles: { type: 'string', default: '0,95,75' },
    'commit-ms': { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    'buffer-mib': { type: 'string', default: '8' },
  },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const commitMs = Number(values['commit-ms']);
const bufferMib = Number(values['buffer-mib']);
const PARTITIONS = 8;
const LINGER_MS = 5;
const RECORD = 1024;

/** Keeps nothing: the model is about time, not bytes. */
class NullStore implements ObjectStore {
  async put(): Promise<void> {}
  async get(_key: string, _range?: ByteRange): Promise<Buffer> {
    return Buffer.alloc(0);
  }
  async deleteMany(): Promise<void> {}
  async *list(): AsyncIterable<ObjectInfo> {}
  async close(): Promise<void> {}
}

function stubCoordinator(): Coordinator {
  const next = new Map<number, number>();
  return {
    async commitObject(req: CommitObjectRequest): Promise<CommitBatchResult[]> {
      await new Promise((r) => setTimeout(r, commitMs));
      return req.batches.map((b) => {
        const base = next.get(b.partition) ?? 0;
        next.set(b.partition, base + b.recordCount);
        return { errorCode: 0, baseOffset: base, logAppendTime: -1, logStartOffset: 0 };
      });
    },
  } as unknown as Coordinator;
}

async function run(percentile: number): Promise<string> {
  const faulty = new FaultyObjectStore(new NullStore(), { latency: 's3-standard', seed: Number(values.seed) });
  const writer = new DisklessWriter(faulty, stubCoordinator(), {
    brokerId: 1, commitIntervalMs: 250, bufferMaxBytes: bufferMib * 1024 * 1024, maxPendingBytes: 64 * 1024 * 1024, keyPrefix: 'm/',
    onCommitted: () => {}, hedgePercentile: percentile,
  });
  const recordsPerBatch = Math.max(1, Math.round((rate * LINGER_MS) / 1000 / PARTITIONS));
  const data = Buffer.alloc(recordsPerBatch * RECORD);
  const batch: ProducedBatch = { data, recordCount: recordsPerBatch, baseTimestamp: 0, maxTimestamp: 0, timestampType: 0, producerId: -1, producerEpoch: -1, baseSequence: -1, lastSequence: -1, txnKind: 0 };
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const warmUpMs = 10_000; // the threshold's samples first
  let tick = 0;
  while (performance.now() - start < seconds * 1000 + warmUpMs) {
    const due = start + tick * LINGER_MS;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    tick++;
    const sentAt = performance.now();
    const measured = sentAt - start >= warmUpMs;
    for (let p = 0; p < PARTITIONS; p++) {
      pending.push(writer.append({ topicId: 't', partition: p, batches: [batch] }).then(() => {
        if (measured) latencies.push(performance.now() - sentAt);
      }));
    }
  }
  await Promise.all(pending);
  await writer.flush();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!);
  const objects = writer.stats.objectsCommitted;
  return `hedge percentile ${String(percentile).padStart(2)}: produce p50 ${q(50)} / p99 ${q(99)} / p99.9 ${q(99.9)} ms, ` +
    `${(faulty.stats.calls / objects).toFixed(3)} PUTs per object (${writer.stats.hedgedPuts} hedges, ${writer.stats.hedgeWins} won, ${writer.stats.hedgesOverBudget} over budget) over ${objects} objects`;
}

const percentiles = values.percentiles!.split(',').map(Number);
// All at once: each needs little CPU, and they share whatever the machine does meanwhile.
const lines = await Promise.all(percentiles.map((p) => run(p)));
console.log(`${rate} records/s of 1 KiB, ${PARTITIONS} partitions, 250 ms interval, objects sealed at ${bufferMib} MiB, s3-standard PUTs, commits ${commitMs} ms, ${seconds} s measured`);
for (const l of lines) console.log(l);
