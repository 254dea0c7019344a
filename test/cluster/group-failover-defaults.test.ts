/**
 * Failover time at the default broker liveness settings (broker.heartbeat.interval.ms 2000,
 * broker.session.timeout.ms 9000): three brokers (child processes, one PostgreSQL, one bucket), a producer,
 * and two librdkafka members of a classic group committing synchronously after every chunk. The broker
 * coordinating the group is killed with SIGKILL, `FLOE_FAILOVER_RUNS` times (default 2); each time the
 * group must commit again well before the session timeout would have expired the dead broker (its
 * liveness lock, migration 18, is gone with its process), and the dead broker is restarted only after
 * that. At the end every record was consumed and the committed offsets are the members' last commits,
 * at the partitions' ends. Prints each kill's unavailability (kill to the next acknowledged commit).
 *
 *   FLOE_FAILOVER_RUNS=20 FLOE_TEST_TIMEOUT_MS=1100000 npm test -- test/cluster/group-failover-defaults.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ConfluentGroupMember } from '../helpers/confluent-group.ts';
import { startCluster, type Cluster, type ClusterBroker } from '../helpers/cluster.ts';
import { kafkajs, keepProducing } from '../helpers/kafkajs.ts';
import { withClient } from '../helpers/raw-client.ts';
import { waitFor } from '../helpers/wait.ts';

const TOPIC = 'failover-defaults';
const GROUP = 'failover-defaults-group';
const PARTITIONS = 6;
const WAIT = { timeoutMs: 60_000 };
const RUNS = Number(process.env.FLOE_FAILOVER_RUNS ?? 2);
/** What the test insists on: recovery before the 9 s session timeout could have expired the dead broker. */
const BOUND_MS = 8000;

async function coordinatorOf(cluster: Cluster): Promise<ClusterBroker> {
  let found: ClusterBroker | undefined;
  await waitFor('a coordinator for the group', async () => {
    const live = cluster.brokers.find((b) => b.process !== null)!;
    const res = await withClient(live.port, (c) => c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: [GROUP] })).catch(() => null);
    const placed = res?.coordinators[0];
    found = placed?.errorCode === ErrorCode.NONE ? cluster.brokers.find((b) => b.nodeId === placed.nodeId && b.process !== null) : undefined;
    return found !== undefined;
  }, WAIT);
  return found!;
}

test(`classic group at default broker liveness settings: its coordinator killed ${RUNS} times, served again within seconds each time, no commit lost`, { timeout: 60_000 + RUNS * 40_000 }, async (t) => {
  const cluster = await startCluster({
    brokers: 3,
    topics: [{ name: TOPIC, partitions: PARTITIONS }],
    overrides: {
      'broker.heartbeat.interval.ms': 2000,
      'broker.session.timeout.ms': 9000,
      'group.initial.rebalance.delay.ms': 0,
    },
  });
  const kafka = kafkajs(cluster.bootstrap, 'failover-defaults', { retries: 20, initialRetryTime: 100 });
  const admin = kafka.admin();
  await admin.connect();
  const { produced, stop: stopProducing } = await keepProducing(kafka, TOPIC);
  const consumed = new Set<string>();
  const lastCommitted = new Map<number, number>();
  const commitTimes: number[] = [];
  const failures: string[] = [];
  const member = () => new ConfluentGroupMember(cluster.bootstrap, GROUP, TOPIC, consumed, {
    sessionTimeoutMs: 45_000, // librdkafka's default: the members outlive any failover
    syncCommits: true,
    onCommitted: (offsets) => {
      for (const [p, o] of Object.entries(offsets)) lastCommitted.set(Number(p), o);
      commitTimes.push(Date.now());
    },
    onCommitFailed: (error) => failures.push(error),
  });
  const members = [member(), member()];
  await waitFor('both members consume and commit', () => commitTimes.length > 5 && members.every((m) => m.assigned !== null && m.assigned.length > 0), WAIT);

  const gaps: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const coordinator = await coordinatorOf(cluster);
    await waitFor('commits flowing before the kill', () => commitTimes.some((at) => at > Date.now() - 500), WAIT);
    await cluster.kill(coordinator.index);
    const killedAt = Date.now();
    await waitFor(`run ${run}: the group commits again after its coordinator's kill`, () => commitTimes.some((at) => at > killedAt), WAIT);
    const gap = commitTimes.find((at) => at > killedAt)! - killedAt;
    gaps.push(gap);
    t.diagnostic(`run ${run}: broker ${coordinator.nodeId} killed; first commit ${gap} ms later`);
    await cluster.restart(coordinator.index);
  }

  await stopProducing();
  await waitFor('every produced record consumed', () => [...produced].every((v) => consumed.has(v)), { timeoutMs: 90_000 });
  const ends = new Map((await admin.fetchTopicOffsets(TOPIC)).map((o) => [o.partition, Number(o.high)]));
  await waitFor('the members committed up to the ends', () => [...ends].every(([p, end]) => lastCommitted.get(p) === end), WAIT).catch((err: Error) => {
    throw new Error(`${err.message}: ends ${JSON.stringify(Object.fromEntries(ends))}, last acknowledged commits ${JSON.stringify(Object.fromEntries(lastCommitted))}, ` +
      `${commitTimes.length} commits acknowledged, failed: ${JSON.stringify(failures.slice(-5))}`);
  });
  for (const m of members) await m.stop();
  const stored = await cluster.query<{ partition: number; committed_offset: string }>(
    `SELECT g.partition, g.committed_offset FROM group_offsets g JOIN topics t ON t.topic_id = g.topic_id
      WHERE g.group_id = $1 AND t.name = $2 ORDER BY g.partition`, [GROUP, TOPIC]);
  await admin.disconnect();
  const sorted = [...gaps].sort((a, b) => a - b);
  t.diagnostic(`failover at defaults over ${RUNS} kills: unavailability (ms) sorted ${JSON.stringify(sorted)}; median ${sorted[Math.floor(sorted.length / 2)]}, max ${sorted.at(-1)}; ` +
    `${commitTimes.length} commits acknowledged, ${failures.length} failed${failures.length > 0 ? ` (${JSON.stringify(failures.slice(-3))})` : ''}`);
  const expected = Object.fromEntries([...ends].map(([p, end]) => [p, end]));
  assert.deepEqual(Object.fromEntries(stored.map((r) => [r.partition, Number(r.committed_offset)])), expected, 'stored offsets: the last commits, at the ends');
  for (const gap of gaps) assert.ok(gap < BOUND_MS, `a kill left the group unable to commit for ${gap} ms (${JSON.stringify(gaps)})`);
});
