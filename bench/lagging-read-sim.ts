/**
 * The lagging read path alone against object-store latency: the diskless reader (read-ahead, coalescing,
 * lagging read cache) of one or two checkouts, over an in-memory store behind the `s3-standard` latency
 * profile, read by a consumer that sends one fetch at a time (every partition, 1 MiB each, as librdkafka's
 * defaults) from offset 0 to the end. No broker, coordinator, s3rver or client: so it measures what the
 * read path's GET pattern allows on S3 latency, apart from CPU (which, on a shared 2-core machine, drowns
 * it in `bench/cold-read.ts`).
 *
 *   npx tsx bench/lagging-read-sim.ts [--base /other/checkout] [--layout wal|merged] [--mib 1024] [--rounds 3]
 *
 * Layouts: `wal`: objects of 2 MiB, each holding a 256 KiB run of each of 8 partitions (a topic written at
 * full rate); `merged`: objects of 64 MiB, each partition's 8 MiB back to back (after merging).
 * Per run: MB/s, GETs, GET/MB, KiB per GET, most GETs in flight, and the time to the first fetch's answer.
 * The cache takes the checkout's defaults; SIM_GETS and SIM_GET_BYTES override diskless.fetch.max.concurrent.gets
 * and diskless.fetch.max.get.bytes (for checkouts that have them).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BatchLocation, FindBatchesRequest, FindBatchesResult } from '../src/coordinator/coordinator.ts';
import { FaultyObjectStore } from '../src/objectstore/faulty.ts';
import type { ByteRange, ObjectInfo, ObjectStore } from '../src/objectstore/object-store.ts';
import { ROOT } from './lib/procs.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    layout: { type: 'string', default: 'wal' },
    mib: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    partitions: { type: 'string', default: '8' },
  },
});

const MIB = 1024 * 1024;
const PARTITIONS = Number(values.partitions);
const BATCH = 16 * 1024;
const RECORDS_PER_BATCH = 16;
const merged = values.layout === 'merged';
const OBJECT = merged ? 64 * MIB : 2 * MIB;
const RUN = OBJECT / PARTITIONS;
const OBJECTS = Math.max(1, Math.round((Number(values.mib) * MIB) / OBJECT));
const BATCHES_PER_RUN = RUN / BATCH;
const TOPIC = 'sim';

/** Batch i of a partition: object i / BATCHES_PER_RUN, at the partition's run in it. */
function batchOf(partition: number, i: number): BatchLocation {
  const object = Math.floor(i / BATCHES_PER_RUN);
  const inRun = i % BATCHES_PER_RUN;
  return {
    objectKey: `${merged ? 'merged' : 'wal'}/${String(object).padStart(8, '0')}`,
    byteOffset: partition * RUN + inRun * BATCH,
    byteSize: BATCH,
    baseOffset: i * RECORDS_PER_BATCH,
    lastOffset: i * RECORDS_PER_BATCH + RECORDS_PER_BATCH - 1,
    maxTimestamp: 0,
    logAppendTime: -1,
    timestampType: 0,
  };
}
const batchesPerPartition = OBJECTS * BATCHES_PER_RUN;
const highWatermark = batchesPerPartition * RECORDS_PER_BATCH;

/** What the reader asks the coordinator: located from the layout, no SQL. */
const coordinator = {
  queries: 0,
  async findBatches(reads: FindBatchesRequest[]): Promise<FindBatchesResult[]> {
    this.queries++;
    return reads.map((r) => {
      const batches: BatchLocation[] = [];
      let bytes = 0;
      for (let i = Math.floor(r.offset / RECORDS_PER_BATCH); i < batchesPerPartition && (batches.length === 0 || bytes + BATCH <= r.maxBytes); i++) {
        batches.push(batchOf(r.partition, i));
        bytes += BATCH;
      }
      return { errorCode: 0, logStartOffset: 0, highWatermark, batches };
    });
  },
  transactions: {},
};

/** Every object the same bytes (views, no copy), counted. */
class MemoryStore implements ObjectStore {
  gets = 0;
  getBytes = 0;
  inFlight = 0;
  maxInFlight = 0;
  private readonly body = Buffer.alloc(OBJECT, 7);
  async put(): Promise<void> {}
  async get(_key: string, range?: ByteRange): Promise<Buffer> {
    this.gets++;
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    const r = range ?? { start: 0, end: OBJECT };
    this.getBytes += r.end - r.start;
    await Promise.resolve();
    this.inFlight--;
    return this.body.subarray(r.start, r.end);
  }
  async deleteMany(): Promise<void> {}
  async *list(): AsyncIterable<ObjectInfo> {}
  async close(): Promise<void> {}
}

/** In-flight GETs counted at the latency wrapper (the memory store answers at once). */
class InFlight implements ObjectStore {
  now = 0;
  most = 0;
  constructor(private readonly inner: ObjectStore) {}
  put(key: string, body: Buffer | readonly Buffer[]): Promise<void> {
    return this.inner.put(key, body);
  }
  async get(key: string, range?: ByteRange): Promise<Buffer> {
    this.most = Math.max(this.most, ++this.now);
    try {
      return await this.inner.get(key, range);
    } finally {
      this.now--;
    }
  }
  deleteMany(keys: readonly string[]): Promise<void> {
    return this.inner.deleteMany(keys);
  }
  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function run(root: string): Promise<number[]> {
  const d = join(root, 'src/storage/diskless');
  const [{ DisklessReader }, { LaggingReadCache }, { ObjectCache }, { BatchIndexCache }, { TxnViews }, storage] = await Promise.all([
    import(join(d, 'diskless-reader.ts')),
    import(join(d, 'lagging-read-cache.ts')),
    import(join(d, 'object-cache.ts')),
    import(join(d, 'batch-index-cache.ts')),
    import(join(d, 'txn-views.ts')),
    import(join(d, 'diskless-storage.ts')),
  ]);
  const memory = new MemoryStore();
  const store = new InFlight(new FaultyObjectStore(memory, { latency: 's3-standard', seed: 1 }));
  const lagging = new LaggingReadCache(store, {
    maxBytes: storage.DEFAULT_LAGGING_CACHE_MAX_BYTES,
    coalesceGapBytes: storage.DEFAULT_COALESCE_GAP_BYTES,
    maxGetBytes: Number(process.env.SIM_GET_BYTES ?? storage.DEFAULT_MAX_GET_BYTES),
    ...(storage.DEFAULT_MAX_CONCURRENT_GETS ? { maxConcurrentGets: Number(process.env.SIM_GETS ?? storage.DEFAULT_MAX_CONCURRENT_GETS) } : {}),
  });
  coordinator.queries = 0;
  const reader = new DisklessReader(coordinator, new ObjectCache(store, 64 * MIB), new BatchIndexCache(), new TxnViews({}), lagging, { readAheadBytes: storage.DEFAULT_READ_AHEAD_BYTES });
  const offsets = new Array<number>(PARTITIONS).fill(0);
  const t0 = performance.now();
  let firstMs = 0;
  let bytes = 0;
  let fetches = 0;
  while (offsets.some((o) => o < highWatermark)) {
    const plans = await Promise.all(offsets.map((offset, partition) => reader.plan({ topicId: TOPIC, partition, offset, maxBytes: MIB }, 0)));
    const budget = { remaining: 50 * MIB, minOneBatch: true };
    for (const p of plans) p.limit(budget);
    const results = await Promise.all(plans.map((p) => p.load()));
    fetches++;
    results.forEach((r: { errorCode: number; bytes: number }, p) => {
      if (r.errorCode !== 0) throw new Error(`partition ${p}: error ${r.errorCode}`);
      offsets[p]! += (r.bytes / BATCH) * RECORDS_PER_BATCH;
      bytes += r.bytes;
    });
    if (fetches === 1) firstMs = performance.now() - t0;
  }
  const seconds = (performance.now() - t0) / 1000;
  const mb = bytes / 1e6;
  return [mb / seconds, memory.gets, memory.gets / mb, memory.getBytes / memory.gets / 1024, store.most, firstMs, coordinator.queries / fetches];
}

const variants = [{ name: 'this', root: ROOT }, ...(values.base ? [{ name: 'base', root: values.base }] : [])];
const rows: Record<string, number[][]> = {};
process.stderr.write(`${values.layout}: ${OBJECTS} objects of ${OBJECT / MIB} MiB, ${PARTITIONS} partitions, s3-standard latency\n`);
for (let round = 0; round < Number(values.rounds); round++) {
  for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
    const row = await run(v.root);
    (rows[v.name] ??= []).push(row);
    process.stderr.write(`${v.name}: ${row[0]!.toFixed(1)} MB/s, ${row[1]} GETs, ${row[2]!.toFixed(3)} GET/MB, ${row[3]!.toFixed(0)} KiB/GET, ${row[4]} GETs in flight at most, first fetch ${row[5]!.toFixed(0)} ms, ${row[6]!.toFixed(3)} queries/fetch\n`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write('checkout  MB/s (median)  GET/MB  KiB/GET  first fetch ms  runs MB/s\n');
for (const [name, rs] of Object.entries(rows)) {
  const col = (i: number) => median(rs.map((r) => r[i]!));
  process.stdout.write(`${name.padEnd(8)}  ${col(0).toFixed(1).padStart(12)}  ${col(2).toFixed(3).padStart(6)}  ${col(3).toFixed(0).padStart(7)}  ${col(5).toFixed(0).padStart(14)}  ${rs.map((r) => r[0]!.toFixed(1)).join(' / ')}\n`);
}
