/**
 * Compacted diskless topics (issue 14), on PGlite + a folder and on PostgreSQL + S3 (s3rver), with real
 * clients: kafkajs produces 200 keys × 50 updates + 50 tombstones, more records follow once the bulk has left
 * the active segment (segment.ms), the compaction job swaps the partition's batches; kcat (librdkafka) reading
 * from offset 0 sees one record per key, the latest, at the offset its producer was told, tombstones until
 * delete.retention.ms has passed, then none; the high watermark never moves; DescribeLogDirs shrinks; the
 * replaced objects are deleted after the grace period and the store ends holding exactly the objects the
 * coordinator knows. A second broker that cached the partition's batch locations before the compaction
 * serves the compacted view after the old objects are gone. Keyless records are refused (INVALID_RECORD).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { S3Server } from '../../tools/dev/local-servers.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { KEYS, TOMBSTONES, UPDATES, expectedView, highWatermark, logDirSize, produceUpdates, readPartition } from '../helpers/compaction.ts';
import { kafkajs } from '../helpers/kafkajs.ts';
import { freshDatabase, sharedPostgres } from '../helpers/postgres.ts';
import { produce } from '../helpers/produce.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { buildRecordBatch } from '../helpers/record-batch.ts';
import { freshBucket, s3Overrides, sharedS3 } from '../helpers/s3.ts';
import { createTopics } from '../helpers/topics.ts';
import { waitFor } from '../helpers/wait.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';

const DELETE_RETENTION_MS = 8000;
const SEGMENT_MS = 500;
const COMPACT = { 'cleanup.policy': 'compact', 'segment.ms': String(SEGMENT_MS), 'delete.retention.ms': String(DELETE_RETENTION_MS), 'min.cleanable.dirty.ratio': '0.01' };
const FAST_JOBS = {
  'log.cleaner.backoff.ms': 200,
  'diskless.retention.check.interval.ms': 200,
  'diskless.object.cleaner.interval.ms': 200,
  'diskless.object.deletion.grace.ms': 1500,
};

let s3: S3Server;
before(async () => {
  [s3] = await Promise.all([sharedS3(), sharedPostgres()]);
});

async function storeKeys(broker: TestBroker): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of broker.broker.objectStore.list('wal/')) keys.push(o.key);
  return keys.sort();
}

async function scenario(overrides: Record<string, string>, second: boolean): Promise<void> {
  const broker = await startTestBroker({ ...FAST_JOBS, ...overrides });
  const client = await RawClient.connect(broker.port);
  const other = second ? await startTestBroker({ ...FAST_JOBS, ...overrides, 'log.cleaner.enable': false }) : null;
  const topic = 'compacted';
  // A dirty ratio no partition exceeds holds compaction back until the uncompacted state was looked at.
  await createTopics(client, [{ name: topic, configs: { ...COMPACT, 'min.cleanable.dirty.ratio': '1' } }]);
  assert.equal(broker.broker.topics.get(topic)!.diskless, true);

  const acked = await produceUpdates(kafkajs(broker.bootstrap, 'compaction-diskless'), topic, SEGMENT_MS + 100);
  const hw = await highWatermark(client, topic);
  assert.equal(hw, BigInt(KEYS * UPDATES + TOMBSTONES + 5));
  // The other broker reads (and caches the locations of) the uncompacted batches first.
  if (other) assert.ok((await readPartition(other.bootstrap, topic)).length > 0);
  const sizeBefore = await logDirSize(client, topic);
  const objectsBefore = await storeKeys(broker);
  assert.equal((await readPartition(broker.bootstrap, topic)).length, KEYS * UPDATES + TOMBSTONES + 5, 'nothing compacted yet');
  const alter = await client.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: topic, configs: [{ name: 'min.cleanable.dirty.ratio', configOperation: 0, value: '0.01' }] }], validateOnly: false });
  assert.equal(alter.responses[0].errorCode, 0);

  const withTombstones = expectedView(acked, true);
  await waitFor('compacted', async () => (await readPartition(broker.bootstrap, topic)).length === withTombstones.length, { timeoutMs: DELETE_RETENTION_MS - 2000, intervalMs: 200 });
  assert.deepEqual(await readPartition(broker.bootstrap, topic), withTombstones, 'one record per key, the latest, at its acknowledged offset; tombstones still there');
  assert.equal(await highWatermark(client, topic), hw, 'the high watermark is unchanged');
  const sizeAfter = await logDirSize(client, topic);
  assert.ok(sizeAfter < sizeBefore / 10, `DescribeLogDirs shows the partition shrink (${sizeBefore} → ${sizeAfter})`);
  console.log(`diskless compaction: ${KEYS * UPDATES + TOMBSTONES + 5} records → ${withTombstones.length}; DescribeLogDirs ${sizeBefore} → ${sizeAfter} bytes; ${JSON.stringify(broker.broker.maintenance.compactor.stats)}`);
  const compactor = broker.broker.maintenance.compactor.stats;
  assert.ok(compactor.objectsWritten >= 1 && compactor.recordsRemoved > 0 && compactor.objectsReleased > 0, JSON.stringify(compactor));
  const metrics = await broker.broker.metrics.registry.metrics();
  assert.match(metrics, /floe_diskless_compaction_records_removed_total [1-9]/);
  assert.match(metrics, /floe_diskless_compaction_dirty_ratio\{partition="[0-9a-f-]+:0"\} 0\b/, 'the partition is clean after compaction');

  // The replaced objects go after the grace period; the store then holds exactly what the coordinator knows.
  await waitFor('old objects deleted', async () => {
    const now = await storeKeys(broker);
    return objectsBefore.every((k) => !now.includes(k));
  }, { timeoutMs: 30_000, intervalMs: 200 });
  await waitFor('store = coordinator', async () => JSON.stringify(await storeKeys(broker)) === JSON.stringify((await broker.broker.coordinator.listObjectKeys()).sort()), { timeoutMs: 30_000, intervalMs: 200 });
  if (other) assert.deepEqual(await readPartition(other.bootstrap, topic), await readPartition(broker.bootstrap, topic), 'the other broker serves the compacted batches, not its stale locations');

  const live = expectedView(acked, false);
  await waitFor('tombstones removed', async () => (await readPartition(broker.bootstrap, topic)).length === live.length, { timeoutMs: DELETE_RETENTION_MS + 30_000, intervalMs: 500 });
  assert.deepEqual(await readPartition(broker.bootstrap, topic), live, 'tombstones gone after delete.retention.ms');
  assert.equal(await highWatermark(client, topic), hw);

  for (const compression of [0, 1]) {
    const keyless = await produce(client, topic, 0, await buildRecordBatch({ compression, records: [{ key: null, value: 'no key' }] }));
    assert.equal(keyless.errorCode, ErrorCode.INVALID_RECORD);
    assert.equal(keyless.recordErrors[0]!.batchIndexErrorMessage, `Compacted topic cannot accept message without key in topic partition ${topic}-0.`);
  }
  client.close();
  await other?.close();
  await broker.close();
}

test('diskless compaction on PGlite + a folder: compacted view at the acknowledged offsets, tombstones gone after delete.retention.ms, old objects deleted', async () => {
  await scenario({}, false);
});

test('diskless compaction on PostgreSQL + S3 with a second broker: the same, and the other broker\'s cached locations are dropped', async () => {
  await scenario({ 'diskless.coordinator.url': await freshDatabase(), ...s3Overrides(s3, await freshBucket()) }, true);
});
