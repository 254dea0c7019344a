/**
 * One KIP-848 consumer group (ConsumerGroupHeartbeat) and its members, as Kafka's ConsumerGroup and
 * ConsumerGroupMember keep them: the group epoch (bumped by every change of membership, subscriptions or
 * subscribed topics' metadata), the target assignment computed by the server-side assignor at the
 * assignment epoch, and per member its epoch, its current assignment, the partitions it still has to
 * revoke, and its reconciliation state. Also the partition owners (Kafka's currentPartitionEpoch): a
 * partition is given to a member only once no other member holds it (assigned or pending revocation).
 *
 * `nextMemberAssignment` is Kafka's CurrentAssignmentBuilder: the member moves one step towards its target
 * (first revoke, then, once revoked, the next epoch with the partitions nobody else holds).
 * The rules about requests (epochs, fencing, joins, leaves, timeouts) are in consumer-group-protocol.ts.
 */

/** topic id → partitions. */
export type Assignment = Map<string, Set<number>>;

export type MemberState = 'stable' | 'unrevoked_partitions' | 'unreleased_partitions';

/** Kafka's ConsumerGroupState names, as ListGroups/DescribeGroups/ConsumerGroupDescribe show them. */
export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';

/** Member epoch of a static member that left and will come back (KIP-848). */
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;
/** Member epoch of a member that leaves. */
export const LEAVE_GROUP_MEMBER_EPOCH = -1;

/** What a member of the classic protocol in a consumer group (KIP-848's online migration) keeps of its JoinGroup. */
export interface ClassicMemberMetadata {
  sessionTimeoutMs: number;
  /** Its protocols (assignor names and subscriptions), in its order of preference. */
  protocols: { name: string; metadata: Buffer }[];
}

export class ConsumerMember {
  memberEpoch = 0;
  /** Set for a member that speaks the classic protocol (JoinGroup/SyncGroup/Heartbeat); null for ConsumerGroupHeartbeat. */
  classic: ClassicMemberMetadata | null = null;
  previousMemberEpoch = -1;
  state: MemberState = 'stable';
  assigned: Assignment = new Map();
  pendingRevocation: Assignment = new Map();
  /** Session deadline (ms, coordinator clock). */
  deadline = 0;
  /** While partitions are pending revocation: the member is removed if it has not revoked them by then. */
  revocationDeadline = 0;
  /**
   * A classic member (Kafka's join and sync timeouts, both its rebalance timeout): told to rejoin
   * (REBALANCE_IN_PROGRESS), it is removed if no JoinGroup comes by `joinDeadline`; joined, if no SyncGroup
   * comes by `syncDeadline`. 0: none pending.
   */
  joinDeadline = 0;
  syncDeadline = 0;

  constructor(
    public memberId: string,
    public instanceId: string | null,
    public rackId: string | null,
    public clientId: string,
    public clientHost: string,
    public rebalanceTimeoutMs: number,
    public subscribedTopicNames: string[],
    public subscribedTopicRegex: string | null,
    public serverAssignor: string | null,
  ) {}
}

export class ConsumerGroup {
  groupEpoch = 0;
  assignmentEpoch = 0;
  readonly members = new Map<string, ConsumerMember>();
  /** group.instance.id → member id. */
  readonly staticMembers = new Map<string, string>();
  /** member id → its target assignment (at assignmentEpoch). */
  target = new Map<string, Assignment>();
  /** topic id → partition → member id holding it (assigned or pending revocation). */
  readonly owners = new Map<string, Map<number, string>>();
  /** The subscribed topics' ids and partition counts when the target was computed (a change bumps the epoch). */
  metadataHash = '';
  /** The assignor of the last target assignment. */
  assignorName = '';
  /** Writes of this group to the coordinator, chained so they land in order. */
  persisting: Promise<void> = Promise.resolve();
  /** Bumped on every change, so that a write's continuation can tell whether the group moved on meanwhile. */
  version = 0;
  dead = false;

  constructor(readonly groupId: string, public stateTimestamp: number) {}

  get state(): ConsumerGroupState {
    if (this.dead) return 'Dead';
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values()) {
      if (m.memberEpoch !== this.assignmentEpoch || m.state !== 'stable') return 'Reconciling';
    }
    return 'Stable';
  }

  /** Adds or replaces a member (and its static id). */
  put(m: ConsumerMember): void {
    this.members.set(m.memberId, m);
    if (m.instanceId !== null) this.staticMembers.set(m.instanceId, m.memberId);
  }

  /** Removes a member: its partitions are free, its target gone. */
  remove(memberId: string): void {
    const m = this.members.get(memberId);
    if (!m) return;
    this.setOwned(m, new Map(), new Map());
    this.members.delete(memberId);
    this.target.delete(memberId);
    if (m.instanceId !== null && this.staticMembers.get(m.instanceId) === memberId) this.staticMembers.delete(m.instanceId);
  }

  ownerOf(topicId: string, partition: number): string | undefined {
    return this.owners.get(topicId)?.get(partition);
  }

  /** Sets the member's assignment and pending revocations, keeping the owners map in step. */
  setOwned(m: ConsumerMember, assigned: Assignment, pending: Assignment): void {
    for (const a of [m.assigned, m.pendingRevocation]) {
      for (const [t, ps] of a) {
        const owners = this.owners.get(t);
        if (!owners) continue;
        for (const p of ps) if (owners.get(p) === m.memberId) owners.delete(p);
        if (owners.size === 0) this.owners.delete(t);
      }
    }
    m.assigned = assigned;
    m.pendingRevocation = pending;
    for (const a of [assigned, pending]) {
      for (const [t, ps] of a) {
        let owners = this.owners.get(t);
        if (!owners) this.owners.set(t, (owners = new Map()));
        for (const p of ps) owners.set(p, m.memberId);
      }
    }
  }

  /** Whether every member other than `except` speaks the classic protocol. */
  allClassicExcept(except: string): boolean {
    for (const m of this.members.values()) if (m.memberId !== except && m.classic === null) return false;
    return true;
  }

  /** Every topic name some member subscribes to by name. */
  subscribedTopicNames(): Set<string> {
    const out = new Set<string>();
    for (const m of this.members.values()) for (const t of m.subscribedTopicNames) out.add(t);
    return out;
  }
}

export interface NextAssignment {
  state: MemberState;
  memberEpoch: number;
  assigned: Assignment;
  pending: Assignment;
}

/**
 * Kafka's CurrentAssignmentBuilder: the member's next state towards its target, given the partitions the
 * member says it owns (null: it did not say). Returns null when nothing changes.
 */
export function nextMemberAssignment(g: ConsumerGroup, m: ConsumerMember, owned: Assignment | null): NextAssignment | null {
  switch (m.state) {
    case 'stable':
      if (m.memberEpoch === g.assignmentEpoch) return null;
      return computeNext(g, m, owned);
    case 'unrevoked_partitions':
      // It must first confirm (by the partitions it reports owning) that the revoked ones are gone.
      if (ownsAny(owned, m.pendingRevocation)) return null;
      return computeNext(g, m, owned);
    case 'unreleased_partitions':
      return computeNext(g, m, owned);
  }
}

function computeNext(g: ConsumerGroup, m: ConsumerMember, owned: Assignment | null): NextAssignment | null {
  const target = g.target.get(m.memberId) ?? new Map<string, Set<number>>();
  const kept: Assignment = new Map();
  const revoke: Assignment = new Map();
  const assignable: Assignment = new Map();
  let unreleased = false;
  for (const t of new Set([...target.keys(), ...m.assigned.keys()])) {
    const want = target.get(t) ?? new Set<number>();
    const has = m.assigned.get(t) ?? new Set<number>();
    for (const p of has) add(want.has(p) ? kept : revoke, t, p);
    for (const p of want) {
      if (has.has(p)) continue;
      if (g.ownerOf(t, p) !== undefined) unreleased = true;
      else add(assignable, t, p);
    }
  }
  let next: NextAssignment;
  if (revoke.size > 0 && ownsAny(owned, revoke)) {
    next = { state: 'unrevoked_partitions', memberEpoch: m.memberEpoch, assigned: kept, pending: revoke };
  } else {
    for (const [t, ps] of assignable) for (const p of ps) add(kept, t, p);
    next = { state: unreleased ? 'unreleased_partitions' : 'stable', memberEpoch: g.assignmentEpoch, assigned: kept, pending: new Map() };
  }
  if (next.state === m.state && next.memberEpoch === m.memberEpoch && sameAssignment(next.assigned, m.assigned) && sameAssignment(next.pending, m.pendingRevocation)) {
    return null;
  }
  return next;
}

function add(a: Assignment, t: string, p: number): void {
  let s = a.get(t);
  if (!s) a.set(t, (s = new Set()));
  s.add(p);
}

/** Whether `owned` holds any partition of `a`; a member that did not report what it owns still owns everything. */
export function ownsAny(owned: Assignment | null, a: Assignment): boolean {
  if (owned === null) return true;
  for (const [t, ps] of a) {
    const o = owned.get(t);
    if (o) for (const p of ps) if (o.has(p)) return true;
  }
  return false;
}

/** Whether every partition of `sub` is in `of`. */
export function isSubset(sub: Assignment, of: Assignment): boolean {
  for (const [t, ps] of sub) {
    const o = of.get(t);
    for (const p of ps) if (!o?.has(p)) return false;
  }
  return true;
}

export function sameAssignment(a: Assignment, b: Assignment): boolean {
  return count(a) === count(b) && isSubset(a, b);
}

export function count(a: Assignment): number {
  let n = 0;
  for (const ps of a.values()) n += ps.size;
  return n;
}
