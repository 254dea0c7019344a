/**
 * Transactions (KIP-98) with real clients over real sockets, on both kinds of partition, on the embedded
 * backends (PGlite + folder) and on PostgreSQL + S3 (s3rver):
 * - confluent-kafka (librdkafka): commits and aborts over two partitions; read_committed consumers read
 *   exactly the committed records at the offsets they were given, read_uncommitted ones everything; an open
 *   transaction stops read_committed reads and ListOffsets latest at its first offset; a second producer with
 *   the same transactional.id fences the first; a consume-transform-produce loop with
 *   send_offsets_to_transaction and aborts in between outputs every input once and commits its offsets;
 * - kafkajs: a transactional producer commits, aborts and sends offsets; its consumer reads committed data;
 * - bad input (raw protocol): Kafka's error codes, and the broker goes on serving;
 * - a transaction left open past its timeout is aborted by the coordinator, which fences its producer.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import type { S3Server } from '../../tools/dev/local-servers.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { kafkajs } from '../helpers/kafkajs.ts';
import { modernLibrdkafkaEnv } from '../helpers/librdkafka.ts';
import { freshDatabase, sharedPostgres } from '../helpers/postgres.ts';
import { produce } from '../helpers/produce.ts';
import { withClient } from '../helpers/raw-client.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { freshBucket, s3Overrides, sharedS3 } from '../helpers/s3.ts';
import { CLASSIC, createTopic } from '../helpers/topics.ts';
import { waitFor, waitForValue } from '../helpers/wait.ts';

const run = promisify(execFile);
const DRIVER = join(import.meta.dirname, 'confluent_transactions.py');

type Read = Record<string, [number, string][]>;

async function driver(bootstrap: string, command: string, topic: string, configs: Record<string, string> = {}, env?: NodeJS.ProcessEnv): Promise<any> {
  const arg = Object.entries(configs).map(([k, v]) => `${k}=${v}`).join(',');
  const { stdout } = await run('/usr/bin/python3', [DRIVER, bootstrap, command, topic, arg], { maxBuffer: 64 << 20, timeout: 240_000, ...(env ? { env } : {}) });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

const values = (read: Read, p: string) => read[p]!.map(([, v]) => v);

/** What the `outcomes` scenario must show: offsets per partition are a, marker, b (aborted), marker, c, marker. */
function checkOutcomes(r: any): void {
  for (const p of ['0', '1']) {
    const first = Number(p);
    const a = Array.from({ length: 5 }, (_, i) => `a-${first + 2 * i}`);
    const b = Array.from({ length: 3 }, (_, i) => `b-${first + 2 * i}`);
    const c = Array.from({ length: 5 }, (_, i) => `c-${first + 2 * i}`);
    // Offsets: a at 0-4, its commit marker at 5, b at 6-8, abort marker 9, c at 10-14, marker 15.
    assert.deepEqual(r.committed[p], [...a.map((v, i) => [i, v]), ...c.map((v, i) => [10 + i, v])], `partition ${p}: read_committed reads the committed records at their offsets`);
    assert.deepEqual(values(r.uncommitted, p), [...a, ...b, ...c], `partition ${p}: read_uncommitted reads the aborted ones too`);
    assert.deepEqual(r.while_open[p], r.committed[p], `partition ${p}: an open transaction's records are not read_committed`);
  }
  // Partition 0 of the open transaction: its first record at 16, four records up to 19.
  assert.deepEqual(r.latest_open, { read_committed: 16, read_uncommitted: 20 }, 'ListOffsets latest: the last stable offset for read_committed');
  assert.equal(r.fenced, '_FENCED', 'the first producer is fenced by the second');
  assert.deepEqual(r.after['0'], r.committed['0'], 'the fenced producer\'s open transaction was aborted');
  assert.deepEqual(r.after['1'].at(-1)[1], 'd-0', 'the second producer commits');
  // Partition 0 after: 16-19 aborted, abort marker 20; latest is stable again.
  assert.equal(r.latest_after, 21);
}

function checkConsumeTransformProduce(r: any): void {
  const outputs = [...values(r.out, '0'), ...values(r.out, '1')].sort();
  const expected = Array.from({ length: 60 }, (_, i) => `V${i}`).sort();
  assert.deepEqual(outputs, expected, 'every input is output exactly once in committed data');
  assert.deepEqual(r.offsets, { 0: 30, 1: 30 }, 'the group committed every input through its transactions');
  assert.ok(r.aborted >= 1, 'aborted transactions happened and left nothing');
}

let s3: S3Server;
let embedded: TestBroker;
before(async () => {
  [s3] = await Promise.all([sharedS3(), sharedPostgres()]);
  embedded = await startTestBroker({ 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 200, 'transaction.max.timeout.ms': 60_000 });
});

test('confluent-kafka on diskless and classic topics (PGlite): commit, abort, last stable offset, fencing', async () => {
  const [diskless, classic] = await Promise.all([driver(embedded.bootstrap, 'outcomes', 'txn-diskless'), driver(embedded.bootstrap, 'outcomes', 'txn-classic', CLASSIC)]);
  checkOutcomes(diskless);
  checkOutcomes(classic);
});

test('confluent-kafka consume-transform-produce with send_offsets_to_transaction, both kinds (PGlite)', async () => {
  const [diskless, classic] = await Promise.all([driver(embedded.bootstrap, 'ctp', 'ctp-diskless'), driver(embedded.bootstrap, 'ctp', 'ctp-classic', CLASSIC)]);
  checkConsumeTransformProduce(diskless);
  checkConsumeTransformProduce(classic);
});

test('librdkafka 2.15 with a KIP-848 group (group.protocol=consumer): consume-transform-produce, the member epoch checked', { timeout: 600_000 }, async () => {
  const env = { ...(await modernLibrdkafkaEnv()), GROUP_PROTOCOL: 'consumer' };
  checkConsumeTransformProduce(await driver(embedded.bootstrap, 'ctp', 'ctp-kip848', {}, env));
});

test('confluent-kafka on PostgreSQL + S3: commit, abort, fencing, consume-transform-produce', async () => {
  const broker = await startTestBroker({ 'diskless.coordinator.url': await freshDatabase(), ...s3Overrides(s3, await freshBucket()) });
  const [outcomes, ctp] = await Promise.all([driver(broker.bootstrap, 'outcomes', 'txn-pg'), driver(broker.bootstrap, 'ctp', 'ctp-pg')]);
  checkOutcomes(outcomes);
  checkConsumeTransformProduce(ctp);
});

test('kafkajs transactional producer: commit, abort and sendOffsets; read_committed consumers see the commits', async () => {
  const kafka = kafkajs(embedded.bootstrap, 'kafkajs-txn');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'kjs-txn', numPartitions: 2 }, { topic: 'kjs-txn-classic', numPartitions: 2, configEntries: [{ name: 'diskless.enable', value: 'false' }] }] });
  const producer = kafka.producer({ transactionalId: 'kjs-tx', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  for (const topic of ['kjs-txn', 'kjs-txn-classic']) {
    const commit = await producer.transaction();
    await commit.send({ topic, messages: [{ value: 'c1', partition: 0 }, { value: 'c2', partition: 1 }] });
    await commit.commit();
    const abort = await producer.transaction();
    await abort.send({ topic, messages: [{ value: 'x1', partition: 0 }, { value: 'x2', partition: 1 }] });
    await abort.abort();
    const withOffsets = await producer.transaction();
    await withOffsets.send({ topic, messages: [{ value: 'c3', partition: 0 }] });
    await withOffsets.sendOffsets({ consumerGroupId: `kjs-group-${topic}`, topics: [{ topic, partitions: [{ partition: 0, offset: '42' }] }] });
    await withOffsets.commit();
    const got = await consumeWithKafkajs(topic, 3);
    assert.deepEqual(got.get(0), ['c1', 'c3'], `${topic}: partition 0 holds the committed records only`);
    assert.deepEqual(got.get(1), ['c2']);
    const offsets = await admin.fetchOffsets({ groupId: `kjs-group-${topic}`, topics: [topic] });
    assert.equal(offsets[0]!.partitions.find((p) => p.partition === 0)!.offset, '42', 'the offsets sent in the committed transaction');
  }
  await producer.disconnect();
  await admin.disconnect();
});

/** A kafkajs group consumer (read_committed, its default) from the beginning, until `total` records came. */
async function consumeWithKafkajs(topic: string, total: number): Promise<Map<number, string[]>> {
  const consumer = kafkajs(embedded.bootstrap, `kjs-reader-${topic}`).consumer({ groupId: `kjs-reader-${topic}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = new Map<number, string[]>([[0, []], [1, []]]);
  let n = 0;
  await consumer.run({ eachMessage: async ({ partition, message }) => {
    got.get(partition)!.push(message.value!.toString());
    n++;
  } });
  await waitFor(`${total} records of ${topic}`, () => n >= total, { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 1000)); // anything more (an aborted record) would arrive now
  await consumer.disconnect();
  return got;
}

test('bad input gets Kafka\'s error codes, and the broker goes on serving', async () => {
  await withClient(embedded.port, async (c) => {
    await createTopic(c, 'txn-bad', 2);
    const init = (transactionalId: string | null, transactionTimeoutMs: number, version = 4, producerId = -1n, producerEpoch = -1) =>
      c.request(ApiKey.InitProducerId, version, { transactionalId, transactionTimeoutMs, producerId, producerEpoch });
    assert.equal((await init('', 1000)).errorCode, ErrorCode.INVALID_REQUEST, 'empty transactional id');
    assert.equal((await init('bad-tx', 0)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT, 'timeout 0');
    assert.equal((await init('bad-tx', 60_001)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT, 'timeout above transaction.max.timeout.ms');
    const first = await init('bad-tx', 30_000);
    assert.equal(first.errorCode, ErrorCode.NONE);
    const { producerId, producerEpoch } = first;

    const endTxn = (id: string, pid: bigint, epoch: number, committed: boolean, version = 3) =>
      c.request(ApiKey.EndTxn, version, { transactionalId: id, producerId: pid, producerEpoch: epoch, committed });
    assert.equal((await endTxn('no-such-tx', producerId, producerEpoch, true)).errorCode, ErrorCode.INVALID_PRODUCER_ID_MAPPING, 'unknown transactional id');
    assert.equal((await endTxn('bad-tx', producerId, producerEpoch, true)).errorCode, ErrorCode.INVALID_TXN_STATE, 'EndTxn without a transaction');
    assert.equal((await endTxn('bad-tx', producerId + 1n, producerEpoch, true)).errorCode, ErrorCode.INVALID_PRODUCER_ID_MAPPING, 'another producer id');

    const addPartitions = (epoch: number, partitions: number[], version = 3) =>
      c.request(ApiKey.AddPartitionsToTxn, version, { v3AndBelowTransactionalId: 'bad-tx', v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: epoch, v3AndBelowTopics: [{ name: 'txn-bad', partitions }] });
    const codes = (r: any) => r.resultsByTopicV3AndBelow.flatMap((t: any) => t.resultsByPartition.map((p: any) => p.partitionErrorCode));
    assert.deepEqual(codes(await addPartitions(producerEpoch, [0, 9])), [ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], 'a partition that does not exist');
    assert.deepEqual(codes(await addPartitions(producerEpoch - 1, [0])), [ErrorCode.PRODUCER_FENCED], 'an old epoch (v2+)');
    assert.deepEqual(codes(await addPartitions(producerEpoch - 1, [0], 1)), [ErrorCode.INVALID_PRODUCER_EPOCH], 'an old epoch (v1, before KIP-588)');

    // A transactional batch for a partition not added to the transaction is refused where it is stored.
    const txnBatch = (seq: number) => batchOf(['t'], { producerId, producerEpoch, baseSequence: seq, transactional: true });
    assert.equal((await produce(c, 'txn-bad', 1, await txnBatch(0))).errorCode, ErrorCode.INVALID_TXN_STATE, 'partition not in the transaction');
    assert.deepEqual(codes(await addPartitions(producerEpoch, [0])), [ErrorCode.NONE]);
    assert.equal((await produce(c, 'txn-bad', 0, await txnBatch(0))).errorCode, ErrorCode.NONE);
    assert.equal((await produce(c, 'txn-bad', 0, await batchOf(['t'], { producerId, producerEpoch: producerEpoch - 1, baseSequence: 1, transactional: true }))).errorCode,
      ErrorCode.INVALID_PRODUCER_EPOCH, 'an old epoch\'s batch');
    // Control batches come from the coordinator only.
    assert.equal((await produce(c, 'txn-bad', 0, await batchOf(['t'], { producerId, producerEpoch, baseSequence: 1, transactional: true, control: true }))).errorCode, ErrorCode.INVALID_RECORD);

    const txnCommit = await c.request(ApiKey.TxnOffsetCommit, 3, {
      transactionalId: 'bad-tx', groupId: 'bad-group', producerId, producerEpoch, generationId: -1, memberId: '', groupInstanceId: null,
      topics: [{ name: 'txn-bad', partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, committedMetadata: null }] }],
    });
    assert.equal(txnCommit.topics[0].partitions[0].errorCode, ErrorCode.INVALID_TXN_STATE, 'offsets of a group not added with AddOffsetsToTxn');

    assert.equal((await endTxn('bad-tx', producerId, producerEpoch, true)).errorCode, ErrorCode.NONE);
    assert.equal((await endTxn('bad-tx', producerId, producerEpoch, true)).errorCode, ErrorCode.NONE, 'a retried EndTxn');
    assert.equal((await endTxn('bad-tx', producerId, producerEpoch, false)).errorCode, ErrorCode.INVALID_TXN_STATE, 'the opposite decision after a commit');

    const described = await c.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['bad-tx', 'never-seen'] });
    assert.deepEqual(described.transactionStates.map((s: any) => [s.transactionalId, s.errorCode, s.transactionState]),
      [['bad-tx', ErrorCode.NONE, 'CompleteCommit'], ['never-seen', ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, '']]);
    const listed = await c.request(ApiKey.ListTransactions, 1, { stateFilters: ['CompleteCommit', 'Bogus'], producerIdFilters: [], durationFilter: -1n, transactionalIdPattern: null });
    assert.ok(listed.transactionStates.some((s: any) => s.transactionalId === 'bad-tx'));
    assert.deepEqual(listed.unknownStateFilters, ['Bogus']);

    // KIP-360: a stranger may not re-initialise the id by naming another producer id.
    assert.equal((await init('bad-tx', 30_000, 4, producerId + 7n, 0)).errorCode, ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    // A client that sends a huge producer id (past 2^53) is answered, not crashed.
    assert.equal((await endTxn('bad-tx', 2n ** 62n, 0, true)).errorCode, ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });
});

test('a transaction open past its timeout is aborted and its producer fenced; read_committed moves on', async () => {
  await withClient(embedded.port, async (c) => {
    await createTopic(c, 'txn-timeout', 1);
    const init = await c.request(ApiKey.InitProducerId, 4, { transactionalId: 'slow-tx', transactionTimeoutMs: 1000, producerId: -1n, producerEpoch: -1 });
    const { producerId, producerEpoch } = init;
    await c.request(ApiKey.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: 'slow-tx', v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: 'txn-timeout', partitions: [0] }] });
    assert.equal((await produce(c, 'txn-timeout', 0, await batchOf(['open'], { producerId, producerEpoch, baseSequence: 0, transactional: true }))).errorCode, ErrorCode.NONE);
    const lso = async () => (await c.request(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel: 1, topics: [{ name: 'txn-timeout', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] })).topics[0].partitions[0].offset;
    assert.equal(await lso(), 0n, 'the open transaction holds the last stable offset at its first record');
    await waitFor('the timeout aborts the transaction (record 0, abort marker 1)', async () => (await lso()) === 2n, { timeoutMs: 15_000 });
    const described = await c.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['slow-tx'] });
    assert.equal(described.transactionStates[0].transactionState, 'CompleteAbort');
    assert.equal(described.transactionStates[0].producerEpoch, producerEpoch + 1, 'the epoch was bumped: the producer is fenced');
    const end = await c.request(ApiKey.EndTxn, 3, { transactionalId: 'slow-tx', producerId, producerEpoch, committed: true });
    assert.equal(end.errorCode, ErrorCode.PRODUCER_FENCED);
    // KIP-360: the fenced producer may re-initialise naming its old epoch.
    const again = await c.request(ApiKey.InitProducerId, 4, { transactionalId: 'slow-tx', transactionTimeoutMs: 1000, producerId, producerEpoch });
    assert.equal(again.errorCode, ErrorCode.NONE);
    assert.equal(again.producerEpoch, producerEpoch + 2);
  });
});

test('DescribeProducers names a partition\'s producers and the start of their open transaction, on both kinds', async () => {
  await withClient(embedded.port, async (c) => {
    for (const [topic, configs] of [['producers-diskless', {}], ['producers-classic', CLASSIC]] as const) {
      await createTopic(c, topic, 1, configs);
      const { producerId, producerEpoch } = await c.request(ApiKey.InitProducerId, 4, { transactionalId: `dp-${topic}`, transactionTimeoutMs: 30_000, producerId: -1n, producerEpoch: -1 });
      await c.request(ApiKey.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: `dp-${topic}`, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: topic, partitions: [0] }] });
      assert.equal((await produce(c, topic, 0, await batchOf(['a', 'b'], { producerId, producerEpoch, baseSequence: 0, transactional: true }))).errorCode, ErrorCode.NONE);
      const describe = async () => (await c.request(ApiKey.DescribeProducers, 0, { topics: [{ name: topic, partitionIndexes: [0, 5] }] })).topics[0].partitions;
      const [p0, p5] = await describe();
      assert.equal(p5.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      assert.equal(p0.errorCode, ErrorCode.NONE);
      assert.deepEqual(p0.activeProducers.map((p: any) => [p.producerId, p.producerEpoch, p.lastSequence, p.currentTxnStartOffset]), [[producerId, producerEpoch, 1, 0n]], `${topic}: the open transaction starts at 0`);
      assert.equal((await c.request(ApiKey.EndTxn, 3, { transactionalId: `dp-${topic}`, producerId, producerEpoch, committed: true })).errorCode, ErrorCode.NONE);
      const [after] = await describe();
      assert.equal(after.activeProducers[0].currentTxnStartOffset, -1n, `${topic}: no open transaction after the commit`);
    }
  });
});

test('a classic partition led by another broker gets its marker from its leader at once, asked through the coordinator (two brokers on PostgreSQL)', async () => {
  // The janitors' retry interval is longer than the test: the leader writes the marker because it was asked.
  const shared = { 'diskless.coordinator.url': await freshDatabase(), ...s3Overrides(s3, await freshBucket()), 'broker.heartbeat.interval.ms': 200, 'transaction.marker.retry.interval.ms': 300_000 };
  const a = await startTestBroker({ ...shared, 'node.id': 1 });
  const b = await startTestBroker({ ...shared, 'node.id': 2 });
  await waitFor('both brokers see each other', () => a.broker.cluster.live().length === 2 && b.broker.cluster.live().length === 2);
  await withClient(a.port, async (ca) => {
    await withClient(b.port, async (cb) => {
      await createTopic(ca, 'txn-remote-classic', 2, CLASSIC);
      const topic = await waitForValue('the topic on both brokers', async () => {
        await b.broker.topics.ensure([{ name: 'txn-remote-classic' }]);
        return b.broker.topics.get('txn-remote-classic');
      }, (t) => t !== undefined);
      // The transaction is driven through the broker that does not lead the topic (a classic topic has one leader).
      const partition = 1;
      const leader = b.broker.cluster.classicLeader(topic!) === 2 ? cb : ca;
      const other = leader === cb ? ca : cb;
      const { producerId, producerEpoch } = await other.request(ApiKey.InitProducerId, 4, { transactionalId: 'remote-tx', transactionTimeoutMs: 30_000, producerId: -1n, producerEpoch: -1 });
      await other.request(ApiKey.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: 'remote-tx', v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: 'txn-remote-classic', partitions: [partition] }] });
      assert.equal((await produce(leader, 'txn-remote-classic', partition, await batchOf(['r'], { producerId, producerEpoch, baseSequence: 0, transactional: true }))).errorCode, ErrorCode.NONE);
      const lso = async () => (await leader.request(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel: 1, topics: [{ name: 'txn-remote-classic', partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1n }] }] })).topics[0].partitions[0].offset;
      assert.equal(await lso(), 0n);
      // The broker that ends the transaction cannot write this partition's marker: it answers, and the leader writes it.
      assert.equal((await other.request(ApiKey.EndTxn, 3, { transactionalId: 'remote-tx', producerId, producerEpoch, committed: true })).errorCode, ErrorCode.NONE);
      await waitFor('the leader wrote the commit marker', async () => (await lso()) === 2n, { timeoutMs: 20_000 });
      await waitFor('the transaction completed', async () => (await other.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['remote-tx'] })).transactionStates[0].transactionState === 'CompleteCommit', { timeoutMs: 20_000 });
      // Back to back: each transaction's next AddPartitionsToTxn waits only for the leader's marker, not a janitor pass.
      const started = Date.now();
      let rounds = 0;
      for (let i = 0; i < 5; i++) {
        let added;
        do {
          added = await other.request(ApiKey.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: 'remote-tx', v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: 'txn-remote-classic', partitions: [partition] }] });
          rounds++;
        } while (added.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode === ErrorCode.CONCURRENT_TRANSACTIONS && Date.now() - started < 60_000);
        assert.equal(added.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.NONE);
        assert.equal((await produce(leader, 'txn-remote-classic', partition, await batchOf([`r${i}`], { producerId, producerEpoch, baseSequence: 1 + i, transactional: true }))).errorCode, ErrorCode.NONE);
        assert.equal((await other.request(ApiKey.EndTxn, 3, { transactionalId: 'remote-tx', producerId, producerEpoch, committed: i % 2 === 0 })).errorCode, ErrorCode.NONE);
      }
      await waitFor('the last marker written', async () => (await lso()) === 12n, { timeoutMs: 20_000 });
      console.log(`# 5 transactions on a classic partition led by the other broker: ${Date.now() - started} ms, ${rounds} AddPartitionsToTxn requests`);
    });
  });
});

test('a hanging transaction on a classic partition (a zombie wrote to a partition it never added) is aborted after transaction.max.timeout.ms', async () => {
  const broker = await startTestBroker({ 'transaction.max.timeout.ms': 1500, 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 200 });
  await withClient(broker.port, async (c) => {
    await createTopic(c, 'hanging-classic', 1, CLASSIC);
    const { producerId, producerEpoch } = await c.request(ApiKey.InitProducerId, 4, { transactionalId: 'zombie-tx', transactionTimeoutMs: 1000, producerId: -1n, producerEpoch: -1 });
    // No AddPartitionsToTxn: a classic partition takes the batch (its epoch is current) and a transaction is open there.
    assert.equal((await produce(c, 'hanging-classic', 0, await batchOf(['z'], { producerId, producerEpoch, baseSequence: 0, transactional: true }))).errorCode, ErrorCode.NONE);
    const lso = async () => (await c.request(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel: 1, topics: [{ name: 'hanging-classic', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] })).topics[0].partitions[0].offset;
    assert.equal(await lso(), 0n);
    await waitFor('the hanging transaction is aborted (record 0, abort marker 1)', async () => (await lso()) === 2n, { timeoutMs: 20_000 });
    const fetched = await c.request(ApiKey.Fetch, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 1, sessionId: 0, sessionEpoch: -1, rackId: '',
      topics: [{ topic: 'hanging-classic', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1n }] }], forgottenTopicsData: [],
    });
    assert.deepEqual(fetched.responses[0].partitions[0].abortedTransactions.map((a: any) => [a.producerId, a.firstOffset]), [[producerId, 0n]], 'read_committed fetches learn the range is aborted');
  });
});
