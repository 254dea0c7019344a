/**
 * Coordinator conformance, commits across connections: a commit is idempotent by object key (a retry
 * after an unknown outcome appends nothing and answers the original offsets), and commits from several
 * coordinator clients — separate connection pools, as several brokers have — to the same partitions
 * give strictly contiguous offsets: no duplicates, no gaps. Called from `coordinatorConformance` inside
 * its describe block, so it shares its coordinator and its run-scoped names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CommitBatch, CommitBatchResult, Coordinator, TopicInfo } from '../../src/coordinator/coordinator.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

const { UNKNOWN_TOPIC_OR_PARTITION } = ErrorCode;

export interface CommitConformanceContext {
  coordinator(): Coordinator;
  topic(n: string, partitionCount?: number): Promise<TopicInfo>;
  batch(topic: TopicInfo, partition: number, recordCount: number, opts?: { byteSize?: number; byteOffset?: number }): CommitBatch;
  objectKey(): string;
  /** Opens another coordinator client over the same database (its own connections); absent for PGlite. */
  openAnother?: () => Promise<Coordinator>;
}

function request(key: string, batches: CommitBatch[]) {
  const size = batches.reduce((s, b) => Math.max(s, b.byteOffset + b.byteSize), 0);
  return { objectKey: key, objectSize: size, brokerId: 1, batches };
}

/** Every partition's ranges, from commit results, must tile [0, high watermark). */
async function assertContiguous(c: Coordinator, t: TopicInfo, commits: { batches: CommitBatch[]; results: CommitBatchResult[] }[]): Promise<void> {
  const ranges = new Map<number, [number, number][]>();
  for (const { batches, results } of commits) {
    batches.forEach((b, j) => {
      assert.equal(results[j]!.errorCode, 0);
      const list = ranges.get(b.partition) ?? [];
      list.push([results[j]!.baseOffset, results[j]!.baseOffset + b.recordCount - 1]);
      ranges.set(b.partition, list);
    });
  }
  for (const [partition, list] of ranges) {
    list.sort((a, b) => a[0] - b[0]);
    let next = 0;
    for (const [first, last] of list) {
      assert.equal(first, next, `partition ${partition}: contiguous at ${next} (no gap, no duplicate)`);
      next = last + 1;
    }
    const [offsets] = await c.getPartitionOffsets([{ topicId: t.topicId, partition }]);
    assert.equal(offsets!.highWatermark, next, `partition ${partition}: high watermark`);
    // And what the coordinator stored agrees: the batches found tile the log.
    const [found] = await c.findBatches([{ topicId: t.topicId, partition, offset: 0, maxBytes: 1 << 30 }]);
    let at = 0;
    for (const b of found!.batches) {
      assert.equal(b.baseOffset, at);
      at = b.lastOffset + 1;
    }
    assert.equal(at, next);
  }
}

export function commitConformance(ctx: CommitConformanceContext): void {
  test('a commit retried with the same object key appends nothing and answers the original offsets', async () => {
    const c = ctx.coordinator();
    const t = await ctx.topic('once', 2);
    const key = ctx.objectKey();
    const batches = [
      ctx.batch(t, 0, 3, { byteOffset: 0 }),
      ctx.batch(t, 1, 2, { byteOffset: 100 }),
      ctx.batch(t, 0, 4, { byteOffset: 200 }),
      { ...ctx.batch(t, 7, 1, { byteOffset: 300 }) }, // no such partition
    ];
    const first = await c.commitObject(request(key, batches));
    assert.deepEqual(first.map((r) => [r.errorCode, r.baseOffset]), [[0, 0], [0, 0], [0, 3], [UNKNOWN_TOPIC_OR_PARTITION, -1]]);
    const again = await c.commitObject(request(key, batches));
    assert.deepEqual(again, first, 'the same answer, log-append time included');
    assert.deepEqual(await c.getPartitionOffsets([0, 1].map((partition) => ({ topicId: t.topicId, partition }))), [
      { logStartOffset: 0, highWatermark: 7 },
      { logStartOffset: 0, highWatermark: 2 },
    ]);
    assert.equal((await c.listObjectKeys()).filter((k) => k === key).length, 1);
    // Later commits continue after the original, not after a duplicate.
    const [next] = await c.commitObject(request(ctx.objectKey(), [ctx.batch(t, 0, 1)]));
    assert.equal(next!.baseOffset, 7);
  });

  test('the same object committed twice at once is appended once', async () => {
    const c = ctx.coordinator();
    const other = ctx.openAnother ? await ctx.openAnother() : c;
    try {
      const t = await ctx.topic('once-race', 1);
      const commits = [];
      for (let k = 0; k < 10; k++) {
        const key = ctx.objectKey();
        const batches = [ctx.batch(t, 0, 2, { byteOffset: 0 }), ctx.batch(t, 0, 1, { byteOffset: 100 })];
        const both = await Promise.allSettled([c.commitObject(request(key, batches)), other.commitObject(request(key, batches))]);
        const ok = both.filter((r): r is PromiseFulfilledResult<CommitBatchResult[]> => r.status === 'fulfilled').map((r) => r.value);
        // Either both answer the same offsets, or the loser of the race fails (and a retry would see the winner).
        assert.ok(ok.length >= 1);
        if (ok.length === 2) assert.deepEqual(ok[0]!.map((r) => r.baseOffset), ok[1]!.map((r) => r.baseOffset));
        commits.push({ batches, results: ok[0]! });
        const retry = await c.commitObject(request(key, batches));
        assert.deepEqual(retry.map((r) => r.baseOffset), ok[0]!.map((r) => r.baseOffset));
      }
      await assertContiguous(c, t, commits);
    } finally {
      if (other !== c) await other.close();
    }
  });

  if (ctx.openAnother !== undefined) {
    test('concurrent commits from 4 coordinator clients (separate pools) to the same partitions: contiguous, no duplicates, no gaps', async () => {
      const c = ctx.coordinator();
      const clients = [c, ...(await Promise.all([1, 2, 3].map(() => ctx.openAnother!())))];
      try {
        const t = await ctx.topic('multi-client', 4);
        const commits: { batches: CommitBatch[]; results: CommitBatchResult[] }[] = [];
        await Promise.all(clients.map(async (client, ci) => {
          // Each client keeps 4 commits in flight at a time, 24 in all, each touching 3 of the 4 partitions.
          const mine = Array.from({ length: 24 }, (_, k) => {
            const n = ci * 100 + k;
            return [
              ctx.batch(t, n % 4, 1 + (n % 5), { byteOffset: 0 }),
              ctx.batch(t, (n + 1) % 4, 2, { byteOffset: 100 }),
              ctx.batch(t, n % 4, 1, { byteOffset: 200 }),
              ctx.batch(t, (n + 3) % 4, 3, { byteOffset: 300 }),
            ];
          });
          for (let k = 0; k < mine.length; k += 4) {
            await Promise.all(mine.slice(k, k + 4).map(async (batches) => {
              commits.push({ batches, results: await client.commitObject(request(ctx.objectKey(), batches)) });
            }));
          }
        }));
        assert.equal(commits.length, 96);
        await assertContiguous(c, t, commits);
        // Within one object, a partition's batches keep their order.
        for (const { results } of commits) assert.ok(results[0]!.baseOffset < results[2]!.baseOffset);
        // Every client sees the same end state.
        for (const client of clients) {
          const offsets = await client.getPartitionOffsets([0, 1, 2, 3].map((partition) => ({ topicId: t.topicId, partition })));
          assert.deepEqual(offsets, await c.getPartitionOffsets([0, 1, 2, 3].map((partition) => ({ topicId: t.topicId, partition }))));
        }
      } finally {
        for (const client of clients.slice(1)) await client.close();
      }
    });
  }
}
