/**
 * A KIP-848 consumer group survives the death of its coordinator: 3 brokers (child processes, one
 * PostgreSQL coordinator DB, one bucket), two librdkafka 2.15 members (`group.protocol=consumer`,
 * test/helpers/kip848.ts) sharing six partitions while a producer runs; the broker coordinating the group
 * is killed with SIGKILL. Another broker takes the group over from the state stored in the coordinator
 * DB: the members keep their epochs and partitions (no partition owned twice at any sample), consume what
 * is produced after the kill, and their committed offsets end at the log end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startCluster } from '../helpers/cluster.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { kafkajs, keepProducing } from '../helpers/kafkajs.ts';
import { kcatConsume } from '../helpers/kcat.ts';
import { balanced, consumedGaps, Kip848Member, noOverlap } from '../helpers/kip848.ts';
import { modernLibrdkafkaEnv } from '../helpers/librdkafka.ts';
import { withClient } from '../helpers/raw-client.ts';
import { waitFor } from '../helpers/wait.ts';

const TOPIC = 'kip848-failover';
const GROUP = 'kip848-failover-group';
const PARTITIONS = 6;
const WAIT = { timeoutMs: 60_000 };

test('KIP-848 group: its coordinator broker is killed (SIGKILL); another broker carries on from the stored state', { timeout: 170_000 } /* under the runner's 180 s per file (scripts/test.sh) */, async () => {
  const env = await modernLibrdkafkaEnv();
  const cluster = await startCluster({
    brokers: 3,
    topics: [{ name: TOPIC, partitions: PARTITIONS }],
    overrides: { 'group.consumer.heartbeat.interval.ms': 500, 'group.consumer.session.timeout.ms': 10_000 },
  });
  const kafka = kafkajs(cluster.bootstrap, 'kip848-failover', { retries: 20, initialRetryTime: 100 });
  const admin = kafka.admin();
  await admin.connect();
  const { produced, stop: stopProducing } = await keepProducing(kafka, TOPIC);
  const consumed = new Set<string>();
  const a = new Kip848Member(cluster.bootstrap, GROUP, TOPIC, env, consumed);
  const b = new Kip848Member(cluster.bootstrap, GROUP, TOPIC, env, consumed);
  const members = [a, b];
  const sampler = setInterval(() => noOverlap(members), 50);
  onCleanup(() => clearInterval(sampler));
  await waitFor('a and b balanced', () => balanced(members, PARTITIONS), WAIT);
  await waitFor('both consume', () => consumed.size > 100, WAIT);

  const found = await withClient(cluster.brokers[0]!.port, (c) => c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: [GROUP] }));
  assert.equal(found.coordinators[0].errorCode, ErrorCode.NONE);
  const coordinator = cluster.brokers.find((x) => x.nodeId === found.coordinators[0].nodeId)!;
  const before = { a: [...a.assigned], b: [...b.assigned] };
  await cluster.kill(coordinator.index);
  const killedAt = Date.now();
  const consumedAtKill = consumed.size;

  // Served again by another broker: the members carry on (same partitions) and consume new records.
  await waitFor('new records consumed after the kill', () => consumed.size > consumedAtKill + 200, WAIT);
  const other = cluster.brokers.find((x) => x !== coordinator)!;
  await waitFor('another broker describes the group as Stable with both members', async () => {
    const placed = await withClient(other.port, (c) => c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: [GROUP] }));
    const node = cluster.brokers.find((x) => x.nodeId === placed.coordinators[0].nodeId);
    if (!node || node === coordinator) return false;
    const d = await withClient(node.port, (c) => c.request(ApiKey.ConsumerGroupDescribe, 1, { groupIds: [GROUP] }));
    return d.groups[0].errorCode === ErrorCode.NONE && d.groups[0].groupState === 'Stable' && d.groups[0].members.length === 2;
  }, WAIT);
  const servedAfter = Date.now() - killedAt;
  assert.ok(balanced(members, PARTITIONS));
  assert.deepEqual({ a: a.assigned, b: b.assigned }, before, 'the members kept their partitions through the failover');

  await stopProducing();
  await waitFor('every produced message consumed', () => [...produced].every((v) => consumed.has(v)), { timeoutMs: 90_000 }).catch(async (err: Error) => {
    const missing = [...produced].filter((v) => !consumed.has(v));
    // Where the missing records are in the log, if they are (read from the start with kcat).
    const log = await kcatConsume(cluster.bootstrap, TOPIC, '%p:%o %s\\n').catch((e: Error) => [`kcat failed: ${e.message}`]);
    const inLog = missing.slice(0, 5).map((v) => `${v} at ${log.filter((l) => l.endsWith(` ${v}`)).map((l) => l.split(' ')[0]).join(',') || 'nowhere'}`);
    const ends = log.reduce<Record<string, number>>((m, l) => { const [p, o] = l.split(' ')[0]!.split(':'); m[p!] = Math.max(m[p!] ?? -1, Number(o)); return m; }, {});
    throw new Error(`in the log: ${inLog.join('; ')}; last offsets read ${JSON.stringify(ends)}; consumed up to ${JSON.stringify(Object.fromEntries([...a.offsets, ...b.offsets].map(([p, os]) => [p, Math.max(...os)])))}; ` +`${err.message}: ${missing.length} of ${produced.size} missing (first ${missing.slice(0, 5).join(', ')}); gaps in the consumed offsets ${JSON.stringify(consumedGaps(members))}; member events a ${a.events.join(' | ')} b ${b.events.join(' | ')}; assignments a ${JSON.stringify(a.assigned)} b ${JSON.stringify(b.assigned)}; client errors: ${a.output.slice(-500)} | ${b.output.slice(-500)}`);
  });
  const ends = new Map((await admin.fetchTopicOffsets(TOPIC)).map((o) => [o.partition, o.high]));
  await waitFor('committed offsets at the log end', async () => {
    const [committed] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    return committed!.partitions.every((p) => p.offset === ends.get(p.partition));
  }, WAIT);
  clearInterval(sampler);
  await a.stop();
  await b.stop();
  await admin.disconnect();
  console.log(`kip848 failover: group Stable on another broker ${servedAfter} ms after the coordinator's kill -9; ${consumed.size} records consumed`);
});
