/**
 * Coordinator figures on PGlite (embedded, persisted in a temporary folder) and on PostgreSQL (a throwaway
 * local cluster with fsync and synchronous commit ON, as in production; tools/dev/local-servers.ts):
 *
 * - commit latency of one WAL object of 1,000 batches (10 batches in each of 100 partitions, in the order
 *   the writer seals them), one commit at a time, as one broker commits: p50, p99, mean, commits/s;
 * - commit throughput with 4 clients committing at once (PostgreSQL only: PGlite is one connection), as
 *   several brokers do;
 * - find-batches queries per second: one partition per query at a random offset, 16 KiB max (16 batches of
 *   1 KiB), with 1 connection, and with 8 concurrent queries on an 8-connection pool (PostgreSQL only).
 *
 *   npx tsx bench/coordinator.ts [--commits 200] [--seconds 5] [--batches 1000] [--partitions 100] [--idempotent]
 *
 * Prints a table and one JSON line. Figures are for reading, not for asserting: the machine is shared.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CommitBatch, Coordinator, TopicInfo } from '../src/coordinator/coordinator.ts';
import { openPGliteCoordinator } from '../src/coordinator/pglite.ts';
import { openPostgresCoordinator } from '../src/coordinator/pg.ts';
import { startPostgres } from '../tools/dev/local-servers.ts';

process.env.FLOE_LOG_LEVEL ??= 'warn';
const { values } = parseArgs({
  options: {
    commits: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '5' },
    batches: { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '100' },
    idempotent: { type: 'boolean', default: false },
  },
});
const COMMITS = Number(values.commits);
const SECONDS = Number(values.seconds);
const BATCHES = Number(values.batches);
const PARTITIONS = Number(values.partitions);
const IDEMPOTENT = values.idempotent;
const BATCH_BYTES = 1024;

let keySeq = 0;

/**
 * A source of objects to commit, one per call. With --idempotent every batch carries a producer id (one
 * producer per partition and per committing client) and the next sequence numbers, so each commit runs the
 * coordinator's duplicate and sequence checks.
 */
function objectSource(t: TopicInfo, client: number): () => CommitBatch[] {
  const perPartition = Math.ceil(BATCHES / PARTITIONS);
  const nextSequence = new Array<number>(PARTITIONS).fill(0);
  return () => {
    const out: CommitBatch[] = [];
    const now = Date.now();
    for (let i = 0; i < BATCHES; i++) {
      const partition = Math.floor(i / perPartition) % PARTITIONS;
      const sequence = IDEMPOTENT ? nextSequence[partition]! : -1;
      if (IDEMPOTENT) nextSequence[partition] = sequence + 10;
      out.push({
        topicId: t.topicId, partition, byteOffset: i * BATCH_BYTES, byteSize: BATCH_BYTES, recordCount: 10,
        baseTimestamp: now, maxTimestamp: now + 9, timestampType: 0,
        producerId: IDEMPOTENT ? 1_000_000 * (client + 1) + partition : -1, producerEpoch: IDEMPOTENT ? 0 : -1,
        baseSequence: sequence, lastSequence: IDEMPOTENT ? sequence + 9 : -1, txnKind: 0,
      });
    }
    return out;
  };
}

async function commitOne(c: Coordinator, batches: CommitBatch[]): Promise<number> {
  const t0 = performance.now();
  const res = await c.commitObject({ objectKey: `bench/${process.pid}/${++keySeq}`, objectSize: batches.length * BATCH_BYTES, brokerId: 1, batches });
  if (res.some((r) => r.errorCode !== 0)) throw new Error('commit failed');
  return performance.now() - t0;
}

function stats(ms: number[]): { p50: number; p99: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50: q(0.5), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

interface Figures {
  backend: string;
  commitP50Ms: number;
  commitP99Ms: number;
  commitMeanMs: number;
  commitsPerSec: number;
  concurrentCommitsPerSec: number | null;
  findQps1: number;
  findQps8: number | null;
  batchRows: number;
}

async function measure(backend: string, c: Coordinator, extraClients: Coordinator[]): Promise<Figures> {
  const t = await c.createTopic({ name: `bench-${Date.now()}`, partitionCount: PARTITIONS, diskless: true, configs: {} });
  const next = objectSource(t, 0);
  for (let i = 0; i < 20; i++) await commitOne(c, next()); // warm-up: plans cached, pages in memory
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < COMMITS; i++) lat.push(await commitOne(c, next()));
  const elapsed = (performance.now() - t0) / 1000;
  const s = stats(lat);

  let concurrent: number | null = null;
  if (extraClients.length > 0) {
    const clients = [c, ...extraClients];
    let done = 0;
    const until = performance.now() + SECONDS * 1000;
    const start = performance.now();
    await Promise.all(clients.map(async (client, i) => {
      const nextOfClient = i === 0 ? next : objectSource(t, i);
      while (performance.now() < until) {
        await commitOne(client, nextOfClient());
        done++;
      }
    }));
    concurrent = done / ((performance.now() - start) / 1000);
  }

  // find-batches: random partition, random offset below the high watermark.
  const offsets = await c.getPartitionOffsets(Array.from({ length: PARTITIONS }, (_, partition) => ({ topicId: t.topicId, partition })));
  const hw = offsets.map((o) => o!.highWatermark);
  const findLoop = async (client: Coordinator, until: number): Promise<number> => {
    let n = 0;
    while (performance.now() < until) {
      const partition = Math.floor(Math.random() * PARTITIONS);
      const offset = Math.floor(Math.random() * hw[partition]!);
      const [r] = await client.findBatches([{ topicId: t.topicId, partition, offset, maxBytes: 16 * BATCH_BYTES }]);
      if (r!.errorCode !== 0 || r!.batches.length === 0) throw new Error('find failed');
      n++;
    }
    return n;
  };
  let until = performance.now() + SECONDS * 1000;
  let start = performance.now();
  const findQps1 = (await findLoop(c, until)) / ((performance.now() - start) / 1000);
  let findQps8: number | null = null;
  if (extraClients.length > 0) {
    until = performance.now() + SECONDS * 1000;
    start = performance.now();
    const counts = await Promise.all(Array.from({ length: 8 }, () => findLoop(c, until)));
    findQps8 = counts.reduce((a, b) => a + b, 0) / ((performance.now() - start) / 1000);
  }
  const commitsMade = 20 + COMMITS + (concurrent === null ? 0 : Math.round(concurrent * SECONDS));
  return {
    backend,
    commitP50Ms: s.p50, commitP99Ms: s.p99, commitMeanMs: s.mean, commitsPerSec: COMMITS / elapsed,
    concurrentCommitsPerSec: concurrent, findQps1, findQps8, batchRows: commitsMade * BATCHES,
  };
}

const results: Figures[] = [];

const dir = await mkdtemp(join(tmpdir(), 'floe-bench-pglite-'));
try {
  const c = await openPGliteCoordinator(join(dir, 'coordinator'));
  try {
    results.push(await measure('PGlite (embedded, on disk)', c, []));
  } finally {
    await c.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const pg = await startPostgres({ durable: true });
try {
  const url = await pg.createDatabase('bench');
  const c = await openPostgresCoordinator(url, { maxConnections: 8 });
  const others = await Promise.all([1, 2, 3].map(() => openPostgresCoordinator(url, { maxConnections: 2 })));
  try {
    results.push(await measure('PostgreSQL 15 (local, fsync on)', c, others));
  } finally {
    await Promise.all([c, ...others].map((x) => x.close()));
  }
} finally {
  await pg.destroy();
}

const f = (n: number | null, d = 1) => (n === null ? '—' : n.toFixed(d));
console.log(`\nCoordinator: commit of one object of ${BATCHES} batches (${PARTITIONS} partitions${IDEMPOTENT ? ', idempotent producers' : ''}), ${COMMITS} commits one at a time; find-batches for ${SECONDS} s\n`);
console.log('| backend | commit p50 ms | commit p99 ms | mean ms | commits/s (1 client) | commits/s (4 clients) | find-batches q/s (1 conn) | find-batches q/s (8 concurrent) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.backend} | ${f(r.commitP50Ms)} | ${f(r.commitP99Ms)} | ${f(r.commitMeanMs)} | ${f(r.commitsPerSec)} | ${f(r.concurrentCommitsPerSec)} | ${f(r.findQps1, 0)} | ${f(r.findQps8, 0)} |`);
}
console.log(`\n${JSON.stringify({ batches: BATCHES, partitions: PARTITIONS, results })}`);
process.exit(0);
