/**
 * Brokers sharing one PostgreSQL and one object store: registration and heartbeats, zone-aware Metadata
 * (`diskless_az=<az>` in client.id), group-coordinator placement, and a client of zone az-a producing and
 * fetching only through az-a brokers (kcat, librdkafka). In-process brokers, so their metrics can be read;
 * one child-process broker for kill -9.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { startTestBroker, spawnBroker, type TestBroker } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { RawClient, withClient } from '../helpers/raw-client.ts';
import { createTopics } from '../helpers/topics.ts';
import { waitFor } from '../helpers/wait.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ZERO_UUID as ZERO } from '../../src/protocol/uuid.ts';

const HEARTBEAT_MS = 100;
const SESSION_MS = 1500;

let shared: Record<string, string | number>;
const brokers: TestBroker[] = [];
const RACKS = ['az-a', 'az-a', 'az-b', 'az-c'];

/** Membership changes are timed: look often. */
const POLL = { intervalMs: 20 };

const liveIds = (b: TestBroker) => b.broker.cluster.live().map((x) => x.nodeId);

function metadata(port: number, clientId: string | null, topics: string[] | null = null): Promise<any> {
  return withClient(port, (c) => c.request(ApiKey.Metadata, 12, {
    topics: topics === null ? null : topics.map((name) => ({ name, topicId: ZERO })), allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false,
  }), { clientId });
}

function requestCount(b: TestBroker, api: string): number {
  const values = (b.broker.metrics.requests as any).hashMap as Record<string, { labels: { request: string }; value: number }>;
  return Object.values(values).filter((v) => v.labels.request === api).reduce((sum, v) => sum + v.value, 0);
}

before(async () => {
  shared = {
    'diskless.coordinator.url': await freshDatabase(),
    'diskless.object.store.url': pathToFileURL(await tempDir('floe-cluster-objects-')).href,
    'broker.heartbeat.interval.ms': HEARTBEAT_MS,
    'broker.session.timeout.ms': SESSION_MS,
  };
  for (const [i, rack] of RACKS.entries()) {
    brokers.push(await startTestBroker({ ...shared, 'node.id': i + 1, 'broker.rack': rack }));
  }
  await waitFor('every broker to see every broker', () => brokers.every((b) => liveIds(b).length === RACKS.length), POLL);
});

test('Metadata from any broker lists every live broker with its rack, and the same membership epoch', async () => {
  const answers = await Promise.all(brokers.map((b) => metadata(b.port, 'plain-client')));
  for (const md of answers) {
    assert.deepEqual(md.brokers.map((b: any) => [b.nodeId, b.rack, b.port]), brokers.map((b, i) => [i + 1, RACKS[i], b.port]));
    assert.equal(md.controllerId, 1);
  }
  const epochs = new Set(brokers.map((b) => b.broker.inspect.membershipEpoch()));
  assert.equal(epochs.size, 1);
  assert.equal(new Set(answers.map((md) => md.clusterId)).size, 1, 'one cluster id, kept in the coordinator');
});

test('a broker whose cluster.id differs from the coordinator\'s, or whose node.id a live broker at another endpoint holds, does not start', async () => {
  await assert.rejects(startTestBroker({ ...shared, 'node.id': 7, 'cluster.id': 'another-cluster' }), /cluster\.id another-cluster does not match the cluster id .* of the brokers sharing this coordinator/);
  await assert.rejects(startTestBroker({ ...shared, 'node.id': 1, 'broker.session.timeout.ms': 200, 'broker.heartbeat.interval.ms': 50 }), /node\.id 1 is in use by a live broker at 127\.0\.0\.1:\d+/);
});

test('diskless leaders: a broker of the client\'s zone, the same from every broker, spread by partition hash', async () => {
  await withClient(brokers[0]!.port, (admin) => createTopics(admin, [{ name: 'routed', partitions: 24, replicationFactor: -1 }]));
  await waitFor('every broker to know the topic', async () => (await Promise.all(brokers.map((b) => metadata(b.port, null, ['routed'])))).every((md) => md.topics[0].errorCode === 0), POLL);

  const leadersFrom = async (clientId: string | null) => {
    const all = await Promise.all(brokers.map((b) => metadata(b.port, clientId, ['routed'])));
    const views = all.map((md) => JSON.stringify(md.topics[0].partitions.map((p: any) => [p.leaderId, p.leaderEpoch, p.replicaNodes, p.isrNodes])));
    assert.equal(new Set(views).size, 1, `every broker names the same leaders for ${clientId}`);
    return all[0].topics[0].partitions as any[];
  };
  const zoneA = await leadersFrom('app-1,diskless_az=az-a');
  assert.ok(zoneA.every((p) => p.leaderId === 1 || p.leaderId === 2), 'zone az-a: leaders 1 or 2');
  assert.ok(zoneA.some((p) => p.leaderId === 1) && zoneA.some((p) => p.leaderId === 2), 'both az-a brokers lead some partitions');
  assert.ok(zoneA.every((p) => p.replicaNodes.length === 2 && p.replicaNodes[0] === p.leaderId));
  const zoneB = await leadersFrom('diskless_az=az-b');
  assert.ok(zoneB.every((p) => p.leaderId === 3 && p.replicaNodes.length === 1));
  // A zone without a live broker, and no zone at all: every live broker is a candidate.
  const unknownZone = await leadersFrom('diskless_az=az-z');
  const noZone = await leadersFrom(null);
  assert.deepEqual(unknownZone.map((p) => p.leaderId), noZone.map((p) => p.leaderId));
  assert.equal(new Set(noZone.map((p) => p.leaderId)).size, 4, 'without a zone, all four brokers lead some of 24 partitions');
  assert.ok(noZone.every((p) => p.leaderEpoch === brokers[0]!.broker.inspect.membershipEpoch()));
});

test('kcat with diskless_az=az-a produces and fetches only through az-a brokers (bootstrapped through az-b)', async () => {
  const before = brokers.map((b) => [requestCount(b, 'Produce'), requestCount(b, 'Fetch')]);
  const lines = Array.from({ length: 2000 }, (_, i) => `k${i}:v${i}`);
  const zone = ['-X', 'client.id=zoned-app;diskless_az=az-a'];
  await kcatProduce(brokers[2]!.bootstrap, 'routed', lines, zone);
  const read = await kcatConsume(brokers[2]!.bootstrap, 'routed', '%k:%s\n', zone);
  assert.deepEqual(read.sort(), lines.sort());
  const delta = brokers.map((b, i) => [requestCount(b, 'Produce') - before[i]![0]!, requestCount(b, 'Fetch') - before[i]![1]!]);
  assert.deepEqual(delta.slice(2), [[0, 0], [0, 0]], 'no Produce or Fetch reached the az-b and az-c brokers');
  assert.ok(delta[0]![0]! > 0 && delta[1]![0]! > 0, `both az-a brokers took produce requests: ${JSON.stringify(delta)}`);
  assert.ok(delta[0]![1]! > 0 && delta[1]![1]! > 0, `both az-a brokers served fetches: ${JSON.stringify(delta)}`);
});

test('Fetch v11+ from another zone (rack id, or diskless_az): no records, the zone\'s broker as preferred read replica (KIP-392)', async () => {
  const md = await metadata(brokers[0]!.port, null, ['routed']);
  const topicId = md.topics[0].topicId;
  const fetch = async (port: number, clientId: string, rackId: string) => {
    const r = await withClient(port, (c) => c.request(ApiKey.Fetch, 12, {
      clusterId: null, replicaId: -1, replicaState: { replicaId: -1, replicaEpoch: -1n }, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'routed', topicId, partitions: Array.from({ length: 24 }, (_, p) => ({ partition: p, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 16, replicaDirectoryId: ZERO })) }],
      forgottenTopicsData: [], rackId,
    }), { clientId });
    return r.responses[0].partitions as any[];
  };
  const redirected = await fetch(brokers[0]!.port, 'consumer', 'az-b');
  assert.ok(redirected.every((p) => p.errorCode === 0 && p.preferredReadReplica === 3 && p.records === null || p.records?.length === 0));
  const byClientId = await fetch(brokers[0]!.port, 'consumer;diskless_az=az-c', '');
  assert.ok(byClientId.every((p) => p.preferredReadReplica === 4));
  const inZone = await fetch(brokers[2]!.port, 'consumer', 'az-b');
  assert.ok(inZone.every((p) => p.preferredReadReplica === -1) && inZone.some((p) => p.records?.length > 0), 'the zone\'s own broker serves the records');
  const noSuchZone = await fetch(brokers[0]!.port, 'consumer', 'az-z');
  assert.ok(noSuchZone.every((p) => p.preferredReadReplica === -1));

  // librdkafka follows the redirection: every record arrives.
  assert.equal((await kcatConsume(brokers[0]!.bootstrap, 'routed', '%k\n', ['-X', 'client.rack=az-b'])).length, 2000);
});

test('consumer groups: one coordinator per group, spread by hash; others answer NOT_COORDINATOR', async () => {
  const groups = Array.from({ length: 40 }, (_, i) => `g-${i}`);
  const answers = await Promise.all(brokers.map(async (b) => {
    const r = await withClient(b.port, (c) => c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: groups }));
    return r.coordinators.map((x: any) => [x.key, x.nodeId, x.port]);
  }));
  for (const a of answers) assert.deepEqual(a, answers[0]);
  const owners = new Set(answers[0]!.map((x: any) => x[1]));
  assert.ok(owners.size >= 3, `40 groups over 4 brokers land on at least 3 of them (${[...owners]})`);

  const [, owner] = answers[0]![0]!;
  const other = brokers.find((_, i) => i + 1 !== owner)!;
  const c = await RawClient.connect(other.port);
  const join = await c.request(ApiKey.JoinGroup, 5, {
    groupId: 'g-0', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
  });
  const commit = await c.request(ApiKey.OffsetCommit, 8, { groupId: 'g-0', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [] });
  const fetched = await c.request(ApiKey.OffsetFetch, 8, { groups: [{ groupId: 'g-0', topics: null }], requireStable: false });
  c.close();
  assert.equal(join.errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal(commit.topics.length, 0);
  assert.equal(fetched.groups[0].errorCode, ErrorCode.NOT_COORDINATOR);
});

test('a killed broker leaves Metadata within the session timeout; a clean shutdown leaves at once', async () => {
  const child = await spawnBroker(await tempDir(), { ...shared, 'node.id': 9, 'broker.rack': 'az-b' } as Record<string, string | number>);
  await waitFor('the new broker to be seen', () => brokers.every((b) => liveIds(b).includes(9)), POLL);
  const killedAt = Date.now();
  child.child.kill('SIGKILL');
  await child.exited;
  await waitFor('the killed broker to leave', () => brokers.every((b) => !liveIds(b).includes(9)), { ...POLL, timeoutMs: 10_000 });
  const goneAfter = Date.now() - killedAt;
  assert.ok(goneAfter <= SESSION_MS + 4 * HEARTBEAT_MS + 500, `dropped after ${goneAfter} ms`);

  const leaving = brokers.pop()!;
  const epoch = brokers[0]!.broker.inspect.membershipEpoch();
  const closedAt = Date.now();
  await leaving.close();
  await waitFor('the stopped broker to leave', () => brokers.every((b) => !liveIds(b).includes(4)), { ...POLL, timeoutMs: 5_000 });
  const leftAfter = Date.now() - closedAt;
  assert.ok(leftAfter < SESSION_MS, `clean shutdown left after ${leftAfter} ms`);
  assert.ok(brokers[0]!.broker.inspect.membershipEpoch() > epoch, 'the membership epoch grew');
  console.log(`membership: kill -9 → dropped from Metadata after ${goneAfter} ms (session ${SESSION_MS} ms, heartbeat ${HEARTBEAT_MS} ms); clean shutdown → ${leftAfter} ms`);
});

test('a group whose coordinator leaves moves to a live broker with its committed offsets', async () => {
  // A group coordinated by broker 3 (az-b).
  const groupId = Array.from({ length: 200 }, (_, i) => `moving-${i}`).find((g) => brokers[0]!.broker.cluster.groupCoordinator(g).nodeId === 3)!;
  const owner = brokers[2]!;
  const c = await RawClient.connect(owner.port);
  const md = await metadata(owner.port, null, ['routed']);
  const topicId = md.topics[0].topicId;
  const commit = await c.request(ApiKey.OffsetCommit, 8, {
    groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'routed', partitions: [{ partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: -1, committedMetadata: 'm' }] }],
  });
  c.close();
  assert.equal(commit.topics[0].partitions[0].errorCode, 0);
  assert.ok(topicId);

  brokers.splice(2, 1);
  await owner.close();
  await waitFor('the group to move', () => brokers.every((b) => b.broker.cluster.groupCoordinator(groupId).nodeId !== 3), POLL);
  const next = brokers.find((b) => b.broker.nodeId === brokers[0]!.broker.cluster.groupCoordinator(groupId).nodeId)!;
  let fetched: any;
  await waitFor('the new coordinator to serve the group', async () => {
    fetched = await withClient(next.port, (c2) => c2.request(ApiKey.OffsetFetch, 8, { groups: [{ groupId, topics: null }], requireStable: false }));
    return fetched.groups[0].errorCode === 0;
  }, POLL);
  assert.deepEqual(fetched.groups[0].topics.map((t: any) => [t.name, t.partitions.map((p: any) => [p.partitionIndex, p.committedOffset])]), [['routed', [[0, 42n]]]]);
});
