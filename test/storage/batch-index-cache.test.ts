/**
 * The batch index cache with other brokers' commits: notifications extend cached partitions only, an empty
 * tail is cached, a read past the cached high watermark asks the coordinator, and answers that raced with
 * a notification (own commits, seeds) never leave an entry behind the partition.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FindBatchesResult } from '../../src/coordinator/coordinator.ts';
import { BatchIndexCache } from '../../src/storage/diskless/batch-index-cache.ts';
import { partitionKey } from '../../src/storage/partition-log.ts';

const k = partitionKey('t', 0);
const loc = (base: number, last: number) => ({ objectKey: `o${base}`, byteOffset: 0, byteSize: 10, baseOffset: base, lastOffset: last, maxTimestamp: 0, logAppendTime: 0, timestampType: 0 as const });
const found = (hwm: number, batches = [] as ReturnType<typeof loc>[]): FindBatchesResult => ({ errorCode: 0, logStartOffset: 0, highWatermark: hwm, batches });

test('an empty tail is seeded and extended by notifications; partitions not cached are not added', () => {
  const cache = new BatchIndexCache();
  cache.seed(k, found(5), 5, cache.mark());
  assert.deepEqual(cache.read(k, 5, 1000), { logStartOffset: 0, highWatermark: 5, batches: [] });
  assert.equal(cache.read(k, 3, 1000), undefined, 'below the cached range: a miss');
  cache.appendRemote(k, loc(5, 9), 0);
  assert.deepEqual(cache.read(k, 5, 1000)!.batches.map((b) => b.baseOffset), [5]);
  cache.appendRemote(k, loc(5, 9), 0); // the same commit announced twice (a retried commit)
  assert.equal(cache.offsets(k)!.highWatermark, 10);
  cache.appendRemote(k, loc(12, 13), 0); // a commit this cache never heard of came in between
  assert.equal(cache.offsets(k), undefined);

  const other = partitionKey('t', 1);
  cache.appendRemote(other, loc(0, 4), 0);
  assert.equal(cache.offsets(other), undefined);
  // A seed for an offset that is not the high watermark (an empty answer means a moved log start then) is not kept.
  cache.seed(other, found(5), 3, cache.mark());
  assert.equal(cache.offsets(other), undefined);
});

test('a read past the cached high watermark is a miss (the consumer read further elsewhere)', () => {
  const cache = new BatchIndexCache();
  cache.append(k, loc(0, 4), 0);
  assert.deepEqual(cache.read(k, 5, 1000)!.batches, []);
  assert.equal(cache.read(k, 9, 1000), undefined);
});

test('own commits and seeds that raced with a notification for their partition leave no entry', () => {
  const cache = new BatchIndexCache();
  // Own commit [0,5) sent; another broker's [5,10) committed after it and was heard before the answer.
  let mark = cache.mark();
  cache.appendRemote(k, loc(5, 9), 0);
  cache.append(k, loc(0, 4), 0, mark);
  assert.equal(cache.offsets(k), undefined, 'an entry ending at 5 would hide [5,10)');
  // Without such a notification the answer makes the entry.
  mark = cache.mark();
  cache.appendRemote(partitionKey('t', 7), loc(0, 0), 0); // another partition
  cache.append(k, loc(10, 14), 0, mark);
  assert.equal(cache.offsets(k)!.highWatermark, 15);

  // A coordinator answer read before a notification it does not include.
  const p = partitionKey('t', 2);
  mark = cache.mark();
  cache.appendRemote(p, loc(3, 3), 0);
  cache.seed(p, found(3, [loc(0, 2)]), 0, mark);
  assert.equal(cache.offsets(p), undefined);
  cache.seed(p, found(4, [loc(0, 2), loc(3, 3)]), 0, cache.mark());
  assert.equal(cache.offsets(p)!.highWatermark, 4);
});

test('resync drops everything, and answers to requests sent before it are not kept', () => {
  const cache = new BatchIndexCache();
  cache.append(k, loc(0, 4), 0);
  const mark = cache.mark();
  cache.resync();
  assert.equal(cache.offsets(k), undefined);
  cache.append(k, loc(5, 9), 0, mark);
  cache.seed(k, found(10, [loc(5, 9)]), 5, mark);
  assert.equal(cache.offsets(k), undefined);
  cache.seed(k, found(10, [loc(5, 9)]), 5, cache.mark());
  assert.equal(cache.offsets(k)!.highWatermark, 10);
});

test('touches are remembered in bounded generations; a mark older than them counts as touched', () => {
  const cache = new BatchIndexCache();
  const early = cache.mark();
  for (let i = 0; i < 8192 * 2 + 10; i++) cache.appendRemote(partitionKey('many', i), loc(0, 0), 0);
  assert.equal(cache.changedSince(k, early), true, 'too old to tell');
  const recent = cache.mark();
  assert.equal(cache.changedSince(k, recent), false);
  cache.appendRemote(k, loc(0, 0), 0);
  assert.equal(cache.changedSince(k, recent), true);
});
