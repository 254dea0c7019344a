/**
 * The batch facts a share fetch acquires by (src/broker/share-requests.ts): batchExtents reads offsets,
 * producer, transactional and control bits and abort markers from stored batches; markAbortedBatches marks
 * the aborted transactions' data batches as Kafka's SharePartition.fetchAbortedTransactionRecordBatches does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchExtents, markAbortedBatches } from '../../src/broker/share-requests.ts';
import { buildRecordBatch } from '../helpers/record-batch.ts';

/** A batch as storage returns it: base offset assigned. */
async function stored(baseOffset: number, values: string[], producerId: number, transactional: boolean): Promise<Buffer> {
  return buildRecordBatch({ records: values.map((v) => ({ value: v })), baseOffset: BigInt(baseOffset), producerId: BigInt(producerId), producerEpoch: producerId < 0 ? -1 : 0, baseSequence: producerId < 0 ? -1 : 0, transactional });
}

/** A transaction marker (control record key: version 0, type 0 abort / 1 commit). */
async function marker(offset: number, producerId: number, commit: boolean): Promise<Buffer> {
  return buildRecordBatch({
    records: [{ key: Buffer.from([0, 0, 0, commit ? 1 : 0]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }],
    baseOffset: BigInt(offset), producerId: BigInt(producerId), producerEpoch: 0, transactional: true, control: true,
  });
}

test('batchExtents and markAbortedBatches: the aborted transactions\' data batches, per producer, up to their abort markers', async () => {
  // Producer 7: 0-1 committed (marker 2), 3-4 aborted (marker 5). Producer 9: 6 aborted, with plain 7 and
  // producer 7's committed 8 (marker 9) between it and its abort marker 10. Then 7 again: 11 (still open).
  const parts = [
    await stored(0, ['a', 'b'], 7, true), await marker(2, 7, true),
    await stored(3, ['x', 'y'], 7, true), await marker(5, 7, false),
    await stored(6, ['z'], 9, true), await stored(7, ['p'], -1, false), await stored(8, ['c'], 7, true), await marker(9, 7, true),
    await marker(10, 9, false), await stored(11, ['o'], 7, true),
  ];
  const { extents } = batchExtents(parts);
  assert.deepEqual(extents.map((b) => [b.baseOffset, b.lastOffset, b.producerId, b.transactional, b.control, b.abortMarker]), [
    [0, 1, 7, true, false, false], [2, 2, 7, true, true, false], [3, 4, 7, true, false, false], [5, 5, 7, true, true, true],
    [6, 6, 9, true, false, false], [7, 7, -1, false, false, false], [8, 8, 7, true, false, false], [9, 9, 7, true, true, false],
    [10, 10, 9, true, true, true], [11, 11, 7, true, false, false],
  ]);
  markAbortedBatches(extents, [{ producerId: 9, firstOffset: 6 }, { producerId: 7, firstOffset: 3 }]);
  assert.deepEqual(extents.filter((b) => b.aborted).map((b) => b.baseOffset), [3, 6], 'only the aborted ones: not the committed 8 between 6 and its marker, nor 11');
  const none = batchExtents(parts).extents;
  markAbortedBatches(none, []);
  assert.ok(none.every((b) => !b.aborted), 'no aborted transaction: nothing marked');
});
