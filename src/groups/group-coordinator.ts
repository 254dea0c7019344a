/**
 * The group coordinator for the classic protocol, following Kafka's GroupCoordinator (3.x) rule for rule:
 * JoinGroup with the MEMBER_ID_REQUIRED flow (v4+), static membership (group.instance.id, FENCED_INSTANCE_ID),
 * protocol selection by vote, the initial rebalance delay of a new group, rebalance timeouts, pending-sync
 * expiry, session timeouts, generations, the five states, and Kafka's error codes. Committed offsets and each
 * generation of a group are stored in the coordinator DB (what Kafka writes to __consumer_offsets); groups
 * are rebuilt from it when the broker starts (members of a stored generation come back as a Stable group
 * and must heartbeat within their session timeout, as after a Kafka coordinator failover).
 *
 * Time: session deadlines are checked by one coarse ticker for all members (not a timer per member); each
 * group has at most one timer at a time for its rebalance phase (join delay/timeout, or pending syncs).
 * Everything that changes a group happens synchronously; only stores await, and their continuations check
 * that the group is still in the state and generation they were started in (as Kafka's callbacks do).
 *
 * Floe differences:
 * - This broker coordinates every group (FindCoordinator names it); there is no partitioning of groups
 *   across brokers yet, so two brokers must not serve the same groups.
 * - A group id longer than MAX_GROUP_ID_BYTES (UTF-8) gets INVALID_GROUP_ID: Kafka has no limit, but the
 *   coordinator DB indexes group ids and PostgreSQL refuses index entries over ~2.7 kB.
 * - A JoinGroup or SyncGroup request that another request of the same member replaces is answered
 *   REBALANCE_IN_PROGRESS instead of never (Kafka drops its callback).
 * - Expiry of offsets of topics a Stable consumer group no longer subscribes to is not done (Kafka expires
 *   them by commit time); offsets of empty and simple groups expire as in Kafka.
 */
import { randomUUID } from 'node:crypto';
import type { BrokerConfig } from '../config/broker-config.ts';
import type { Coordinator, GroupOffsetCommit, GroupRecord } from '../coordinator/coordinator.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { childLogger } from '../observability/log.ts';
import {
  ClassicGroup,
  EMPTY,
  joinError,
  Member,
  syncError,
  type GroupState,
  type JoinResult,
  type Protocol,
  type SyncResult,
} from './classic-group.ts';
import { CONSUMER_PROTOCOL_TYPE, subscriptionTopics } from './consumer-protocol.ts';

const log = childLogger('groups');

/** Longest group id accepted, in UTF-8 bytes (see the header). */
export const MAX_GROUP_ID_BYTES = 2048;
/** How long a new member may wait in a rebalance before it is dropped (Kafka's NewMemberJoinTimeoutMs). */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60_000;

export interface GroupCoordinatorOptions {
  initialRebalanceDelayMs: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  maxSize: number;
  offsetsRetentionMs: number;
  offsetsRetentionCheckIntervalMs: number;
  offsetMetadataMaxBytes: number;
  /** The clock (ms). Date.now by default. */
  now?: () => number;
  /** How often session deadlines are checked; by default a tenth of the minimum session timeout, within [10, 500] ms. */
  tickMs?: number;
  /** Whether this broker coordinates the group (placement over the live brokers); every group by default. */
  owns?: (groupId: string) => boolean;
}

/** Kafka's client host as DescribeGroups shows it ("/127.0.0.1"), from a connection's "host:port". */
export function clientHost(remoteAddress: string): string {
  const colon = remoteAddress.lastIndexOf(':');
  return `/${colon > 0 ? remoteAddress.slice(0, colon) : remoteAddress}`;
}

export function groupOptionsFromConfig(config: BrokerConfig): GroupCoordinatorOptions {
  return {
    initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
    minSessionTimeoutMs: config.groupMinSessionTimeoutMs ?? 6000,
    maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs ?? 1_800_000,
    maxSize: config.groupMaxSize ?? 2147483647,
    offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
    offsetsRetentionCheckIntervalMs: config.offsetsRetentionCheckIntervalMs ?? 600_000,
    offsetMetadataMaxBytes: config.offsetMetadataMaxBytes ?? 4096,
  };
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

export interface CommitParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2-v4; -1: the broker's offsets.retention.minutes. */
  retentionTimeMs: number;
  commits: Omit<GroupOffsetCommit, 'expireTimestamp'>[];
}

export interface FetchedPartition {
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

export interface FetchedGroup {
  groupId: string;
  errorCode: number;
  topics: { name: string; partitions: FetchedPartition[] }[];
}

export interface FetchRequestGroup {
  groupId: string;
  /** null: every committed offset of the group. */
  topics: { name: string; partitions: number[] }[] | null;
}

export interface DeleteOffsetsTarget {
  topicId: string;
  topicName: string;
  partition: number;
}

export class GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>();
  private readonly now: () => number;
  private ticker: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private expiring: Promise<void> | null = null;
  private closed = false;
  /** Set while the groups that moved to this broker are read from the coordinator. */
  private loading: Promise<void> | null = null;
  private reloadWanted = false;
  /** Every group id stored in the coordinator at the last load (those of other brokers too). */
  private storedGroupIds = new Set<string>();

  constructor(private readonly store: Coordinator, readonly options: GroupCoordinatorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Rebuilds the groups this broker coordinates from the coordinator DB; call before serving. */
  async load(): Promise<void> {
    this.ownershipChanged();
    await this.loading;
  }

  /**
   * The live brokers changed, so groups may have moved: groups now coordinated elsewhere are dropped (their
   * waiting members are told NOT_COORDINATOR and find the new coordinator), groups that moved here are read
   * from the coordinator DB with their generation, members and assignments, so members carry on with their
   * ids. Until that read completes, requests for them get COORDINATOR_LOAD_IN_PROGRESS.
   */
  ownershipChanged(): void {
    if (this.closed) return;
    this.reloadWanted = true;
    if (this.loading) return;
    this.loading = (async () => {
      while (this.reloadWanted && !this.closed) {
        this.reloadWanted = false;
        this.unloadForeignGroups();
        try {
          await this.loadOwnedGroups();
        } catch (err) {
          log.warn({ err }, 'could not load consumer groups; retrying');
          this.reloadWanted = true;
          await new Promise((res) => setTimeout(res, 1000).unref());
        }
      }
    })().finally(() => {
      this.loading = null;
    });
  }

  private owns(groupId: string): boolean {
    return this.options.owns?.(groupId) ?? true;
  }

  private unloadForeignGroups(): void {
    for (const g of [...this.groups.values()]) {
      if (this.owns(g.groupId)) continue;
      this.clearJoinTimer(g);
      this.clearSyncTimer(g);
      for (const m of g.members.values()) {
        g.invokeJoinCallback(m, joinError(m.memberId, ErrorCode.NOT_COORDINATOR));
        g.invokeSyncCallback(m, syncError(ErrorCode.NOT_COORDINATOR));
      }
      this.groups.delete(g.groupId);
      log.info({ group: g.groupId }, 'group moved to another coordinator');
    }
  }

  private async loadOwnedGroups(): Promise<void> {
    const records = await this.store.loadGroups();
    this.storedGroupIds = new Set(records.map((r) => r.groupId));
    const now = this.now();
    let loaded = 0;
    for (const r of records) {
      if (!this.owns(r.groupId) || this.groups.has(r.groupId)) continue;
      this.groups.set(r.groupId, this.restore(r, now));
      loaded++;
    }
    if (loaded > 0) log.info({ groups: loaded }, 'loaded consumer groups');
  }

  /**
   * NOT_COORDINATOR when another broker coordinates the group (or this one is shutting down);
   * COORDINATOR_LOAD_IN_PROGRESS while groups that moved here are being loaded.
   */
  placementError(groupId: string): number | null {
    if (this.closed || !this.owns(groupId)) return ErrorCode.NOT_COORDINATOR;
    if (this.loading !== null && !this.groups.has(groupId)) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return null;
  }

  /** Starts the session ticker and the offset expiry. */
  start(): void {
    const tick = this.options.tickMs ?? Math.max(10, Math.min(500, Math.floor(this.options.minSessionTimeoutMs / 10)));
    this.ticker = setInterval(() => this.tick(), tick);
    this.ticker.unref();
    this.expiryTimer = setInterval(() => void this.expireOffsets(), this.options.offsetsRetentionCheckIntervalMs);
    this.expiryTimer.unref();
  }

  /** Stops the timers and answers every waiting JoinGroup/SyncGroup with NOT_COORDINATOR. */
  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    const writes: Promise<unknown>[] = [];
    for (const g of this.groups.values()) {
      this.clearJoinTimer(g);
      this.clearSyncTimer(g);
      for (const m of g.members.values()) {
        g.invokeJoinCallback(m, joinError(m.memberId, ErrorCode.NOT_COORDINATOR));
        g.invokeSyncCallback(m, syncError(ErrorCode.NOT_COORDINATOR));
      }
      writes.push(g.persisting);
    }
    if (this.expiring) writes.push(this.expiring);
    await Promise.allSettled(writes);
  }

  /** Read-only view for tests: state, generation, leader and member ids. */
  inspect(groupId: string): { state: GroupState; generationId: number; leaderId: string | null; members: string[]; protocolName: string | null } | undefined {
    const g = this.groups.get(groupId);
    return g && { state: g.state, generationId: g.generationId, leaderId: g.leaderId, members: [...g.members.keys()], protocolName: g.protocolName };
  }

  /** INVALID_GROUP_ID for ids Kafka refuses for this API (`allowEmpty`: OffsetCommit/Fetch, Describe/DeleteGroups), or too long. */
  groupIdError(groupId: string | null, allowEmpty: boolean): number | null {
    if (groupId === null || (!allowEmpty && groupId === '')) return ErrorCode.INVALID_GROUP_ID;
    if (groupId.length > MAX_GROUP_ID_BYTES / 3 && Buffer.byteLength(groupId) > MAX_GROUP_ID_BYTES) return ErrorCode.INVALID_GROUP_ID;
    return null;
  }

  // ---- JoinGroup ----

  join(p: JoinParams): Promise<JoinResult> {
    log.debug({ group: p.groupId, memberId: p.memberId, instance: p.groupInstanceId }, 'join');
    const idError = this.groupIdError(p.groupId, false);
    if (idError !== null) return Promise.resolve(joinError(p.memberId, idError));
    const placement = this.placementError(p.groupId);
    if (placement !== null) return Promise.resolve(joinError(p.memberId, placement));
    if (p.sessionTimeoutMs < this.options.minSessionTimeoutMs || p.sessionTimeoutMs > this.options.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(p.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = p.memberId === '';
    let group = this.groups.get(p.groupId);
    if (group === undefined) {
      // A group is created by a member without id; a member id for a group we do not know is stale.
      if (!isUnknownMember) return Promise.resolve(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      group = new ClassicGroup(p.groupId, this.now());
      this.groups.set(p.groupId, group);
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
        this.persist(g, assignment).then(
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

  private maybePrepareRebalance(g: ClassicGroup, reason: string): void {
    if (g.state === 'Stable' || g.state === 'CompletingRebalance' || g.state === 'Empty') this.prepareRebalance(g, reason);
  }

  private prepareRebalance(g: ClassicGroup, reason: string): void {
    if (g.state === 'CompletingRebalance') this.resetAndPropagateAssignmentError(g, ErrorCode.REBALANCE_IN_PROGRESS);
    this.clearSyncTimer(g);
    this.clearJoinTimer(g);
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
    this.clearJoinTimer(g);
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
      this.persist(g, new Map()).catch((err: unknown) => log.warn({ err, group: g.groupId }, 'could not store the empty generation'));
      return;
    }
    g.protocolName = g.selectProtocol();
    g.subscribedTopics = computeSubscribedTopics(g);
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
    this.clearSyncTimer(g);
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
    const idError = this.groupIdError(p.groupId, false);
    if (idError !== null) return Promise.resolve(syncError(idError));
    const placement = this.placementError(p.groupId);
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
    if (g.pendingSyncMembers.size === 0) this.clearSyncTimer(g);
  }

  /** The leader's assignment: store the generation, then answer every member's SyncGroup. */
  private storeAssignment(g: ClassicGroup, p: SyncParams): void {
    const given = new Map<string, Buffer>();
    for (const a of p.assignments) given.set(a.memberId, a.assignment);
    const assignment = new Map<string, Buffer>();
    for (const id of g.members.keys()) assignment.set(id, given.get(id) ?? EMPTY);
    log.info({ group: g.groupId, generation: g.generationId, members: g.size, static: g.staticMembers.size }, 'assignment received from the leader');
    const generation = g.generationId;
    this.persist(g, assignment).then(
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
    const idError = this.groupIdError(groupId, false) ?? this.placementError(groupId);
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
    const idError = this.groupIdError(groupId, false);
    const placement = idError ?? this.placementError(groupId);
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

  /** Kafka's validateCurrentMember: a static member must use its current member id; the member must exist. */
  private validateCurrentMember(g: ClassicGroup, memberId: string, groupInstanceId: string | null): number | null {
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

  /** The member heartbeated (or joined, or synced): its session starts again. */
  private touch(member: Member): void {
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
      const idError = this.groupIdError(id, true);
      if (idError !== null) {
        results.set(id, idError);
        continue;
      }
      const placement = this.placementError(id);
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
        await Promise.allSettled(eligible.map((g) => g.persisting));
        await this.store.deleteGroups(eligible.map((g) => g.groupId));
        for (const g of eligible) {
          if (this.groups.get(g.groupId) === g) this.groups.delete(g.groupId);
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

  // ---- Offsets ----

  /** OffsetCommit: one error for every partition, or one per commit (in order). */
  async commitOffsets(p: CommitParams): Promise<number | number[]> {
    const idError = this.groupIdError(p.groupId, true) ?? this.placementError(p.groupId);
    if (idError !== null) return idError;
    let g = this.groups.get(p.groupId);
    if (g === undefined) {
      // Only a client that does not use group management (generation -1) may create a group by committing.
      if (p.generationId >= 0) return ErrorCode.ILLEGAL_GENERATION;
      g = new ClassicGroup(p.groupId, this.now());
      this.groups.set(p.groupId, g);
    }
    const error = this.validateOffsetCommit(g, p);
    if (error !== null) return error;
    switch (g.state) {
      case 'CompletingRebalance':
        // A member of the new generation that has not synced yet: let it finish the rebalance first.
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case 'Stable':
      case 'PreparingRebalance': {
        const member = g.members.get(p.memberId);
        if (member) this.touch(member);
        break;
      }
      case 'Empty':
      case 'Dead':
        break;
    }
    if (p.commits.length === 0) return [];
    const now = this.now();
    const expireTimestamp = p.retentionTimeMs >= 0 ? now + p.retentionTimeMs : -1;
    g.version++;
    try {
      return await this.store.commitGroupOffsets(p.groupId, now, p.commits.map((c) => ({ ...c, expireTimestamp })));
    } catch (err) {
      log.warn({ err, group: p.groupId }, 'could not store committed offsets');
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  private validateOffsetCommit(g: ClassicGroup, p: CommitParams): number | null {
    if (g.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (p.generationId >= 0 || p.memberId !== '' || p.groupInstanceId !== null) {
      return this.validateCurrentMember(g, p.memberId, p.groupInstanceId)
        ?? (p.generationId !== g.generationId ? ErrorCode.ILLEGAL_GENERATION : null);
    }
    // A simple commit (no member, generation -1): only while nobody is a member.
    return g.state === 'Empty' ? null : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /** OffsetFetch for several groups in one coordinator query. Partitions without a commit get offset -1. */
  async fetchOffsets(requests: readonly FetchRequestGroup[]): Promise<FetchedGroup[]> {
    const groupError = (groupId: string) => this.groupIdError(groupId, true) ?? this.placementError(groupId);
    const wanted = requests.filter((r) => groupError(r.groupId) === null).map((r) => r.groupId);
    let rows: Awaited<ReturnType<Coordinator['fetchGroupOffsets']>> = [];
    let failed = false;
    try {
      rows = await this.store.fetchGroupOffsets([...new Set(wanted)]);
    } catch (err) {
      log.warn({ err }, 'could not read committed offsets');
      failed = true;
    }
    const byGroup = new Map<string, Map<string, Map<number, (typeof rows)[number]>>>();
    for (const r of rows) {
      let topics = byGroup.get(r.groupId);
      if (!topics) byGroup.set(r.groupId, (topics = new Map()));
      let parts = topics.get(r.topicName);
      if (!parts) topics.set(r.topicName, (parts = new Map()));
      parts.set(r.partition, r);
    }
    return requests.map((req): FetchedGroup => {
      const idError = groupError(req.groupId);
      if (idError !== null) return { groupId: req.groupId, errorCode: idError, topics: [] };
      if (failed) return { groupId: req.groupId, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, topics: [] };
      const committed = byGroup.get(req.groupId) ?? new Map();
      const entry = (partition: number, r: (typeof rows)[number] | undefined): FetchedPartition => r
        ? { partition, offset: r.offset, leaderEpoch: r.leaderEpoch, metadata: r.metadata ?? '', errorCode: ErrorCode.NONE }
        : { partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE };
      if (req.topics === null) {
        return {
          groupId: req.groupId,
          errorCode: ErrorCode.NONE,
          topics: [...committed].map(([name, parts]) => ({ name, partitions: [...parts.values()].map((r) => entry(r.partition, r)) })),
        };
      }
      return {
        groupId: req.groupId,
        errorCode: ErrorCode.NONE,
        topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => entry(p, committed.get(t.name)?.get(p))) })),
      };
    });
  }

  /**
   * OffsetDelete: a group-level error, or one error per target (in order). Offsets of topics a non-empty
   * consumer group subscribes to stay (GROUP_SUBSCRIBED_TO_TOPIC); an empty group whose last offsets go is
   * deleted, as in Kafka.
   */
  async deleteOffsets(groupId: string, targets: readonly DeleteOffsetsTarget[]): Promise<number | number[]> {
    const idError = this.groupIdError(groupId, false) ?? this.placementError(groupId);
    if (idError !== null) return idError;
    const g = this.groups.get(groupId);
    if (g === undefined || g.state === 'Dead') return ErrorCode.GROUP_ID_NOT_FOUND;
    const codes = targets.map(() => ErrorCode.NONE as number);
    if (g.state !== 'Empty') {
      if (g.protocolType !== CONSUMER_PROTOCOL_TYPE) return ErrorCode.NON_EMPTY_GROUP;
      targets.forEach((t, i) => {
        if (g.subscribedTopics === null || g.subscribedTopics.has(t.topicName)) codes[i] = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
      });
    }
    const eligible = targets.filter((_, i) => codes[i] === ErrorCode.NONE);
    if (eligible.length === 0) return codes;
    try {
      const removed = await this.store.deleteGroupOffsets(groupId, eligible);
      log.info({ group: groupId, removed }, 'deleted committed offsets');
      if (g.state === 'Empty' && this.groups.get(groupId) === g) {
        const version = g.version;
        const left = await this.store.fetchGroupOffsets([groupId]);
        if (left.length === 0 && g.state === 'Empty' && g.version === version && this.groups.get(groupId) === g) {
          g.transition('Dead', this.now());
          this.groups.delete(groupId);
          await Promise.allSettled([g.persisting]);
          await this.store.deleteGroups([groupId]);
        }
      }
    } catch (err) {
      log.warn({ err, group: groupId }, 'could not delete committed offsets');
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    return codes;
  }

  /** One run of offset expiry (offsets.retention.minutes); also drops empty groups left without offsets. */
  expireOffsets(): Promise<void> {
    if (this.expiring || this.closed) return this.expiring ?? Promise.resolve();
    const active: string[] = [];
    const empty: string[] = [];
    const versions = new Map<string, number>();
    for (const g of this.groups.values()) {
      if (g.state === 'Empty') {
        empty.push(g.groupId);
        versions.set(g.groupId, g.version);
      } else if (g.state !== 'Dead') {
        active.push(g.groupId);
      }
    }
    // Groups coordinated by other brokers are theirs to expire: left alone here.
    for (const id of this.storedGroupIds) if (!this.owns(id) && !this.groups.has(id)) active.push(id);
    const run = (async () => {
      try {
        const results = await this.store.expireGroupOffsets(this.now(), this.options.offsetsRetentionMs, active, empty);
        for (const r of results) {
          if (r.expiredOffsets > 0) log.info({ group: r.groupId, offsets: r.expiredOffsets }, 'expired committed offsets');
          if (!r.deleted) continue;
          const g = this.groups.get(r.groupId);
          if (g && g.state === 'Empty' && g.version === versions.get(r.groupId)) {
            g.transition('Dead', this.now());
            this.groups.delete(r.groupId);
            log.info({ group: r.groupId }, 'removed empty group without offsets');
          }
        }
      } catch (err) {
        log.warn({ err }, 'offset expiry failed');
      } finally {
        this.expiring = null;
      }
    })();
    this.expiring = run;
    return run;
  }

  // ---- Persistence ----

  /** Stores the group's current generation with this assignment; writes of one group happen in order. */
  private persist(g: ClassicGroup, assignment: ReadonlyMap<string, Buffer>): Promise<void> {
    const protocol = g.protocolName ?? '';
    const record: GroupRecord = {
      groupId: g.groupId,
      protocolType: g.protocolType,
      generation: g.generationId,
      protocolName: g.protocolName,
      leader: g.leaderId,
      stateTimestamp: this.now(),
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: m.metadata(protocol),
        assignment: assignment.get(m.memberId) ?? EMPTY,
      })),
    };
    const write = g.persisting.then(() => this.store.saveGroup(record));
    g.persisting = write.catch(() => undefined);
    return write;
  }

  /** A group as stored: with members it comes back Stable (they must heartbeat within their session). */
  private restore(r: GroupRecord, now: number): ClassicGroup {
    const g = new ClassicGroup(r.groupId, r.stateTimestamp >= 0 ? r.stateTimestamp : now);
    g.generationId = r.generation;
    g.protocolType = r.protocolType;
    if (r.members.length > 0 && r.protocolName !== null && r.protocolType !== null) {
      for (const rm of r.members) {
        const m = new Member(rm.memberId, rm.groupInstanceId, rm.clientId, rm.clientHost, rm.rebalanceTimeoutMs, rm.sessionTimeoutMs, r.protocolType,
          [{ name: r.protocolName, metadata: rm.subscription }]);
        m.assignment = rm.assignment;
        m.deadline = now + rm.sessionTimeoutMs;
        g.add(m, null);
      }
      g.protocolName = r.protocolName;
      if (r.leader !== null && g.has(r.leader)) g.leaderId = r.leader;
      g.state = 'Stable';
      g.subscribedTopics = computeSubscribedTopics(g);
    } else {
      g.subscribedTopics = g.protocolType === CONSUMER_PROTOCOL_TYPE ? new Set() : null;
    }
    return g;
  }

  private clearJoinTimer(g: ClassicGroup): void {
    if (g.joinTimer) clearTimeout(g.joinTimer);
    g.joinTimer = null;
  }

  private clearSyncTimer(g: ClassicGroup): void {
    if (g.syncTimer) clearTimeout(g.syncTimer);
    g.syncTimer = null;
  }
}

/** The union of the members' subscribed topics (consumer protocol), or null when unknown. */
function computeSubscribedTopics(g: ClassicGroup): Set<string> | null {
  if (g.protocolType !== CONSUMER_PROTOCOL_TYPE || g.protocolName === null) return null;
  const topics = new Set<string>();
  for (const m of g.members.values()) {
    const t = subscriptionTopics(m.metadata(g.protocolName));
    if (t === null) return null;
    for (const name of t) topics.add(name);
  }
  return topics;
}
