/**
 * The share-partition rules (src/groups/share-partition-state.ts) on their own: acquisition by whole batches
 * and by record limit, control batches and offset gaps, lock expiry and the delivery-count limit,
 * acknowledgement checks and types, the SPSO's moves, release of a member's records, aborted transactions'
 * batches (read_committed), the events counted for /metrics; and the share-group
 * assignor (src/groups/share-group-state.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acknowledge,
  acquire,
  firstAcquirableOffset,
  initialState,
  moveToLogStart,
  noEvents,
  RecordState,
  releaseMember,
  type BatchExtent,
  type SharePartitionState,
} from '../../src/groups/share-partition-state.ts';
import { assign, type ShareMember } from '../../src/groups/share-group-state.ts';

const RULES = { lockDurationMs: 1000, deliveryCountLimit: 3 };
const batch = (baseOffset: number, lastOffset: number, control = false): BatchExtent => ({ baseOffset, lastOffset, control });

function ok(r: ReturnType<typeof acknowledge>): SharePartitionState {
  assert.ok(!('error' in r), JSON.stringify(r));
  return (r as { state: SharePartitionState }).state;
}

test('acquisition takes whole batches up to max records; a second member gets the rest; record-limit mode is exact', () => {
  const s0 = initialState(0);
  const a = acquire(s0, 'm1', [batch(0, 4), batch(5, 9), batch(10, 14)], 0, RULES, 6, false);
  assert.deepEqual(a.acquired, [{ firstOffset: 0, lastOffset: 9, deliveryCount: 1 }], 'the batch that reaches 6 goes whole');
  const b = acquire(a.state, 'm2', [batch(0, 4), batch(5, 9), batch(10, 14)], 0, RULES, 100, false);
  assert.deepEqual(b.acquired, [{ firstOffset: 10, lastOffset: 14, deliveryCount: 1 }], 'nothing twice');
  const c = acquire(s0, 'm1', [batch(0, 9)], 0, RULES, 3, true);
  assert.deepEqual(c.acquired, [{ firstOffset: 0, lastOffset: 2, deliveryCount: 1 }], 'ShareAcquireMode record_limit');
  assert.equal(c.state.endOffset, 3);
  const d = acquire(c.state, 'm2', [batch(0, 9)], 0, RULES, 100, false);
  assert.deepEqual(d.acquired, [{ firstOffset: 3, lastOffset: 9, deliveryCount: 1 }], 'the rest of a partly acquired batch');
});

test('control batches and offset gaps are archived, never delivered; the SPSO passes them', () => {
  const r = acquire(initialState(0), 'm', [batch(0, 1), batch(2, 2, true), batch(5, 6)], 0, RULES, 100, false);
  assert.deepEqual(r.acquired, [{ firstOffset: 0, lastOffset: 1, deliveryCount: 1 }, { firstOffset: 5, lastOffset: 6, deliveryCount: 1 }]);
  const s = ok(acknowledge(r.state, 'm', [{ firstOffset: 0, lastOffset: 1, acknowledgeTypes: [1] }, { firstOffset: 5, lastOffset: 6, acknowledgeTypes: [1] }], 0, RULES, false));
  assert.equal(s.startOffset, 7);
  assert.deepEqual(s.inFlight, []);
});

test('a lock expires: the records are available again with their delivery count; past the limit they are archived', () => {
  let s = acquire(initialState(0), 'm1', [batch(0, 1)], 0, RULES, 100, false).state;
  assert.equal(firstAcquirableOffset(s, 500, RULES), 2, 'still locked');
  assert.equal(firstAcquirableOffset(s, 1001, RULES), 0, 'lock expired');
  const again = acquire(s, 'm2', [batch(0, 1)], 1001, RULES, 100, false);
  assert.deepEqual(again.acquired, [{ firstOffset: 0, lastOffset: 1, deliveryCount: 2 }]);
  s = acquire(again.state, 'm3', [batch(0, 1)], 2002, RULES, 100, false).state;
  assert.equal(s.inFlight[0]!.deliveryCount, 3);
  // The third lock expires at the limit (3): archived.
  const after = acquire(s, 'm1', [batch(0, 1)], 3003, RULES, 100, false);
  assert.deepEqual(after.acquired, []);
  assert.equal(after.state.startOffset, 2, 'the SPSO passes archived records');
  // The late holder may no longer acknowledge.
  const late = acknowledge(s, 'm3', [{ firstOffset: 0, lastOffset: 1, acknowledgeTypes: [1] }], 3003, RULES, false);
  assert.deepEqual('error' in late && late.error, 'INVALID_RECORD_STATE');
});

test('acknowledgements: per-offset types, all or nothing, Kafka\'s checks', () => {
  const s = acquire(initialState(10), 'm', [batch(10, 14)], 0, RULES, 100, false).state;
  const refused = (r: ReturnType<typeof acknowledge>) => ('error' in r ? r.error : null);
  assert.equal(refused(acknowledge(s, 'other', [{ firstOffset: 10, lastOffset: 10, acknowledgeTypes: [1] }], 0, RULES, false)), 'INVALID_RECORD_STATE');
  assert.equal(refused(acknowledge(s, 'm', [{ firstOffset: 12, lastOffset: 15, acknowledgeTypes: [1] }], 0, RULES, false)), 'INVALID_RECORD_STATE');
  assert.equal(refused(acknowledge(s, 'm', [{ firstOffset: 10, lastOffset: 12, acknowledgeTypes: [1, 1] }], 0, RULES, false)), 'INVALID_REQUEST');
  assert.equal(refused(acknowledge(s, 'm', [{ firstOffset: 12, lastOffset: 13, acknowledgeTypes: [1] }, { firstOffset: 10, lastOffset: 11, acknowledgeTypes: [1] }], 0, RULES, false)), 'INVALID_REQUEST');
  assert.equal(refused(acknowledge(s, 'm', [{ firstOffset: 10, lastOffset: 10, acknowledgeTypes: [4] }], 0, RULES, false)), 'INVALID_REQUEST', 'RENEW needs IsRenewAck');
  assert.equal(refused(acknowledge(s, 'm', [{ firstOffset: 10, lastOffset: 10, acknowledgeTypes: [5] }], 0, RULES, true)), 'INVALID_REQUEST');
  // A refused request changed nothing; then: accept, release, reject, gap, accept.
  const t = ok(acknowledge(s, 'm', [{ firstOffset: 10, lastOffset: 14, acknowledgeTypes: [1, 2, 3, 0, 1] }], 0, RULES, false));
  assert.equal(t.startOffset, 11);
  assert.deepEqual(t.inFlight.map((r) => [r.first, r.last, r.state]), [[11, 11, RecordState.AVAILABLE], [12, 13, RecordState.ARCHIVED], [14, 14, RecordState.ACKNOWLEDGED]]);
  const again = acquire(t, 'm2', [batch(10, 14)], 0, RULES, 100, false);
  assert.deepEqual(again.acquired, [{ firstOffset: 11, lastOffset: 11, deliveryCount: 2 }], 'only the released record comes back');
  // RENEW extends the lock.
  const renewed = ok(acknowledge(again.state, 'm2', [{ firstOffset: 11, lastOffset: 11, acknowledgeTypes: [4] }], 900, RULES, true));
  assert.equal(renewed.inFlight[0]!.lockUntil, 1900);
});

test('releaseMember gives back only that member\'s records; moveToLogStart drops what retention removed', () => {
  let s = acquire(initialState(0), 'a', [batch(0, 4)], 0, RULES, 100, false).state;
  s = acquire(s, 'b', [batch(5, 9)], 0, RULES, 100, false).state;
  const r = releaseMember(s, 'a', 10, RULES);
  assert.deepEqual(r.inFlight.map((x) => [x.first, x.last, x.state, x.member]), [[0, 4, RecordState.AVAILABLE, null], [5, 9, RecordState.ACQUIRED, 'b']]);
  moveToLogStart(r, 7);
  assert.equal(r.startOffset, 7);
  assert.deepEqual(r.inFlight.map((x) => [x.first, x.last]), [[7, 9]]);
});

test('assignor: partitions spread over subscribers; with fewer partitions than members every member gets one', () => {
  const member = (memberId: string, topics: string[]): ShareMember => ({ memberId, memberEpoch: 0, clientId: '', clientHost: '', rackId: null, subscribedTopicNames: topics, lastHeartbeatMs: 0, assignment: {} });
  const topics = { get: (name: string) => (name === 'one' ? { topicId: 'T1', partitionCount: 1 } : name === 'six' ? { topicId: 'T6', partitionCount: 6 } : undefined) };
  const single = assign(['a', 'b', 'c', 'd'].map((m) => member(m, ['one'])), topics);
  for (const m of ['a', 'b', 'c', 'd']) assert.deepEqual(single.get(m), { T1: [0] });
  const six = assign(['a', 'b', 'c', 'd'].map((m) => member(m, ['six'])), topics);
  const all = [...six.values()].flatMap((a) => a['T6'] ?? []).sort();
  assert.deepEqual(all, [0, 1, 2, 3, 4, 5], 'every partition once');
  assert.ok([...six.values()].every((a) => (a['T6'] ?? []).length >= 1));
});

test('aborted batches (read_committed) are archived as they are passed, in flight or new, never acquired; the events count them', () => {
  const events = noEvents();
  const aborted = (baseOffset: number, lastOffset: number): BatchExtent => ({ baseOffset, lastOffset, control: false, aborted: true });
  const a = acquire(initialState(0), 'm1', [batch(0, 1), aborted(2, 4), batch(5, 5, true), batch(6, 7)], 0, RULES, 100, false, events);
  assert.deepEqual(a.acquired, [{ firstOffset: 0, lastOffset: 1, deliveryCount: 1 }, { firstOffset: 6, lastOffset: 7, deliveryCount: 1 }]);
  assert.deepEqual(a.state.inFlight.find((r) => r.first === 2), { first: 2, last: 5, state: RecordState.ARCHIVED, deliveryCount: 0, member: null, lockUntil: 0 });
  assert.equal(events.archivedAborted, 3);
  assert.equal(events.acquired, 4);
  // Records once delivered read_uncommitted and released, then read by a read_committed fetch: archived too.
  const ru = acquire(initialState(0), 'm1', [batch(0, 2)], 0, RULES, 100, false);
  const released = releaseMember(ru.state, 'm1', 0, RULES);
  const rc = acquire(released, 'm2', [aborted(0, 2)], 0, RULES, 100, false, events);
  assert.deepEqual(rc.acquired, []);
  assert.equal(rc.state.startOffset, 3, 'the SPSO passes them');
  assert.equal(events.archivedAborted, 6);
});

test('events: acknowledgements by type, lock timeouts and archiving at the limit; a refused acknowledgement counts nothing', () => {
  const events = noEvents();
  const a = acquire(initialState(0), 'm1', [batch(0, 9)], 0, RULES, 100, false, events);
  const acked = ok(acknowledge(a.state, 'm1', [{ firstOffset: 0, lastOffset: 5, acknowledgeTypes: [1, 1, 3, 2, 2, 0] }], 10, RULES, false, events));
  assert.deepEqual(events.acknowledged, { 1: 2, 2: 2, 3: 1 }, 'gaps are not counted, as Kafka');
  const refused = acknowledge(acked, 'm1', [{ firstOffset: 0, lastOffset: 0, acknowledgeTypes: [1] }], 10, RULES, false, events);
  assert.ok('error' in refused);
  assert.deepEqual(events.acknowledged, { 1: 2, 2: 2, 3: 1 });
  // 6-9 time out (lock 1000 ms): 4 lock timeouts, available again at delivery count 1.
  const later = acquire(acked, 'm2', [batch(0, 9)], 2000, RULES, 100, false, events);
  assert.equal(events.lockTimeouts, 4);
  assert.deepEqual(later.acquired, [{ firstOffset: 3, lastOffset: 4, deliveryCount: 2 }, { firstOffset: 6, lastOffset: 9, deliveryCount: 2 }]);
  // Twice more to the limit of 3: the release at the limit archives.
  const third = acquire(releaseMember(later.state, 'm2', 2001, RULES, events), 'm2', [batch(0, 9)], 2002, RULES, 100, false, events);
  assert.equal(events.archivedAtLimit, 0);
  releaseMember(third.state, 'm2', 2003, RULES, events);
  assert.equal(events.archivedAtLimit, 6);
  assert.equal(events.acquired, 10 + 6 + 6);
});
