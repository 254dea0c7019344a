/**
 * The share-group configs a share fetch applies (KIP-932 group configs, Kafka 4.2), over real sockets against
 * an embedded broker, on a diskless and a classic topic:
 * - share.isolation.level=read_committed: a kafkajs transactional producer commits, aborts and leaves a
 *   transaction open between plain records; a read_committed share group acquires only committed and plain
 *   records and nothing past the open transaction until it ends (its aborted records are archived: the SPSO
 *   passes them), while a read_uncommitted group acquires every data record;
 * - share.auto.offset.reset=by_duration:<ISO-8601>: a new share partition starts at the first record whose
 *   timestamp is at least now - duration, or at the log end when none is that recent;
 * - the value checked as Kafka's ShareGroupAutoOffsetResetStrategy.Validator does, with its message;
 * - share.record.lock.duration.ms: the group's locks expire after it (not the broker's 30 s), and ShareFetch's
 *   AcquisitionLockTimeoutMs says so.
 * The share consumers are test/helpers/share-consumer.ts (the project's codec: no CI client speaks share groups).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { kafkajs } from '../helpers/kafkajs.ts';
import { produce } from '../helpers/produce.ts';
import { withClient } from '../helpers/raw-client.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { ACCEPT, acksOf, ShareConsumer } from '../helpers/share-consumer.ts';
import { CLASSIC, createTopic, topicMetadata } from '../helpers/topics.ts';
import { waitFor } from '../helpers/wait.ts';

let broker: TestBroker;

test('setup', async () => {
  broker = await startTestBroker({
    'group.share.heartbeat.interval.ms': 500,
    'group.share.min.heartbeat.interval.ms': 500,
    'diskless.commit.interval.ms': 20,
    'transaction.max.timeout.ms': 60_000,
    // The bound a group's share.record.lock.duration.ms is checked against (the broker's lock stays 30 s).
    'group.share.min.record.lock.duration.ms': 1000,
  });
});

async function topicWithId(name: string, configs: Record<string, string>): Promise<string> {
  return withClient(broker.port, async (c) => {
    await createTopic(c, name, 1, configs);
    return (await topicMetadata(c, name)).topicId;
  });
}

async function setGroupConfigs(group: string, configs: Record<string, string>): Promise<{ errorCode: number; errorMessage: string | null }> {
  return withClient(broker.port, async (c) => {
    const r = await c.request(ApiKey.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: 32, resourceName: group, configs: Object.entries(configs).map(([name, value]) => ({ name, configOperation: 0, value })) }],
      validateOnly: false,
    });
    return r.responses[0];
  });
}

/** Fetches (accepting what it got) until `until` holds for the offsets acquired so far or `timeoutMs` passes. */
async function consume(c: ShareConsumer, got: number[], until: (offsets: number[]) => boolean, timeoutMs = 20_000): Promise<void> {
  let pending: number[] = [];
  await waitFor(`offsets acquired (so far ${JSON.stringify(got)})`, async () => {
    const r = await c.fetch(0, acksOf(pending, ACCEPT), { maxWaitMs: 300 });
    assert.equal(r.ackError, ErrorCode.NONE);
    pending = r.acquired.map((a) => a.offset);
    got.push(...pending);
    return until(got);
  }, { timeoutMs, intervalMs: 20 });
  if (pending.length > 0) assert.equal((await c.acknowledge(0, acksOf(pending, ACCEPT))).partitionError, ErrorCode.NONE);
}

/** Share-partition start offset of the group's partition 0. */
async function spso(group: string, topic: string): Promise<bigint> {
  return withClient(broker.port, async (c) => {
    const d = await c.request(ApiKey.DescribeShareGroupOffsets, 1, { groups: [{ groupId: group, topics: [{ topicName: topic, partitions: [0] }] }] });
    return d.groups[0].topics[0].partitions[0].startOffset;
  });
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

for (const kind of ['diskless', 'classic'] as const) {
  test(`${kind}: share.isolation.level=read_committed delivers committed and plain records only, nothing past an open transaction; read_uncommitted delivers all`, { timeout: 120_000 }, async () => {
    const topic = `share-isolation-${kind}`;
    const committedGroup = `${topic}-rc`;
    const uncommittedGroup = `${topic}-ru`;
    const topicId = await topicWithId(topic, kind === 'classic' ? CLASSIC : {});
    assert.equal((await setGroupConfigs(committedGroup, { 'share.isolation.level': 'read_committed', 'share.auto.offset.reset': 'earliest' })).errorCode, ErrorCode.NONE);
    assert.equal((await setGroupConfigs(uncommittedGroup, { 'share.auto.offset.reset': 'earliest' })).errorCode, ErrorCode.NONE);

    const kafka = kafkajs(broker.bootstrap, `share-txn-${kind}`);
    const txProducer = kafka.producer({ transactionalId: `share-tx-${kind}`, maxInFlightRequests: 1, idempotent: true });
    const plain = kafka.producer();
    await Promise.all([txProducer.connect(), plain.connect()]);
    try {
      // Offsets: c1 c2 (0-1), commit marker 2, x1 x2 (3-4) aborted, abort marker 5, p1 (6, plain), c3 (7),
      // commit marker 8, o1 (9, left open), p2 (10, plain, past the open transaction).
      const committed = await txProducer.transaction();
      await committed.send({ topic, messages: [{ value: 'c1', partition: 0 }, { value: 'c2', partition: 0 }] });
      await committed.commit();
      const aborted = await txProducer.transaction();
      await aborted.send({ topic, messages: [{ value: 'x1', partition: 0 }, { value: 'x2', partition: 0 }] });
      await aborted.abort();
      await plain.send({ topic, messages: [{ value: 'p1', partition: 0 }] });
      const second = await txProducer.transaction();
      await second.send({ topic, messages: [{ value: 'c3', partition: 0 }] });
      await second.commit();
      const open = await txProducer.transaction();
      await open.send({ topic, messages: [{ value: 'o1', partition: 0 }] });
      await plain.send({ topic, messages: [{ value: 'p2', partition: 0 }] });

      const rc = await ShareConsumer.join(broker.port, committedGroup, topic, topicId);
      const ru = await ShareConsumer.join(broker.port, uncommittedGroup, topic, topicId);
      const rcGot: number[] = [];
      const ruGot: number[] = [];
      await consume(ru, ruGot, (o) => o.length >= 8);
      assert.deepEqual(sorted(ruGot), [0, 1, 3, 4, 6, 7, 9, 10], 'read_uncommitted: every data record, the aborted and the open ones too');
      await consume(rc, rcGot, (o) => o.length >= 4);
      assert.deepEqual(sorted(rcGot), [0, 1, 6, 7], 'read_committed: committed and plain records');
      // The open transaction holds back the plain record after it (the last stable offset is 9).
      const held = await rc.fetch(0, [], { maxWaitMs: 1000 });
      assert.deepEqual(held.acquired, [], 'nothing past the last stable offset');
      assert.equal(await spso(committedGroup, topic), 9n, 'the SPSO passed the aborted records and the markers');

      await open.abort();
      await consume(rc, rcGot, (o) => o.length >= 5);
      assert.deepEqual(sorted(rcGot), [0, 1, 6, 7, 10], 'after the abort: the plain record, not the aborted one');
      await waitFor('the SPSO passes the abort marker', async () => (await spso(committedGroup, topic)) === 12n);
      const none = await rc.fetch(0, [], { maxWaitMs: 300 });
      assert.deepEqual(none.acquired, [], 'aborted records are never delivered later');
      await rc.leave();
      await ru.leave();
    } finally {
      await Promise.all([txProducer.disconnect(), plain.disconnect()]);
    }
  });

  test(`${kind}: share.auto.offset.reset=by_duration starts at the first record at least that recent, else at the log end`, { timeout: 60_000 }, async () => {
    const topic = `share-by-duration-${kind}`;
    const topicId = await topicWithId(topic, kind === 'classic' ? CLASSIC : {});
    const now = Date.now();
    await withClient(broker.port, async (c) => {
      for (const [values, age] of [[['h2-a', 'h2-b', 'h2-c'], 2 * 3_600_000], [['m30-a', 'm30-b'], 30 * 60_000], [['m1-a', 'm1-b'], 60_000]] as const) {
        const r = await produce(c, topic, 0, await batchOf([...values], { baseTimestamp: BigInt(now - age) }));
        assert.equal(r.errorCode, ErrorCode.NONE);
      }
    });
    // Offsets 0-2 two hours old, 3-4 thirty minutes, 5-6 one minute.
    for (const [duration, first] of [['PT1H', 3], ['PT10M', 5], ['P1D', 0], ['PT1H30M', 3]] as const) {
      const group = `${topic}-${duration}`;
      assert.equal((await setGroupConfigs(group, { 'share.auto.offset.reset': `by_duration:${duration}` })).errorCode, ErrorCode.NONE);
      const c = await ShareConsumer.join(broker.port, group, topic, topicId);
      const got: number[] = [];
      await consume(c, got, (o) => o.includes(6));
      assert.deepEqual(sorted(got), Array.from({ length: 7 - first }, (_, i) => first + i), `by_duration:${duration}`);
      await c.leave();
    }
    // No record is that recent: the share partition starts at the log end, and the next record is delivered.
    const group = `${topic}-PT5S`;
    assert.equal((await setGroupConfigs(group, { 'share.auto.offset.reset': 'by_duration:PT5S' })).errorCode, ErrorCode.NONE);
    const c = await ShareConsumer.join(broker.port, group, topic, topicId);
    assert.deepEqual((await c.fetch(0, [], { maxWaitMs: 300 })).acquired, [], 'every record is older than 5 s');
    await withClient(broker.port, async (raw) => {
      assert.equal((await produce(raw, topic, 0, await batchOf(['new'], { baseTimestamp: BigInt(Date.now()) }))).errorCode, ErrorCode.NONE);
    });
    const got: number[] = [];
    await consume(c, got, (o) => o.length >= 1);
    assert.deepEqual(got, [7]);
    await c.leave();
  });
}

test('share.auto.offset.reset is checked as Kafka\'s ShareGroupAutoOffsetResetStrategy.Validator: INVALID_CONFIG with its message', async () => {
  const bad = ['by_duration:-PT1H', 'by_duration:', 'by_duration', 'by_duration:PT', 'by_duration:P', 'by_duration:P1H', 'by_duration:invalid', 'BY_DURATION:PT1H',
    'LATEST', 'EARLIEST', 'none', '', 'by_duration:P9999999999999999999D'];
  for (const value of bad) {
    const r = await setGroupConfigs('share-reset-checked', { 'share.auto.offset.reset': value });
    assert.equal(r.errorCode, ErrorCode.INVALID_CONFIG, value);
    assert.equal(r.errorMessage, `Invalid value ${value} for configuration share.auto.offset.reset: Invalid value \`${value}\` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'.`);
  }
  for (const value of ['by_duration:P1DT2H30M', 'by_duration:pt0.5s', 'by_duration:PT0S', 'by_duration:-P-1D', 'earliest', 'latest']) {
    const r = await setGroupConfigs('share-reset-checked', { 'share.auto.offset.reset': value });
    assert.equal(r.errorCode, ErrorCode.NONE, `${value}: ${r.errorMessage}`);
    const described = await withClient(broker.port, (c) => c.request(ApiKey.DescribeConfigs, 4, {
      resources: [{ resourceType: 32, resourceName: 'share-reset-checked', configurationKeys: ['share.auto.offset.reset'] }], includeSynonyms: false, includeDocumentation: false,
    }));
    assert.equal(described.results[0].configs[0].value, value);
  }
});

test('share.record.lock.duration.ms set on a group: its locks expire after it, and AcquisitionLockTimeoutMs reports it', { timeout: 60_000 }, async () => {
  const topic = 'share-group-lock';
  const group = `${topic}-group`;
  const topicId = await topicWithId(topic, {});
  assert.equal((await setGroupConfigs(group, { 'share.record.lock.duration.ms': '2000', 'share.auto.offset.reset': 'earliest' })).errorCode, ErrorCode.NONE);
  await withClient(broker.port, async (c) => assert.equal((await produce(c, topic, 0, await batchOf(['a', 'b']))).errorCode, ErrorCode.NONE));
  const hung = await ShareConsumer.join(broker.port, group, topic, topicId);
  const other = await ShareConsumer.join(broker.port, group, topic, topicId);
  const first = await hung.fetchRaw(0, [], { maxWaitMs: 2000 });
  assert.equal(first.acquisitionLockTimeoutMs, 2000);
  assert.equal(first.responses[0].partitions[0].acquiredRecords.length, 1);
  const heldAt = Date.now();
  const again: { offset: number; deliveryCount: number }[] = [];
  await waitFor('the records come back after the group\'s lock', async () => {
    again.push(...(await other.fetch(0, [], { maxWaitMs: 300 })).acquired);
    return again.length === 2;
  }, { timeoutMs: 20_000 });
  assert.ok(Date.now() - heldAt < 20_000, 'long before the broker\'s 30 s');
  assert.deepEqual(again, [{ offset: 0, deliveryCount: 2 }, { offset: 1, deliveryCount: 2 }]);
  const plain = await ShareConsumer.join(broker.port, `${topic}-plain`, topic, topicId);
  assert.equal((await plain.fetchRaw(0, [], { maxWaitMs: 0 })).acquisitionLockTimeoutMs, 30_000, 'a group without it: the broker\'s');
  for (const c of [hung, other, plain]) await c.leave();
});
