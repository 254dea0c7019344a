/** CallBatcher: calls of one synchronous stretch go to `run` together, in call order; later calls form a new batch. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallBatcher } from '../../src/storage/diskless/call-batcher.ts';

test('calls made in one synchronous stretch are run together, answered in order', async () => {
  const runs: number[][] = [];
  const batcher = new CallBatcher<number, string>(async (qs) => {
    runs.push(qs);
    return qs.map((q) => `answer ${q}`);
  });
  const answers = await Promise.all([1, 2, 3].map((q) => batcher.call(q)));
  assert.deepEqual(answers, ['answer 1', 'answer 2', 'answer 3']);
  assert.deepEqual(runs, [[1, 2, 3]]);
  assert.equal(await batcher.call(4), 'answer 4');
  assert.deepEqual(runs, [[1, 2, 3], [4]], 'a call after the first batch ran starts a new one');
});

test('a failed run rejects every call of its batch, and the next batch runs again', async () => {
  let fail = true;
  const batcher = new CallBatcher<number, number>(async (qs) => {
    if (fail) throw new Error('coordinator down');
    return qs.map((q) => q * 2);
  });
  const results = await Promise.allSettled([batcher.call(1), batcher.call(2)]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  fail = false;
  assert.equal(await batcher.call(5), 10);
});
