/**
 * OwnedGroups on a real (in-memory PGlite) coordinator: what a broker does with the groups placed on it
 * that the broker tests only reach with several broker processes — a group moving between two brokers
 * that share the coordinator, a read of the stored groups that fails and is retried, deletion racing with
 * generation writes, shutdown with requests waiting — and the round trip of a generation through the
 * coordinator. Groups are built with ClassicGroup directly; the protocol that normally fills them is
 * tested in classic-protocol.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Coordinator } from '../../src/coordinator/coordinator.ts';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ClassicGroup, Member, type JoinResult, type SyncResult } from '../../src/groups/classic-group.ts';
import { encodeSubscription } from '../../src/groups/consumer-protocol.ts';
import type { GroupCoordinatorOptions } from '../../src/groups/group-options.ts';
import { OwnedGroups } from '../../src/groups/owned-groups.ts';

let store: SqlCoordinator;

before(async () => {
  store = await openPGliteCoordinator(null);
});
after(() => store.close());

/** Which broker ('A' or 'B') coordinates each group; 'A' unless set. */
const placement = new Map<string, 'A' | 'B'>();

function broker(name: 'A' | 'B', now: () => number = Date.now, coordinator: Coordinator = store): OwnedGroups {
  const options: GroupCoordinatorOptions = {
    initialRebalanceDelayMs: 0, minSessionTimeoutMs: 10, maxSessionTimeoutMs: 600_000, maxSize: 100,
    offsetsRetentionMs: 60_000, offsetsRetentionCheckIntervalMs: 600_000, offsetMetadataMaxBytes: 4096,
    now, owns: (groupId) => (placement.get(groupId) ?? 'A') === name,
  };
  return new OwnedGroups(coordinator, options);
}

const RANGE = (topics: string[]) => ({ name: 'range', metadata: encodeSubscription(topics) });

function member(id: string, o: { instance?: string | null; sessionTimeoutMs?: number; protocols?: { name: string; metadata: Buffer }[] } = {}): Member {
  return new Member(id, o.instance ?? null, `client-${id}`, '/10.0.0.1', 4000, o.sessionTimeoutMs ?? 3000, 'consumer', o.protocols ?? [RANGE(['t'])]);
}

/** A Stable consumer group with these members (the first leads) in `generation`, as after a SyncGroup. */
function stableGroup(owned: OwnedGroups, groupId: string, generation: number, members: Member[]): ClassicGroup {
  const g = owned.create(groupId);
  for (const m of members) g.add(m, null);
  g.generationId = generation;
  g.protocolName = 'range';
  g.transition('Stable', 0);
  return g;
}

/** Makes the member wait in a JoinGroup and a SyncGroup; returns what they are answered. */
function waiting(g: ClassicGroup, m: Member): { join: JoinResult | null; sync: SyncResult | null } {
  const answers: { join: JoinResult | null; sync: SyncResult | null } = { join: null, sync: null };
  g.updateMember(m, m.protocols, (r) => (answers.join = r));
  m.syncCallback = (r) => (answers.sync = r);
  return answers;
}

const storedIds = async () => (await store.loadGroups()).map((r) => r.groupId);

test('a stored generation comes back as it was: Stable, same members, leader, assignments; each member gets a full session', async () => {
  const a = broker('A', () => 5_000);
  await a.load();
  const m1 = member('m1', { protocols: [RANGE(['a', 'b']), { name: 'roundrobin', metadata: encodeSubscription(['x']) }] });
  const m2 = member('m2', { instance: 'i2', sessionTimeoutMs: 6000, protocols: [RANGE(['b', 'c'])] });
  const g = stableGroup(a, 'rt-stable', 4, [m1, m2]);
  g.leaderId = 'm2';
  await a.persist(g, new Map([['m1', Buffer.from('a1')]]));
  // A group created by a simple offset commit (no protocol type), and a consumer group whose last member left.
  await a.persist(a.create('rt-simple'), new Map());
  const left = stableGroup(a, 'rt-left', 2, [member('gone')]);
  left.remove('gone');
  left.protocolName = null;
  await a.persist(left, new Map());

  const b = broker('A', () => 9_000);
  await b.load();
  const back = b.get('rt-stable')!;
  assert.notEqual(back, g);
  assert.deepEqual([back.state, back.generationId, back.protocolType, back.protocolName, back.leaderId, back.stateTimestamp], ['Stable', 4, 'consumer', 'range', 'm2', 5_000]);
  assert.deepEqual([...back.members.values()].map((m) => [m.memberId, m.groupInstanceId, m.clientId, m.sessionTimeoutMs, m.assignment.toString(), m.deadline]),
    [['m1', null, 'client-m1', 3000, 'a1', 12_000], ['m2', 'i2', 'client-m2', 6000, '', 15_000]]);
  // Only the selected protocol's metadata is stored: that is what the members come back supporting.
  assert.deepEqual(back.members.get('m1')!.protocols, [RANGE(['a', 'b'])]);
  assert.deepEqual([...back.staticMembers], [['i2', 'm2']]);
  assert.deepEqual([...back.subscribedTopics!].sort(), ['a', 'b', 'c']);
  // The members' protocols are counted again: a new member must support 'range' to join.
  assert.equal(back.supportsProtocols('consumer', [RANGE(['z'])]), true);
  assert.equal(back.supportsProtocols('consumer', [{ name: 'roundrobin', metadata: encodeSubscription(['z']) }]), false);

  // Without members: Empty; a consumer group knows it subscribes to nothing, a group without protocol type does not know.
  assert.deepEqual([b.get('rt-left')!.state, b.get('rt-left')!.generationId, [...b.get('rt-left')!.subscribedTopics!]], ['Empty', 2, []]);
  assert.deepEqual([b.get('rt-simple')!.state, b.get('rt-simple')!.protocolType, b.get('rt-simple')!.subscribedTopics], ['Empty', null, null]);
});

test('a group that moves to another broker: the old one answers its waiting members NOT_COORDINATOR, the new one loads it with the same members', async () => {
  const a = broker('A');
  const b = broker('B');
  await Promise.all([a.load(), b.load()]);
  const m1 = member('mv-1');
  const g = stableGroup(a, 'moving', 3, [m1, member('mv-2')]);
  await a.persist(g, new Map([['mv-1', Buffer.from('p0')], ['mv-2', Buffer.from('p1')]]));
  assert.equal(b.placementError('moving'), ErrorCode.NOT_COORDINATOR);
  // mv-1 rejoins (a rebalance starts) when the live brokers change.
  const answers = waiting(g, m1);
  g.joinTimer = setTimeout(() => assert.fail('the timer of a group that moved away fired'), 50);

  placement.set('moving', 'B');
  a.ownershipChanged();
  // Dropped at once: nothing of it may answer for the group any more.
  assert.equal(a.get('moving'), undefined);
  assert.equal(answers.join!.errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal(answers.sync!.errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal(g.joinTimer, null);
  assert.equal(a.placementError('moving'), ErrorCode.NOT_COORDINATOR);

  b.ownershipChanged();
  assert.equal(b.placementError('moving'), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  await b.load();
  assert.equal(b.placementError('moving'), null);
  const moved = b.get('moving')!;
  assert.deepEqual([moved.state, moved.generationId, moved.leaderId, [...moved.members.keys()]], ['Stable', 3, 'mv-1', ['mv-1', 'mv-2']]);
  assert.equal(moved.members.get('mv-2')!.assignment.toString(), 'p1');

  // A's expiry must leave the group alone now: it is stored, and B's.
  await a.load();
  assert.ok(a.storedElsewhere().includes('moving'));
  assert.ok(!b.storedElsewhere().includes('moving'));

  // Another change of the live brokers that leaves the group on B: B keeps its group as it is in memory
  // (newer than the stored generation), it does not read it again.
  moved.generationId = 4;
  b.ownershipChanged();
  await b.load();
  assert.equal(b.get('moving'), moved);
  assert.equal(moved.generationId, 4);
  await new Promise((r) => setTimeout(r, 60));
});

test('a failed read of the stored groups is retried; meanwhile their requests get COORDINATOR_LOAD_IN_PROGRESS', async () => {
  const a = broker('A');
  await a.load();
  await a.persist(stableGroup(a, 'retried', 1, [member('r-1')]), new Map());
  let failures = 1;
  // The real coordinator, whose first loadGroups fails as when the database is unreachable.
  const flaky = new Proxy(store, {
    get(target, key) {
      if (key === 'loadGroups' && failures > 0) {
        return async () => {
          failures--;
          throw new Error('connection refused');
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const c = broker('A', Date.now, flaky);
  c.ownershipChanged();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(failures, 0);
  assert.equal(c.placementError('retried'), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  assert.equal(c.placementError('moving'), ErrorCode.NOT_COORDINATOR);
  await c.load();
  assert.equal(c.placementError('retried'), null);
  assert.deepEqual([...c.get('retried')!.members.keys()], ['r-1']);
});

test('deleting a stored group waits for its generation writes in flight (a late write would bring it back)', async () => {
  const a = broker('A');
  await a.load();
  const g = stableGroup(a, 'deleted', 1, [member('d-1')]);
  await a.persist(g, new Map());
  g.generationId = 2;
  const second = a.persist(g, new Map());
  g.generationId = 3;
  const third = a.persist(g, new Map());
  await a.deleteStored([g]);
  assert.ok(!(await storedIds()).includes('deleted'));
  await Promise.all([second, third]);
  assert.ok(!(await storedIds()).includes('deleted'));
});

test('shutdown: waiting requests are answered NOT_COORDINATOR, every group is refused, writes in flight complete', async () => {
  const a = broker('A');
  await a.load();
  const m = member('s-1');
  const g = stableGroup(a, 'shut', 5, [m]);
  const answers = waiting(g, m);
  const write = a.persist(g, new Map([['s-1', Buffer.from('last')]]));
  const closed = a.close();
  assert.equal(answers.join!.errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal(answers.sync!.errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal(a.closed, true);
  assert.equal(a.placementError('shut'), ErrorCode.NOT_COORDINATOR);
  assert.equal(a.placementError('any-other'), ErrorCode.NOT_COORDINATOR);
  await closed;
  await write;
  const stored = (await store.loadGroups()).find((r) => r.groupId === 'shut')!;
  assert.deepEqual([stored.generation, stored.members[0]!.assignment.toString()], [5, 'last']);
  // Ownership changes after shutdown read nothing.
  a.ownershipChanged();
  assert.equal(a.placementError('shut'), ErrorCode.NOT_COORDINATOR);
});
