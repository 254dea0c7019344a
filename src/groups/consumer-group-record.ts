/**
 * A KIP-848 consumer group as the coordinator DB keeps it (migration 12's `consumer_groups.state`): the
 * JSON form of consumer-group.ts's ConsumerGroup, written after every change before the heartbeat that
 * caused it is answered, and read back by whichever broker coordinates the group next. Session deadlines
 * are not stored: a group read back gives each member a full session from then, as after a Kafka
 * coordinator failover; a member still revoking gets a full rebalance timeout.
 */
import type { StoredConsumerGroup } from '../coordinator/coordinator.ts';
import { type Assignment, ConsumerGroup, ConsumerMember, type MemberState } from './consumer-group.ts';

interface StoredMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  memberEpoch: number;
  previousMemberEpoch: number;
  state: MemberState;
  assigned: Record<string, number[]>;
  pendingRevocation: Record<string, number[]>;
  target: Record<string, number[]>;
  /** A classic-protocol member (online migration): its session timeout and protocols (metadata in base64). */
  classic?: { sessionTimeoutMs: number; protocols: { name: string; metadata: string }[] } | null;
}

interface StoredState {
  version: 1;
  groupEpoch: number;
  assignmentEpoch: number;
  metadataHash: string;
  assignorName: string;
  stateTimestamp: number;
  members: StoredMember[];
}

const toObject = (a: Assignment): Record<string, number[]> => Object.fromEntries([...a].map(([t, ps]) => [t, [...ps].sort((x, y) => x - y)]));
const toAssignment = (o: Record<string, number[]> | undefined): Assignment => new Map(Object.entries(o ?? {}).map(([t, ps]) => [t, new Set(ps)]));

export function storedConsumerGroup(g: ConsumerGroup): StoredConsumerGroup {
  const state: StoredState = {
    version: 1,
    groupEpoch: g.groupEpoch,
    assignmentEpoch: g.assignmentEpoch,
    metadataHash: g.metadataHash,
    assignorName: g.assignorName,
    stateTimestamp: g.stateTimestamp,
    members: [...g.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      rackId: m.rackId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      subscribedTopicNames: m.subscribedTopicNames,
      subscribedTopicRegex: m.subscribedTopicRegex,
      serverAssignor: m.serverAssignor,
      memberEpoch: m.memberEpoch,
      previousMemberEpoch: m.previousMemberEpoch,
      state: m.state,
      assigned: toObject(m.assigned),
      pendingRevocation: toObject(m.pendingRevocation),
      target: toObject(g.target.get(m.memberId) ?? new Map()),
      classic: m.classic === null ? null : {
        sessionTimeoutMs: m.classic.sessionTimeoutMs,
        protocols: m.classic.protocols.map((p) => ({ name: p.name, metadata: p.metadata.toString('base64') })),
      },
    })),
  };
  return { groupId: g.groupId, groupEpoch: g.groupEpoch, state };
}

/** The group as stored; each member gets a full session (and a revoking one a full rebalance timeout) from `now`. */
export function restoredConsumerGroup(stored: StoredConsumerGroup, now: number, sessionTimeoutMs: number): ConsumerGroup {
  const s = stored.state as StoredState;
  const g = new ConsumerGroup(stored.groupId, s.stateTimestamp ?? now);
  g.groupEpoch = s.groupEpoch;
  g.assignmentEpoch = s.assignmentEpoch;
  g.metadataHash = s.metadataHash ?? '';
  g.assignorName = s.assignorName ?? '';
  for (const sm of s.members ?? []) {
    const m = new ConsumerMember(sm.memberId, sm.instanceId, sm.rackId, sm.clientId, sm.clientHost, sm.rebalanceTimeoutMs,
      sm.subscribedTopicNames ?? [], sm.subscribedTopicRegex, sm.serverAssignor);
    m.memberEpoch = sm.memberEpoch;
    m.previousMemberEpoch = sm.previousMemberEpoch;
    m.state = sm.state;
    if (sm.classic) m.classic = { sessionTimeoutMs: sm.classic.sessionTimeoutMs, protocols: sm.classic.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata, 'base64') })) };
    m.deadline = now + (m.classic?.sessionTimeoutMs ?? sessionTimeoutMs);
    if (m.state === 'unrevoked_partitions') m.revocationDeadline = now + m.rebalanceTimeoutMs;
    g.put(m);
    g.setOwned(m, toAssignment(sm.assigned), toAssignment(sm.pendingRevocation));
    g.target.set(m.memberId, toAssignment(sm.target));
  }
  return g;
}
