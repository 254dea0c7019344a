/**
 * ClassicProtocol with real OwnedGroups on a real (in-memory PGlite) coordinator: what the protocol stores
 * and when. The rules of JoinGroup/SyncGroup/Heartbeat/LeaveGroup themselves are pinned through raw requests
 * in group-protocol.test.ts; here, the generations the protocol writes to the coordinator are read back
 * there, and by a second broker that takes the group over.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ClassicProtocol, type JoinParams, type SyncParams } from '../../src/groups/classic-protocol.ts';
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

function broker(name: 'A' | 'B'): { owned: OwnedGroups; protocol: ClassicProtocol } {
  const options: GroupCoordinatorOptions = {
    initialRebalanceDelayMs: 0, minSessionTimeoutMs: 10, maxSessionTimeoutMs: 600_000, maxSize: 100,
    offsetsRetentionMs: 60_000, offsetsRetentionCheckIntervalMs: 600_000, offsetMetadataMaxBytes: 4096,
    owns: (groupId) => (placement.get(groupId) ?? 'A') === name,
  };
  const owned = new OwnedGroups(store, options);
  return { owned, protocol: new ClassicProtocol(owned, options) };
}

const join = (groupId: string, o: Partial<JoinParams> = {}): JoinParams => ({
  groupId, memberId: '', groupInstanceId: null, requireKnownMemberId: false, supportSkippingAssignment: false, clientId: 'c', clientHost: '/127.0.0.1',
  rebalanceTimeoutMs: 5000, sessionTimeoutMs: 5000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: encodeSubscription(['t']) }], reason: null, ...o,
});

const sync = (groupId: string, generationId: number, memberId: string, o: Partial<SyncParams> = {}): SyncParams => ({
  groupId, generationId, memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [], ...o,
});

const stored = async (groupId: string) => (await store.loadGroups()).find((r) => r.groupId === groupId);

test('the generation is stored with the leader\'s assignment; the broker the group moves to carries on with it', async () => {
  const a = broker('A');
  const b = broker('B');
  await Promise.all([a.owned.load(), b.owned.load()]);
  const j = await a.protocol.join(join('handover'));
  assert.deepEqual([j.errorCode, j.generationId, j.leader], [0, 1, j.memberId]);
  // Nothing is stored before the assignment: a generation without it would be useless to the next coordinator.
  assert.equal(await stored('handover'), undefined);
  const s = await a.protocol.sync(sync('handover', 1, j.memberId, { assignments: [{ memberId: j.memberId, assignment: Buffer.from('all') }] }));
  assert.deepEqual([s.errorCode, s.assignment.toString()], [0, 'all']);
  const record = (await stored('handover'))!;
  assert.deepEqual([record.generation, record.protocolName, record.leader, record.members.map((m) => [m.memberId, m.assignment.toString()])],
    [1, 'range', j.memberId, [[j.memberId, 'all']]]);

  placement.set('handover', 'B');
  a.owned.ownershipChanged();
  await b.owned.load();
  assert.equal(a.protocol.heartbeat('handover', j.memberId, null, 1), ErrorCode.NOT_COORDINATOR);
  assert.equal(b.protocol.heartbeat('handover', j.memberId, null, 1), ErrorCode.NONE);
  const again = await b.protocol.sync(sync('handover', 1, j.memberId));
  assert.deepEqual([again.errorCode, again.assignment.toString()], [0, 'all']);
  // The member leaves on B: B stores the empty generation that follows.
  assert.deepEqual(b.protocol.leave('handover', [{ memberId: j.memberId, groupInstanceId: null }]).members.map((m) => m.errorCode), [0]);
  assert.equal(b.protocol.inspect('handover')!.state, 'Empty');
  await b.owned.get('handover')!.persisting;
  const empty = (await stored('handover'))!;
  assert.deepEqual([empty.generation, empty.members.length, empty.protocolName], [2, 0, null]);
});

test('a static member back with a new member id in a Stable group: the new id is stored before it is answered, the old one is fenced, no rebalance', async () => {
  const a = broker('A');
  await a.owned.load();
  const first = await a.protocol.join(join('static', { groupInstanceId: 'i-1' }));
  await a.protocol.sync(sync('static', first.generationId, first.memberId, { groupInstanceId: 'i-1', assignments: [{ memberId: first.memberId, assignment: Buffer.from('p0') }] }));
  assert.equal(a.protocol.inspect('static')!.state, 'Stable');

  const back = await a.protocol.join(join('static', { groupInstanceId: 'i-1' }));
  assert.equal(back.errorCode, 0);
  assert.notEqual(back.memberId, first.memberId);
  assert.equal(back.generationId, first.generationId);
  // Answered only once stored: a restart or move now knows the new id, not the fenced one.
  assert.deepEqual((await stored('static'))!.members.map((m) => [m.memberId, m.groupInstanceId, m.assignment.toString()]), [[back.memberId, 'i-1', 'p0']]);
  assert.equal(a.protocol.heartbeat('static', first.memberId, 'i-1', first.generationId), ErrorCode.FENCED_INSTANCE_ID);
  assert.equal(a.protocol.heartbeat('static', back.memberId, 'i-1', first.generationId), ErrorCode.NONE);
  assert.deepEqual(a.protocol.inspect('static'), { state: 'Stable', generationId: first.generationId, leaderId: back.memberId, members: [back.memberId], protocolName: 'range' });
});

test('DeleteGroups removes an empty group from memory and from the coordinator; a group with members stays', async () => {
  const a = broker('A');
  await a.owned.load();
  const j = await a.protocol.join(join('busy'));
  await a.protocol.sync(sync('busy', 1, j.memberId));
  const idle = await a.protocol.join(join('idle'));
  await a.protocol.sync(sync('idle', 1, idle.memberId));
  a.protocol.leave('idle', [{ memberId: idle.memberId, groupInstanceId: null }]);
  assert.deepEqual(await a.protocol.deleteGroups(['idle', 'busy', 'never']), [
    { groupId: 'idle', errorCode: ErrorCode.NONE },
    { groupId: 'busy', errorCode: ErrorCode.NON_EMPTY_GROUP },
    { groupId: 'never', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
  ]);
  assert.equal(a.protocol.inspect('idle'), undefined);
  // The empty generation was being written when the group was deleted: the deletion waited for it.
  assert.equal(await stored('idle'), undefined);
  assert.ok(await stored('busy'));
});
