/** Routing rules as pure functions: who may serve a partition with which epoch, preferred replicas, placement. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import * as routing from '../../src/cluster/routing.ts';

const live = [
  { nodeId: 1, host: 'a', port: 1, rack: 'az-a' },
  { nodeId: 2, host: 'b', port: 2, rack: 'az-b' },
  { nodeId: 3, host: 'c', port: 3, rack: 'az-b' },
];
const diskless = { topicId: 'b3f1c8a2-0000-4000-8000-000000000001', diskless: true, partitionCount: 4, leaderBrokerId: null };
const classicOn2 = { topicId: 'b3f1c8a2-0000-4000-8000-000000000002', diskless: false, partitionCount: 2, leaderBrokerId: 2 };

test('partitionServeError: any broker and any epoch for diskless; classic only on its leader, epoch 0', () => {
  assert.equal(routing.partitionServeError(diskless, 3, 999, 1), ErrorCode.NONE);
  assert.equal(routing.partitionServeError(diskless, 4, -1, 1), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal(routing.partitionServeError(diskless, -1, -1, 1), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal(routing.partitionServeError(classicOn2, 1, -1, 2), ErrorCode.NONE);
  assert.equal(routing.partitionServeError(classicOn2, 1, 0, 2), ErrorCode.NONE);
  assert.equal(routing.partitionServeError(classicOn2, 1, 1, 2), ErrorCode.UNKNOWN_LEADER_EPOCH);
  assert.equal(routing.partitionServeError(classicOn2, 1, -1, 1), ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal(routing.partitionServeError(classicOn2, 2, -1, 2), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal(routing.membershipIsBehind(diskless, 8, 7), true);
  assert.equal(routing.membershipIsBehind(classicOn2, 8, 7), false);
});

test('preferred read replica: the zone\'s broker for diskless partitions, none from inside the zone or for classic ones', () => {
  const replica = routing.preferredReadReplica(live, 1, 'az-b', diskless, 0);
  assert.ok(replica === 2 || replica === 3);
  assert.equal(replica, routing.disklessReplicas(live, 'az-b', diskless.topicId, 0)[0]!.nodeId, 'the zone\'s leader for the partition');
  assert.equal(routing.preferredReadReplica(live, 2, 'az-b', diskless, 0), null, 'this broker is in the zone');
  assert.equal(routing.preferredReadReplica(live, 1, 'az-b', classicOn2, 0), null);
});

test('placement is the same from every broker, and the controller is the lowest live id', () => {
  const byZone = routing.disklessReplicas(live, 'az-b', diskless.topicId, 2).map((b) => b.nodeId);
  assert.deepEqual([...byZone].sort(), [2, 3]);
  assert.deepEqual(routing.disklessReplicas(live, null, diskless.topicId, 2).length, 3, 'no zone: every live broker');
  assert.equal(routing.groupCoordinator(live, 'g', live[0]!).nodeId, routing.groupCoordinator([...live].reverse(), 'g', live[2]!).nodeId);
  assert.equal(routing.groupCoordinator([], 'g', live[1]!).nodeId, 2, 'no live broker yet: this one');
  assert.equal(routing.controllerId(live, 3), 1);
  assert.equal(routing.classicLeader({ ...classicOn2, leaderBrokerId: null }, 7), 7);
});
