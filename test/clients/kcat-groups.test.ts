/**
 * kcat (librdkafka 2.0.2) as a group consumer: `kcat -G group topic` consumes every partition through the
 * group protocol and commits; a second run of the same group resumes from the committed offsets; two
 * members started together read everything between them and the group's offsets reach the log end.
 * (`-o beginning` is not used: with -G, kcat applies it over the committed offsets.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { kcat, kcatProduce } from '../helpers/kcat.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopic } from '../helpers/topics.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';

test('kcat -G consumes as a group, commits, and resumes from the committed offsets', { timeout: 120_000 }, async () => {
  const broker = await startTestBroker({ 'group.initial.rebalance.delay.ms': 0, 'diskless.commit.interval.ms': 20 });
  const admin = await RawClient.connect(broker.port);
  await createTopic(admin, 'kcat-g', 3);
  const produce = (from: number, to: number) => kcatProduce(broker.bootstrap, 'kcat-g', Array.from({ length: to - from }, (_, i) => `k${from + i}:v${from + i}`));
  const consume = async (group: string) => {
    const stdout = await kcat(['-b', broker.bootstrap, '-G', group, '-X', 'auto.offset.reset=earliest', '-e', '-q', '-f', '%p %s\n', '-X', 'auto.commit.interval.ms=100', 'kcat-g']);
    return stdout.split('\n').filter((l) => l.length > 0).map((l) => l.split(' ')[1]!);
  };
  const committed = async (group: string) => {
    const r = await admin.request(ApiKey.OffsetFetch, 7, { groupId: group, topics: null, requireStable: false });
    return r.topics.flatMap((t: any) => t.partitions.map((p: any) => [p.partitionIndex, Number(p.committedOffset)])).sort((a: number[], b: number[]) => a[0]! - b[0]!);
  };
  const ends = async () => {
    const r = await admin.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'kcat-g', partitions: [0, 1, 2].map((p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp: -1n })) }] });
    return r.topics[0].partitions.map((p: any) => [p.partitionIndex, Number(p.offset)]);
  };

  await produce(0, 3000);
  const first = await consume('kcat-group');
  assert.equal(first.length, 3000);
  assert.equal(new Set(first).size, 3000);
  assert.deepEqual(await committed('kcat-group'), await ends());

  await produce(3000, 3500);
  const second = await consume('kcat-group');
  assert.deepEqual(second.sort(), Array.from({ length: 500 }, (_, i) => `v${3000 + i}`).sort());
  assert.deepEqual(await committed('kcat-group'), await ends());

  const described = await admin.request(ApiKey.DescribeGroups, 5, { groups: ['kcat-group'], includeAuthorizedOperations: false });
  assert.deepEqual([described.groups[0].groupState, described.groups[0].protocolType], ['Empty', 'consumer']);

  // Two members at once: together they read everything.
  const [a, b] = await Promise.all([consume('kcat-pair'), consume('kcat-pair')]);
  assert.equal(new Set([...a, ...b]).size, 3500);
  assert.deepEqual(await committed('kcat-pair'), await ends());
  admin.close();
});
