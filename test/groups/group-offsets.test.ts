/**
 * GroupOffsets with the real protocol and owned groups on a real (in-memory PGlite) coordinator and a
 * manual clock: what offsets do with the groups around them — expiry leaving alone the groups another
 * broker coordinates, member commits during a rebalance and as a sign of life, and OffsetDelete taking an
 * empty group with its last offsets. The request-level rules (versions, per-partition errors) are pinned
 * through raw requests in offsets.test.ts.
 */
import { ConsumerGroupProtocol } from '../../src/groups/consumer-group-protocol.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Coordinator, TopicInfo } from '../../src/coordinator/coordinator.ts';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ClassicProtocol, type JoinParams } from '../../src/groups/classic-protocol.ts';
import { encodeSubscription } from '../../src/groups/consumer-protocol.ts';
import { GroupOffsets, type CommitParams } from '../../src/groups/group-offsets.ts';
import type { GroupCoordinatorOptions } from '../../src/groups/group-options.ts';
import { OwnedGroups } from '../../src/groups/owned-groups.ts';

const RETENTION_MS = 60_000;
const SESSION_MS = 5000;

let store: SqlCoordinator;
let subscribed: TopicInfo;
let other: TopicInfo;
/** The brokers' clock (ms). */
let now = 1_000_000;

before(async () => {
  store = await openPGliteCoordinator(null);
  subscribed = await store.createTopic({ name: 'subscribed', partitionCount: 2, diskless: true, configs: {} });
  other = await store.createTopic({ name: 'other', partitionCount: 1, diskless: true, configs: {} });
});
after(() => store.close());

/** Which broker ('A' or 'B') coordinates each group; 'A' unless set. */
const placement = new Map<string, 'A' | 'B'>();

function broker(name: 'A' | 'B', coordinator: Coordinator = store): { owned: OwnedGroups; protocol: ClassicProtocol; offsets: GroupOffsets } {
  const options: GroupCoordinatorOptions = {
    initialRebalanceDelayMs: 0, minSessionTimeoutMs: 10, maxSessionTimeoutMs: 600_000, maxSize: 100,
    offsetsRetentionMs: RETENTION_MS, offsetsRetentionCheckIntervalMs: 600_000, offsetMetadataMaxBytes: 4096,
    now: () => now, owns: (groupId) => (placement.get(groupId) ?? 'A') === name,
  };
  const owned = new OwnedGroups(coordinator, options);
  const protocol = new ClassicProtocol(owned, options);
  return { owned, protocol, offsets: new GroupOffsets(coordinator, owned, protocol, new ConsumerGroupProtocol(owned, options), options) };
}

const join = (groupId: string): JoinParams => ({
  groupId, memberId: '', groupInstanceId: null, requireKnownMemberId: false, supportSkippingAssignment: false, clientId: 'c', clientHost: '/127.0.0.1',
  rebalanceTimeoutMs: SESSION_MS, sessionTimeoutMs: SESSION_MS, protocolType: 'consumer', protocols: [{ name: 'range', metadata: encodeSubscription(['subscribed']) }], reason: null,
});

/** A commit of offset `offset` for each topic's partition 0; a simple commit unless a member is given. */
const commit = (groupId: string, topics: TopicInfo[], offset: number, m: { generationId: number; memberId: string } = { generationId: -1, memberId: '' }): CommitParams => ({
  groupId, ...m, groupInstanceId: null, retentionTimeMs: -1,
  commits: topics.map((t) => ({ topicId: t.topicId, partition: 0, offset: BigInt(offset), leaderEpoch: -1, metadata: '' })),
});

const committed = async (groupId: string) => (await store.fetchGroupOffsets([groupId])).map((r) => `${r.topicName}:${r.partition}=${r.offset}`);

test('expiry leaves alone the offsets of groups another broker coordinates; this broker\'s simple group expires and goes', async () => {
  const a = broker('A');
  const b = broker('B');
  placement.set('theirs', 'B');
  await Promise.all([a.owned.load(), b.owned.load()]);
  assert.deepEqual(await b.offsets.commitOffsets(commit('theirs', [subscribed], 5)), [0]);
  assert.deepEqual(await a.offsets.commitOffsets(commit('mine', [subscribed], 7)), [0]);
  assert.equal(a.protocol.inspect('mine')!.state, 'Empty');
  // 'theirs' was stored after A loaded its groups: expiry reads the stored groups again before it runs.

  now += RETENTION_MS + 1;
  await a.offsets.expireOffsets();
  assert.deepEqual(await committed('theirs'), ['subscribed:0=5']);
  assert.deepEqual(await committed('mine'), []);
  assert.equal(a.protocol.inspect('mine'), undefined);
  assert.equal(b.protocol.inspect('theirs')!.state, 'Empty');
});

test('member commits: refused while the member still owes its SyncGroup; otherwise they restart its session', async () => {
  const a = broker('A');
  await a.owned.load();
  const j = await a.protocol.join(join('members'));
  const member = { generationId: j.generationId, memberId: j.memberId };
  assert.equal(await a.offsets.commitOffsets(commit('members', [subscribed], 1, member)), ErrorCode.REBALANCE_IN_PROGRESS);
  await a.protocol.sync({ groupId: 'members', generationId: j.generationId, memberId: j.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  const state = a.owned.get('members')!.members.get(j.memberId)!;

  now += 1000;
  assert.deepEqual(await a.offsets.commitOffsets(commit('members', [subscribed], 2, member)), [0]);
  assert.equal(state.deadline, now + SESSION_MS);
  now += 1000;
  assert.equal(await a.offsets.commitOffsets(commit('members', [subscribed], 3, { ...member, generationId: j.generationId + 1 })), ErrorCode.ILLEGAL_GENERATION);
  assert.equal(await a.offsets.commitOffsets(commit('members', [subscribed], 3)), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(state.deadline, now - 1000 + SESSION_MS);
  assert.deepEqual(await committed('members'), ['subscribed:0=2']);
});

test('OffsetDelete keeps the topics a live consumer group subscribes to; an empty group goes with its last offsets', async () => {
  const a = broker('A');
  await a.owned.load();
  const j = await a.protocol.join(join('deleting'));
  await a.protocol.sync({ groupId: 'deleting', generationId: j.generationId, memberId: j.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  assert.deepEqual(await a.offsets.commitOffsets(commit('deleting', [subscribed, other], 9, { generationId: j.generationId, memberId: j.memberId })), [0, 0]);
  const targets = [subscribed, other].map((t) => ({ topicId: t.topicId, topicName: t.name, partition: 0 }));
  assert.deepEqual(await a.offsets.deleteOffsets('deleting', targets), [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC, 0]);
  assert.deepEqual(await committed('deleting'), ['subscribed:0=9']);

  a.protocol.leave('deleting', [{ memberId: j.memberId, groupInstanceId: null }]);
  assert.equal(a.protocol.inspect('deleting')!.state, 'Empty');
  assert.deepEqual(await a.offsets.deleteOffsets('deleting', targets.slice(0, 1)), [0]);
  assert.equal(a.protocol.inspect('deleting'), undefined);
  // Its stored generations go too (the empty one was being written meanwhile).
  assert.ok(!(await store.loadGroups()).some((r) => r.groupId === 'deleting'));
  assert.equal(await a.offsets.deleteOffsets('deleting', targets), ErrorCode.GROUP_ID_NOT_FOUND);
});

/**
 * The coordinator DB, with the next commit of offsets held until `release()` while later ones go through:
 * how a pool of connections can reorder two transactions.
 */
function holdingNextCommit(): { coordinator: Coordinator; held: Promise<void>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let markHeld!: () => void;
  const held = new Promise<void>((resolve) => (markHeld = resolve));
  let holding = true;
  const coordinator = new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'commitGroupOffsets') return Reflect.get(target, key, receiver);
      return async (...args: Parameters<Coordinator['commitGroupOffsets']>) => {
        if (holding) {
          holding = false;
          markHeld();
          await gate;
        }
        return target.commitGroupOffsets(...args);
      };
    },
  });
  return { coordinator, held, release };
}

// Issue 20: librdkafka auto-commits again while its previous commit is still in flight; on a pool of
// connections the two stores could land in reverse order, leaving the older offset after both were
// acknowledged (a KIP-848 group's committed offset ended 2 records short of the log end).
test('a group\'s commits are stored in the order they came, even when the first is slower to store', async () => {
  const { coordinator, held, release } = holdingNextCommit();
  const a = broker('A', coordinator);
  await a.owned.load();
  const first = a.offsets.commitOffsets(commit('ordered', [subscribed], 100));
  await held;
  let secondDone = false;
  const second = a.offsets.commitOffsets(commit('ordered', [subscribed], 102)).finally(() => (secondDone = true));
  // The second waits for the first: nothing stored yet, whatever the time given to it.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(secondDone, false);
  assert.deepEqual(await committed('ordered'), []);
  release();
  assert.deepEqual(await first, [0]);
  assert.deepEqual(await second, [0]);
  assert.deepEqual(await committed('ordered'), ['subscribed:0=102']);
  // Other groups are not held up by it.
  assert.deepEqual(await a.offsets.commitOffsets(commit('ordered-other', [subscribed], 1)), [0]);
});

test('a commit still waiting its turn when the group moves to another broker is refused NOT_COORDINATOR', async () => {
  const { coordinator, held, release } = holdingNextCommit();
  const a = broker('A', coordinator);
  await a.owned.load();
  const first = a.offsets.commitOffsets(commit('moving', [subscribed], 5));
  await held;
  const second = a.offsets.commitOffsets(commit('moving', [subscribed], 4));
  placement.set('moving', 'B');
  release();
  assert.deepEqual(await first, [0]);
  assert.equal(await second, ErrorCode.NOT_COORDINATOR);
  assert.deepEqual(await committed('moving'), ['subscribed:0=5']);
});
