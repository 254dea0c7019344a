/**
 * The transaction coordinator's marker writer (src/broker/transaction-coordinator.ts) against a late writer:
 * the janitor (or a retried EndTxn) that read a prepared transaction's partitions before another writer
 * finished it. By the time it writes, the producer (same id and epoch: transaction version 1 keeps the epoch)
 * may have begun its next transaction in the same partition. On a classic partition, the stale marker must
 * not end that next transaction: a commit marker would expose its records before it is decided, an abort
 * marker would hide them even if it commits. (Diskless markers are checked in the commit itself.)
 * And EndTxn against a marker that cannot be stored yet: the answer does not wait for the object store.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import type { EndingTransaction } from '../../src/coordinator/transaction-store.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { fetchPartition } from '../helpers/fetch.ts';
import { produce } from '../helpers/produce.ts';
import { withClient, type RawClient } from '../helpers/raw-client.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { CLASSIC, createTopic } from '../helpers/topics.ts';

const READ_COMMITTED = 1;

async function lastStableOffset(c: RawClient, topic: string): Promise<bigint> {
  const r = await c.request(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel: READ_COMMITTED, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] });
  return r.topics[0].partitions[0].offset;
}

let broker: TestBroker;
before(async () => {
  broker = await startTestBroker();
});

for (const commitFirst of [true, false]) {
  test(`classic partition: a late ${commitFirst ? 'commit' : 'abort'} marker of an ended transaction does not end the producer's next one`, async () => {
    await withClient(broker.port, async (c) => {
      const topic = `stale-marker-${commitFirst ? 'commit' : 'abort'}`;
      const transactionalId = `${topic}-tx`;
      await createTopic(c, topic, 1, CLASSIC);
      const init = await c.request(ApiKey.InitProducerId, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
      const { producerId, producerEpoch } = init;
      const addPartition = async () => {
        const r = await c.request(ApiKey.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: topic, partitions: [0] }] });
        assert.equal(r.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.NONE);
      };
      const endTxn = async (committed: boolean) => assert.equal((await c.request(ApiKey.EndTxn, 3, { transactionalId, producerId, producerEpoch, committed })).errorCode, ErrorCode.NONE);
      const send = async (value: string, baseSequence: number) =>
        assert.equal((await produce(c, topic, 0, await batchOf([value], { producerId, producerEpoch, baseSequence, transactional: true }))).errorCode, ErrorCode.NONE);

      // T1: record 0, marker 1 (written by EndTxn, on this broker, the partition's leader).
      await addPartition();
      await send('first', 0);
      await endTxn(commitFirst);
      // What a janitor that read T1 while it was prepared holds.
      const stale: EndingTransaction = {
        transactionalId, producerId: Number(producerId), producerEpoch, commit: commitFirst,
        partitions: [{ topicId: broker.broker.topics.get(topic)!.topicId, partition: 0 }],
      };

      // T2, same producer id and epoch: record 2, open.
      await addPartition();
      await send('second', 1);
      assert.equal(await lastStableOffset(c, topic), 2n, 'the open transaction holds the last stable offset');

      await broker.broker.transactions.finish(stale);
      assert.equal(await lastStableOffset(c, topic), 2n, 'the late marker did not end the open transaction');

      // T2 aborts: read_committed sees T1's record if it committed, never T2's.
      await endTxn(false);
      const fetched = await fetchPartition(c, topic, 0, 0n, { isolationLevel: READ_COMMITTED, version: 11 });
      assert.deepEqual(fetched.abortedTransactions?.map((a) => [a.producerId, a.firstOffset]).filter(([, first]) => first === 2n), [[producerId, 2n]],
        'the second transaction\'s records are in an aborted range');
    });
  });
}

test('diskless partition: EndTxn answers within a few seconds while its marker cannot be stored; the transaction ends once it can', { timeout: 60_000 }, async () => {
  await withClient(broker.port, async (c) => {
    const topic = 'marker-store-stuck';
    const transactionalId = `${topic}-tx`;
    await createTopic(c, topic, 1);
    const init = await c.request(ApiKey.InitProducerId, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    const { producerId, producerEpoch } = init;
    const addPartition = async () => {
      const r = await c.request(ApiKey.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: topic, partitions: [0] }] });
      return r.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode as number;
    };
    assert.equal(await addPartition(), ErrorCode.NONE);
    assert.equal((await produce(c, topic, 0, await batchOf(['decided'], { producerId, producerEpoch, baseSequence: 0, transactional: true }))).errorCode, ErrorCode.NONE);

    // The object store takes uploads but does not finish them until released: the marker's object waits.
    const store = broker.broker.objectStore;
    const realPut = store.put.bind(store);
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    store.put = async (...args: Parameters<typeof store.put>) => {
      await released;
      return realPut(...args);
    };
    try {
      const started = Date.now();
      const end = await c.request(ApiKey.EndTxn, 3, { transactionalId, producerId, producerEpoch, committed: true });
      const tookMs = Date.now() - started;
      assert.equal(end.errorCode, ErrorCode.NONE, 'the decision is durable: EndTxn succeeds');
      assert.ok(tookMs < 10_000, `EndTxn answered in ${tookMs} ms, not after the store recovered`);
      assert.equal(await addPartition(), ErrorCode.CONCURRENT_TRANSACTIONS, 'the next transaction waits for the marker');
      assert.equal(await lastStableOffset(c, topic), 0n, 'the record stays unstable until its marker is written');
    } finally {
      release();
      store.put = realPut;
    }
    // The marker's object uploads now; the transaction completes and the record becomes readable.
    const deadline = Date.now() + 30_000;
    let code = await addPartition();
    while (code === ErrorCode.CONCURRENT_TRANSACTIONS && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      code = await addPartition();
    }
    assert.equal(code, ErrorCode.NONE, 'the next transaction begins once the marker is written');
    assert.equal(await lastStableOffset(c, topic), 2n, 'record and marker below the last stable offset');
    const fetched = await fetchPartition(c, topic, 0, 0n, { isolationLevel: READ_COMMITTED, version: 11 });
    assert.deepEqual(fetched.abortedTransactions ?? [], [], 'the transaction committed');
  });
});
