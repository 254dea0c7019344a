/**
 * Share groups (KIP-932) over real sockets against an embedded broker (PGlite coordinator, folder bucket),
 * on a diskless and a classic topic. The consumers are test/helpers/share-consumer.ts (the project's codec
 * over raw sockets: no client installed in CI speaks share groups). Covered: four consumers of one
 * partition each receive records, none twice, every delivery count 1; accept/release/reject with the
 * delivery counts they imply and the delivery-count limit archiving; the records of a consumer that stops
 * acknowledging come back once the lock expires, those of one whose connection closes at once (Kafka's
 * disconnect release); Kafka's errors for bad input; the admin side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { withClient } from '../helpers/raw-client.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { produce } from '../helpers/produce.ts';
import { CLASSIC, createTopic, topicMetadata } from '../helpers/topics.ts';
import { ACCEPT, acksOf, REJECT, RELEASE, ShareConsumer } from '../helpers/share-consumer.ts';
import { waitFor } from '../helpers/wait.ts';

const LOCK_MS = 1500;
const LIMIT = 3;
let broker: TestBroker;

test('setup', async () => {
  broker = await startTestBroker({
    'group.share.record.lock.duration.ms': LOCK_MS,
    'group.share.delivery.count.limit': LIMIT,
    'group.share.heartbeat.interval.ms': 500,
    // The bounds group configs are checked against (Kafka checks the defaults against them too).
    'group.share.min.heartbeat.interval.ms': 500,
    'group.share.min.record.lock.duration.ms': 1000,
    'diskless.commit.interval.ms': 20,
  });
});

async function topicWithId(name: string, configs: Record<string, string>): Promise<string> {
  return withClient(broker.port, async (c) => {
    await createTopic(c, name, 1, configs);
    return (await topicMetadata(c, name)).topicId;
  });
}

async function produceBatches(topic: string, batches: number, perBatch: number, tag: string): Promise<void> {
  await withClient(broker.port, async (c) => {
    for (let b = 0; b < batches; b++) {
      const r = await produce(c, topic, 0, await batchOf(Array.from({ length: perBatch }, (_, i) => `${tag}-${b}-${i}`)));
      assert.equal(r.errorCode, ErrorCode.NONE);
    }
  });
}

for (const kind of ['diskless', 'classic'] as const) {
  const configs = kind === 'classic' ? CLASSIC : {};

  test(`${kind}: 4 consumers of one partition each receive records, none twice, delivery count 1; SPSO at the end`, { timeout: 120_000 }, async () => {
    const topic = `share-four-${kind}`;
    const group = `share-four-${kind}-group`;
    const topicId = await topicWithId(topic, configs);
    const consumers = await Promise.all([0, 1, 2, 3].map(() => ShareConsumer.join(broker.port, group, topic, topicId)));
    for (const c of consumers) assert.deepEqual(c.assignment, [{ topicId, partitions: [0] }], 'every member of a 1-partition topic gets it');
    // Open the sessions (this starts the share partition at the log end: share.auto.offset.reset=latest).
    for (const c of consumers) await c.fetch(0, [], { maxWaitMs: 0 });
    const BATCHES = 40;
    const PER = 5;
    const total = BATCHES * PER;
    const received = new Map<number, number>(); // offset → how many times
    const perConsumer = [0, 0, 0, 0];
    const counts: number[] = [];
    let acked = 0;
    // A backlog, then four consumers racing for it (when records trickle in one at a time, whoever's long poll
    // wakes first takes each one: correct, but it would not show sharing).
    await produceBatches(topic, BATCHES, PER, kind);
    const loops = consumers.map(async (c, i) => {
      let pending: number[] = [];
      while (acked < total) {
        const r = await c.fetch(0, acksOf(pending, ACCEPT), { maxRecords: PER, maxWaitMs: 300 });
        assert.equal(r.ackError, ErrorCode.NONE);
        acked += pending.length;
        pending = [];
        for (const a of r.acquired) {
          received.set(a.offset, (received.get(a.offset) ?? 0) + 1);
          counts.push(a.deliveryCount);
          perConsumer[i]! += 1;
          pending.push(a.offset);
        }
      }
      if (pending.length > 0) {
        assert.equal((await c.acknowledge(0, acksOf(pending, ACCEPT))).partitionError, ErrorCode.NONE);
        acked += pending.length;
      }
    });
    await Promise.all(loops);
    assert.equal(received.size, total, 'every record delivered');
    assert.deepEqual([...received.keys()].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i));
    assert.ok([...received.values()].every((n) => n === 1), 'no record delivered twice');
    assert.ok(counts.every((d) => d === 1), 'every delivery count is 1');
    assert.ok(perConsumer.every((n) => n > 0), `each consumer received records: ${perConsumer}`);

    await withClient(broker.port, async (c) => {
      const d = await c.request(ApiKey.DescribeShareGroupOffsets, 1, { groups: [{ groupId: group, topics: null }] });
      const p = d.groups[0].topics[0].partitions[0];
      assert.equal(p.startOffset, BigInt(total));
      assert.equal(p.lag, 0n);
      const desc = await c.request(ApiKey.ShareGroupDescribe, 1, { groupIds: [group], includeAuthorizedOperations: false });
      assert.equal(desc.groups[0].errorCode, ErrorCode.NONE);
      assert.equal(desc.groups[0].groupState, 'Stable');
      assert.equal(desc.groups[0].members.length, 4);
      const listed = await c.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['share'] });
      assert.ok(listed.groups.some((g: any) => g.groupId === group && g.groupType === 'share'));
      const classic = await c.request(ApiKey.DescribeGroups, 6, { groups: [group], includeAuthorizedOperations: false });
      assert.equal(classic.groups[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
      assert.equal(classic.groups[0].errorMessage, `Group ${group} is not a classic group.`);
    });
    for (const c of consumers) await c.leave();
  });

  test(`${kind}: accept, release, reject; delivery counts; the delivery-count limit archives`, { timeout: 60_000 }, async () => {
    const topic = `share-acks-${kind}`;
    const group = `share-acks-${kind}-group`;
    const topicId = await topicWithId(topic, configs);
    const c = await ShareConsumer.join(broker.port, group, topic, topicId);
    const other = await ShareConsumer.join(broker.port, group, topic, topicId);
    await c.fetch(0, [], { maxWaitMs: 0 });
    await other.fetch(0, [], { maxWaitMs: 0 });
    await produceBatches(topic, 1, 5, 'acks');
    const first = await c.fetch(0, [], { maxWaitMs: 5000 });
    assert.deepEqual(first.acquired, [0, 1, 2, 3, 4].map((offset) => ({ offset, deliveryCount: 1 })));
    // Another member may not acknowledge them; nobody may acknowledge past what was acquired.
    assert.equal((await other.acknowledge(0, [{ firstOffset: 0, lastOffset: 0, types: [ACCEPT] }])).partitionError, ErrorCode.INVALID_RECORD_STATE);
    assert.equal((await c.acknowledge(0, [{ firstOffset: 4, lastOffset: 9, types: [ACCEPT] }])).partitionError, ErrorCode.INVALID_RECORD_STATE);
    // 0 accepted, 1 released, 2 rejected, 3 released, 4 accepted.
    const r = await c.acknowledge(0, [{ firstOffset: 0, lastOffset: 4, types: [ACCEPT, RELEASE, REJECT, RELEASE, ACCEPT] }]);
    assert.equal(r.partitionError, ErrorCode.NONE);
    assert.equal((await c.acknowledge(0, [{ firstOffset: 0, lastOffset: 0, types: [ACCEPT] }])).partitionError, ErrorCode.INVALID_RECORD_STATE, 'acknowledged twice');
    // The released ones come back with delivery count 2, then 3 (the limit); released at the limit: archived.
    for (const dc of [2, 3]) {
      const again = await c.fetch(0, [], { maxWaitMs: 2000 });
      assert.deepEqual(again.acquired, [{ offset: 1, deliveryCount: dc }, { offset: 3, deliveryCount: dc }]);
      assert.ok(again.records > 0, 'the whole batch is sent');
      assert.equal((await c.acknowledge(0, [{ firstOffset: 1, lastOffset: 3, types: [RELEASE, 0, RELEASE] }])).partitionError, ErrorCode.INVALID_RECORD_STATE, 'offset 2 is not acquired');
      assert.equal((await c.acknowledge(0, acksOf([1, 3], RELEASE))).partitionError, ErrorCode.NONE);
    }
    const none = await c.fetch(0, [], { maxWaitMs: 300 });
    assert.deepEqual(none.acquired, [], 'archived past the delivery-count limit');
    await withClient(broker.port, async (raw) => {
      const d = await raw.request(ApiKey.DescribeShareGroupOffsets, 1, { groups: [{ groupId: group, topics: [{ topicName: topic, partitions: [0] }] }] });
      assert.equal(d.groups[0].topics[0].partitions[0].startOffset, 5n, 'the SPSO is past every record');
    });
    await c.leave();
    await other.leave();
  });

  test(`${kind}: a consumer that stops acknowledging (connection kept): its records are redelivered after the lock expires, not before`, { timeout: 60_000 }, async () => {
    const topic = `share-lock-${kind}`;
    const group = `share-lock-${kind}-group`;
    const topicId = await topicWithId(topic, configs);
    const hung = await ShareConsumer.join(broker.port, group, topic, topicId);
    const survivor = await ShareConsumer.join(broker.port, group, topic, topicId);
    await hung.fetch(0, [], { maxWaitMs: 0 });
    await survivor.fetch(0, [], { maxWaitMs: 0 });
    await produceBatches(topic, 2, 3, 'lock');
    const held: number[] = [];
    await waitFor('the first consumer holds every record', async () => {
      held.push(...(await hung.fetch(0, [], { maxWaitMs: 500 })).acquired.map((a) => a.offset));
      return held.length === 6;
    });
    const heldAt = Date.now();
    const early = await survivor.fetch(0, [], { maxWaitMs: 0 });
    if (Date.now() - heldAt < LOCK_MS) assert.deepEqual(early.acquired, [], 'locked records are not redelivered before the lock expires');
    const redelivered: { offset: number; deliveryCount: number }[] = [...early.acquired];
    await waitFor('the records come back after the lock', async () => {
      redelivered.push(...(await survivor.fetch(0, [], { maxWaitMs: 500 })).acquired);
      return redelivered.length === 6;
    }, { timeoutMs: 20_000 });
    assert.ok(Date.now() - heldAt >= LOCK_MS, 'not before the lock duration');
    assert.deepEqual(redelivered.map((a) => a.offset).sort(), [0, 1, 2, 3, 4, 5]);
    assert.ok(redelivered.every((a) => a.deliveryCount === 2));
    assert.equal((await hung.acknowledge(0, acksOf(held, ACCEPT))).partitionError, ErrorCode.INVALID_RECORD_STATE, 'its lock expired');
    assert.equal((await survivor.acknowledge(0, acksOf(redelivered.map((a) => a.offset), ACCEPT))).partitionError, ErrorCode.NONE);
    await hung.leave();
    await survivor.leave();
  });

  test(`${kind}: a consumer killed holding records (its connection closes): they are released at once and redelivered, as Kafka does`, { timeout: 60_000 }, async () => {
    const topic = `share-killed-${kind}`;
    const group = `share-killed-${kind}-group`;
    const topicId = await topicWithId(topic, configs);
    const dying = await ShareConsumer.join(broker.port, group, topic, topicId);
    const survivor = await ShareConsumer.join(broker.port, group, topic, topicId);
    await dying.fetch(0, [], { maxWaitMs: 0 });
    await survivor.fetch(0, [], { maxWaitMs: 0 });
    await produceBatches(topic, 2, 3, 'killed');
    const held: number[] = [];
    await waitFor('the first consumer holds every record', async () => {
      held.push(...(await dying.fetch(0, [], { maxWaitMs: 500 })).acquired.map((a) => a.offset));
      return held.length === 6;
    });
    dying.client.close(); // gone without acknowledging
    const redelivered: { offset: number; deliveryCount: number }[] = [];
    await waitFor('the records come back', async () => {
      redelivered.push(...(await survivor.fetch(0, [], { maxWaitMs: 200 })).acquired);
      return redelivered.length === 6;
    }, { timeoutMs: 20_000 });
    assert.deepEqual(redelivered.map((a) => a.offset).sort(), [0, 1, 2, 3, 4, 5]);
    assert.ok(redelivered.every((a) => a.deliveryCount === 2), 'delivered once before');
    assert.equal((await survivor.acknowledge(0, acksOf(redelivered.map((a) => a.offset), ACCEPT))).partitionError, ErrorCode.NONE);
    await survivor.leave();
  });
}

test('bad input: Kafka\'s error codes', { timeout: 60_000 }, async () => {
  const topic = 'share-bad';
  const group = 'share-bad-group';
  const topicId = await topicWithId(topic, {});
  const c = await ShareConsumer.join(broker.port, group, topic, topicId);
  await withClient(broker.port, async (raw) => {
    const hb = (body: Record<string, unknown>) => raw.request(ApiKey.ShareGroupHeartbeat, 1, { groupId: group, memberId: c.memberId, rackId: null, subscribedTopicNames: null, ...body });
    assert.equal((await hb({ memberEpoch: c.memberEpoch + 5 })).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
    assert.equal((await hb({ memberId: 'nobody', memberEpoch: 3 })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal((await hb({ memberId: '', memberEpoch: 0 })).errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal((await hb({ memberId: 'new', memberEpoch: 0 })).errorCode, ErrorCode.INVALID_REQUEST, 'no subscription on joining');
    assert.equal((await hb({ memberId: 'x'.repeat(37), memberEpoch: 0, subscribedTopicNames: [topic] })).errorCode, ErrorCode.INVALID_REQUEST, 'member id longer than 36');
    assert.equal((await hb({ memberEpoch: -2 })).errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal((await hb({ groupId: 'share-no-such-group', memberEpoch: 4 })).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    // The previous epoch is accepted (its answer may have been lost); older ones are fenced.
    const current = c.memberEpoch;
    const bumped = await ShareConsumer.join(broker.port, group, topic, topicId); // the group epoch moves
    const again = await hb({ memberEpoch: current });
    assert.equal(again.errorCode, ErrorCode.NONE);
    assert.ok(again.memberEpoch > current);
    const lost = await hb({ memberEpoch: current }); // as if the answer above was lost
    assert.equal(lost.errorCode, ErrorCode.NONE, 'the previous epoch is accepted');
    assert.equal(lost.memberEpoch, again.memberEpoch);
    c.memberEpoch = again.memberEpoch;
    await bumped.leave();
    const desc = await raw.request(ApiKey.ShareGroupDescribe, 1, { groupIds: ['share-no-such-group'], includeAuthorizedOperations: false });
    assert.equal(desc.groups[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  });
  // Share sessions.
  assert.equal((await c.fetchRaw(0, [], { epoch: 3, maxWaitMs: 0 })).errorCode, ErrorCode.SHARE_SESSION_NOT_FOUND);
  assert.equal((await c.fetchRaw(0, [{ firstOffset: 0, lastOffset: 0, types: [ACCEPT] }], { epoch: 0, maxWaitMs: 0 })).errorCode, ErrorCode.INVALID_REQUEST, 'acknowledgements when opening a session');
  assert.equal((await c.fetchRaw(0, [], { epoch: 0, maxWaitMs: 0 })).errorCode, ErrorCode.NONE);
  assert.equal((await c.fetchRaw(0, [], { epoch: 7, maxWaitMs: 0 })).errorCode, ErrorCode.INVALID_SHARE_SESSION_EPOCH);
  assert.equal((await c.acknowledge(0, [], 0)).errorCode, ErrorCode.INVALID_SHARE_SESSION_EPOCH);
  const stranger = await ShareConsumer.join(broker.port, 'share-other-group', topic, topicId);
  await stranger.leave();
  const longId = await withClient(broker.port, (raw) => raw.request(ApiKey.ShareFetch, 1, {
    groupId: group, memberId: 'x'.repeat(37), shareSessionEpoch: 0, maxWaitMs: 0, minBytes: 0, maxBytes: 1024, maxRecords: 10, batchSize: 10,
    topics: [{ topicId, partitions: [{ partitionIndex: 0, acknowledgementBatches: [] }] }], forgottenTopicsData: [],
  }));
  assert.equal(longId.errorCode, ErrorCode.INVALID_REQUEST, 'a member id longer than 36');
  // RENEW (v2) only with IsRenewAck, which fetches nothing and needs the fetch limits at 0.
  const renew = await withClient(broker.port, (raw) => raw.request(ApiKey.ShareFetch, 2, {
    groupId: group, memberId: c.memberId, shareSessionEpoch: c.sessionEpoch, maxWaitMs: 100, minBytes: 0, maxBytes: 1024, maxRecords: 10, batchSize: 10, isRenewAck: true,
    topics: [], forgottenTopicsData: [],
  }));
  assert.equal(renew.errorCode, ErrorCode.INVALID_REQUEST);
  const renewAck = await c.client.request(ApiKey.ShareAcknowledge, 2, {
    groupId: group, memberId: c.memberId, shareSessionEpoch: c.sessionEpoch, isRenewAck: false,
    topics: [{ topicId, partitions: [{ partitionIndex: 0, acknowledgementBatches: [{ firstOffset: 0n, lastOffset: 0n, acknowledgeTypes: [4] }] }] }],
  });
  assert.equal(renewAck.errorCode, ErrorCode.NONE);
  c.sessionEpoch += 1;
  assert.equal(renewAck.responses[0].partitions[0].errorCode, ErrorCode.INVALID_REQUEST, 'RENEW without IsRenewAck');
  // Admin: offsets only change while the group is empty; DeleteGroups likewise.
  await withClient(broker.port, async (raw) => {
    const alter = await raw.request(ApiKey.AlterShareGroupOffsets, 0, { groupId: group, topics: [{ topicName: topic, partitions: [{ partitionIndex: 0, startOffset: 0n }] }] });
    assert.equal(alter.errorCode, ErrorCode.NON_EMPTY_GROUP);
    const del = await raw.request(ApiKey.DeleteGroups, 2, { groupsNames: [group] });
    assert.equal(del.results[0].errorCode, ErrorCode.NON_EMPTY_GROUP);
  });
  await c.leave();
  await withClient(broker.port, async (raw) => {
    await produce(raw, topic, 0, await batchOf(['a', 'b', 'c']));
    const alter = await raw.request(ApiKey.AlterShareGroupOffsets, 0, { groupId: group, topics: [{ topicName: topic, partitions: [{ partitionIndex: 0, startOffset: 1n }] }] });
    assert.equal(alter.errorCode, ErrorCode.NONE);
    assert.equal(alter.responses[0].partitions[0].errorCode, ErrorCode.NONE);
    const d = await raw.request(ApiKey.DescribeShareGroupOffsets, 1, { groups: [{ groupId: group, topics: null }] });
    assert.equal(d.groups[0].topics[0].partitions[0].startOffset, 1n);
    assert.equal(d.groups[0].topics[0].partitions[0].lag, 2n);
    const delOffsets = await raw.request(ApiKey.DeleteShareGroupOffsets, 0, { groupId: group, topics: [{ topicName: topic }] });
    assert.equal(delOffsets.errorCode, ErrorCode.NONE);
    const after = await raw.request(ApiKey.DescribeShareGroupOffsets, 1, { groups: [{ groupId: group, topics: null }] });
    assert.deepEqual(after.groups[0].topics, []);
    const del = await raw.request(ApiKey.DeleteGroups, 2, { groupsNames: [group] });
    assert.equal(del.results[0].errorCode, ErrorCode.NONE);
    const listed = await raw.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['share'] });
    assert.ok(!listed.groups.some((g: any) => g.groupId === group));
  });
});

test('share.auto.offset.reset=earliest set on the group (IncrementalAlterConfigs, GROUP resource): a new share partition starts at the log start', { timeout: 60_000 }, async () => {
  const topic = 'share-reset-earliest';
  const group = 'share-reset-earliest-group';
  const topicId = await topicWithId(topic, {});
  await produceBatches(topic, 2, 5, 'old');
  await withClient(broker.port, async (c) => {
    const r = await c.request(ApiKey.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: 32, resourceName: group, configs: [{ name: 'share.auto.offset.reset', configOperation: 0, value: 'earliest' }] }],
      validateOnly: false,
    });
    assert.equal(r.responses[0].errorCode, ErrorCode.NONE, r.responses[0].errorMessage);
  });
  const consumer = await ShareConsumer.join(broker.port, group, topic, topicId);
  const offsets: number[] = [];
  await waitFor('the records produced before the group existed', async () => {
    const r = await consumer.fetch(0, [], { maxRecords: 100, maxWaitMs: 300 });
    for (const a of r.acquired) offsets.push(a.offset);
    return offsets.length >= 10;
  }, { timeoutMs: 30_000, intervalMs: 50 });
  assert.deepEqual(offsets.sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i));
  await consumer.leave();
});
