/**
 * Compaction of transactional data (Kafka's LogCleaner rules, src/storage/compaction.ts) with real clients,
 * on a compacted classic topic and a compacted diskless one (PGlite + folder): confluent-kafka (librdkafka)
 * writes key updates in committed and aborted transactions plus plain idempotent updates
 * (confluent_transactions.py `compact`); once compacted, a read_committed and a read_uncommitted consumer
 * from offset 0 both read exactly the latest committed (or plain) value of each key at the offset its
 * producer was told: no aborted record is left, offsets never change, the high watermark stays. The markers
 * of transactions with no data left go after delete.retention.ms (counted in raw Fetch answers), the one
 * whose transaction still holds data stays, and read_committed still reads the same records.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { batchesIn, fetchPartition } from '../helpers/fetch.ts';
import { highWatermark } from '../helpers/compaction.ts';
import { produce } from '../helpers/produce.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { buildRecordBatch } from '../helpers/record-batch.ts';
import { CLASSIC } from '../helpers/topics.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const run = promisify(execFile);
const DRIVER = join(import.meta.dirname, 'confluent_transactions.py');
const SEGMENT_MS = 500;
const DELETE_RETENTION_MS = 5000;
const COMPACT = {
  'cleanup.policy': 'compact',
  'segment.ms': String(SEGMENT_MS),
  'delete.retention.ms': String(DELETE_RETENTION_MS),
  'min.cleanable.dirty.ratio': '0.01',
};

type Rows = [number, string][];

async function driver(bootstrap: string, command: string, topic: string, configs: Record<string, string> = {}): Promise<any> {
  const arg = Object.entries(configs).map(([k, v]) => `${k}=${v}`).join(',');
  const { stdout } = await run('/usr/bin/python3', [DRIVER, bootstrap, command, topic, arg], { maxBuffer: 64 << 20, timeout: 240_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

/** Per key (the value's last dash-separated part), its latest record not written by an aborted transaction. */
function latestCommitted(delivered: Rows): Rows {
  const latest = new Map<string, [number, string]>();
  for (const [offset, value] of delivered) {
    if (value.startsWith('a-')) continue;
    const key = value.split('-').at(-1)!;
    if ((latest.get(key)?.[0] ?? -1) < offset) latest.set(key, [offset, value]);
  }
  return [...latest.values()].sort((a, b) => a[0] - b[0]);
}

interface StoredBatch {
  base: number;
  control: boolean;
  transactional: boolean;
}

/** Every batch the partition stores, read with raw Fetch (read_uncommitted) from offset 0 to the high watermark. */
async function storedBatches(client: RawClient, topic: string): Promise<StoredBatch[]> {
  const hw = await highWatermark(client, topic);
  const out: StoredBatch[] = [];
  let offset = 0n;
  while (offset < hw) {
    const p = await fetchPartition(client, topic, 0, offset, { maxBytes: 4 << 20 });
    assert.equal(p.errorCode, 0);
    const batches = batchesIn(p.records);
    if (batches.length === 0) break;
    for (const b of batches) {
      const attributes = b.readInt16BE(21);
      out.push({ base: Number(b.readBigInt64BE(0)), control: (attributes & 0x20) !== 0, transactional: (attributes & 0x10) !== 0 });
      offset = b.readBigInt64BE(0) + BigInt(b.readInt32BE(23)) + 1n;
    }
  }
  return out;
}

let broker: TestBroker;
let client: RawClient;
before(async () => {
  broker = await startTestBroker({
    'log.cleaner.backoff.ms': 200,
    'diskless.retention.check.interval.ms': 200,
    'diskless.object.cleaner.interval.ms': 200,
    'diskless.object.deletion.grace.ms': 1500,
  });
  client = await RawClient.connect(broker.port);
});
after(async () => {
  client?.close();
});

async function scenario(topic: string, configs: Record<string, string>): Promise<string> {
  const w = await driver(broker.bootstrap, 'compact', topic, { ...configs, ...COMPACT });
  assert.deepEqual(w.errors, []);
  const delivered = w.delivered as Rows;
  // 5 × (10 committed + 10 aborted + 5 plain) + 10 aborted + 5 committed + the filler.
  assert.equal(delivered.length, 5 * 25 + 10 + 5 + 1);
  const hw = await highWatermark(client, topic);
  // Every transaction's marker takes an offset too: 12 transactions.
  assert.equal(hw, BigInt(delivered.length + 12));
  const expected = latestCommitted(delivered);
  assert.equal(expected.length, 11, 'ten keys and the filler');
  assert.deepEqual(expected.map(([, v]) => v).slice(0, 10).sort(), ['c-5-k5', 'c-5-k6', 'c-5-k7', 'c-5-k8', 'c-5-k9', 'p-4-k0', 'p-4-k1', 'p-4-k2', 'p-4-k3', 'p-4-k4']);

  // Compacted: both isolation levels read exactly the latest committed value of each key, at its offset.
  let read: { committed: Rows; uncommitted: Rows } = { committed: [], uncommitted: [] };
  await waitFor(`${topic} compacted`, async () => {
    read = await driver(broker.bootstrap, 'read', topic);
    // Both reads of one round after the compaction (the first may run before it).
    return JSON.stringify(read.uncommitted) === JSON.stringify(expected) && JSON.stringify(read.committed) === JSON.stringify(expected);
  }, { timeoutMs: 90_000, intervalMs: 500 });
  assert.deepEqual(read.committed, expected, 'read_committed: the latest committed value per key at its original offset');
  assert.deepEqual(read.uncommitted, expected, 'read_uncommitted: no aborted record is left');
  assert.equal(await highWatermark(client, topic), hw, 'the high watermark does not move');

  // One more record once segment.ms has passed, so the filler leaves the active segment (dirty again): the
  // markers of transactions with no data left get a delete horizon, and go after delete.retention.ms.
  await sleep(SEGMENT_MS + 200);
  const more = await produce(client, topic, 0, await buildRecordBatch({ records: [{ key: 'filler2', value: 'f-1-filler2' }] }));
  assert.equal(more.errorCode, 0);
  const lastMarker = delivered.find(([, v]) => v === 'c-5-k9')![0] + 1;
  let batches: StoredBatch[] = [];
  await waitFor(`${topic} markers without data removed`, async () => {
    batches = await storedBatches(client, topic);
    return batches.filter((b) => b.control).length === 1;
  }, { timeoutMs: DELETE_RETENTION_MS + 60_000, intervalMs: 500 });
  assert.deepEqual(batches.filter((b) => b.control).map((b) => b.base), [lastMarker], 'only the marker of the transaction that still holds data is left');
  assert.ok(batches.some((b) => b.transactional && !b.control), 'the committed transactional batch keeps its transactional attribute');
  const final = [...expected, [Number(more.baseOffset), 'f-1-filler2']] as Rows;
  read = await driver(broker.bootstrap, 'read', topic);
  assert.deepEqual(read.committed, final, 'read_committed reads the same records once the markers are gone');
  assert.deepEqual(read.uncommitted, final);
  return `${topic}: ${delivered.length} records + 12 markers → ${expected.length} records + 1 marker`;
}

test('transactional data on a compacted classic topic: aborted records removed, committed ones compacted by key, empty transactions\' markers gone after delete.retention.ms', { timeout: 300_000 }, async () => {
  console.log(await scenario('cmp-txn-classic', CLASSIC));
  const stats = broker.broker.storage.classic.cleaner.stats;
  assert.ok(stats.recordsRemoved > 0 && stats.failures === 0, JSON.stringify(stats));
});

test('transactional data on a compacted diskless topic: the same, and the compacted rows keep their transaction kind', { timeout: 300_000 }, async () => {
  console.log(await scenario('cmp-txn-diskless', {}));
  const stats = broker.broker.maintenance.compactor.stats;
  assert.ok(stats.recordsRemoved > 0 && stats.failures === 0, JSON.stringify(stats));
  // The rows the swaps wrote say what each batch is to transactions (1 data, 3 commit marker, 0 plain), and
  // the aborted transactions went from aborted_transactions with their markers.
  const coordinator = broker.broker.coordinator as SqlCoordinator;
  const topicId = broker.broker.topics.get('cmp-txn-diskless')!.topicId;
  const kinds = await coordinator.connection.query<{ txn_kind: number; n: string }>(
    `SELECT txn_kind, count(*) AS n FROM batches WHERE topic_id = $1::uuid GROUP BY txn_kind ORDER BY txn_kind`, [topicId]);
  assert.deepEqual(kinds.rows.map((r) => [Number(r.txn_kind), Number(r.n) > 0]), [[0, true], [1, true], [3, true]]);
  const aborted = await coordinator.connection.query(`SELECT 1 FROM aborted_transactions WHERE topic_id = $1::uuid`, [topicId]);
  assert.equal(aborted.rows.length, 0, 'no aborted range is left without its marker');
});
