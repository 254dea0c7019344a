/**
 * A broker on PostgreSQL + S3 (both real servers started by this file) when its backends fail:
 * - object store down: produce answers KAFKA_STORAGE_ERROR (retriable) and commits nothing; when the
 *   store is back the broker works again by itself;
 * - object store throttling (injected 503 SlowDown bursts): retriable errors, never a crash;
 * - at start, a bucket that does not exist or refused credentials stop the broker with the store's answer;
 *   a store that does not answer does not (produce answers KAFKA_STORAGE_ERROR until it is back);
 * - coordinator down: produce answers REQUEST_TIMED_OUT, fetch and ListOffsets KAFKA_STORAGE_ERROR
 *   (all retriable); after the server restarts the pool reconnects by itself;
 * - connection lost mid-commit (a TCP proxy cuts it before or after the server ran the commit): the
 *   writer retries with the same object key, so the record is committed exactly once and acknowledged;
 *   when the coordinator stays unreachable past diskless.commit.retry.timeout.ms the producer gets
 *   REQUEST_TIMED_OUT and the record is committed once or left as an orphan object — never both.
 * The brokers run in this process, so an unhandled 'error' event would fail the file.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import type { S3Server } from '../../tools/dev/local-servers.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { fetchPartition, fetchValues } from '../helpers/fetch.ts';
import { LATEST, listOffset } from '../helpers/list-offsets.ts';
import { freshDatabase, sharedPostgres } from '../helpers/postgres.ts';
import { produce as produceTo } from '../helpers/produce.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { freshBucket, s3Overrides, s3Store, sharedS3 } from '../helpers/s3.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { createTopic } from '../helpers/topics.ts';
import { waitForValue } from '../helpers/wait.ts';

let s3: S3Server;
before(async () => {
  [s3] = await Promise.all([sharedS3(), sharedPostgres()]);
});

async function brokerOn(coordinatorUrl: string, bucket: string, extra: Record<string, string | number> = {}): Promise<{ broker: TestBroker; client: RawClient }> {
  const broker = await startTestBroker({
    'diskless.coordinator.url': coordinatorUrl,
    'diskless.coordinator.connect.timeout.ms': 2000,
    'diskless.commit.retry.timeout.ms': 3000,
    'diskless.object.store.request.timeout.ms': 5000,
    'diskless.s3.max.attempts': 2,
    ...s3Overrides(s3, bucket),
    ...extra,
  });
  const client = await RawClient.connect(broker.port);
  await createTopic(client, 't', 2);
  return { broker, client };
}

/** Produces `value` to partition `partition` of topic t: the answer's error code and base offset. */
async function produce(client: RawClient, value: string, partition = 0): Promise<{ errorCode: number; baseOffset: bigint }> {
  const p = await produceTo(client, 't', partition, value, { timeoutMs: 30_000 });
  return { errorCode: p.errorCode, baseOffset: p.baseOffset };
}

/** A fresh database on the file's PostgreSQL server, and its URL through a TCP proxy the test can cut. */
async function databaseBehindProxy(): Promise<{ proxy: TcpProxy; url: string }> {
  const pg = await sharedPostgres();
  const proxy = await startTcpProxy('127.0.0.1', pg.port);
  const db = new URL(await freshDatabase());
  db.port = String(proxy.port);
  return { proxy, url: db.href };
}

/** How long, and how often, to retry a produce while a backend comes back. */
const UNTIL_BACK = { timeoutMs: 20_000, intervalMs: 200 };

test('object store down: KAFKA_STORAGE_ERROR, nothing committed; the broker recovers by itself when it is back', async () => {
  const bucket = await freshBucket();
  const { broker, client } = await brokerOn(await freshDatabase(), bucket);
  assert.deepEqual(await produce(client, 'before'), { errorCode: 0, baseOffset: 0n });

  await s3.stop();
  try {
    const failed = await produce(client, 'while-down');
    assert.equal(failed.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal(broker.broker.inspect.diskless().writer.uploadFailures, 1);
    const [offsets] = await broker.broker.coordinator.getPartitionOffsets([{ topicId: broker.broker.topics.get('t')!.topicId, partition: 0 }]);
    assert.equal(offsets!.highWatermark, 1, 'nothing committed');
  } finally {
    await s3.start();
  }
  // No restart, no intervention: the next produce goes through.
  assert.deepEqual(await waitForValue('produce after the store is back', () => produce(client, 'after'), (r) => r.errorCode === 0, UNTIL_BACK), { errorCode: 0, baseOffset: 1n });
  assert.deepEqual(await fetchValues(client, 't', 0), ['before', 'after']);
  client.close();
});

test('start: a bucket that does not exist, or credentials the store refuses, stop the start with its answer; a store that is down only delays produce', async () => {
  const database = await freshDatabase();
  await assert.rejects(brokerOn(database, 'no-such-bucket-here'), /object store s3:\/\/no-such-bucket-here\/floe refused the broker: .*NoSuchBucket/);
  const bucket = await freshBucket();
  await assert.rejects(brokerOn(database, bucket, { 'diskless.s3.access.key.id': 'nobody' }), /refused the broker: .*InvalidAccessKeyId \(HTTP 403\)/);

  await s3.stop();
  let started: { broker: TestBroker; client: RawClient } | undefined;
  try {
    started = await brokerOn(database, bucket, { 'diskless.s3.connection.timeout.ms': 1000 });
    assert.equal((await produce(started.client, 'while-down')).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  } finally {
    await s3.start();
  }
  assert.equal((await waitForValue('produce after the store is back', () => produce(started!.client, 'after'), (r) => r.errorCode === 0, UNTIL_BACK)).errorCode, 0);
  started.client.close();
});

test('object store throttling (503 SlowDown bursts on PUT): retriable errors, nothing committed, reads unaffected', async () => {
  const bucket = await freshBucket();
  const { broker, client } = await brokerOn(await freshDatabase(), bucket, {
    'diskless.object.store.fault.burst.rate': 1.0,
    'diskless.object.store.fault.burst.ms': 1500,
    'diskless.object.store.fault.operations': 'put',
    'diskless.object.store.fault.seed': 1,
  });
  // Every PUT starts (or meets) a burst: the write path answers a retriable error and commits nothing.
  const r = await produce(client, 'throttled');
  assert.equal(r.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  const [offsets] = await broker.broker.coordinator.getPartitionOffsets([{ topicId: broker.broker.topics.get('t')!.topicId, partition: 0 }]);
  assert.equal(offsets!.highWatermark, 0);
  // Reads are not affected (faults on put only): the broker keeps serving.
  assert.equal((await fetchPartition(client, 't', 0)).errorCode, 0);
  client.close();
});

test('coordinator down: produce REQUEST_TIMED_OUT, fetch and ListOffsets KAFKA_STORAGE_ERROR; reconnects after a restart', async () => {
  const pg = await sharedPostgres();
  const bucket = await freshBucket();
  const { broker, client } = await brokerOn(await freshDatabase(), bucket, { 'diskless.commit.retry.timeout.ms': 1500 });
  assert.equal((await produce(client, 'one')).errorCode, 0);

  await pg.stop();
  try {
    const t0 = Date.now();
    const r = await produce(client, 'while-down');
    assert.equal(r.errorCode, ErrorCode.REQUEST_TIMED_OUT);
    assert.ok(Date.now() - t0 < 10_000);
    assert.ok(broker.broker.inspect.diskless().writer.commitRetries >= 1, 'the commit was retried before giving up');
    // Partition 1 was never read or written here: its fetch needs the coordinator.
    assert.equal((await fetchPartition(client, 't', 1)).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal((await listOffset(client, 't', 0, LATEST)).errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  } finally {
    await pg.start();
  }
  const after = await waitForValue('produce after the restart', () => produce(client, 'after'), (x) => x.errorCode === 0, UNTIL_BACK);
  // 'while-down' was uploaded but never committed (the server was down): an orphan, not a record.
  assert.equal(after.baseOffset, 1n);
  assert.deepEqual(await fetchValues(client, 't', 0), ['one', 'after']);
  const latest = await listOffset(client, 't', 0, LATEST);
  assert.deepEqual([latest.errorCode, latest.offset], [0, 2n]);
  assert.equal((await fetchPartition(client, 't', 1)).errorCode, 0);
  client.close();
});

test('coordinator restarted while idle: the next produce and fetch just work', async () => {
  const pg = await sharedPostgres();
  const { client } = await brokerOn(await freshDatabase(), await freshBucket());
  assert.equal((await produce(client, 'a')).errorCode, 0);
  await pg.stop();
  await pg.start();
  assert.deepEqual(await produce(client, 'b'), { errorCode: 0, baseOffset: 1n });
  assert.equal((await fetchPartition(client, 't', 1)).errorCode, 0);
  client.close();
});

test('connection lost mid-commit, after the server committed: retried with the same key, committed once, acknowledged', async () => {
  const { proxy, url } = await databaseBehindProxy();
  const { broker, client } = await brokerOn(url, await freshBucket());
  assert.equal((await produce(client, 'first')).errorCode, 0);

  const cut = proxy.dropResponseAfter('floe_commit_object_notify');
  const r = await produce(client, 'cut-after-commit');
  await cut;
  assert.deepEqual(r, { errorCode: 0, baseOffset: 1n }, 'acknowledged with the offset of the commit that happened');
  assert.ok(broker.broker.inspect.diskless().writer.commitRetries >= 1);
  assert.deepEqual(await fetchValues(client, 't', 0), ['first', 'cut-after-commit'], 'once, not twice');
  assert.deepEqual(await produce(client, 'next'), { errorCode: 0, baseOffset: 2n });
  client.close();
});

test('connection lost mid-commit, before the server ran it: retried, committed once', async () => {
  const { proxy, url } = await databaseBehindProxy();
  const { client } = await brokerOn(url, await freshBucket());
  const cut = proxy.dropRequestContaining('floe_commit_object_notify');
  const r = await produce(client, 'cut-before-commit');
  await cut;
  assert.deepEqual(r, { errorCode: 0, baseOffset: 0n });
  assert.deepEqual(await fetchValues(client, 't', 0), ['cut-before-commit']);
  client.close();
});

test('outcome unknown past the retry deadline: REQUEST_TIMED_OUT, and the record is committed once or an orphan, never both', async () => {
  for (const when of ['after', 'before'] as const) {
    const { proxy, url } = await databaseBehindProxy();
    const bucket = await freshBucket();
    const { broker, client } = await brokerOn(url, bucket, { 'diskless.commit.retry.timeout.ms': 1000 });
    const topicId = broker.broker.topics.get('t')!.topicId;
    const cut = when === 'after' ? proxy.dropResponseAfter('floe_commit_object_notify') : proxy.dropRequestContaining('floe_commit_object_notify');
    void cut.then(() => {
      // And the coordinator stays unreachable: no new connections, and the pool's idle ones are cut too.
      proxy.refuse(true);
      proxy.cutAll();
    });
    const r = await produce(client, `unknown-${when}`);
    assert.equal(r.errorCode, ErrorCode.REQUEST_TIMED_OUT, when);
    proxy.refuse(false);

    const objects: string[] = [];
    for await (const o of s3Store(s3, bucket, 'floe').list('wal/')) objects.push(o.key);
    assert.equal(objects.length, 1, 'the object was uploaded');
    const known = await waitForValue('coordinator reachable', () => broker.broker.coordinator.listObjectKeys().catch(() => null), (k) => k !== null, UNTIL_BACK);
    const [offsets] = await broker.broker.coordinator.getPartitionOffsets([{ topicId, partition: 0 }]);
    if (when === 'after') {
      assert.deepEqual(known, objects, 'committed by the first attempt');
      assert.equal(offsets!.highWatermark, 1, 'once');
      assert.deepEqual(await fetchValues(client, 't', 0), [`unknown-${when}`]);
    } else {
      assert.deepEqual(known, [], 'an orphan: stored, never committed (the cleaner removes it)');
      assert.equal(offsets!.highWatermark, 0);
    }
    // The partition's cached index was dropped: the next produce and fetch see the true log.
    const next = await produce(client, 'next');
    assert.equal(next.errorCode, 0);
    assert.equal(next.baseOffset, when === 'after' ? 1n : 0n);
    client.close();
  }
});
