/**
 * The classic group protocol over the groups this broker coordinates, following Kafka's GroupCoordinator
 * (3.x) rule for rule: JoinGroup with the MEMBER_ID_REQUIRED flow (v4+), static membership
 * (group.instance.id, FENCED_INSTANCE_ID), protocol selection by vote, the initial rebalance delay of a new
 * group, rebalance timeouts, pending-sync expiry, session timeouts, generations, the five states, and
 * Kafka's error codes; SyncGroup, Heartbeat and LeaveGroup; and DescribeGroups, ListGroups and DeleteGroups,
 * which read or end that state. One group's bookkeeping is in classic-group.ts; this file holds the rules.
 *
 * Time: session deadlines are checked by one coarse ticker for all members (not a timer per member); each
 * group has at most one timer at a time for its rebalance phase (join delay/timeout, or pending syncs).
 * Everything that changes a group happens synchronously; only stores await, and their continuations check
 * that the group is still in the state and generation they were started in (as Kafka's callbacks do).
 *
 * Floe differences: a JoinGroup or SyncGroup request that another request of the same member replaces is
 * answered REBALANCE_IN_PROGRESS instead of never (Kafka drops its callback). Requests for the id of a
 * KIP-848 consumer group with members are served by that group (the GroupCoordinator sends them to
 * consumer-group-protocol.ts: online migration); an empty consumer group becomes a classic group, as in
 * Kafka; a consumer group whose last consumer-protocol member leaves comes back here (adoptConsumerGroup).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { childLogger } from '../observability/log.ts';
import {
  type ClassicGroup,
  EMPTY,
  joinError,
  Member,
  syncError,
  type GroupState,
  type JoinResult,
  type Protocol,
  type SyncResult,
} from './classic-group.ts';
import { CONSUMER_PROTOCOL_TYPE } from './consumer-protocol.ts';
import type { ConsumerGroup, ConsumerMember } from './consumer-group.ts';
import { groupIdError } from './group-id.ts';
import type { GroupCoordinatorOptions } from './group-options.ts';
import type { OwnedGroups } from './owned-groups.ts';

const log = childLogger('groups');

/** How long a new member may wait in a rebalance before it is dropped (Kafka's NewMemberJoinTimeoutMs). */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60_000;

/** Kafka's client host as DescribeGroups shows it ("/127.0.0.1"), from a connection's "host:port". */
export function clientHost(remoteAddress: string): string {
  const colon = remoteAddress.lastIndexOf(':');
  return `/${colon > 0 ? remoteAddress.slice(0, colon) : remoteAddress}`;
}

export interface JoinParams {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  /** JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED with its id. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: a static leader rejoining a Stable group is told to skip the assignment. */
  supportSkippingAssignment: boolean;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  reason: string | null;
}

export interface SyncParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface MemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
  reason?: string | null;
}

export interface LeaveResult {
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

export interface DescribedGroup {
  groupId: string;
  state: GroupState;
  protocolType: string;
  /** The selected protocol; '' unless Stable. */
  protocolData: string;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    metadata: Buffer;
    assignment: Buffer;
  }[];
}

export class ClassicProtocol {
  private readonly now: () => number;
  private ticker: NodeJS.Timeout | null = null;

  constructor(private readonly groups: OwnedGroups, private readonly options: GroupCoordinatorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Starts the session ticker. */
  startSessionTicker(): void {
    const tick = this.options.tickMs ?? Math.max(10, Math.min(500, Math.floor(this.options.minSessionTimeoutMs / 10)));
    this.ticker = setInterval(() => this.tick(), tick);
    this.ticker.unref();
  }

  stopSessionTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
  }

  /** Read-only view for tests: state, generation, leader and member ids. */
  inspect(groupId: string): { state: GroupState; generationId: number; leaderId: string | null; members: string[]; protocolName: string | null } | undefined {
    const g = this.groups.get(groupId);
    return g && { state: g.state, generationId: g.generationId, leaderId: g.leaderId, members: [...g.members.keys()], protocolName: g.protocolName };
  }

  // ---- JoinGroup ----

  join(p: JoinParams): Promise<JoinResult> {
    log.debug({ group: p.groupId, memberId: p.memberId, instance: p.groupInstanceId }, 'join');
    const idError = groupIdError(p.groupId, false);
    if (idError !== null) return Promise.resolve(joinError(p.memberId, idError));
    const placement = this.groups.placementError(p.groupId);
    if (placement !== null) return Promise.resolve(joinError(p.memberId, placement));
    if (p.sessionTimeoutMs < this.options.minSessionTimeoutMs || p.sessionTimeoutMs > this.options.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(p.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = p.memberId === '';
    // A KIP-848 consumer group of that id: an empty one becomes a classic group (a live one takes classic
    // members itself: the GroupCoordinator sends their requests there).
    const consumerGroup = this.groups.getConsumer(p.groupId);
    if (consumerGroup !== undefined && consumerGroup.members.size > 0) return Promise.resolve(joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    let group = this.groups.get(p.groupId);
    if (group === undefined) {
      // A group is created by a member without id; a member id for a group we do not know is stale.
      if (!isUnknownMember) return Promise.resolve(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      group = this.groups.create(p.groupId);
    }
    const g = group;
    return new Promise<JoinResult>((resolve) => {
      if (!this.acceptJoiningMember(g, p.memberId)) {
        g.remove(p.memberId);
        resolve(joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED));
      } else if (isUnknownMember) {
        this.doNewMemberJoin(g, p, resolve);
      } else {
        this.doCurrentMemberJoin(g, p, resolve);
      }
      if (g.state === 'PreparingRebalance') this.tryCompleteJoin(g);
    });
  }

  private acceptJoiningMember(g: ClassicGroup, memberId: string): boolean {
    switch (g.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        return (g.members.get(memberId)?.awaitingJoin ?? false) || g.numMembersAwaitingJoin < this.options.maxSize;
      case 'CompletingRebalance':
      case 'Stable':
        return g.has(memberId) || g.size < this.options.maxSize;
    }
  }

  private doNewMemberJoin(g: ClassicGroup, p: JoinParams, resolve: (r: JoinResult) => void): void {
    if (g.state === 'Dead') return resolve(joinError('', ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!g.supportsProtocols(p.protocolType, p.protocols)) return resolve(joinError('', ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    const newMemberId = `${p.groupInstanceId ?? p.clientId}-${randomUUID()}`;
    if (p.groupInstanceId !== null) {
      const oldMemberId = g.staticMembers.get(p.groupInstanceId);
      if (oldMemberId !== undefined) {
        log.info({ group: g.groupId, instance: p.groupInstanceId, oldMemberId, newMemberId, state: g.state }, 'static member rejoins with a new member id');
        this.updateStaticMemberAndRebalance(g, p.groupInstanceId, oldMemberId, newMemberId, p, resolve);
      } else {
        this.addMemberAndRebalance(g, p, newMemberId, resolve);
      }
    } else if (p.requireKnownMemberId) {
      g.pendingMembers.set(newMemberId, this.now() + p.sessionTimeoutMs);
      resolve(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberAndRebalance(g, p, newMemberId, resolve);
    }
  }

  private doCurrentMemberJoin(g: ClassicGroup, p: JoinParams, resolve: (r: JoinResult) => void): void {
    if (g.state === 'Dead') return resolve(joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!g.supportsProtocols(p.protocolType, p.protocols)) return resolve(joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    if (g.pendingMembers.has(p.memberId)) {
      // Pending ids are only handed to dynamic members.
      if (p.groupInstanceId !== null) return resolve(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      this.addMemberAndRebalance(g, p, p.memberId, resolve);
      return;
    }
    const error = this.validateCurrentMember(g, p.memberId, p.groupInstanceId);
    if (error !== null) return resolve(joinError(p.memberId, error));
    const member = g.members.get(p.memberId)!;
    switch (g.state) {
      case 'PreparingRebalance':
        this.updateMemberAndRebalance(g, member, p, resolve, 'member joins during PreparingRebalance');
        break;
      case 'CompletingRebalance':
        if (member.matches(p.protocols)) {
          // It probably missed the JoinGroup response: give it the current generation again.
          resolve(this.generationResult(g, member, g.isLeader(member.memberId)));
        } else {
          this.updateMemberAndRebalance(g, member, p, resolve, 'member changes its metadata during CompletingRebalance');
        }
        break;
      case 'Stable':
        if (g.isLeader(member.memberId) || !member.matches(p.protocols)) {
          // The leader may rejoin to trigger a rebalance (e.g. its topics' metadata changed).
          this.updateMemberAndRebalance(g, member, p, resolve, g.isLeader(member.memberId) ? 'leader rejoins' : 'member changes its metadata');
        } else {
          resolve(this.generationResult(g, member, false));
        }
        break;
      default:
        // Empty: no member can be in it (let the member reset and rejoin).
        resolve(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
        break;
    }
  }

  private generationResult(g: ClassicGroup, member: Member, withMembers: boolean): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      memberId: member.memberId,
      generationId: g.generationId,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      leader: g.leaderId ?? '',
      skipAssignment: false,
      members: withMembers ? g.memberMetadata() : [],
    };
  }

  private addMemberAndRebalance(g: ClassicGroup, p: JoinParams, memberId: string, resolve: (r: JoinResult) => void): void {
    const member = new Member(memberId, p.groupInstanceId, p.clientId, p.clientHost, p.rebalanceTimeoutMs, p.sessionTimeoutMs, p.protocolType, p.protocols);
    member.isNew = true;
    if (g.state === 'PreparingRebalance' && g.generationId === 0) g.newMemberAdded = true;
    g.add(member, resolve);
    // A new member cannot heartbeat before it has a generation: it gets a long deadline instead.
    member.deadline = this.now() + NEW_MEMBER_JOIN_TIMEOUT_MS;
    this.maybePrepareRebalance(g, `adding member ${memberId}${p.reason ? ` (${p.reason})` : ''}`);
  }

  private updateMemberAndRebalance(g: ClassicGroup, member: Member, p: JoinParams, resolve: (r: JoinResult) => void, reason: string): void {
    member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    member.sessionTimeoutMs = p.sessionTimeoutMs;
    g.updateMember(member, p.protocols, resolve, joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    this.maybePrepareRebalance(g, reason);
  }

  private updateStaticMemberAndRebalance(g: ClassicGroup, instanceId: string, oldMemberId: string, newMemberId: string, p: JoinParams, resolve: (r: JoinResult) => void): void {
    const currentLeader = g.leaderId;
    const member = g.replaceStaticMember(instanceId, oldMemberId, newMemberId, {
      join: joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID),
      sync: syncError(ErrorCode.FENCED_INSTANCE_ID),
    });
    this.touch(member);
    const old = { protocols: member.protocols, rebalanceTimeoutMs: member.rebalanceTimeoutMs, sessionTimeoutMs: member.sessionTimeoutMs };
    member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    member.sessionTimeoutMs = p.sessionTimeoutMs;
    g.updateMember(member, p.protocols, resolve);
    switch (g.state) {
      case 'Stable': {
        if (g.selectProtocol() !== g.protocolName) {
          this.maybePrepareRebalance(g, `static member ${instanceId} rejoins with other protocols`);
          break;
        }
        // Same protocol: store the new member id and hand back the current generation, no rebalance.
        const assignment = new Map([...g.members.values()].map((m) => [m.memberId, m.assignment]));
        const generation = g.generationId;
        this.groups.persist(g, assignment).then(
          () => {
            if (g.members.get(newMemberId) !== member) return;
            const isLeader = g.isLeader(newMemberId);
            g.invokeJoinCallback(member, {
              errorCode: ErrorCode.NONE,
              memberId: newMemberId,
              generationId: generation,
              protocolType: g.protocolType,
              protocolName: g.protocolName,
              // Before v9 the old leader id is returned, so a rejoining static leader does not run a useless assignment.
              leader: p.supportSkippingAssignment ? (g.leaderId ?? '') : (currentLeader ?? ''),
              skipAssignment: p.supportSkippingAssignment && isLeader,
              members: p.supportSkippingAssignment && isLeader ? g.memberMetadata() : [],
            });
          },
          (err: unknown) => {
            log.warn({ err, group: g.groupId, instance: instanceId }, 'could not store the new member id of a static member; reverting');
            if (g.members.get(newMemberId) !== member) return;
            member.rebalanceTimeoutMs = old.rebalanceTimeoutMs;
            member.sessionTimeoutMs = old.sessionTimeoutMs;
            g.updateMember(member, old.protocols, null);
            const none = { join: joinError(newMemberId, ErrorCode.UNKNOWN_MEMBER_ID), sync: syncError(ErrorCode.UNKNOWN_MEMBER_ID) };
            this.touch(g.replaceStaticMember(instanceId, newMemberId, oldMemberId, none));
            resolve({ ...joinError('', ErrorCode.COORDINATOR_NOT_AVAILABLE), generationId: g.generationId, leader: currentLeader ?? '' });
          },
        );
        break;
      }
      case 'CompletingRebalance':
        // The leader may already be assigning to the old member id: rebalance so the new id gets partitions.
        this.prepareRebalance(g, `static member ${instanceId} rejoins during CompletingRebalance`);
        break;
      default:
        // PreparingRebalance: the join completes with the others.
        break;
    }
  }

  /**
   * The online downgrade (Kafka's ClassicGroup.fromConsumerGroup): the consumer group's members but
   * `leaving`, all of the classic protocol, make a classic group at the group epoch as its generation, with
   * their current assignments; it is stored (replacing the consumer group's record) and rebalances.
   */
  async adoptConsumerGroup(cg: ConsumerGroup, leaving: string, assignmentOf: (m: ConsumerMember) => Buffer): Promise<void> {
    const now = this.now();
    const g = this.groups.create(cg.groupId);
    g.generationId = cg.groupEpoch;
    g.protocolType = CONSUMER_PROTOCOL_TYPE;
    const assignments = new Map<string, Buffer>();
    for (const cm of cg.members.values()) {
      if (cm.memberId === leaving || cm.classic === null) continue;
      const m = new Member(cm.memberId, cm.instanceId, cm.clientId, cm.clientHost, cm.rebalanceTimeoutMs, cm.classic.sessionTimeoutMs, CONSUMER_PROTOCOL_TYPE,
        cm.classic.protocols.map((x) => ({ name: x.name, metadata: x.metadata })));
      m.assignment = assignmentOf(cm);
      m.deadline = now + cm.classic.sessionTimeoutMs;
      g.add(m, null);
      assignments.set(m.memberId, m.assignment);
    }
    cg.dead = true;
    g.protocolName = g.selectProtocol();
    g.subscribedTopics = g.membersSubscribedTopics();
    g.transition('Stable', now);
    log.info({ group: g.groupId, generation: g.generationId, members: g.size }, 'consumer group downgraded to a classic group (online migration)');
    await cg.persisting;
    await this.groups.persist(g, assignments);
    this.prepareRebalance(g, `Downgrade group ${g.groupId} from consumer to classic.`);
  }

  private maybePrepareRebalance(g: ClassicGroup, reason: string): void {
    if (g.state === 'Stable' || g.state === 'CompletingRebalance' || g.state === 'Empty') this.prepareRebalance(g, reason);
  }

  private prepareRebalance(g: ClassicGroup, reason: string): void {
    if (g.state === 'CompletingRebalance') this.resetAndPropagateAssignmentError(g, ErrorCode.REBALANCE_IN_PROGRESS);
    g.clearSyncTimer();
    g.clearJoinTimer();
    const wasEmpty = g.state === 'Empty';
    g.transition('PreparingRebalance', this.now());
    log.info({ group: g.groupId, generation: g.generationId, members: g.size, reason }, 'preparing to rebalance');
    if (wasEmpty) {
      const delay = this.options.initialRebalanceDelayMs;
      this.scheduleInitialJoin(g, delay, Math.max(g.rebalanceTimeoutMs - delay, 0));
    } else {
      g.initialJoin = false;
      if (g.hasAllMembersJoined()) this.completeJoin(g);
      else this.scheduleJoinTimeout(g);
    }
  }

  /** The initial delay of a new group: more members may come; each newcomer extends it, up to the rebalance timeout. */
  private scheduleInitialJoin(g: ClassicGroup, delayMs: number, remainingMs: number): void {
    g.initialJoin = true;
    g.joinTimer = setTimeout(() => {
      g.joinTimer = null;
      if (g.state !== 'PreparingRebalance') return;
      if (g.newMemberAdded && remainingMs !== 0) {
        g.newMemberAdded = false;
        this.scheduleInitialJoin(g, Math.min(this.options.initialRebalanceDelayMs, remainingMs), Math.max(remainingMs - delayMs, 0));
      } else {
        this.completeJoin(g);
      }
    }, delayMs);
    g.joinTimer.unref();
  }

  private scheduleJoinTimeout(g: ClassicGroup): void {
    g.joinTimer = setTimeout(() => {
      g.joinTimer = null;
      if (g.state === 'PreparingRebalance') this.completeJoin(g);
    }, g.rebalanceTimeoutMs);
    g.joinTimer.unref();
  }

  /** Completes the join phase now if every member has rejoined (not during the initial delay). */
  private tryCompleteJoin(g: ClassicGroup): void {
    if (g.state === 'PreparingRebalance' && !g.initialJoin && g.hasAllMembersJoined()) this.completeJoin(g);
  }

  /** Kafka's onCompleteJoin: drop dynamic members that did not rejoin, start the next generation, answer the joins. */
  private completeJoin(g: ClassicGroup): void {
    g.clearJoinTimer();
    g.initialJoin = false;
    const missing = g.notYetRejoined().filter((m) => m.groupInstanceId === null);
    if (missing.length > 0) {
      log.info({ group: g.groupId, members: missing.map((m) => m.memberId) }, 'removing members that did not rejoin');
      for (const m of missing) this.dropMember(g, m);
    }
    if (g.state === 'Dead') return;
    if (!g.electJoinedLeader() && g.size > 0) {
      // Only static members that did not rejoin are left: wait for them (or their session timeout) once more.
      log.warn({ group: g.groupId }, 'no member rejoined; waiting another rebalance timeout');
      this.scheduleJoinTimeout(g);
      return;
    }
    const now = this.now();
    g.generationId++;
    g.pendingSyncMembers.clear();
    if (g.size === 0) {
      g.protocolName = null;
      g.subscribedTopics = g.protocolType === CONSUMER_PROTOCOL_TYPE ? new Set() : null;
      g.transition('Empty', now);
      log.info({ group: g.groupId, generation: g.generationId }, 'group is empty');
      this.groups.persist(g, new Map()).catch((err: unknown) => log.warn({ err, group: g.groupId }, 'could not store the empty generation'));
      return;
    }
    g.protocolName = g.selectProtocol();
    g.subscribedTopics = g.membersSubscribedTopics();
    g.transition('CompletingRebalance', now);
    log.info({ group: g.groupId, generation: g.generationId, members: g.size, protocol: g.protocolName, leader: g.leaderId }, 'group rebalanced');
    for (const m of [...g.members.values()]) {
      g.invokeJoinCallback(m, this.generationResult(g, m, g.isLeader(m.memberId)));
      this.touch(m);
      m.isNew = false;
      g.pendingSyncMembers.add(m.memberId);
    }
    this.schedulePendingSync(g);
  }

  /** Members that do not send their SyncGroup within the rebalance timeout are removed. */
  private schedulePendingSync(g: ClassicGroup): void {
    g.clearSyncTimer();
    const generation = g.generationId;
    g.syncTimer = setTimeout(() => {
      g.syncTimer = null;
      if (g.generationId !== generation || (g.state !== 'CompletingRebalance' && g.state !== 'Stable')) return;
      if (g.pendingSyncMembers.size === 0) return;
      const pending = [...g.pendingSyncMembers];
      log.info({ group: g.groupId, members: pending }, 'removing members that did not sync');
      for (const id of pending) {
        const m = g.members.get(id);
        if (m) this.dropMember(g, m);
        else g.remove(id);
      }
      this.prepareRebalance(g, 'members did not sync in time');
    }, g.rebalanceTimeoutMs);
    g.syncTimer.unref();
  }

  // ---- SyncGroup ----

  sync(p: SyncParams): Promise<SyncResult> {
    log.debug({ group: p.groupId, memberId: p.memberId, generationId: p.generationId, assignments: p.assignments.length }, 'sync');
    const idError = groupIdError(p.groupId, false);
    if (idError !== null) return Promise.resolve(syncError(idError));
    const placement = this.groups.placementError(p.groupId);
    if (placement !== null) return Promise.resolve(syncError(placement));
    const g = this.groups.get(p.groupId);
    if (g === undefined) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (g.state === 'Dead') return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    const error = this.validateCurrentMember(g, p.memberId, p.groupInstanceId)
      ?? (p.generationId !== g.generationId ? ErrorCode.ILLEGAL_GENERATION : null)
      ?? (p.protocolType !== null && p.protocolType !== g.protocolType ? ErrorCode.INCONSISTENT_GROUP_PROTOCOL : null)
      ?? (p.protocolName !== null && p.protocolName !== g.protocolName ? ErrorCode.INCONSISTENT_GROUP_PROTOCOL : null);
    if (error !== null) return Promise.resolve(syncError(error));
    const member = g.members.get(p.memberId)!;
    switch (g.state) {
      case 'Empty':
        return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case 'Stable':
        this.removePendingSync(g, member.memberId);
        this.touch(member);
        return Promise.resolve({ errorCode: ErrorCode.NONE, protocolType: g.protocolType, protocolName: g.protocolName, assignment: member.assignment });
      case 'CompletingRebalance':
        return new Promise<SyncResult>((resolve) => {
          const previous = member.syncCallback;
          member.syncCallback = resolve;
          if (previous !== null) previous(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
          this.removePendingSync(g, member.memberId);
          if (g.isLeader(member.memberId)) this.storeAssignment(g, p);
        });
    }
  }

  private removePendingSync(g: ClassicGroup, memberId: string): void {
    g.pendingSyncMembers.delete(memberId);
    if (g.pendingSyncMembers.size === 0) g.clearSyncTimer();
  }

  /** The leader's assignment: store the generation, then answer every member's SyncGroup. */
  private storeAssignment(g: ClassicGroup, p: SyncParams): void {
    const given = new Map<string, Buffer>();
    for (const a of p.assignments) given.set(a.memberId, a.assignment);
    const assignment = new Map<string, Buffer>();
    for (const id of g.members.keys()) assignment.set(id, given.get(id) ?? EMPTY);
    log.info({ group: g.groupId, generation: g.generationId, members: g.size, static: g.staticMembers.size }, 'assignment received from the leader');
    const generation = g.generationId;
    this.groups.persist(g, assignment).then(
      () => {
        if (g.state !== 'CompletingRebalance' || g.generationId !== generation) return;
        for (const m of g.members.values()) m.assignment = assignment.get(m.memberId) ?? EMPTY;
        this.propagateAssignment(g, ErrorCode.NONE);
        g.transition('Stable', this.now());
      },
      (err: unknown) => {
        log.warn({ err, group: g.groupId }, 'could not store the group assignment');
        if (g.state !== 'CompletingRebalance' || g.generationId !== generation) return;
        this.resetAndPropagateAssignmentError(g, ErrorCode.COORDINATOR_NOT_AVAILABLE);
        this.maybePrepareRebalance(g, 'the assignment could not be stored');
      },
    );
  }

  private resetAndPropagateAssignmentError(g: ClassicGroup, errorCode: number): void {
    for (const m of g.members.values()) m.assignment = EMPTY;
    this.propagateAssignment(g, errorCode);
  }

  private propagateAssignment(g: ClassicGroup, errorCode: number): void {
    const ok = errorCode === ErrorCode.NONE;
    for (const m of g.members.values()) {
      const result: SyncResult = { errorCode, protocolType: ok ? g.protocolType : null, protocolName: ok ? g.protocolName : null, assignment: m.assignment };
      // A member whose session ran out while it waited for the assignment gets a fresh deadline.
      if (g.invokeSyncCallback(m, result)) this.touch(m);
    }
  }

  // ---- Heartbeat, LeaveGroup ----

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    const code = this.doHeartbeat(groupId, memberId, groupInstanceId, generationId);
    log.debug({ group: groupId, memberId, generationId, errorCode: code }, 'heartbeat');
    return code;
  }

  private doHeartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    const idError = groupIdError(groupId, false) ?? this.groups.placementError(groupId);
    if (idError !== null) return idError;
    const g = this.groups.get(groupId);
    if (g === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (g.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const error = this.validateCurrentMember(g, memberId, groupInstanceId);
    if (error !== null) return error;
    if (generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const member = g.members.get(memberId)!;
    switch (g.state) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'CompletingRebalance':
      case 'Stable':
        this.touch(member);
        return ErrorCode.NONE;
      case 'PreparingRebalance':
        this.touch(member);
        return ErrorCode.REBALANCE_IN_PROGRESS;
    }
  }

  leave(groupId: string, leaving: readonly MemberIdentity[]): LeaveResult {
    const idError = groupIdError(groupId, false);
    const placement = idError ?? this.groups.placementError(groupId);
    if (placement !== null) return { errorCode: placement, members: [] };
    const g = this.groups.get(groupId);
    const answer = (m: MemberIdentity, errorCode: number) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode });
    if (g === undefined) return { errorCode: ErrorCode.NONE, members: leaving.map((m) => answer(m, ErrorCode.UNKNOWN_MEMBER_ID)) };
    if (g.state === 'Dead') return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members = leaving.map((l) => {
      const reason = l.reason ?? 'not provided';
      if (l.memberId === '') {
        // Administrative removal of a static member by its instance id.
        const current = l.groupInstanceId === null ? undefined : g.staticMembers.get(l.groupInstanceId);
        if (current === undefined) return answer(l, ErrorCode.UNKNOWN_MEMBER_ID);
        this.removeMemberAndUpdateGroup(g, g.members.get(current)!, `static member ${l.groupInstanceId} removed by LeaveGroup (${reason})`);
        return answer(l, ErrorCode.NONE);
      }
      if (g.pendingMembers.has(l.memberId)) {
        g.remove(l.memberId);
        this.tryCompleteJoin(g);
        return answer(l, ErrorCode.NONE);
      }
      const error = this.validateCurrentMember(g, l.memberId, l.groupInstanceId);
      if (error !== null) return answer(l, error);
      this.removeMemberAndUpdateGroup(g, g.members.get(l.memberId)!, `member ${l.memberId} left (${reason})`);
      return answer(l, ErrorCode.NONE);
    });
    return { errorCode: ErrorCode.NONE, members };
  }

  /**
   * Kafka's validateCurrentMember: a static member must use its current member id; the member must exist.
   * Also the member check of OffsetCommit.
   */
  validateCurrentMember(g: ClassicGroup, memberId: string, groupInstanceId: string | null): number | null {
    if (groupInstanceId !== null) {
      const current = g.staticMembers.get(groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (current !== memberId) {
        log.info({ group: g.groupId, instance: groupInstanceId, memberId, current }, 'static member fenced');
        return ErrorCode.FENCED_INSTANCE_ID;
      }
    }
    return g.has(memberId) ? null : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /** Removes a member, answering its waiting requests, and starts or completes a rebalance. */
  private removeMemberAndUpdateGroup(g: ClassicGroup, member: Member, reason: string): void {
    this.dropMember(g, member);
    switch (g.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.maybePrepareRebalance(g, reason);
        break;
      case 'PreparingRebalance':
        this.tryCompleteJoin(g);
        break;
      case 'Empty':
      case 'Dead':
        break;
    }
  }

  private dropMember(g: ClassicGroup, member: Member): void {
    g.invokeJoinCallback(member, joinError('', ErrorCode.UNKNOWN_MEMBER_ID));
    g.invokeSyncCallback(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    g.remove(member.memberId);
  }

  /** The member heartbeated (or joined, synced or committed offsets): its session starts again. */
  touch(member: Member): void {
    member.deadline = this.now() + member.sessionTimeoutMs;
  }

  /** The session ticker: expires pending members and members that stopped heartbeating. */
  private tick(): void {
    const now = this.now();
    for (const g of this.groups.values()) {
      if (g.pendingMembers.size > 0) {
        for (const [id, deadline] of [...g.pendingMembers]) {
          if (now < deadline) continue;
          log.info({ group: g.groupId, memberId: id }, 'pending member expired');
          g.remove(id);
          this.tryCompleteJoin(g);
        }
      }
      if (g.members.size === 0) continue;
      for (const m of [...g.members.values()]) {
        if (now < m.deadline || g.members.get(m.memberId) !== m) continue;
        // Members waiting in a rebalance are bounded by the rebalance timeout instead (except new ones).
        if (!m.isNew && (m.awaitingJoin || m.awaitingSync)) continue;
        log.info({ group: g.groupId, memberId: m.memberId, sessionTimeoutMs: m.sessionTimeoutMs }, 'member session expired; removing it');
        this.removeMemberAndUpdateGroup(g, m, `member ${m.memberId} session expired`);
      }
    }
  }

  // ---- DescribeGroups, ListGroups, DeleteGroups ----

  describe(groupId: string): DescribedGroup | null {
    const g = this.groups.get(groupId);
    if (g === undefined || g.state === 'Dead') return null;
    const stable = g.state === 'Stable';
    const protocol = g.protocolName ?? '';
    return {
      groupId,
      state: g.state,
      protocolType: g.protocolType ?? '',
      protocolData: stable ? protocol : '',
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.metadata(protocol) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  list(): { groupId: string; protocolType: string; state: GroupState }[] {
    const out = [];
    for (const g of this.groups.values()) if (g.state !== 'Dead') out.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state });
    return out;
  }

  async deleteGroups(groupIds: readonly string[]): Promise<{ groupId: string; errorCode: number }[]> {
    const results = new Map<string, number>();
    const eligible: ClassicGroup[] = [];
    for (const id of groupIds) {
      if (results.has(id) || eligible.some((g) => g.groupId === id)) continue;
      const idError = groupIdError(id, true);
      if (idError !== null) {
        results.set(id, idError);
        continue;
      }
      const placement = this.groups.placementError(id);
      if (placement !== null) {
        results.set(id, placement);
        continue;
      }
      const g = this.groups.get(id);
      if (g === undefined || g.state === 'Dead') results.set(id, ErrorCode.GROUP_ID_NOT_FOUND);
      else if (g.state === 'Empty') {
        g.transition('Dead', this.now());
        eligible.push(g);
      } else results.set(id, ErrorCode.NON_EMPTY_GROUP);
    }
    if (eligible.length > 0) {
      try {
        await this.groups.deleteStored(eligible);
        for (const g of eligible) {
          this.groups.remove(g);
          results.set(g.groupId, ErrorCode.NONE);
        }
        log.info({ groups: eligible.map((g) => g.groupId) }, 'deleted groups');
      } catch (err) {
        log.warn({ err }, 'could not delete groups');
        for (const g of eligible) {
          if (g.state === 'Dead') g.transition('Empty', this.now());
          results.set(g.groupId, ErrorCode.COORDINATOR_NOT_AVAILABLE);
        }
      }
    }
    return groupIds.map((groupId) => ({ groupId, errorCode: results.get(groupId)! }));
  }
}
