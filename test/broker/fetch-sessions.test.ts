/**
 * Fetch sessions (KIP-227) over raw requests, as the Java consumer's FetchSessionHandler uses them: a full
 * request (epoch 0) opens a session, incremental ones name only what changed and get only the partitions with
 * news; forgotten partitions leave the session, epoch -1 closes it; Kafka's session errors; sessions by topic
 * id (v13+); the cache bound; and an incremental request that long-polls.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, withClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { produce } from '../helpers/produce.ts';
import { createTopics, topicMetadata } from '../helpers/topics.ts';
import { valuesIn } from '../helpers/fetch.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import type { FetchResponse } from '../../src/protocol/gen/messages/fetch.ts';

let broker: TestBroker;
const T = 'sessions';

before(async () => {
  broker = await startTestBroker();
  await withClient(broker.port, async (c) => {
    await createTopics(c, [{ name: T, partitions: 3 }, { name: 'sessions-ids', partitions: 2 }, { name: 'sessions-forget', partitions: 2 }]);
    assert.equal((await produce(c, T, 0, ['a0', 'a1'])).errorCode, 0);
    assert.equal((await produce(c, T, 1, ['b0'])).errorCode, 0);
  });
});
after(() => broker.close());

interface Part { partition: number; offset: bigint; topicId?: string }

function request(sessionId: number, sessionEpoch: number, topic: string, parts: Part[], extra: Record<string, unknown> = {}) {
  return {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId, sessionEpoch, rackId: '',
    topics: parts.length === 0 ? [] : [{ topic, topicId: parts[0]!.topicId, partitions: parts.map((p) => ({ partition: p.partition, fetchOffset: p.offset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 })) }],
    forgottenTopicsData: [],
    ...extra,
  };
}

/** [partition, error, high watermark, values] of every partition the response carries, in order. */
async function summary(r: FetchResponse): Promise<[number, number, bigint, string[]][]> {
  const out: [number, number, bigint, string[]][] = [];
  for (const t of r.responses) for (const p of t.partitions) out.push([p.partitionIndex, p.errorCode, p.highWatermark, await valuesIn(p.records)]);
  return out;
}

test('a full request opens a session; incremental requests get only partitions with records or new watermarks', async () => {
  const c = await RawClient.connect(broker.port);
  const full = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(0, 0, T, [0, 1, 2].map((partition) => ({ partition, offset: 0n }))));
  assert.equal(full.errorCode, 0);
  assert.ok(full.sessionId > 0, 'a session was created');
  assert.deepEqual(await summary(full), [[0, 0, 2n, ['a0', 'a1']], [1, 0, 1n, ['b0']], [2, 0, 0n, []]]);
  const id = full.sessionId;

  // The consumer moved its positions on 0 and 1: nothing new anywhere, so nothing in the response.
  const quiet = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, 1, T, [{ partition: 0, offset: 2n }, { partition: 1, offset: 1n }]));
  assert.deepEqual([quiet.errorCode, quiet.sessionId, quiet.responses], [0, id, []]);

  // New records on partition 2 only: a request naming nothing gets that partition alone.
  assert.equal((await produce(c, T, 2, ['c0'])).errorCode, 0);
  const news = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, 2, T, []));
  assert.deepEqual([news.errorCode, news.sessionId], [0, id]);
  assert.deepEqual(await summary(news), [[2, 0, 1n, ['c0']]]);

  // The session still reads partition 2 from 0 until told otherwise (the records come again).
  const again = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, 3, T, []));
  assert.deepEqual(await summary(again), [[2, 0, 1n, ['c0']]]);
  const moved = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, 4, T, [{ partition: 2, offset: 1n }]));
  assert.deepEqual(moved.responses, []);

  // A high watermark that moved without records for this consumer (its position beyond them) is reported.
  assert.equal((await produce(c, T, 0, ['a2'])).errorCode, 0);
  const hwm = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, 5, T, [{ partition: 0, offset: 3n }]));
  assert.deepEqual(await summary(hwm), [[0, 0, 3n, []]]);

  // Kafka's session errors: a used epoch, an unknown id; neither disturbs the session.
  const stale = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, 5, T, []));
  assert.deepEqual([stale.errorCode, stale.sessionId, stale.responses], [ErrorCode.INVALID_FETCH_SESSION_EPOCH, 0, []]);
  const unknown = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id + 1, 1, T, []));
  assert.deepEqual([unknown.errorCode, unknown.sessionId], [ErrorCode.FETCH_SESSION_ID_NOT_FOUND, 0]);
  const noId = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(0, 3, T, []));
  assert.equal(noId.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  assert.equal((await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, 6, T, []))).errorCode, 0);

  // Epoch -1 closes the session and fetches without one.
  const close = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, -1, T, [{ partition: 1, offset: 0n }]));
  assert.deepEqual([close.errorCode, close.sessionId], [0, 0]);
  assert.deepEqual(await summary(close), [[1, 0, 1n, ['b0']]]);
  assert.equal((await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, 7, T, []))).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  c.close();
});

test('a full request naming a session closes it and opens a new one; below v7 no session is opened', async () => {
  const c = await RawClient.connect(broker.port);
  const first = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(0, 0, T, [{ partition: 0, offset: 0n }]));
  const second = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(first.sessionId, 0, T, [{ partition: 1, offset: 0n }]));
  assert.ok(first.sessionId > 0 && second.sessionId > 0 && second.sessionId !== first.sessionId);
  assert.equal((await c.request<FetchResponse>(ApiKey.Fetch, 12, request(first.sessionId, 1, T, []))).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  const next = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(second.sessionId, 1, T, []));
  assert.deepEqual([next.errorCode, next.sessionId], [0, second.sessionId]);
  const before = broker.broker.fetchSessions.stats().sessions;
  const old = await c.request<FetchResponse>(ApiKey.Fetch, 6, request(0, 0, T, [{ partition: 0, offset: 0n }]));
  assert.equal(old.responses[0]!.partitions[0]!.errorCode, 0);
  assert.equal(broker.broker.fetchSessions.stats().sessions, before, 'Fetch v6 has no sessions');
  c.close();
});

test('forgotten partitions leave the session; a session with none left is closed', async () => {
  const c = await RawClient.connect(broker.port);
  const topic = 'sessions-forget';
  const full = await c.request<FetchResponse>(ApiKey.Fetch, 11, request(0, 0, topic, [{ partition: 0, offset: 0n }, { partition: 1, offset: 0n }]));
  const id = full.sessionId;
  assert.ok(id > 0);
  const forget1 = await c.request<FetchResponse>(ApiKey.Fetch, 11, request(id, 1, topic, [], { forgottenTopicsData: [{ topic, partitions: [1] }] }));
  assert.deepEqual([forget1.errorCode, forget1.responses], [0, []]);
  assert.equal((await produce(c, topic, 1, ['x'])).errorCode, 0);
  assert.equal((await produce(c, topic, 0, ['y'])).errorCode, 0);
  const after1 = await c.request<FetchResponse>(ApiKey.Fetch, 11, request(id, 2, topic, []));
  assert.deepEqual(await summary(after1), [[0, 0, 1n, ['y']]], 'the forgotten partition is no longer read');
  // Re-adding it in an incremental request reads it again.
  const readd = await c.request<FetchResponse>(ApiKey.Fetch, 11, request(id, 3, topic, [{ partition: 0, offset: 1n }, { partition: 1, offset: 0n }]));
  assert.deepEqual(await summary(readd), [[1, 0, 1n, ['x']]]);
  const empty = await c.request<FetchResponse>(ApiKey.Fetch, 11, request(id, 4, topic, [], { forgottenTopicsData: [{ topic, partitions: [0, 1] }] }));
  assert.deepEqual([empty.errorCode, empty.sessionId, empty.responses], [0, 0, []]);
  assert.equal((await c.request<FetchResponse>(ApiKey.Fetch, 11, request(id, 5, topic, []))).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  c.close();
});

test('v13+ sessions are by topic id: FETCH_SESSION_TOPIC_ID_ERROR across the change, UNKNOWN_TOPIC_ID always answered', async () => {
  const c = await RawClient.connect(broker.port);
  const topicId = (await topicMetadata(c, 'sessions-ids')).topicId;
  assert.equal((await produce(c, 'sessions-ids', 1, ['i0'])).errorCode, 0);
  const missing = '0badc0de-0000-4000-8000-000000000001';
  const full = await c.request<FetchResponse>(ApiKey.Fetch, 13, {
    ...request(0, 0, '', []),
    topics: [
      { topicId, partitions: [0, 1].map((partition) => ({ partition, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 })) },
      { topicId: missing, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] },
    ],
  });
  const id = full.sessionId;
  assert.ok(id > 0);
  assert.deepEqual(full.responses.map((t) => [t.topicId, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]), [[topicId, [[0, 0], [1, 0]]], [missing, [[0, ErrorCode.UNKNOWN_TOPIC_ID]]]]);
  const next = await c.request<FetchResponse>(ApiKey.Fetch, 13, { ...request(id, 1, '', [{ partition: 1, offset: 1n, topicId }]) });
  assert.equal(next.errorCode, 0);
  assert.deepEqual(next.responses.map((t) => [t.topicId, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]), [[missing, [[0, ErrorCode.UNKNOWN_TOPIC_ID]]]], 'only the partition in error');
  const byName = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, 2, 'sessions-ids', []));
  assert.deepEqual([byName.errorCode, byName.sessionId], [ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR, 0]);
  const forgetById = await c.request<FetchResponse>(ApiKey.Fetch, 13, { ...request(id, 2, '', []), forgottenTopicsData: [{ topicId: missing, partitions: [0] }] });
  assert.deepEqual([forgetById.errorCode, forgetById.responses], [0, []]);
  c.close();
});

test('an incremental request long-polls over the whole session and wakes on a produce', async () => {
  const c = await RawClient.connect(broker.port);
  const full = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(0, 0, T, [0, 1, 2].map((partition) => ({ partition, offset: 100n }))));
  const id = full.sessionId;
  const hwm = new Map(full.responses[0]!.partitions.map((p) => [p.partitionIndex, p.highWatermark]));
  // Positions at the ends (the out-of-range answers above carry the watermarks).
  const ends = [0, 1, 2].map((partition) => ({ partition, offset: hwm.get(partition)! }));
  const caught = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, 1, T, ends));
  assert.equal(caught.errorCode, 0);
  const started = Date.now();
  const polling = c.request<FetchResponse>(ApiKey.Fetch, 12, request(id, 2, T, [], { maxWaitMs: 20_000, minBytes: 1 }));
  await withClient(broker.port, async (p) => assert.equal((await produce(p, T, 1, ['late'])).errorCode, 0));
  const woken = await polling;
  assert.ok(Date.now() - started < 15_000, 'woken by the produce, not by max.wait.ms');
  assert.deepEqual(await summary(woken), [[1, 0, hwm.get(1)! + 1n, ['late']]]);
  c.close();
});

test('max.incremental.fetch.session.cache.slots bounds the sessions; 0 disables them', async () => {
  for (const [slots, expectSecond] of [[1, false], [0, false], [2, true]] as const) {
    const b = await startTestBroker({ 'max.incremental.fetch.session.cache.slots': slots });
    await withClient(b.port, async (c) => {
      await createTopics(c, [{ name: 'slots', partitions: 1 }]);
      const first = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(0, 0, 'slots', [{ partition: 0, offset: 0n }]));
      const second = await c.request<FetchResponse>(ApiKey.Fetch, 12, request(0, 0, 'slots', [{ partition: 0, offset: 0n }]));
      assert.equal(first.sessionId > 0, slots > 0, `slots=${slots}: first`);
      assert.equal(second.sessionId > 0, expectSecond, `slots=${slots}: second`);
      assert.equal(second.errorCode, 0);
      assert.equal(second.responses[0]!.partitions[0]!.errorCode, 0, 'answered without a session');
    });
    await b.close();
  }
});
