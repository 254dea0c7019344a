/**
 * Cold reads of a lagging consumer on the production backends (PostgreSQL and s3rver, started by this
 * file; `s3-standard` latency on the reading broker): kcat reads a topic of many small objects from offset
 * 0 through a broker that holds none of it. Every record is read once and in order; the reads are
 * coalesced (far fewer GETs than object-partition runs) and read ahead (several GETs in flight, later
 * fetches answered from the read-ahead, few coordinator queries per fetch); the lagging read cache stays
 * within its budget; and the objects the broker cached for its tail consumers are all still there.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { S3Server } from '../../tools/dev/local-servers.ts';
import { startTestBroker } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { freshDatabase, sharedPostgres } from '../helpers/postgres.ts';
import { freshBucket, s3Overrides, sharedS3 } from '../helpers/s3.ts';
import { createTopic } from '../helpers/topics.ts';
import { withClient } from '../helpers/raw-client.ts';
import { waitFor } from '../helpers/wait.ts';

let s3: S3Server;
before(async () => {
  [s3] = await Promise.all([sharedS3(), sharedPostgres()]);
});

const MIB = 1024 * 1024;
const PARTITIONS = 4;
const RECORDS = 24_000;
const PAD = 'x'.repeat(400);

async function fetchRequests(broker: Awaited<ReturnType<typeof startTestBroker>>): Promise<number> {
  const values = (await broker.broker.metrics.requests.get()).values;
  return values.filter((v) => v.labels.request === 'Fetch').reduce((n, v) => n + v.value, 0);
}

test('a lagging kcat consumer reads a large topic from offset 0: every record once, in order, with coalesced read-ahead GETs, and the tail cache untouched', { timeout: 600_000 }, async () => {
  const overrides = { 'diskless.coordinator.url': await freshDatabase(), ...s3Overrides(s3, await freshBucket()), 'diskless.buffer.max.bytes': 256 * 1024 };
  // The writer: many small objects, each holding a run of every partition.
  const writer = await startTestBroker(overrides);
  await withClient(writer.port, (c) => createTopic(c, 'big', PARTITIONS));
  const lines = Array.from({ length: RECORDS }, (_, i) => `k${i % 97}:${i}-${PAD}`);
  await kcatProduce(writer.bootstrap, 'big', lines, ['-X', 'enable.idempotence=true', '-X', 'linger.ms=5', '-X', 'batch.num.messages=100']);
  // Gone, so Metadata names the reader as every partition's leader (the tail below is written through it).
  await writer.close();

  const LAGGING_MAX = 16 * MIB;
  const FETCH_MAX = 1 * MIB;
  const reader = await startTestBroker({
    ...overrides,
    'node.id': 2,
    'diskless.object.store.latency.profile': 's3-standard',
    'diskless.cache.max.bytes': 2 * MIB,
    'diskless.lagging.cache.max.bytes': LAGGING_MAX,
    'diskless.fetch.read.ahead.bytes': 2 * MIB,
    'diskless.fetch.coalesce.gap.bytes': 64 * 1024,
  });
  const storage = reader.broker.storage.diskless;
  // A tail consumer's objects: written through this broker, so its object cache holds them.
  await withClient(reader.port, (c) => createTopic(c, 'tail', 1));
  await kcatProduce(reader.bootstrap, 'tail', Array.from({ length: 200 }, (_, i) => `t:${i}`));
  assert.deepEqual(await kcatConsume(reader.bootstrap, 'tail', '%o %s\n'), Array.from({ length: 200 }, (_, i) => `${i} ${i}`));
  const tailCache = storage.objectCache.snapshot();
  assert.ok(tailCache.objects > 0, 'the tail objects are cached');

  const fetchesBefore = await fetchRequests(reader);
  const queriesBefore = storage.reader.coordinatorQueries;
  const out = await kcatConsume(reader.bootstrap, 'big', '%p %o %s\n', ['-X', `fetch.max.bytes=${FETCH_MAX}`, '-X', 'max.partition.fetch.bytes=262144']);
  const fetches = (await fetchRequests(reader)) - fetchesBefore;
  const queries = storage.reader.coordinatorQueries - queriesBefore;

  // Correctness: every record once; per partition offsets 0, 1, 2, … and the producer's order.
  assert.equal(out.length, RECORDS);
  const seen = new Set<number>();
  const next = new Array<number>(PARTITIONS).fill(0);
  const lastSeq = new Array<number>(PARTITIONS).fill(-1);
  for (const line of out) {
    const [p, o, value] = line.split(' ') as [string, string, string];
    const partition = Number(p);
    assert.equal(Number(o), next[partition], `partition ${partition}: offsets in order, no gap`);
    next[partition]!++;
    const seq = Number(value.split('-')[0]);
    assert.ok(seq > lastSeq[partition]!, `partition ${partition}: ${seq} after ${lastSeq[partition]}`);
    lastSeq[partition] = seq;
    assert.ok(!seen.has(seq), `record ${seq} read once`);
    seen.add(seq);
  }
  assert.equal(seen.size, RECORDS);

  // Coalescing: runs of one partition in one object, as the coordinator locates them; exact-range reads
  // would make at least one GET per run. Not much fewer: a fetch's own ranges are read apart from the
  // read-ahead around them (so a fetch never waits for a long read-ahead GET), which depends on timing.
  const topicId = (await reader.broker.coordinator.getTopic('big'))!.topicId;
  const located = await reader.broker.coordinator.findBatches(Array.from({ length: PARTITIONS }, (_, partition) => ({ topicId, partition, offset: 0, maxBytes: 1 << 30 })));
  const runs = new Set<string>();
  for (const [p, r] of located.entries()) for (const b of r.batches) runs.add(`${b.objectKey}/${p}`);
  const lagging = storage.laggingCache.snapshot();
  assert.ok(runs.size > 100, `${runs.size} object-partition runs`);
  assert.ok(lagging.gets < runs.size, `${lagging.gets} GETs for ${runs.size} object-partition runs`);

  // Read-ahead: several GETs in flight, fetches answered from it, and fewer coordinator queries than fetches.
  assert.ok(lagging.prefetches > 0, 'read-ahead issued');
  assert.ok(lagging.maxGetsInFlight > 1, `GETs in flight at once: ${lagging.maxGetsInFlight}`);
  // The read is over: whatever read-ahead was still in flight or queued ends (nothing left waiting forever).
  await waitFor('the lagging read cache to settle', () => storage.laggingCache.getsInFlightNow === 0 && storage.laggingCache.queuedGets === 0, { timeoutMs: 60_000 });
  assert.ok(lagging.hits > lagging.misses, `ranges found read ahead (${lagging.hits}) outnumber those waited for (${lagging.misses})`);
  assert.ok(queries < fetches, `${queries} coordinator queries for ${fetches} fetches`);

  // Memory: read-ahead within the budget; what a fetch waits for comes on top, at most a fetch's bytes.
  assert.ok(lagging.peakBytes <= LAGGING_MAX + FETCH_MAX + 64 * 1024, `peak ${lagging.peakBytes} bytes`);
  assert.ok(lagging.bytes <= LAGGING_MAX);

  // The tail's cache entries were not evicted by the backfill: same objects, and reading the tail again is all hits.
  assert.deepEqual(storage.objectCache.snapshot().objects, tailCache.objects);
  const missesBefore = storage.objectCache.stats.misses;
  assert.equal((await kcatConsume(reader.bootstrap, 'tail', '%o\n')).length, 200);
  assert.equal(storage.objectCache.stats.misses, missesBefore, 'the tail is still served from the object cache');
});
