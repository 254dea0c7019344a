/**
 * Pipelined OffsetCommits of one group on one connection, against a broker on real PostgreSQL (a pool of
 * connections): each commit is acknowledged, and what stays committed is the last one sent. Issue 20: with
 * auto-commit every 100 ms, librdkafka sends its next commit while the previous is still in flight; the two
 * transactions used to run on two pool connections and could land in reverse order, leaving a KIP-848
 * group's committed offset 2 records short of what its member had committed last and seen acknowledged.
 * (test/groups/group-offsets.test.ts pins the order deterministically with a held-back store.)
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopic } from '../helpers/topics.ts';

const TOPIC = 'pipelined-commits';
const PARTITIONS = 4;
const ROUNDS = 6;
const PER_ROUND = 40;

let broker: TestBroker;

before(async () => {
  const url = await freshDatabase();
  broker = await startTestBroker({ 'diskless.coordinator.url': url, 'diskless.object.store.url': `file://${await tempDir('floe-pipelined-objects-')}` });
  await RawClient.connect(broker.port).then(async (c) => {
    await createTopic(c, TOPIC, PARTITIONS);
    c.close();
  });
});

test('pipelined OffsetCommits of one group on PostgreSQL: every one acknowledged, the last one stays committed', async () => {
  const c = await RawClient.connect(broker.port);
  try {
    let correlationId = 1000;
    for (let round = 0; round < ROUNDS; round++) {
      const group = `pipelined-${round}`;
      const ids: number[] = [];
      // All frames written at once; each commits every partition at a higher offset than the one before.
      for (let i = 1; i <= PER_ROUND; i++) {
        const id = correlationId++;
        ids.push(id);
        c.write(RawClient.frame(ApiKey.OffsetCommit, 9, {
          groupId: group, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n,
          topics: [{ name: TOPIC, partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partitionIndex: p, committedOffset: BigInt(i * 10 + p), committedLeaderEpoch: -1, committedMetadata: '' })) }],
        }, id));
      }
      for (const id of ids) {
        const r = await c.readResponse<any>(ApiKey.OffsetCommit, 9, id);
        assert.deepEqual(r.topics[0].partitions.map((p: any) => p.errorCode), Array(PARTITIONS).fill(ErrorCode.NONE));
      }
      const f = await c.request<any>(ApiKey.OffsetFetch, 7, { groupId: group, topics: [{ name: TOPIC, partitionIndexes: [0, 1, 2, 3] }], requireStable: false });
      assert.deepEqual(f.topics[0].partitions.map((p: any) => Number(p.committedOffset)),
        Array.from({ length: PARTITIONS }, (_, p) => PER_ROUND * 10 + p), `round ${round}: the last commit of ${PER_ROUND} stays`);
    }
  } finally {
    c.close();
  }
});
