/**
 * The N-broker harness (test/helpers/cluster.ts) does what it says: three child-process brokers with
 * node ids 1..3 and racks az-a..az-c on one PostgreSQL and one s3rver; a killed broker comes back as the
 * same broker (node id, port, rack); a stopped one exits 0; produce works after a PostgreSQL restart,
 * fails with a retriable error while the object store is down and works again after; and the bucket's
 * keys are the coordinator's.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { withClient } from '../helpers/raw-client.ts';
import { produce as produceTo } from '../helpers/produce.ts';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { waitFor, type WaitOptions } from '../helpers/wait.ts';

let cluster: Cluster;
before(async () => {
  cluster = await startCluster({ brokers: 3, objectStoreProxy: true, topics: [{ name: 'h', partitions: 3 }] });
});

async function liveBrokers(port: number): Promise<[number, string, number][]> {
  const md = await withClient(port, (c) => c.request(ApiKey.Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }));
  return md.brokers.map((b: any) => [b.nodeId, b.rack, b.port]).sort((a: number[], b: number[]) => a[0]! - b[0]!);
}

/** Brokers restart in these tests: a request that fails (connection refused) counts as "not yet". */
const RESTARTING: WaitOptions = { timeoutMs: 15_000, intervalMs: 100, retryErrors: true };

/** Produces `value` to partition 0 of topic h through the broker at `port`; resolves with the error code. */
async function produce(port: number, value: string): Promise<number> {
  return (await withClient(port, (c) => produceTo(c, 'h', 0, value))).errorCode;
}

const expected = () => cluster.brokers.map((b) => [b.nodeId, b.rack, b.port]);

test('three brokers, node ids 1-3, racks az-a..az-c, each listed by every broker', async () => {
  assert.deepEqual(cluster.brokers.map((b) => [b.nodeId, b.rack]), [[1, 'az-a'], [2, 'az-b'], [3, 'az-c']]);
  assert.equal(cluster.bootstrap, cluster.brokers.map((b) => `127.0.0.1:${b.port}`).join(','));
  for (const b of cluster.brokers) await waitFor(`broker ${b.nodeId} to list every broker`, async () => JSON.stringify(await liveBrokers(b.port)) === JSON.stringify(expected()), RESTARTING);
});

test('kill and restart: the same broker (node id, port, data dir) comes back; stop exits 0', async () => {
  const b = cluster.brokers[1]!;
  const pid = b.process!.child.pid;
  await cluster.kill(1);
  assert.equal(b.process, null);
  await waitFor('the killed broker to leave Metadata', async () => !(await liveBrokers(cluster.brokers[0]!.port)).some(([id]) => id === 2), RESTARTING);
  await cluster.restart(1);
  assert.notEqual(b.process!.child.pid, pid);
  assert.equal(b.starts, 2);
  await waitFor('the restarted broker to be listed again', async () => JSON.stringify(await liveBrokers(cluster.brokers[0]!.port)) === JSON.stringify(expected()), RESTARTING);
  assert.deepEqual((await liveBrokers(b.port)).find(([id]) => id === 2), [2, 'az-b', b.port]);
  assert.equal(await cluster.stop(2), 0);
  await cluster.restart(2);
  assert.match(cluster.logs(1), /exited \(SIGKILL\)/);
});

test('produce after a PostgreSQL restart; during an object-store outage it fails (retriable) and works after', async () => {
  const port = cluster.brokers[0]!.port;
  assert.equal(await produce(port, 'before'), ErrorCode.NONE);
  await cluster.restartPostgres(500);
  await waitFor('produce to work after the PostgreSQL restart', async () => (await produce(port, 'after-pg')) === ErrorCode.NONE, RESTARTING);
  cluster.failObjectStore();
  try {
    const code = await produce(port, 'during-outage');
    assert.equal(code, ErrorCode.KAFKA_STORAGE_ERROR);
  } finally {
    cluster.healObjectStore();
  }
  await waitFor('produce to work after the outage', async () => (await produce(port, 'after-s3')) === ErrorCode.NONE, RESTARTING);
  const { objects, deleting } = await cluster.coordinatorKeys();
  const bucket = await cluster.bucketKeys();
  assert.ok(objects.length >= 3);
  assert.ok(objects.every((k) => k.startsWith('wal/')));
  assert.deepEqual(objects.filter((k) => !bucket.includes(k)), [], 'every committed object is in the bucket');
  assert.equal(deleting.length, 0);
});
