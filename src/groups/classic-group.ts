/**
 * One classic-protocol group and its members, as Kafka's GroupMetadata/MemberMetadata keep them: state,
 * generation, protocol type and selected protocol, leader, static members (group.instance.id → member id),
 * pending members (member ids handed out with MEMBER_ID_REQUIRED, not yet joined), members that still owe a
 * SyncGroup, and the callbacks of the JoinGroup / SyncGroup requests waiting on a rebalance.
 *
 * Pure bookkeeping: the rules (when to rebalance, which error to answer) are in classic-protocol.ts. What
 * several parts of the coordinator do to a group alike is here too (stopping its timers and answering its
 * waiting requests when it is no longer served here, reading its members' subscribed topics), so that the
 * ownership (owned-groups.ts) does not need the protocol.
 */
import { CONSUMER_PROTOCOL_TYPE, subscriptionTopics } from './consumer-protocol.ts';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  memberId: string;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  skipAssignment: boolean;
  /** The members and their metadata: only for the leader. */
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export const EMPTY = Buffer.alloc(0);

export function joinError(memberId: string, errorCode: number): JoinResult {
  return { errorCode, memberId, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, members: [] };
}

export function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

export class Member {
  assignment: Buffer = EMPTY;
  joinCallback: ((r: JoinResult) => void) | null = null;
  syncCallback: ((r: SyncResult) => void) | null = null;
  /** Joined in the current rebalance and not yet given a generation (Kafka's isNew). */
  isNew = false;
  /** When the member expires unless it heartbeats (ms, the coordinator's clock). */
  deadline = 0;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    readonly clientId: string,
    readonly clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    readonly protocolType: string,
    public protocols: Protocol[],
  ) {}

  get awaitingJoin(): boolean {
    return this.joinCallback !== null;
  }

  get awaitingSync(): boolean {
    return this.syncCallback !== null;
  }

  /** The member's metadata for `protocol` (empty when it does not support it). */
  metadata(protocol: string): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY;
  }

  /** Same protocols with the same metadata, in the same order. */
  matches(protocols: readonly Protocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata));
  }

  /** The first of the member's protocols among the candidates. */
  vote(candidates: ReadonlySet<string>): string | undefined {
    return this.protocols.find((p) => candidates.has(p.name))?.name;
  }
}

export class ClassicGroup {
  state: GroupState = 'Empty';
  /** When the group entered its state (ms). */
  stateTimestamp: number;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** group.instance.id → member id */
  readonly staticMembers = new Map<string, string>();
  /** member id → deadline (ms) */
  readonly pendingMembers = new Map<string, number>();
  readonly pendingSyncMembers = new Set<string>();
  private readonly supportedProtocols = new Map<string, number>();
  numMembersAwaitingJoin = 0;
  /** A member joined during the initial (delayed) rebalance of a new group. */
  newMemberAdded = false;
  /** The join phase is the initial delay of a new group (it only ends on its timer). */
  initialJoin = false;
  /** Topics the members subscribe to (consumer protocol), null when unknown. */
  subscribedTopics: Set<string> | null = null;
  /** The pending rebalance or sync timer. */
  joinTimer: NodeJS.Timeout | null = null;
  syncTimer: NodeJS.Timeout | null = null;
  /** Writes of this group's generations, in order. */
  persisting: Promise<void> = Promise.resolve();
  /** Bumped by every change of membership or state (lets slow background work detect a change). */
  version = 0;

  constructor(readonly groupId: string, now: number) {
    this.stateTimestamp = now;
  }

  transition(state: GroupState, now: number): void {
    this.state = state;
    this.stateTimestamp = now;
    this.version++;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  get size(): number {
    return this.members.size;
  }

  /** The largest rebalance timeout of the members (how long a rebalance may wait for them). */
  get rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  hasAllMembersJoined(): boolean {
    return this.members.size === this.numMembersAwaitingJoin && this.pendingMembers.size === 0;
  }

  /** Whether a member with this protocol type and protocols can join (Kafka's supportsProtocols). */
  supportsProtocols(protocolType: string, protocols: readonly Protocol[]): boolean {
    if (this.members.size === 0) return protocolType !== '' && protocols.length > 0;
    return this.protocolType === protocolType && protocols.some((p) => this.supportedProtocols.get(p.name) === this.members.size);
  }

  add(member: Member, callback: ((r: JoinResult) => void) | null): void {
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
    this.countProtocols(member, 1);
    member.joinCallback = callback;
    if (callback !== null) this.numMembersAwaitingJoin++;
    this.pendingMembers.delete(member.memberId);
    this.version++;
  }

  remove(memberId: string): void {
    const member = this.members.get(memberId);
    if (member) {
      this.members.delete(memberId);
      this.countProtocols(member, -1);
      if (member.awaitingJoin) this.numMembersAwaitingJoin--;
      if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
        this.staticMembers.delete(member.groupInstanceId);
      }
    }
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    this.pendingMembers.delete(memberId);
    this.pendingSyncMembers.delete(memberId);
    this.version++;
  }

  /** New protocols and join callback for an existing member. A callback it replaces is answered with `replaced`. */
  updateMember(member: Member, protocols: Protocol[], callback: ((r: JoinResult) => void) | null, replaced?: JoinResult): void {
    this.countProtocols(member, -1);
    member.protocols = protocols;
    this.countProtocols(member, 1);
    const previous = member.joinCallback;
    if (callback !== null && previous === null) this.numMembersAwaitingJoin++;
    else if (callback === null && previous !== null) this.numMembersAwaitingJoin--;
    member.joinCallback = callback;
    if (previous !== null && previous !== callback && replaced) previous(replaced);
    this.version++;
  }

  /** Moves a static member to a new member id; its waiting requests are answered FENCED_INSTANCE_ID. */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string, fenced: { join: JoinResult; sync: SyncResult }): Member {
    const member = this.members.get(oldMemberId)!;
    this.members.delete(oldMemberId);
    this.invokeJoinCallback(member, fenced.join);
    this.invokeSyncCallback(member, fenced.sync);
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    if (this.pendingSyncMembers.delete(oldMemberId)) this.pendingSyncMembers.add(newMemberId);
    this.staticMembers.set(groupInstanceId, newMemberId);
    this.version++;
    return member;
  }

  clearJoinTimer(): void {
    if (this.joinTimer) clearTimeout(this.joinTimer);
    this.joinTimer = null;
  }

  clearSyncTimer(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
  }

  /**
   * The group is no longer served here (it moved to another broker, or the broker shuts down): its timers
   * stop and every waiting JoinGroup/SyncGroup is answered with `errorCode`, so the members look for the
   * coordinator again instead of waiting for a rebalance that will not complete here.
   */
  abandon(errorCode: number): void {
    this.clearJoinTimer();
    this.clearSyncTimer();
    for (const m of this.members.values()) {
      this.invokeJoinCallback(m, joinError(m.memberId, errorCode));
      this.invokeSyncCallback(m, syncError(errorCode));
    }
  }

  /** Answers the member's waiting JoinGroup, if any. */
  invokeJoinCallback(member: Member, result: JoinResult): boolean {
    const cb = member.joinCallback;
    if (cb === null) return false;
    member.joinCallback = null;
    this.numMembersAwaitingJoin--;
    cb(result);
    return true;
  }

  /** Answers the member's waiting SyncGroup, if any. */
  invokeSyncCallback(member: Member, result: SyncResult): boolean {
    const cb = member.syncCallback;
    if (cb === null) return false;
    member.syncCallback = null;
    cb(result);
    return true;
  }

  /**
   * Makes sure the leader is a member that rejoined (Kafka's maybeElectNewJoinedLeader). False when no
   * member rejoined.
   */
  electJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    const leader = this.members.get(this.leaderId);
    if (leader?.awaitingJoin) return true;
    for (const m of this.members.values()) {
      if (m.awaitingJoin) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  /** The protocol every member supports that most members prefer. */
  selectProtocol(): string {
    const candidates = new Set<string>();
    for (const [name, count] of this.supportedProtocols) if (count === this.members.size) candidates.add(name);
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const v = m.vote(candidates);
      if (v !== undefined) votes.set(v, (votes.get(v) ?? 0) + 1);
    }
    let best: string | undefined;
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    if (best === undefined) throw new Error(`group ${this.groupId}: no protocol supported by every member`);
    return best;
  }

  /** The members that did not rejoin in this rebalance. */
  notYetRejoined(): Member[] {
    return [...this.members.values()].filter((m) => !m.awaitingJoin);
  }

  /** Members and their metadata for the selected protocol (the leader's JoinGroup response). */
  memberMetadata(): JoinResult['members'] {
    const protocol = this.protocolName ?? '';
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata(protocol) }));
  }

  /**
   * The union of the members' subscribed topics for the selected protocol (consumer protocol), or null when
   * unknown (another protocol type, no selected protocol, or a subscription that cannot be read).
   */
  membersSubscribedTopics(): Set<string> | null {
    if (this.protocolType !== CONSUMER_PROTOCOL_TYPE || this.protocolName === null) return null;
    const topics = new Set<string>();
    for (const m of this.members.values()) {
      const t = subscriptionTopics(m.metadata(this.protocolName));
      if (t === null) return null;
      for (const name of t) topics.add(name);
    }
    return topics;
  }

  private countProtocols(member: Member, delta: 1 | -1): void {
    for (const p of member.protocols) {
      const n = (this.supportedProtocols.get(p.name) ?? 0) + delta;
      if (n === 0) this.supportedProtocols.delete(p.name);
      else this.supportedProtocols.set(p.name, n);
    }
  }
}
