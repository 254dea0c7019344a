/**
 * A share group's membership (KIP-932) and its rules, as Kafka 4.2's group coordinator applies them to
 * ShareGroupHeartbeat: members join with epoch 0 (the client generates the member id), heartbeat with the
 * epoch they were given, leave with -1; a member that misses heartbeats for the session timeout is removed.
 * The assignment is the broker's (Kafka's SimpleAssignor's outcome): each subscribed topic's partitions are
 * spread over its subscribers, and when a topic has fewer partitions than subscribers every subscriber gets
 * partitions too (partition i % count), so every member of a one-partition topic gets that partition.
 * Share groups never revoke before assigning (records are locked per record, not per partition), so a
 * member's epoch is the group epoch as soon as it heartbeats.
 *
 * Pure: the coordinator stores the value (migration 17); src/groups/share-groups.ts runs `heartbeat`
 * inside the transaction holding the group's row, with the clock of the broker serving the request.
 */

export interface ShareMember {
  memberId: string;
  memberEpoch: number;
  /** The epoch before the last one given: a member whose answer was lost may still heartbeat with it (Kafka). */
  previousMemberEpoch?: number;
  clientId: string;
  clientHost: string;
  rackId: string | null;
  subscribedTopicNames: string[];
  lastHeartbeatMs: number;
  /** topic id → partitions */
  assignment: Record<string, number[]>;
}

export interface ShareGroupState {
  groupEpoch: number;
  assignmentEpoch: number;
  members: ShareMember[];
}

/** What the assignor knows of topics (the broker's topic registry). */
export interface ShareTopics {
  get(name: string): { topicId: string; partitionCount: number } | undefined;
}

export interface ShareHeartbeatRequest {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  rackId: string | null;
  subscribedTopicNames: string[] | null;
  clientId: string;
  clientHost: string;
}

export interface ShareHeartbeatOutcome {
  /** Kafka's error name, or null. */
  error: 'UNKNOWN_MEMBER_ID' | 'FENCED_MEMBER_EPOCH' | 'INVALID_REQUEST' | 'GROUP_MAX_SIZE_REACHED' | 'GROUP_ID_NOT_FOUND' | null;
  errorMessage: string | null;
  memberEpoch: number;
  /** topic id → partitions; null when unchanged since the member's last heartbeat. */
  assignment: Record<string, number[]> | null;
}

export interface ShareGroupRules {
  sessionTimeoutMs: number;
  maxSize: number;
}

export function asShareGroupState(v: unknown): ShareGroupState | null {
  if (!v || typeof v !== 'object') return null;
  const s = v as ShareGroupState;
  return typeof s.groupEpoch === 'number' && Array.isArray(s.members) ? s : null;
}

/** Members whose session ended are removed (the group epoch moves when any is). */
export function expireMembers(s: ShareGroupState, nowMs: number, rules: ShareGroupRules): boolean {
  const live = s.members.filter((m) => m.lastHeartbeatMs + rules.sessionTimeoutMs >= nowMs);
  if (live.length === s.members.length) return false;
  s.members = live;
  s.groupEpoch += 1;
  return true;
}

/** Kafka's group states for a share group: Empty, Stable (no revocation, so never reconciling). */
export function shareGroupStateName(s: ShareGroupState): 'Empty' | 'Stable' {
  return s.members.length === 0 ? 'Empty' : 'Stable';
}

/** The assignment of every member (deterministic: members in id order, partitions in order). */
export function assign(members: readonly ShareMember[], topics: ShareTopics): Map<string, Record<string, number[]>> {
  const out = new Map<string, Record<string, number[]>>(members.map((m) => [m.memberId, {}]));
  const names = [...new Set(members.flatMap((m) => m.subscribedTopicNames))].sort();
  for (const name of names) {
    const topic = topics.get(name);
    if (!topic || topic.partitionCount <= 0) continue;
    const subscribers = members.filter((m) => m.subscribedTopicNames.includes(name)).map((m) => m.memberId).sort();
    const n = subscribers.length;
    const p = topic.partitionCount;
    for (let i = 0; i < Math.max(n, p); i++) {
      const member = subscribers[i % n]!;
      const partition = i % p;
      const a = out.get(member)!;
      const list = (a[topic.topicId] ??= []);
      if (!list.includes(partition)) list.push(partition);
    }
    for (const m of subscribers) out.get(m)![topic.topicId]?.sort((x, y) => x - y);
  }
  return out;
}

const sameAssignment = (a: Record<string, number[]>, b: Record<string, number[]>): boolean =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/** One ShareGroupHeartbeat applied to the group (null: none yet). Returns the new state (null: none). */
export function heartbeat(
  stored: ShareGroupState | null,
  req: ShareHeartbeatRequest,
  nowMs: number,
  rules: ShareGroupRules,
  topics: ShareTopics,
): { state: ShareGroupState | null; outcome: ShareHeartbeatOutcome } {
  const s: ShareGroupState = stored ? structuredClone(stored) : { groupEpoch: 0, assignmentEpoch: 0, members: [] };
  const refuse = (error: NonNullable<ShareHeartbeatOutcome['error']>, message: string) => ({
    state: stored ? s : null,
    outcome: { error, errorMessage: message, memberEpoch: -1, assignment: null },
  });
  if (!stored && req.memberEpoch !== 0) return refuse('GROUP_ID_NOT_FOUND', `Share group ${req.groupId} not found.`);
  expireMembers(s, nowMs, rules);
  let member = s.members.find((m) => m.memberId === req.memberId);
  if (req.memberEpoch === -1) {
    if (!member) return refuse('UNKNOWN_MEMBER_ID', `Member ${req.memberId} is not a member of share group ${req.groupId}`);
    s.members = s.members.filter((m) => m !== member);
    s.groupEpoch += 1;
    reassign(s, topics);
    return { state: s, outcome: { error: null, errorMessage: null, memberEpoch: -1, assignment: null } };
  }
  if (req.memberEpoch === 0) {
    if (!req.subscribedTopicNames || req.subscribedTopicNames.length === 0) return refuse('INVALID_REQUEST', 'SubscribedTopicNames must be set in first request.');
    if (!member) {
      if (s.members.length >= rules.maxSize) return refuse('GROUP_MAX_SIZE_REACHED', `The share group has reached its maximum size of ${rules.maxSize}`);
      member = { memberId: req.memberId, memberEpoch: 0, clientId: req.clientId, clientHost: req.clientHost, rackId: req.rackId, subscribedTopicNames: [], lastHeartbeatMs: nowMs, assignment: {} };
      s.members.push(member);
      s.groupEpoch += 1;
    }
    member.memberEpoch = 0; // a rejoin is told its assignment again
  } else if (req.memberEpoch > 0) {
    if (!member) return refuse('UNKNOWN_MEMBER_ID', `Member ${req.memberId} is not a member of share group ${req.groupId}`);
    // The previous epoch is accepted too: the answer that carried the current one may have been lost.
    if (req.memberEpoch !== member.memberEpoch && req.memberEpoch !== member.previousMemberEpoch) {
      return refuse('FENCED_MEMBER_EPOCH', `The share group member's epoch (${req.memberEpoch}) is not the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`);
    }
  } else {
    return refuse('INVALID_REQUEST', 'MemberEpoch is invalid.');
  }
  member.lastHeartbeatMs = nowMs;
  member.clientId = req.clientId;
  member.clientHost = req.clientHost;
  if (req.rackId !== null) member.rackId = req.rackId;
  if (req.subscribedTopicNames !== null && JSON.stringify([...req.subscribedTopicNames].sort()) !== JSON.stringify([...member.subscribedTopicNames].sort())) {
    member.subscribedTopicNames = [...new Set(req.subscribedTopicNames)];
    s.groupEpoch += 1;
  }
  reassign(s, topics);
  const changed = req.memberEpoch !== s.groupEpoch;
  if (member.memberEpoch !== s.groupEpoch) {
    member.previousMemberEpoch = member.memberEpoch;
    member.memberEpoch = s.groupEpoch;
  }
  return { state: s, outcome: { error: null, errorMessage: null, memberEpoch: member.memberEpoch, assignment: changed ? member.assignment : null } };
}

/** Recomputes the assignment (topics may have grown); the group epoch moves when any member's changes. */
function reassign(s: ShareGroupState, topics: ShareTopics): void {
  const target = assign(s.members, topics);
  let changed = false;
  for (const m of s.members) {
    const t = target.get(m.memberId)!;
    if (!sameAssignment(t, m.assignment)) {
      m.assignment = t;
      changed = true;
    }
  }
  if (changed || s.assignmentEpoch !== s.groupEpoch) {
    if (changed && s.assignmentEpoch === s.groupEpoch) s.groupEpoch += 1;
    s.assignmentEpoch = s.groupEpoch;
  }
}
