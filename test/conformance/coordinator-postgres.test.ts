/**
 * The coordinator conformance suite on a real PostgreSQL server, started by this file
 * (test/helpers/postgres.ts: a throwaway cluster on a free loopback port, removed at the end). Besides the
 * suite's own tests: other coordinator clients with their own pools (concurrent commits), brokers starting
 * together (migrations under the advisory lock), and a server restart under an open pool.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPostgresCoordinator } from '../../src/coordinator/pg.ts';
import { MIGRATIONS } from '../../src/coordinator/sql/migrations.ts';
import { freshDatabase, sharedPostgres } from '../helpers/postgres.ts';
import { waitFor } from '../helpers/wait.ts';
import { coordinatorConformance, sqlDeleteRecords, sqlObjectStates } from './coordinator.conformance.ts';

let suiteUrl: string | undefined;

coordinatorConformance('PostgreSQL', {
  open: async () => {
    suiteUrl = await freshDatabase(); // the suite's own database on the file's server
    return openPostgresCoordinator(suiteUrl, { maxConnections: 8 });
  },
  reopen: async (current) => {
    await current.close();
    return openPostgresCoordinator(suiteUrl!);
  },
  openAnother: () => openPostgresCoordinator(suiteUrl!, { maxConnections: 4 }),
  objectStates: sqlObjectStates,
  deleteRecords: sqlDeleteRecords,
});

test('PostgreSQL: 6 coordinators opening one new database at once apply each migration once', async () => {
  const url = await freshDatabase();
  const coordinators = await Promise.all(Array.from({ length: 6 }, () => openPostgresCoordinator(url, { maxConnections: 2 })));
  try {
    const rows = (await coordinators[0]!.connection.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows;
    assert.deepEqual(rows.map((r) => Number(r.version)), MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
  } finally {
    await Promise.all(coordinators.map((c) => c.close()));
  }
});

test('PostgreSQL: a server restart under an open pool: queries fail meanwhile, then the pool reconnects by itself', async () => {
  const server = await sharedPostgres();
  const url = await freshDatabase();
  const c = await openPostgresCoordinator(url, { maxConnections: 4, connectTimeoutMs: 2000 });
  try {
    const t = await c.createTopic({ name: 'restart', partitionCount: 1, diskless: true, configs: {} });
    // Warm several pool connections, so idle clients are there to be cut.
    await Promise.all([1, 2, 3].map(() => c.listTopics()));
    await server.stop();
    await assert.rejects(() => c.listTopics());
    await assert.rejects(() => c.getTopic('restart'));
    await server.start();
    assert.deepEqual((await c.getTopic('restart'))?.topicId, t.topicId);
    const [r] = await c.commitObject({ objectKey: 'after-restart', objectSize: 1, brokerId: 1, batches: [{
      topicId: t.topicId, partition: 0, byteOffset: 0, byteSize: 1, recordCount: 1, baseTimestamp: 0, maxTimestamp: 0,
      timestampType: 0, producerId: -1, producerEpoch: -1, baseSequence: -1, lastSequence: -1, txnKind: 0,
    }] });
    assert.equal(r!.baseOffset, 0);
  } finally {
    await c.close();
  }
});

test('PostgreSQL: notifications survive a server restart: the listener reconnects, resyncs its subscribers, and hears again', async () => {
  const server = await sharedPostgres();
  const url = await freshDatabase();
  const c = await openPostgresCoordinator(url, { maxConnections: 2, connectTimeoutMs: 2000 });
  try {
    const heard: string[] = [];
    let resyncs = 0;
    const stop = await c.listen('floe_test', (p) => heard.push(p), () => resyncs++);
    await c.connection.query("SELECT pg_notify('floe_test', 'before')");
    await until(() => heard.includes('before'));
    await server.stop();
    await server.start();
    await until(() => resyncs === 1, 20_000);
    await c.connection.query("SELECT pg_notify('floe_test', 'after')");
    await until(() => heard.includes('after'));
    assert.deepEqual(heard, ['before', 'after']);
    await stop();
    await c.connection.query("SELECT pg_notify('floe_test', 'unsubscribed')");
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(heard, ['before', 'after']);
  } finally {
    await c.close();
  }
});

async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('PostgreSQL: a broker that held its liveness lock and lost it (its process died) is expired a third of a session late; one holding it, or one that never held it, only after the session', async () => {
  const url = await freshDatabase();
  // Two "brokers" with their own coordinators (each holds its lock on its own listening connection), a third that never locks.
  const [watcher, dying, holding, unlocked] = await Promise.all([1, 2, 3, 4].map(() => openPostgresCoordinator(url, { maxConnections: 2 })));
  const session = 3000;
  const reg = (c: typeof watcher, nodeId: number) => c!.registerBroker({ nodeId, incarnation: `inc-${nodeId}`, host: 'h', port: nodeId, rack: null, sessionTimeoutMs: session });
  try {
    // The rule is off within a session of the server's start (a restart drops every lock).
    await waitFor('the server to have run for a session', async () => (await watcher!.connection.query<{ up: boolean }>(
      `SELECT pg_postmaster_start_time() < clock_timestamp() - interval '3 seconds' AS up`)).rows[0]!.up);
    await dying!.holdLivenessLock(802);
    await holding!.holdLivenessLock(803);
    for (const [c, id] of [[watcher, 801], [dying, 802], [holding, 803], [unlocked, 804]] as const) await reg(c, id);
    for (const [c, id] of [[dying, 802], [holding, 803], [unlocked, 804]] as const) {
      const view = await c!.brokerHeartbeat(id, `inc-${id}`, session);
      assert.equal(view.known, true);
    }
    const flags = await watcher!.connection.query<{ node_id: number; liveness_lock: boolean }>('SELECT node_id, liveness_lock FROM brokers ORDER BY node_id');
    assert.deepEqual(flags.rows.map((r) => [Number(r.node_id), r.liveness_lock]), [[801, false], [802, true], [803, true], [804, false]]);
    await dying!.close(); // its listening connection, and so its lock, gone: as after kill -9
    const lostAt = Date.now();
    await new Promise((r) => setTimeout(r, 1300)); // more than a third of the session
    const view = await watcher!.brokerHeartbeat(801, 'inc-801', session);
    assert.deepEqual(view.brokers.map((b) => b.nodeId), [801, 803, 804], 'the dead broker is expired; the one holding its lock and the one that never locked are not');
    assert.ok(Date.now() - lostAt < session, 'well within the session timeout');
    await waitFor('the others to be expired by the session timeout', async () => {
      const v = await watcher!.brokerHeartbeat(801, 'inc-801', session);
      return v.brokers.length === 1;
    }, { timeoutMs: 10_000 });
  } finally {
    await Promise.allSettled([watcher, holding, unlocked].map((c) => c!.close()));
  }
});
