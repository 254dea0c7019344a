/**
 * A classic consumer group whose coordinator dies while its members join, leave and commit (issue 20's two
 * defects: a group's committed offset behind what its members had committed, and a group that never
 * recovered after its coordinator died mid-rebalance). Three brokers (child processes, one PostgreSQL, one
 * bucket), a producer, and librdkafka members (confluent_group_client.py, classic protocol) that commit
 * synchronously after every chunk they consume. Twice, the broker coordinating the group is killed with
 * SIGKILL and restarted 5 s later: once just after a member joined (the group is rebalancing), once a
 * second after a member left. Each time the group consumes and commits again; at the end every produced
 * record was consumed, and the group's committed offset of every partition is both the last commit a member
 * was told succeeded and the partition's end. Prints, per kill, how long no commit succeeded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ConfluentGroupMember } from '../helpers/confluent-group.ts';
import { startCluster, type Cluster, type ClusterBroker } from '../helpers/cluster.ts';
import { kafkajs, keepProducing } from '../helpers/kafkajs.ts';
import { withClient } from '../helpers/raw-client.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const TOPIC = 'group-failover';
const GROUP = 'group-failover-group';
const PARTITIONS = 6;
const WAIT = { timeoutMs: 60_000 };

/** What every member reported, in the order the events arrived. */
interface Log {
  consumed: Set<string>;
  /** Per partition, the offset of the last commit a member was told succeeded. */
  lastCommitted: Map<number, number>;
  /** Arrival times of acknowledged commits. */
  commitTimes: number[];
  failures: string[];
}

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

test('classic group: its coordinator killed (SIGKILL) as members join and leave; the group recovers and no acknowledged commit is lost', { timeout: 170_000 } /* under the runner's 180 s per file (scripts/test.sh) */, async (t) => {
  const cluster = await startCluster({
    brokers: 3,
    topics: [{ name: TOPIC, partitions: PARTITIONS }],
    overrides: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 500 },
  });
  const kafka = kafkajs(cluster.bootstrap, 'group-failover', { retries: 20, initialRetryTime: 100 });
  const admin = kafka.admin();
  await admin.connect();
  const { produced, stop: stopProducing } = await keepProducing(kafka, TOPIC);
  const log: Log = { consumed: new Set(), lastCommitted: new Map(), commitTimes: [], failures: [] };
  const member = () => new ConfluentGroupMember(cluster.bootstrap, GROUP, TOPIC, log.consumed, {
    sessionTimeoutMs: 6000,
    syncCommits: true,
    onCommitted: (offsets) => {
      for (const [p, o] of Object.entries(offsets)) log.lastCommitted.set(Number(p), o);
      log.commitTimes.push(Date.now());
    },
    onCommitFailed: (error) => log.failures.push(error),
  });
  const members = [member(), member()];
  await waitFor('both members consume and commit', () => log.commitTimes.length > 5 && members.every((m) => m.assigned !== null && m.assigned.length > 0), WAIT);

  /** Kills the coordinator `delayMs` after `change`, restarts it 5 s later; resolves with how long no commit succeeded. */
  const killDuring = async (what: string, change: () => Promise<void> | void, delayMs: number) => {
    const coordinator = await coordinatorOf(cluster);
    await change();
    await sleep(delayMs);
    await cluster.kill(coordinator.index);
    const killedAt = Date.now();
    const consumedAtKill = log.consumed.size;
    const restarted = sleep(5000).then(() => cluster.restart(coordinator.index));
    await waitFor(`${what}: the group commits and consumes again after its coordinator's kill`,
      () => log.consumed.size > consumedAtKill + 100 && log.commitTimes.some((at) => at > killedAt), { timeoutMs: 90_000 });
    await restarted;
    const firstCommit = log.commitTimes.find((at) => at > killedAt)!;
    return firstCommit - killedAt;
  };

  members.push(member());
  const afterJoin = await killDuring('a member joined', () => undefined, 200);
  const leaving = members.shift()!;
  const afterLeave = await killDuring('a member left', () => { void leaving.stop(); }, 1000);
  await leaving.exited;

  await stopProducing();
  await waitFor('every produced record consumed', () => [...produced].every((v) => log.consumed.has(v)), { timeoutMs: 90_000 }).catch((err: Error) => {
    const missing = [...produced].filter((v) => !log.consumed.has(v));
    throw new Error(`${err.message}: ${missing.length} of ${produced.size} missing (first ${missing.slice(0, 5).join(', ')}); members: ${members.map((m) => JSON.stringify(m.assigned)).join(' ')}; ${members.map((m) => m.output.slice(-500)).join(' | ')}`);
  });
  const ends = new Map((await admin.fetchTopicOffsets(TOPIC)).map((o) => [o.partition, Number(o.high)]));
  await waitFor('the members committed up to the ends', () => [...ends].every(([p, end]) => log.lastCommitted.get(p) === end), WAIT);
  for (const m of members) await m.stop();

  const stored = await cluster.query<{ partition: number; committed_offset: string }>(
    `SELECT g.partition, g.committed_offset FROM group_offsets g JOIN topics t ON t.topic_id = g.topic_id
      WHERE g.group_id = $1 AND t.name = $2 ORDER BY g.partition`, [GROUP, TOPIC]);
  const [fetched] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
  t.diagnostic(`group failover: no commit succeeded for ${afterJoin} ms after the kill during a join, ${afterLeave} ms after the kill after a leave; ` +
    `${log.commitTimes.length} commits acknowledged, ${log.failures.length} failed${log.failures.length > 0 ? ` (${JSON.stringify(log.failures.slice(-3))})` : ''}; ${log.consumed.size} records consumed`);
  await admin.disconnect();
  const expected = Object.fromEntries([...ends].map(([p, end]) => [p, end]));
  assert.deepEqual(Object.fromEntries(stored.map((r) => [r.partition, Number(r.committed_offset)])), expected, 'stored offsets: the last commits, at the ends');
  assert.deepEqual(Object.fromEntries(fetched!.partitions.map((p) => [p.partition, Number(p.offset)])), expected, 'OffsetFetch answers the same');
});
