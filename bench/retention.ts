/**
 * Retention and object deletion figures, on PGlite (embedded, persisted in a temporary folder) and on
 * PostgreSQL (a throwaway local cluster with fsync and synchronous commit ON; tools/dev/local-servers.ts):
 *
 * - retention pass time for 10,000 expired batches (1,000 WAL objects of 10 batches, one per partition of
 *   a 10-partition topic): RetentionJob.runPass(), i.e. bounded steps (1,000 batch deletions per transaction)
 *   moving the log starts, deleting the batch rows and marking the emptied objects 'deleting';
 * - objects deleted per second by the cleaner (ObjectCleaner.runPass(), grace 0) for 10,000 objects of one
 *   batch each: coordinator listing, DeleteObjects in bulk (1,000 keys a call), forgetting the rows. Against
 *   the local-folder store (unlink), and against the same store behind the s3-standard latency profile
 *   (each bulk delete ≈ 40 ms, like S3's DeleteObjects).
 * - a retention step's effect on commits: commit latency (10-batch objects to the same topic) while
 *   retention passes run back to back, against commit latency alone (PostgreSQL: concurrent connections).
 *
 *   npx tsx bench/retention.ts [--batches 10000] [--objects 10000] [--no-postgres]
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
import { FaultyObjectStore } from '../src/objectstore/faulty.ts';
import { FsObjectStore } from '../src/objectstore/fs.ts';
import type { ObjectStore } from '../src/objectstore/object-store.ts';
import { ObjectCleaner } from '../src/storage/diskless/cleaner.ts';
import { RetentionJob } from '../src/storage/diskless/retention.ts';
import { startPostgres } from '../tools/dev/local-servers.ts';

process.env.FLOE_LOG_LEVEL ??= 'warn';
const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '10000' },
    objects: { type: 'string', default: '10000' },
    'no-postgres': { type: 'boolean', default: false },
  },
});
const BATCHES = Number(values.batches);
const OBJECTS = Number(values.objects);
const PARTITIONS = 10;
const BATCH_BYTES = 1024;

let keySeq = 0;
const key = () => `wal/bench-${process.pid}-${++keySeq}`;

function batch(t: TopicInfo, partition: number, i: number, ts: number): CommitBatch {
  return {
    topicId: t.topicId, partition, byteOffset: i * BATCH_BYTES, byteSize: BATCH_BYTES, recordCount: 10,
    baseTimestamp: ts, maxTimestamp: ts, timestampType: 0, producerId: -1, producerEpoch: -1, baseSequence: -1, lastSequence: -1, txnKind: 0,
  };
}

/** Commits `objects` objects of `perObject` batches (spread over the partitions), uploading a small file for each. */
async function fill(c: Coordinator, store: ObjectStore, t: TopicInfo, objects: number, perObject: number, ts: number): Promise<void> {
  const body = Buffer.alloc(64);
  for (let o = 0; o < objects; o += 50) {
    await Promise.all(Array.from({ length: Math.min(50, objects - o) }, async (_, j) => {
      const k = key();
      await store.put(k, body);
      return k;
    })).then(async (keys) => {
      for (const [j, k] of keys.entries()) {
        const batches = Array.from({ length: perObject }, (_, i) => batch(t, (o + j + i) % PARTITIONS, i, ts));
        const res = await c.commitObject({ objectKey: k, objectSize: perObject * BATCH_BYTES, brokerId: 1, batches });
        if (res.some((r) => r.errorCode !== 0)) throw new Error('commit failed');
      }
    });
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

interface Figures {
  backend: string;
  retentionPassMs: number;
  retentionBatchesPerSec: number;
  retentionSteps: number;
  objectsMarked: number;
  deleteFsObjectsPerSec: number;
  deleteS3LikeObjectsPerSec: number;
  commitP50AloneMs: number;
  commitP99AloneMs: number;
  commitP50DuringRetentionMs: number;
  commitP99DuringRetentionMs: number;
}

async function measure(backend: string, c: Coordinator, dir: string): Promise<Figures> {
  const fs = new FsObjectStore(join(dir, 'objects'));
  const old = Date.now() - 3_600_000;

  // 1. Retention pass over BATCHES expired batches (objects of 10 batches).
  const t = await c.createTopic({ name: `bench-ret-${process.pid}-${backend}`, partitionCount: PARTITIONS, diskless: true, configs: {} });
  await fill(c, fs, t, BATCHES / PARTITIONS, PARTITIONS, old);
  const retention = new RetentionJob(c, {
    topics: async () => [{ topicId: t.topicId, retentionMs: 60_000, retentionBytes: -1 }],
    onLogStarts: () => {},
    producerIdExpirationMs: 86_400_000,
  });
  const pass = await retention.runPass();
  if (pass.batchesDeleted !== BATCHES) throw new Error(`retention deleted ${pass.batchesDeleted} batches, expected ${BATCHES}`);

  // 2. Deletion rate: OBJECTS objects of one batch, expired, marked, then deleted by the cleaner (grace 0).
  const clean = async (store: ObjectStore): Promise<number> => {
    const t2 = await c.createTopic({ name: `bench-del-${process.pid}-${backend}-${keySeq}`, partitionCount: PARTITIONS, diskless: true, configs: {} });
    await fill(c, store, t2, OBJECTS, 1, old);
    const marking = new RetentionJob(c, { topics: async () => [{ topicId: t2.topicId, retentionMs: 60_000, retentionBytes: -1 }], onLogStarts: () => {}, producerIdExpirationMs: 86_400_000 });
    await marking.runPass();
    // Only this topic's objects (and those of step 1) are due: time the whole pass.
    const cleaner = new ObjectCleaner(c, store, { keyPrefix: 'wal/', deletionGraceMs: 0, orphanMinAgeMs: 3_600_000, orphanScanIntervalMs: 3_600_000 });
    const t0 = performance.now();
    const stats = await cleaner.runPass();
    const ms = performance.now() - t0;
    if (stats.objectsDeleted < OBJECTS) throw new Error(`cleaner deleted ${stats.objectsDeleted} objects, expected ${OBJECTS}`);
    return (stats.objectsDeleted / ms) * 1000;
  };
  const fsRate = await clean(fs);
  const s3Rate = await clean(new FaultyObjectStore(fs, { latency: 's3-standard', seed: 1 }));

  // 3. Commit latency alone, then while retention steps run back to back on another topic.
  const hot = await c.createTopic({ name: `bench-hot-${process.pid}-${backend}`, partitionCount: PARTITIONS, diskless: true, configs: {} });
  const victim = await c.createTopic({ name: `bench-victim-${process.pid}-${backend}`, partitionCount: PARTITIONS, diskless: true, configs: {} });
  const commitLoop = async (n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await c.commitObject({ objectKey: key(), objectSize: PARTITIONS * BATCH_BYTES, brokerId: 1, batches: Array.from({ length: PARTITIONS }, (_, p) => batch(hot, p, p, Date.now())) });
      out.push(performance.now() - t0);
    }
    return out;
  };
  const alone = await commitLoop(200);
  await fill(c, fs, victim, BATCHES / PARTITIONS, PARTITIONS, old);
  let running = true;
  const victimJob = new RetentionJob(c, {
    topics: async () => [{ topicId: victim.topicId, retentionMs: 60_000, retentionBytes: -1 }],
    onLogStarts: () => {},
    producerIdExpirationMs: 86_400_000,
    maxBatchesPerStep: 1_000,
  });
  const background = (async () => {
    while (running) await victimJob.runPass();
  })();
  const during = await commitLoop(200);
  running = false;
  await background;

  return {
    backend,
    retentionPassMs: Math.round(pass.ms),
    retentionBatchesPerSec: Math.round((BATCHES / pass.ms) * 1000),
    retentionSteps: pass.steps,
    objectsMarked: pass.objectsMarked,
    deleteFsObjectsPerSec: Math.round(fsRate),
    deleteS3LikeObjectsPerSec: Math.round(s3Rate),
    commitP50AloneMs: +pct(alone, 50).toFixed(2),
    commitP99AloneMs: +pct(alone, 99).toFixed(2),
    commitP50DuringRetentionMs: +pct(during, 50).toFixed(2),
    commitP99DuringRetentionMs: +pct(during, 99).toFixed(2),
  };
}

const results: Figures[] = [];
{
  const dir = await mkdtemp(join(tmpdir(), 'floe-bench-retention-'));
  const c = await openPGliteCoordinator(join(dir, 'coordinator'));
  try {
    results.push(await measure('pglite', c, dir));
  } finally {
    await c.close();
    await rm(dir, { recursive: true, force: true });
  }
}
if (!values['no-postgres']) {
  const pg = await startPostgres({ durable: true });
  const dir = await mkdtemp(join(tmpdir(), 'floe-bench-retention-'));
  try {
    const c = await openPostgresCoordinator(await pg.createDatabase('bench'), { maxConnections: 8 });
    try {
      results.push(await measure('postgresql', c, dir));
    } finally {
      await c.close();
    }
  } finally {
    await pg.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(`retention of ${BATCHES} batches (${BATCHES / PARTITIONS} objects), deletion of ${OBJECTS} objects`);
console.log('backend     | retention pass | batches/s | steps | objects marked | deleted/s (fs) | deleted/s (s3-like) | commit p50/p99 alone | during retention');
for (const r of results) {
  console.log(
    `${r.backend.padEnd(11)} | ${`${r.retentionPassMs} ms`.padStart(14)} | ${String(r.retentionBatchesPerSec).padStart(9)} | ${String(r.retentionSteps).padStart(5)} | ${String(r.objectsMarked).padStart(14)} | ${String(r.deleteFsObjectsPerSec).padStart(14)} | ${String(r.deleteS3LikeObjectsPerSec).padStart(19)} | ${`${r.commitP50AloneMs}/${r.commitP99AloneMs} ms`.padStart(20)} | ${r.commitP50DuringRetentionMs}/${r.commitP99DuringRetentionMs} ms`,
  );
}
console.log(JSON.stringify({ batches: BATCHES, objects: OBJECTS, results }));
