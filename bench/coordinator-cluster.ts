/**
 * Coordinator capacity for a cluster (issue 19 item 6): N simulated brokers commit to one PostgreSQL (a
 * throwaway local cluster, fsync and synchronous commit on) the way DisklessWriter does — one object per
 * commit interval each, committed one at a time per broker (a commit that runs late delays that broker's
 * next one, as sealed objects queue in the writer) — with one 1 KiB batch in each of the broker's
 * partitions per object. Two partition layouts:
 * - disjoint: broker i writes its own partitions (producers of each partition in one zone);
 * - shared: every broker writes every partition (producers of each partition in every zone), so commits
 *   of the same partitions serialize on the partition rows.
 * For each N: objects/s and batches/s committed against those offered, commit latency from seal to commit
 * (p50/p99, queueing included: a broker keeps up while p99 stays under its interval), and what PostgreSQL
 * waited on meanwhile (pg_stat_activity sampled every 50 ms: CPU, Lock, LWLock, IO/WAL, Client) with its
 * WAL bytes/s (pg_stat_wal). Broker-side work (uploads, requests) is not simulated: this is the database.
 *
 *   npx tsx bench/coordinator-cluster.ts [--brokers 1,2,4,8,16] [--partitions 1000] [--interval 250]
 *                                        [--seconds 10] [--layouts disjoint,shared]
 *
 * Prints a table and one JSON line. Figures are for reading, not for asserting: the machine is shared, and
 * on this 2-core machine PostgreSQL and the simulated brokers compete for the same cores.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { CommitBatch, Coordinator, TopicInfo } from '../src/coordinator/coordinator.ts';
import { openPostgresCoordinator } from '../src/coordinator/pg.ts';
import { startPostgres } from '../tools/dev/local-servers.ts';

process.env.FLOE_LOG_LEVEL ??= 'warn';
const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: '1,2,4,8,16' },
    partitions: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '250' },
    seconds: { type: 'string', default: '10' },
    layouts: { type: 'string', default: 'disjoint,shared' },
  },
});
const BROKER_COUNTS = values.brokers.split(',').map(Number);
const PARTITIONS = Number(values.partitions);
const INTERVAL_MS = Number(values.interval);
const SECONDS = Number(values.seconds);
const LAYOUTS = values.layouts.split(',') as ('disjoint' | 'shared')[];
const BATCH_BYTES = 1024;

let keySeq = 0;

function objectOf(topic: TopicInfo, now: number): CommitBatch[] {
  const out: CommitBatch[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    out.push({
      topicId: topic.topicId, partition, byteOffset: partition * BATCH_BYTES, byteSize: BATCH_BYTES, recordCount: 10,
      baseTimestamp: now, maxTimestamp: now + 9, timestampType: 0, producerId: -1, producerEpoch: -1, baseSequence: -1, lastSequence: -1, txnKind: 0,
    });
  }
  return out;
}

function quantile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface Row {
  layout: string;
  brokers: number;
  offeredObjectsPerSec: number;
  objectsPerSec: number;
  batchesPerSec: number;
  commitP50Ms: number;
  commitP99Ms: number;
  keepsUp: boolean;
  waits: Record<string, number>;
  walMBps: number;
}

/** One simulated broker: seals an object every interval and commits its queue one object at a time. */
async function runBroker(c: Coordinator, topic: TopicInfo, brokerId: number, until: number, latencies: number[]): Promise<number> {
  const sealed: number[] = [];
  let committed = 0;
  const sealer = setInterval(() => sealed.push(performance.now()), INTERVAL_MS);
  // Brokers start at different moments of the interval, as real ones do.
  await new Promise((r) => setTimeout(r, Math.random() * INTERVAL_MS));
  try {
    while (performance.now() < until) {
      const sealedAt = sealed.shift();
      if (sealedAt === undefined) {
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
      const res = await c.commitObject({ objectKey: `bench/${process.pid}/${++keySeq}`, objectSize: PARTITIONS * BATCH_BYTES, brokerId, batches: objectOf(topic, Date.now()) });
      if (res.some((r) => r.errorCode !== 0)) throw new Error('commit failed');
      latencies.push(performance.now() - sealedAt);
      committed++;
    }
  } finally {
    clearInterval(sealer);
  }
  // What is still queued never committed in time: it counts as latency past the run.
  for (const s of sealed) latencies.push(performance.now() - s);
  return committed;
}

/** Samples what PostgreSQL's client backends are doing until `until`. */
async function sampleWaits(admin: pg.Client, until: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let samples = 0;
  while (performance.now() < until) {
    const res = await admin.query<{ kind: string; n: string }>(
      `SELECT CASE WHEN wait_event_type IS NULL THEN 'CPU'
                   WHEN wait_event_type = 'IO' AND wait_event LIKE 'WAL%' THEN 'WAL IO'
                   ELSE wait_event_type END AS kind, count(*) AS n
         FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()
        GROUP BY 1`);
    for (const r of res.rows) counts[r.kind] = (counts[r.kind] ?? 0) + Number(r.n);
    samples++;
    await new Promise((r) => setTimeout(r, 50));
  }
  // Average number of backends in each state.
  for (const k of Object.keys(counts)) counts[k] = Math.round((counts[k]! / samples) * 100) / 100;
  return counts;
}

async function walBytes(admin: pg.Client): Promise<number> {
  const res = await admin.query<{ b: string }>('SELECT wal_bytes::text AS b FROM pg_stat_wal');
  return Number(res.rows[0]!.b);
}

const server = await startPostgres({ durable: true });
const rows: Row[] = [];
try {
  const url = await server.createDatabase('capacity');
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const maxBrokers = Math.max(...BROKER_COUNTS);
  const brokers = await Promise.all(Array.from({ length: maxBrokers }, () => openPostgresCoordinator(url, { maxConnections: 1 })));
  try {
    for (const layout of LAYOUTS) {
      for (const n of BROKER_COUNTS) {
        const shared = await brokers[0]!.createTopic({ name: `capacity-${layout}-${n}-${Date.now()}`, partitionCount: PARTITIONS, diskless: true, configs: {} });
        const topics = layout === 'shared'
          ? Array.from({ length: n }, () => shared)
          : await Promise.all(Array.from({ length: n }, (_, i) => i === 0 ? shared : brokers[0]!.createTopic({ name: `capacity-${layout}-${n}-${i}-${Date.now()}`, partitionCount: PARTITIONS, diskless: true, configs: {} })));
        const latencies: number[] = [];
        const wal0 = await walBytes(admin);
        const start = performance.now();
        const until = start + SECONDS * 1000;
        const [committed, waits] = await Promise.all([
          Promise.all(topics.map((t, i) => runBroker(brokers[i]!, t, i + 1, until, latencies))),
          sampleWaits(admin, until),
        ]);
        const elapsed = (performance.now() - start) / 1000;
        const wal = (await walBytes(admin)) - wal0;
        const objects = committed.reduce((a, b) => a + b, 0);
        const sorted = latencies.sort((a, b) => a - b);
        const row: Row = {
          layout, brokers: n,
          offeredObjectsPerSec: (n * 1000) / INTERVAL_MS,
          objectsPerSec: objects / elapsed,
          batchesPerSec: (objects * PARTITIONS) / elapsed,
          commitP50Ms: quantile(sorted, 0.5),
          commitP99Ms: quantile(sorted, 0.99),
          keepsUp: quantile(sorted, 0.99) < INTERVAL_MS,
          waits,
          walMBps: wal / elapsed / 1e6,
        };
        rows.push(row);
        console.error(`${layout} ${n} brokers: ${row.objectsPerSec.toFixed(1)} objects/s of ${row.offeredObjectsPerSec}, p99 ${row.commitP99Ms.toFixed(0)} ms`);
      }
    }
  } finally {
    await Promise.all(brokers.map((b) => b.close()));
    await admin.end();
  }
} finally {
  await server.destroy();
}

const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');
console.log(`\nCoordinator capacity: N brokers, one object per ${INTERVAL_MS} ms each with one batch in each of ${PARTITIONS} partitions, ${SECONDS} s per row, PostgreSQL 15 (local, fsync on)\n`);
console.log('| layout | brokers | objects/s (offered) | batches/s | commit p50 ms | commit p99 ms | keeps up | PostgreSQL backends busy (avg) | WAL MB/s |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const waits = Object.entries(r.waits).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'idle';
  console.log(`| ${r.layout} | ${r.brokers} | ${f(r.objectsPerSec, 1)} (${f(r.offeredObjectsPerSec)}) | ${f(r.batchesPerSec)} | ${f(r.commitP50Ms)} | ${f(r.commitP99Ms)} | ${r.keepsUp ? 'yes' : 'no'} | ${waits} | ${f(r.walMBps, 1)} |`);
}
console.log(`\n${JSON.stringify({ partitions: PARTITIONS, intervalMs: INTERVAL_MS, seconds: SECONDS, rows })}`);
process.exit(0);
