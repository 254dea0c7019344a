/**
 * The KIP-848 consumer group protocol (ConsumerGroupHeartbeat, ConsumerGroupDescribe) over the groups this
 * broker coordinates, following Kafka 4.1's GroupMetadataManager:
 *
 * - A member joins with epoch 0 and its subscription (topic names and/or a regex), heartbeats with its
 *   current epoch, and leaves with epoch -1 (a static member, `group.instance.id`, with -2: it keeps its
 *   assignment for the session timeout, and a new member id of that instance takes it over).
 * - Any change of membership, subscriptions or the subscribed topics' metadata (partitions added, a topic
 *   created or deleted) bumps the group epoch; the server-side assignor (`uniform`, `range`;
 *   assignors.ts) then computes the target assignment at that epoch.
 * - Each member moves to its target one step per heartbeat (consumer-group.ts): it first revokes what it
 *   must give up (keeping its epoch), then gets the next epoch with the partitions no other member holds
 *   any more; partitions still held elsewhere come once their owner has released them.
 * - Errors as Kafka: FENCED_MEMBER_EPOCH (an epoch the member cannot have; it must rejoin with 0),
 *   UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, UNRELEASED_INSTANCE_ID (the instance id is held by a live
 *   member), GROUP_MAX_SIZE_REACHED (group.consumer.max.size), UNSUPPORTED_ASSIGNOR,
 *   INVALID_REGULAR_EXPRESSION, GROUP_ID_NOT_FOUND (a non-empty classic group of that id, or a member epoch
 *   other than 0 for a group that does not exist), INVALID_REQUEST for malformed heartbeats.
 * - Session timeout (group.consumer.session.timeout.ms) and rebalance timeout (a member that does not
 *   revoke in time is removed), checked by one coarse ticker.
 * - Every change is written to the coordinator DB (consumer-group-record.ts) before the heartbeat is
 *   answered, so a broker that takes the group over carries on from the last answer a member saw.
 *
 * Regular expressions: Kafka uses RE2/J and matches whole topic names; Floe compiles the expression as a
 * JavaScript RegExp anchored at both ends. The common syntax (classes, alternation, repetition, groups)
 * is the same; Java/RE2-only constructs (`\p{javaLowerCase}`, `(?i)` inline flags, possessive
 * quantifiers) are refused with INVALID_REGULAR_EXPRESSION, and JS-only ones (lookaround, backreferences),
 * which RE2/J refuses, are refused too.
 *
 * Online migration (KIP-848, Kafka 4's rules; `group.consumer.migration.policy`, default bidirectional):
 * - upgrade: a member joining with ConsumerGroupHeartbeat turns a non-empty classic group of the consumer
 *   protocol type into a consumer group (Kafka's ConsumerGroup.fromClassicGroup): its members keep their ids,
 *   their generation becomes their member epoch and the group epoch, their assignment both their current
 *   and their target assignment; the joining member then bumps the epoch as any new member does.
 * - classic members in a consumer group are served through JoinGroup/SyncGroup/Heartbeat/LeaveGroup
 *   (Kafka's classicGroupJoinToConsumerGroup and friends): JoinGroup updates the member (subscription and
 *   owned partitions from its protocol metadata) and reconciles it one step, answering its member epoch as
 *   the generation with no leader; SyncGroup returns the partitions the server assigned it; Heartbeat
 *   answers REBALANCE_IN_PROGRESS while the member is behind the group epoch, must revoke, or may take
 *   partitions released meanwhile; their session is the JoinGroup's session timeout. As in Kafka, a
 *   classic member that joined must sync, and one told to rejoin must rejoin, within its rebalance timeout
 *   (else it is removed: Kafka's sync and join timeouts).
 * - downgrade: when the last member of the consumer protocol leaves (or its session expires) and classic
 *   members remain, the group becomes a classic group again (Kafka's ClassicGroup.fromConsumerGroup) at
 *   the group epoch as its generation, with their assignments, and rebalances.
 *
 * Floe differences: the target assignment is computed at once on the heartbeat that changed the group
 * (Kafka may batch it); classic members in a consumer group are not given Kafka's join and sync timeouts
 * (a member that stops is removed when its session expires).
 */
import { ErrorCode } from '../protocol/gen/errors.ts';
import { childLogger } from '../observability/log.ts';
import { ASSIGNORS, type AssignorMember } from './assignors.ts';
import {
  type Assignment,
  ConsumerGroup,
  ConsumerMember,
  isSubset,
  LEAVE_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_STATIC_MEMBER_EPOCH,
  nextMemberAssignment,
  sameAssignment,
  type ConsumerGroupState,
} from './consumer-group.ts';
import { groupIdError } from './group-id.ts';
import { joinError, syncError, type ClassicGroup, type JoinResult, type SyncResult } from './classic-group.ts';
import { assignmentPartitions, CONSUMER_PROTOCOL_TYPE, encodeAssignment, subscriptionWithOwned } from './consumer-protocol.ts';
import type { JoinParams, LeaveResult, MemberIdentity, SyncParams } from './classic-protocol.ts';
import { CONSUMER_GROUP_DEFAULTS, type GroupCoordinatorOptions } from './group-options.ts';
import type { OwnedGroups } from './owned-groups.ts';
import { randomUUID } from 'node:crypto';

const log = childLogger('groups');

export interface ConsumerHeartbeatParams {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  topicPartitions: { topicId: string; partitions: number[] }[] | null;
  clientId: string;
  clientHost: string;
  apiVersion: number;
}

export interface ConsumerHeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  /** null: unchanged since the member's last heartbeat. */
  assignment: { topicId: string; partitions: number[] }[] | null;
}

export interface DescribedConsumerGroup {
  errorCode: number;
  errorMessage: string | null;
  groupId: string;
  groupState: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  members: {
    memberId: string;
    instanceId: string | null;
    rackId: string | null;
    memberEpoch: number;
    clientId: string;
    clientHost: string;
    subscribedTopicNames: string[];
    subscribedTopicRegex: string | null;
    assignment: { topicPartitions: { topicId: string; topicName: string; partitions: number[] }[] };
    targetAssignment: { topicPartitions: { topicId: string; topicName: string; partitions: number[] }[] };
    memberType: number;
  }[];
}

class HeartbeatError extends Error {
  constructor(readonly errorCode: number, message: string) {
    super(message);
  }
}

function fail(code: number, message: string): never {
  throw new HeartbeatError(code, message);
}

/** An anchored JS RegExp for a KIP-848 subscription regex, or null when RE2/J would not take it either (see the header). */
export function compileTopicRegex(source: string): RegExp | null {
  // Constructs one of the two engines lacks: lookaround and backreferences (RE2), inline flags/possessive (JS).
  if (/\(\?[=!<]|\\[1-9]|\(\?[a-zA-Z]|[*+?}]\+|\\p\{java/.test(source)) return null;
  try {
    return new RegExp(`^(?:${source})$`, 'u');
  } catch {
    return null;
  }
}

function toAssignment(list: readonly { topicId: string; partitions: number[] }[]): Assignment {
  const a: Assignment = new Map();
  for (const t of list) {
    let s = a.get(t.topicId);
    if (!s) a.set(t.topicId, (s = new Set()));
    for (const p of t.partitions) s.add(p);
  }
  return a;
}

function toList(a: Assignment): { topicId: string; partitions: number[] }[] {
  const out = [];
  for (const [topicId, ps] of a) if (ps.size > 0) out.push({ topicId, partitions: [...ps].sort((x, y) => x - y) });
  return out;
}

export class ConsumerGroupProtocol {
  /**
   * Set by the GroupCoordinator: makes a classic group of a consumer group whose members all speak the
   * classic protocol once `leaving` is gone (the online downgrade). Null: no downgrade (unit tests).
   */
  downgrade: ((g: ConsumerGroup, leaving: string) => Promise<void>) | null = null;
  private readonly now: () => number;
  private ticker: NodeJS.Timeout | null = null;
  private readonly compiled = new Map<string, RegExp | null>();

  constructor(private readonly groups: OwnedGroups, private readonly options: GroupCoordinatorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The group's consumer.session.timeout.ms, else the broker's group.consumer.session.timeout.ms. */
  private sessionTimeoutMs(groupId: string): number {
    return this.options.groupConfigs?.ownInt(groupId, 'consumer.session.timeout.ms') ?? this.options.consumerSessionTimeoutMs ?? CONSUMER_GROUP_DEFAULTS.sessionTimeoutMs;
  }

  /** The group's consumer.heartbeat.interval.ms, else the broker's group.consumer.heartbeat.interval.ms. */
  private heartbeatIntervalMs(groupId: string): number {
    return this.options.groupConfigs?.ownInt(groupId, 'consumer.heartbeat.interval.ms') ?? this.options.consumerHeartbeatIntervalMs ?? CONSUMER_GROUP_DEFAULTS.heartbeatIntervalMs;
  }

  private get assignors(): readonly string[] {
    const list = this.options.consumerAssignors;
    return list && list.length > 0 ? list : CONSUMER_GROUP_DEFAULTS.assignors;
  }

  startSessionTicker(): void {
    const tick = this.options.tickMs ?? 250;
    this.ticker = setInterval(() => this.tick(), tick);
    this.ticker.unref();
  }

  stopSessionTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
  }

  // ---- ConsumerGroupHeartbeat ----

  async heartbeat(p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    try {
      return await this.doHeartbeat(p);
    } catch (err) {
      if (err instanceof HeartbeatError) {
        log.debug({ group: p.groupId, memberId: p.memberId, errorCode: err.errorCode, message: err.message }, 'consumer heartbeat refused');
        return { errorCode: err.errorCode, errorMessage: err.message, memberId: null, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null };
      }
      log.warn({ err, group: p.groupId }, 'could not store the consumer group');
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null, memberId: null, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null };
    }
  }

  private validate(p: ConsumerHeartbeatParams): void {
    if (groupIdError(p.groupId, false) !== null) fail(ErrorCode.INVALID_REQUEST, "GroupId can't be empty.");
    if (p.instanceId === '') fail(ErrorCode.INVALID_REQUEST, "InstanceId can't be empty.");
    if (p.rackId === '') fail(ErrorCode.INVALID_REQUEST, "RackId can't be empty.");
    if (p.memberEpoch > 0 || p.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH) {
      if (p.memberId === '') fail(ErrorCode.INVALID_REQUEST, "MemberId can't be empty.");
    } else if (p.memberEpoch === 0) {
      if (p.apiVersion >= 1 && p.memberId === '') fail(ErrorCode.INVALID_REQUEST, "MemberId can't be empty.");
      if (p.rebalanceTimeoutMs === -1) fail(ErrorCode.INVALID_REQUEST, 'RebalanceTimeoutMs must be provided in first request.');
      if (p.topicPartitions === null || p.topicPartitions.length > 0) fail(ErrorCode.INVALID_REQUEST, 'TopicPartitions must be empty when (re-)joining.');
      const names = p.subscribedTopicNames !== null && p.subscribedTopicNames.length > 0;
      const regex = p.subscribedTopicRegex !== null && p.subscribedTopicRegex !== '';
      if (!names && !regex) fail(ErrorCode.INVALID_REQUEST, 'SubscribedTopicNames or SubscribedTopicRegex must be set in first request.');
    } else if (p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      if (p.memberId === '') fail(ErrorCode.INVALID_REQUEST, "MemberId can't be empty.");
      if (p.instanceId === null) fail(ErrorCode.INVALID_REQUEST, "InstanceId can't be null.");
    } else {
      fail(ErrorCode.INVALID_REQUEST, 'MemberEpoch is invalid.');
    }
    if (p.subscribedTopicRegex !== null && p.subscribedTopicRegex !== '' && this.regex(p.subscribedTopicRegex) === null) {
      fail(ErrorCode.INVALID_REGULAR_EXPRESSION, `SubscribedTopicRegex \`${p.subscribedTopicRegex}\` is not a valid regular expression.`);
    }
    if (p.serverAssignor !== null && !this.assignors.includes(p.serverAssignor)) {
      fail(ErrorCode.UNSUPPORTED_ASSIGNOR, `ServerAssignor ${p.serverAssignor} is not supported. Supported assignors: ${this.assignors.join(', ')}.`);
    }
  }

  private regex(source: string): RegExp | null {
    let r = this.compiled.get(source);
    if (r === undefined) {
      r = compileTopicRegex(source);
      if (this.compiled.size > 1000) this.compiled.clear();
      this.compiled.set(source, r);
    }
    return r;
  }

  private async doHeartbeat(p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    this.validate(p);
    const placement = this.groups.placementError(p.groupId);
    if (placement !== null) fail(placement, placement === ErrorCode.NOT_COORDINATOR ? 'This broker is not the coordinator of the group.' : 'The group is being loaded.');
    if (p.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH || p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) return this.leave(p);

    const g = this.groupFor(p.groupId, p.memberEpoch === 0);
    const now = this.now();
    let changed = false;
    let bump = false;
    let member: ConsumerMember;
    const owned = p.topicPartitions === null ? null : toAssignment(p.topicPartitions);
    const memberId = p.memberId === '' ? randomUUID() : p.memberId; // v0 with epoch 0 may leave it to the coordinator

    if (p.instanceId === null) {
      const existing = g.members.get(memberId);
      if (existing) {
        member = existing;
        if (p.memberEpoch !== 0) this.checkEpoch(member, p.memberEpoch, owned);
      } else {
        if (p.memberEpoch !== 0) fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${memberId} is not a member of group ${g.groupId}.`);
        this.checkSize(g);
        member = this.newMember(memberId, p);
        g.put(member);
        changed = bump = true;
      }
    } else {
      const currentId = g.staticMembers.get(p.instanceId);
      const existing = currentId === undefined ? undefined : g.members.get(currentId);
      if (p.memberEpoch === 0) {
        if (existing === undefined) {
          this.checkSize(g);
          member = this.newMember(memberId, p);
          g.put(member);
          changed = bump = true;
        } else if (existing.memberId === memberId && existing.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
          member = existing; // the same member rejoining: it gets its assignment again
        } else if (existing.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
          fail(ErrorCode.UNRELEASED_INSTANCE_ID, `Static member ${memberId} with instance id ${p.instanceId} cannot join the group because the instance id is owned by member ${existing.memberId}.`);
        } else {
          // The instance comes back: the new member id takes over the old one's assignment and target.
          member = this.newMember(memberId, p);
          const target = g.target.get(existing.memberId);
          const assigned = existing.assigned;
          const pending = existing.pendingRevocation;
          g.remove(existing.memberId);
          member.memberEpoch = 0;
          member.previousMemberEpoch = 0;
          member.state = existing.state;
          // Its subscription carries over; a change bumps the epoch below, like any member's.
          member.subscribedTopicNames = existing.subscribedTopicNames;
          member.subscribedTopicRegex = existing.subscribedTopicRegex;
          member.serverAssignor = existing.serverAssignor;
          g.put(member);
          g.setOwned(member, assigned, pending);
          if (target) g.target.set(memberId, target);
          changed = true;
          log.info({ group: g.groupId, instance: p.instanceId, oldMemberId: existing.memberId, memberId }, 'static member rejoins');
        }
      } else {
        if (existing === undefined) fail(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${p.instanceId} is unknown.`);
        if (existing!.memberId !== memberId) fail(ErrorCode.FENCED_INSTANCE_ID, `Static member ${memberId} with instance id ${p.instanceId} was fenced by member ${existing!.memberId}.`);
        member = existing!;
        this.checkEpoch(member, p.memberEpoch, owned);
      }
    }

    // The member's subscription and facts (only the fields it sent: null means unchanged).
    if (p.rackId !== null && p.rackId !== member.rackId) {
      member.rackId = p.rackId;
      changed = true;
    }
    if (p.rebalanceTimeoutMs !== -1 && p.rebalanceTimeoutMs !== member.rebalanceTimeoutMs) {
      member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
      changed = true;
    }
    if (member.clientId !== p.clientId || member.clientHost !== p.clientHost) {
      member.clientId = p.clientId;
      member.clientHost = p.clientHost;
      changed = true;
    }
    if (p.serverAssignor !== null && p.serverAssignor !== member.serverAssignor) {
      member.serverAssignor = p.serverAssignor;
      changed = bump = true;
    }
    if (p.subscribedTopicNames !== null && !sameNames(p.subscribedTopicNames, member.subscribedTopicNames)) {
      member.subscribedTopicNames = [...p.subscribedTopicNames];
      changed = bump = true;
    }
    if (p.subscribedTopicRegex !== null) {
      const regex = p.subscribedTopicRegex === '' ? null : p.subscribedTopicRegex;
      if (regex !== member.subscribedTopicRegex) {
        member.subscribedTopicRegex = regex;
        changed = bump = true;
      }
    }

    // The subscribed topics' metadata: a topic created, deleted or grown changes the target.
    const hash = this.metadataHash(g);
    if (bump || hash !== g.metadataHash) {
      this.bumpAndAssign(g, hash, `member ${member.memberId}${bump ? ' changed the membership or its subscription' : ': subscribed topics changed'}`);
      changed = true;
    }

    // One reconciliation step towards the target.
    const before = member.assigned;
    const next = nextMemberAssignment(g, member, owned);
    if (next !== null) {
      const wasRevoking = member.state === 'unrevoked_partitions';
      if (next.memberEpoch !== member.memberEpoch) member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = next.memberEpoch;
      member.state = next.state;
      g.setOwned(member, next.assigned, next.pending);
      if (next.state === 'unrevoked_partitions' && !wasRevoking) member.revocationDeadline = now + member.rebalanceTimeoutMs;
      changed = true;
    }
    member.deadline = now + this.sessionTimeoutMs(g.groupId);
    if (changed) {
      g.version++;
      await this.groups.persistConsumer(g);
    }
    const full = p.memberEpoch === 0 || (p.rebalanceTimeoutMs !== -1 && (p.subscribedTopicNames !== null || p.subscribedTopicRegex !== null) && owned !== null);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.heartbeatIntervalMs(g.groupId),
      assignment: full || !sameAssignment(before, member.assigned) ? toList(member.assigned) : null,
    };
  }

  /** The group for a heartbeat: created for a joining member (epoch 0); an empty classic group of that id is replaced. */
  private groupFor(groupId: string, create: boolean): ConsumerGroup {
    const g = this.groups.getConsumer(groupId);
    if (g !== undefined) return g;
    const classic = this.groups.get(groupId);
    if (classic !== undefined && classic.state !== 'Empty' && classic.state !== 'Dead') {
      if (!create || !this.validateOnlineUpgrade(classic)) fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} is not a consumer group.`);
      return this.upgrade(classic);
    }
    if (!create) fail(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${groupId} not found.`);
    if (classic !== undefined) log.info({ group: groupId }, 'empty classic group becomes a consumer group');
    return this.groups.createConsumer(groupId);
  }

  private checkSize(g: ConsumerGroup): void {
    const max = this.options.consumerMaxSize ?? CONSUMER_GROUP_DEFAULTS.maxSize;
    if (g.members.size >= max) fail(ErrorCode.GROUP_MAX_SIZE_REACHED, `The consumer group has reached its maximum capacity of ${max} members.`);
  }

  /** Kafka's throwIfMemberEpochIsInvalid: the current epoch, or the previous one with a subset of the assignment (a lost response). */
  private checkEpoch(m: ConsumerMember, received: number, owned: Assignment | null): void {
    if (received > m.memberEpoch) fail(ErrorCode.FENCED_MEMBER_EPOCH, `The consumer group member has a greater member epoch (${received}) than the one known by the group coordinator (${m.memberEpoch}). The member must abandon all its partitions and rejoin.`);
    if (received < m.memberEpoch && (received !== m.previousMemberEpoch || owned === null || !isSubset(owned, m.assigned))) {
      fail(ErrorCode.FENCED_MEMBER_EPOCH, `The consumer group member has a smaller member epoch (${received}) than the one known by the group coordinator (${m.memberEpoch}). The member must abandon all its partitions and rejoin.`);
    }
  }

  private newMember(memberId: string, p: ConsumerHeartbeatParams): ConsumerMember {
    return new ConsumerMember(memberId, p.instanceId, p.rackId, p.clientId, p.clientHost, p.rebalanceTimeoutMs, [], null, null);
  }

  private async leave(p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    const g = this.groups.getConsumer(p.groupId);
    if (g === undefined) fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${p.groupId} not found.`);
    const group = g!;
    let member: ConsumerMember | undefined;
    if (p.instanceId === null) {
      member = group.members.get(p.memberId);
      if (member === undefined) fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${p.memberId} is not a member of group ${p.groupId}.`);
    } else {
      const id = group.staticMembers.get(p.instanceId);
      member = id === undefined ? undefined : group.members.get(id);
      if (member === undefined) fail(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${p.instanceId} is unknown.`);
      if (member!.memberId !== p.memberId) fail(ErrorCode.FENCED_INSTANCE_ID, `Static member ${p.memberId} with instance id ${p.instanceId} was fenced by member ${member!.memberId}.`);
    }
    const m = member!;
    if (p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      // A static member that will come back: it keeps its partitions until its session ends.
      log.info({ group: group.groupId, memberId: m.memberId, instance: m.instanceId }, 'static member leaves temporarily');
      m.memberEpoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
      group.version++;
      await this.groups.persistConsumer(group);
    } else {
      await this.removeMember(group, m, 'left the group');
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, memberId: m.memberId, memberEpoch: p.memberEpoch, heartbeatIntervalMs: 0, assignment: null };
  }

  /** Removes a member; its partitions go to the others (new group epoch and target), or the group goes back to the classic protocol. */
  private removeMember(g: ConsumerGroup, m: ConsumerMember, reason: string): Promise<void> {
    log.info({ group: g.groupId, memberId: m.memberId, reason }, 'consumer group member removed');
    if (this.downgrade !== null && this.validateOnlineDowngrade(g, m)) return this.downgrade(g, m.memberId);
    g.remove(m.memberId);
    this.bumpAndAssign(g, this.metadataHash(g), `member ${m.memberId} ${reason}`);
    if (g.members.size === 0) g.stateTimestamp = this.now();
    g.version++;
    return this.groups.persistConsumer(g);
  }

  /** The topics the group subscribes to that exist: topic id → partition count, and per member its topic ids. */
  private subscriptions(g: ConsumerGroup): { counts: Map<string, number>; perMember: Map<string, Set<string>> } {
    const topics = this.options.topics;
    const counts = new Map<string, number>();
    const perMember = new Map<string, Set<string>>();
    const all = topics && [...g.members.values()].some((m) => m.subscribedTopicRegex !== null) ? topics.all() : [];
    for (const m of g.members.values()) {
      const ids = new Set<string>();
      for (const name of m.subscribedTopicNames) {
        const t = topics?.get(name);
        if (t) {
          ids.add(t.topicId);
          counts.set(t.topicId, t.partitionCount);
        }
      }
      if (m.subscribedTopicRegex !== null) {
        const re = this.regex(m.subscribedTopicRegex);
        if (re) {
          for (const t of all) {
            if (!re.test(t.name)) continue;
            ids.add(t.topicId);
            counts.set(t.topicId, t.partitionCount);
          }
        }
      }
      perMember.set(m.memberId, ids);
    }
    return { counts, perMember };
  }

  private metadataHash(g: ConsumerGroup): string {
    const { counts } = this.subscriptions(g);
    return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([t, n]) => `${t}:${n}`).join(',');
  }

  /** A new group epoch and its target assignment. */
  private bumpAndAssign(g: ConsumerGroup, hash: string, reason: string): void {
    g.groupEpoch++;
    g.metadataHash = hash;
    const { counts, perMember } = this.subscriptions(g);
    const name = this.selectAssignor(g);
    const members: AssignorMember[] = [...g.members.values()].map((m) => ({ memberId: m.memberId, topics: perMember.get(m.memberId) ?? new Set() }));
    g.target = ASSIGNORS[name]!({ members, partitionCounts: counts, previous: g.target });
    g.assignmentEpoch = g.groupEpoch;
    g.assignorName = name;
    log.info({ group: g.groupId, groupEpoch: g.groupEpoch, members: g.members.size, assignor: name, reason }, 'consumer group target assignment');
  }

  /** Kafka's rule: the assignor most members ask for (ties: the configured order), else the first configured. */
  private selectAssignor(g: ConsumerGroup): string {
    const votes = new Map<string, number>();
    for (const m of g.members.values()) if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best = this.assignors[0]!;
    let bestVotes = 0;
    for (const a of this.assignors) {
      const v = votes.get(a) ?? 0;
      if (v > bestVotes) {
        best = a;
        bestVotes = v;
      }
    }
    return best;
  }

  /** The session ticker: members that stopped heartbeating, or did not revoke within their rebalance timeout, are removed. */
  private tick(): void {
    const now = this.now();
    for (const g of [...this.groups.consumerValues()]) {
      for (const m of [...g.members.values()]) {
        if (g.members.get(m.memberId) !== m) continue;
        if (now >= m.deadline) {
          void this.removeMember(g, m, 'session expired').catch(() => undefined);
        } else if (m.classic !== null && m.joinDeadline > 0 && now >= m.joinDeadline) {
          void this.removeMember(g, m, 'the classic member failed to join within the rebalance timeout').catch(() => undefined);
        } else if (m.classic !== null && m.syncDeadline > 0 && now >= m.syncDeadline) {
          void this.removeMember(g, m, 'the member failed to sync within timeout').catch(() => undefined);
        } else if (m.state === 'unrevoked_partitions' && m.revocationDeadline > 0 && now >= m.revocationDeadline) {
          void this.removeMember(g, m, 'did not revoke its partitions within the rebalance timeout').catch(() => undefined);
        }
      }
    }
  }

  // ---- Online migration (KIP-848): upgrade, classic members in a consumer group, downgrade ----

  private get migrationPolicy(): string {
    return (this.options.consumerMigrationPolicy ?? 'bidirectional').toLowerCase();
  }

  /** Kafka's validateOnlineUpgrade. */
  private validateOnlineUpgrade(c: ClassicGroup): boolean {
    const policy = this.migrationPolicy;
    if (policy !== 'upgrade' && policy !== 'bidirectional') {
      log.info({ group: c.groupId }, 'cannot upgrade the classic group to a consumer group: group.consumer.migration.policy does not allow it');
      return false;
    }
    if (c.protocolType !== CONSUMER_PROTOCOL_TYPE) {
      log.info({ group: c.groupId }, 'cannot upgrade the classic group to a consumer group: it does not use the consumer embedded protocol');
      return false;
    }
    if (c.members.size > (this.options.consumerMaxSize ?? CONSUMER_GROUP_DEFAULTS.maxSize)) {
      log.info({ group: c.groupId }, 'cannot upgrade the classic group to a consumer group: it has more members than group.consumer.max.size');
      return false;
    }
    return true;
  }

  /** Kafka's ConsumerGroup.fromClassicGroup: the classic members keep their ids and assignments; their generation is their epoch. */
  private upgrade(c: ClassicGroup): ConsumerGroup {
    // Members waiting in a rebalance join again, now with the consumer group.
    c.abandon(ErrorCode.REBALANCE_IN_PROGRESS);
    c.state = 'Dead';
    const now = this.now();
    const g = this.groups.createConsumer(c.groupId);
    g.groupEpoch = g.assignmentEpoch = c.generationId;
    for (const cm of c.members.values()) {
      const sub = subscriptionWithOwned(cm.metadata(c.protocolName ?? '')) ?? { topics: [], owned: [] };
      const m = new ConsumerMember(cm.memberId, cm.groupInstanceId, null, cm.clientId, cm.clientHost, cm.rebalanceTimeoutMs, sub.topics, null, null);
      m.classic = { sessionTimeoutMs: cm.sessionTimeoutMs, protocols: cm.protocols };
      m.memberEpoch = m.previousMemberEpoch = c.generationId;
      m.deadline = now + cm.sessionTimeoutMs;
      const assigned = this.idsOf(assignmentPartitions(cm.assignment) ?? []);
      g.put(m);
      g.setOwned(m, assigned, new Map());
      g.target.set(m.memberId, new Map([...assigned].map(([t, ps]) => [t, new Set(ps)])));
    }
    g.metadataHash = this.metadataHash(g);
    log.info({ group: g.groupId, generation: c.generationId, members: g.members.size }, 'classic group upgraded to a consumer group (online migration)');
    return g;
  }

  /** Kafka's validateOnlineDowngradeWithFencedMember: the last consumer-protocol member goes and classic members remain. */
  private validateOnlineDowngrade(g: ConsumerGroup, leaving: ConsumerMember): boolean {
    if (leaving.classic !== null || !g.allClassicExcept(leaving.memberId) || g.members.size <= 1) return false;
    const policy = this.migrationPolicy;
    if (policy !== 'downgrade' && policy !== 'bidirectional') {
      log.info({ group: g.groupId }, 'cannot downgrade the consumer group to a classic group: group.consumer.migration.policy does not allow it');
      return false;
    }
    if (g.members.size - 1 > this.options.maxSize) {
      log.info({ group: g.groupId }, 'cannot downgrade the consumer group to a classic group: it has more members than group.max.size');
      return false;
    }
    return true;
  }

  /** Topic names → ids (topics that do not exist are left out). */
  private idsOf(list: readonly { topic: string; partitions: number[] }[]): Assignment {
    const a: Assignment = new Map();
    for (const t of list) {
      const id = this.options.topics?.get(t.topic)?.topicId;
      if (id === undefined) continue;
      let ps = a.get(id);
      if (!ps) a.set(id, (ps = new Set()));
      for (const p of t.partitions) ps.add(p);
    }
    return a;
  }

  /** A member's assignment in the consumer protocol's encoding (topic names), as SyncGroup returns it. */
  encodedAssignment(m: ConsumerMember): Buffer {
    const list = toList(m.assigned).map((t) => ({ topic: this.options.topics?.getById(t.topicId)?.name ?? '', partitions: t.partitions })).filter((t) => t.topic !== '');
    return encodeAssignment(list);
  }

  /** Kafka's validateConsumerGroupMember plus the classic-protocol check: the member, or the error. */
  private classicMember(g: ConsumerGroup, memberId: string, instanceId: string | null): ConsumerMember | number {
    let m: ConsumerMember | undefined;
    if (instanceId === null) {
      m = g.members.get(memberId);
    } else {
      const id = g.staticMembers.get(instanceId);
      m = id === undefined ? undefined : g.members.get(id);
      if (m !== undefined && m.memberId !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    if (m === undefined || m.classic === null) return ErrorCode.UNKNOWN_MEMBER_ID;
    return m;
  }

  /** JoinGroup of a classic member to a non-empty consumer group (Kafka's classicGroupJoinToConsumerGroup). */
  async classicJoin(g: ConsumerGroup, p: JoinParams): Promise<JoinResult> {
    const unknown = p.memberId === '';
    const memberId = unknown ? randomUUID() : p.memberId;
    if (p.protocolType !== CONSUMER_PROTOCOL_TYPE || p.protocols.length === 0) return joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const existing = p.groupInstanceId !== null ? g.members.get(g.staticMembers.get(p.groupInstanceId) ?? '') : g.members.get(memberId);
    if (existing === undefined && g.members.size >= (this.options.consumerMaxSize ?? CONSUMER_GROUP_DEFAULTS.maxSize)) return joinError(p.memberId, ErrorCode.GROUP_MAX_SIZE_REACHED);
    if (existing !== undefined && existing.classic === null) return joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    // Kafka's supportsClassicProtocols: one of its protocols is supported by every other classic member.
    const others = [...g.members.values()].filter((x) => x.classic !== null && x.memberId !== existing?.memberId);
    if (others.length > 0 && !p.protocols.some((x) => others.every((o) => o.classic!.protocols.some((y) => y.name === x.name)))) {
      return joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    if (unknown && p.requireKnownMemberId && p.groupInstanceId === null) return joinError(memberId, ErrorCode.MEMBER_ID_REQUIRED);
    const sub = subscriptionWithOwned(p.protocols[0]!.metadata);
    if (sub === null) return joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (existing !== undefined && p.groupInstanceId !== null && existing.memberId !== memberId && !unknown) return joinError(p.memberId, ErrorCode.FENCED_INSTANCE_ID);

    const now = this.now();
    let bump = false;
    let m: ConsumerMember;
    if (existing === undefined) {
      m = new ConsumerMember(memberId, p.groupInstanceId, null, p.clientId, p.clientHost, p.rebalanceTimeoutMs, [], null, null);
      g.put(m);
      bump = true;
    } else if (existing.memberId !== memberId) {
      // A static member back with a new member id takes the old one's place (assignment and target).
      m = new ConsumerMember(memberId, p.groupInstanceId, null, p.clientId, p.clientHost, p.rebalanceTimeoutMs, existing.subscribedTopicNames, null, null);
      const target = g.target.get(existing.memberId);
      const assigned = existing.assigned;
      g.remove(existing.memberId);
      m.memberEpoch = existing.memberEpoch;
      m.previousMemberEpoch = existing.previousMemberEpoch;
      g.put(m);
      g.setOwned(m, assigned, new Map());
      if (target) g.target.set(memberId, target);
    } else {
      m = existing;
    }
    m.classic = { sessionTimeoutMs: p.sessionTimeoutMs, protocols: p.protocols.map((x) => ({ name: x.name, metadata: x.metadata })) };
    m.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    m.clientId = p.clientId;
    m.clientHost = p.clientHost;
    if (!sameNames(sub.topics, m.subscribedTopicNames)) {
      m.subscribedTopicNames = [...sub.topics];
      bump = true;
    }
    const hash = this.metadataHash(g);
    if (bump || hash !== g.metadataHash) this.bumpAndAssign(g, hash, `classic member ${m.memberId} joined or changed its subscription`);
    // What a classic member owns is what its subscription says (an eager member revoked everything first).
    this.reconcile(g, m, this.idsOf(sub.owned), now);
    m.deadline = now + p.sessionTimeoutMs;
    g.version++;
    await this.groups.persistConsumer(g);
    // Kafka: the join timeout ends; the member must now sync within its rebalance timeout.
    m.joinDeadline = 0;
    m.syncDeadline = this.now() + p.rebalanceTimeoutMs;
    return {
      errorCode: ErrorCode.NONE, memberId: m.memberId, generationId: m.memberEpoch, protocolType: CONSUMER_PROTOCOL_TYPE,
      protocolName: m.classic.protocols[0]!.name, leader: '', skipAssignment: false, members: [],
    };
  }

  /** SyncGroup of a classic member of a consumer group: the assignment the server computed for it. */
  classicSync(g: ConsumerGroup, p: SyncParams): SyncResult {
    const found = this.classicMember(g, p.memberId, p.groupInstanceId);
    if (typeof found === 'number') return syncError(found);
    const m = found;
    if (p.generationId !== m.memberEpoch) return syncError(ErrorCode.ILLEGAL_GENERATION);
    if ((p.protocolType !== null && p.protocolType !== CONSUMER_PROTOCOL_TYPE) || (p.protocolName !== null && p.protocolName !== m.classic!.protocols[0]!.name)) {
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    if (g.groupEpoch > m.memberEpoch && m.state !== 'unrevoked_partitions') {
      this.expectRejoin(m);
      return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
    }
    m.syncDeadline = 0;
    m.deadline = this.now() + m.classic!.sessionTimeoutMs;
    return { errorCode: ErrorCode.NONE, protocolType: CONSUMER_PROTOCOL_TYPE, protocolName: m.classic!.protocols[0]!.name, assignment: this.encodedAssignment(m) };
  }

  /** Heartbeat of a classic member of a consumer group (Kafka's classicGroupHeartbeatToConsumerGroup). */
  classicHeartbeat(g: ConsumerGroup, memberId: string, instanceId: string | null, generationId: number): number {
    const found = this.classicMember(g, memberId, instanceId);
    if (typeof found === 'number') return found;
    const m = found;
    if (generationId !== m.memberEpoch) return ErrorCode.ILLEGAL_GENERATION;
    m.deadline = this.now() + m.classic!.sessionTimeoutMs;
    // Rejoin to catch up with the group epoch, to revoke, or to take partitions their owners released.
    if (m.memberEpoch < g.groupEpoch || m.state === 'unrevoked_partitions' || (m.state === 'unreleased_partitions' && !this.waitingOnUnreleased(g, m))) {
      this.expectRejoin(m);
      return ErrorCode.REBALANCE_IN_PROGRESS;
    }
    return ErrorCode.NONE;
  }

  /** Kafka's scheduleConsumerGroupJoinTimeoutIfAbsent: a classic member told to rejoin has its rebalance timeout to do so. */
  private expectRejoin(m: ConsumerMember): void {
    if (m.joinDeadline === 0) m.joinDeadline = this.now() + m.rebalanceTimeoutMs;
  }

  /**
   * LeaveGroup of classic members of a consumer group. `rest`: the members not handled because the group
   * went back to the classic protocol on the way (the caller passes them to the classic group).
   */
  async classicLeave(g: ConsumerGroup, leaving: readonly MemberIdentity[]): Promise<LeaveResult & { rest: MemberIdentity[] }> {
    const members = [];
    for (const [i, l] of leaving.entries()) {
      if (this.groups.getConsumer(g.groupId) !== g) return { errorCode: ErrorCode.NONE, members, rest: leaving.slice(i) };
      const answer = (errorCode: number) => ({ memberId: l.memberId, groupInstanceId: l.groupInstanceId, errorCode });
      let m: ConsumerMember | undefined;
      if (l.memberId === '' && l.groupInstanceId !== null) m = g.members.get(g.staticMembers.get(l.groupInstanceId) ?? '');
      else {
        const found = this.classicMember(g, l.memberId, l.groupInstanceId);
        if (typeof found === 'number') {
          // A consumer-protocol member may be removed this way too (admin removal of a static member).
          const any = g.members.get(l.memberId);
          if (any === undefined || found === ErrorCode.FENCED_INSTANCE_ID) {
            members.push(answer(found));
            continue;
          }
          m = any;
        } else m = found;
      }
      if (m === undefined) {
        members.push(answer(ErrorCode.UNKNOWN_MEMBER_ID));
        continue;
      }
      await this.removeMember(g, m, `left the group (LeaveGroup: ${l.reason ?? 'not provided'})`);
      members.push(answer(ErrorCode.NONE));
    }
    return { errorCode: ErrorCode.NONE, members, rest: [] };
  }

  /** Whether a partition of the member's target is still held by another member (Kafka's waitingOnUnreleasedPartition). */
  private waitingOnUnreleased(g: ConsumerGroup, m: ConsumerMember): boolean {
    const target = g.target.get(m.memberId);
    if (!target) return false;
    for (const [t, ps] of target) {
      for (const p of ps) {
        if (m.assigned.get(t)?.has(p)) continue;
        const owner = g.ownerOf(t, p);
        if (owner !== undefined && owner !== m.memberId) return true;
      }
    }
    return false;
  }

  /** One reconciliation step of the member towards its target, given what it owns. */
  private reconcile(g: ConsumerGroup, m: ConsumerMember, owned: Assignment | null, now: number): boolean {
    const next = nextMemberAssignment(g, m, owned);
    if (next === null) return false;
    const wasRevoking = m.state === 'unrevoked_partitions';
    if (next.memberEpoch !== m.memberEpoch) m.previousMemberEpoch = m.memberEpoch;
    m.memberEpoch = next.memberEpoch;
    m.state = next.state;
    g.setOwned(m, next.assigned, next.pending);
    if (next.state === 'unrevoked_partitions' && !wasRevoking) m.revocationDeadline = now + m.rebalanceTimeoutMs;
    return true;
  }

  // ---- ConsumerGroupDescribe, ListGroups, DeleteGroups, offsets ----

  describe(groupId: string): DescribedConsumerGroup {
    const base = { groupState: '', groupEpoch: 0, assignmentEpoch: 0, assignorName: '', members: [] };
    const idError = groupIdError(groupId, false);
    if (idError !== null) return { ...base, groupId, errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: null };
    const placement = this.groups.placementError(groupId);
    if (placement !== null) return { ...base, groupId, errorCode: placement, errorMessage: null };
    const g = this.groups.getConsumer(groupId);
    if (g === undefined || g.dead) {
      const classic = this.groups.get(groupId) !== undefined;
      return { ...base, groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: classic ? `Group ${groupId} is not a consumer group.` : `Group ${groupId} not found.` };
    }
    const named = (a: Assignment) => ({
      topicPartitions: toList(a).map((t) => ({ topicId: t.topicId, topicName: this.options.topics?.getById(t.topicId)?.name ?? '', partitions: t.partitions })),
    });
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      groupId,
      groupState: g.state,
      groupEpoch: g.groupEpoch,
      assignmentEpoch: g.assignmentEpoch,
      assignorName: g.assignorName || this.assignors[0]!,
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: m.subscribedTopicNames,
        subscribedTopicRegex: m.subscribedTopicRegex,
        assignment: named(m.assigned),
        targetAssignment: named(g.target.get(m.memberId) ?? new Map()),
        memberType: m.classic === null ? 1 : 0, // KIP-1099: 0 classic, 1 consumer
      })),
    };
  }

  list(): { groupId: string; protocolType: string; state: ConsumerGroupState }[] {
    const out = [];
    for (const g of this.groups.consumerValues()) if (!g.dead) out.push({ groupId: g.groupId, protocolType: 'consumer', state: g.state });
    return out;
  }

  /** DeleteGroups for consumer groups: only empty ones (NON_EMPTY_GROUP otherwise). */
  async deleteGroups(groups: readonly ConsumerGroup[]): Promise<Map<string, number>> {
    const results = new Map<string, number>();
    const eligible = groups.filter((g) => {
      if (g.members.size > 0) results.set(g.groupId, ErrorCode.NON_EMPTY_GROUP);
      return g.members.size === 0;
    });
    if (eligible.length === 0) return results;
    for (const g of eligible) g.dead = true;
    try {
      await Promise.allSettled(eligible.map((g) => g.persisting));
      await this.groups.deleteStored(eligible.map((g) => ({ groupId: g.groupId, persisting: Promise.resolve() })));
      for (const g of eligible) {
        this.groups.removeConsumer(g);
        results.set(g.groupId, ErrorCode.NONE);
      }
    } catch (err) {
      log.warn({ err }, 'could not delete consumer groups');
      for (const g of eligible) {
        g.dead = false;
        results.set(g.groupId, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      }
    }
    return results;
  }

  /**
   * Kafka's ConsumerGroup.validateOffsetCommit: commits without a member (epoch < 0) only while the group
   * is empty; a member of the consumer protocol must commit with OffsetCommit v9+ and its current epoch
   * (STALE_MEMBER_EPOCH otherwise).
   */
  validateOffsetCommit(g: ConsumerGroup, memberId: string, memberEpoch: number, apiVersion: number | undefined): number | null {
    if (g.dead) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (memberEpoch < 0 && g.members.size === 0) return null;
    const m = g.members.get(memberId);
    if (m === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    // A classic member commits with its generation, which is its member epoch (any OffsetCommit version).
    if (m.classic !== null) return memberEpoch === m.memberEpoch ? null : ErrorCode.ILLEGAL_GENERATION;
    if (apiVersion !== undefined && apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    if (memberEpoch !== m.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
    return null;
  }

  /** Kafka's ConsumerGroup.validateOffsetFetch: without member id and epoch (admin) always; else the member's current epoch. */
  validateOffsetFetch(g: ConsumerGroup, memberId: string | null | undefined, memberEpoch: number | undefined): number | null {
    if ((memberId === null || memberId === undefined) && (memberEpoch === undefined || memberEpoch < 0)) return null;
    const m = memberId == null ? undefined : g.members.get(memberId);
    if (m === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (memberEpoch !== m.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
    return null;
  }

  /** Whether a member of the group subscribes to the topic (by name or regex): OffsetDelete's GROUP_SUBSCRIBED_TO_TOPIC. */
  isSubscribed(g: ConsumerGroup, topicName: string): boolean {
    for (const m of g.members.values()) {
      if (m.subscribedTopicNames.includes(topicName)) return true;
      if (m.subscribedTopicRegex !== null && this.regex(m.subscribedTopicRegex)?.test(topicName)) return true;
    }
    return false;
  }

  /** Read-only view for tests. */
  inspect(groupId: string): { state: ConsumerGroupState; groupEpoch: number; assignmentEpoch: number; members: { memberId: string; memberEpoch: number; state: string; assigned: { topicId: string; partitions: number[] }[] }[] } | undefined {
    const g = this.groups.getConsumer(groupId);
    return g && {
      state: g.state,
      groupEpoch: g.groupEpoch,
      assignmentEpoch: g.assignmentEpoch,
      members: [...g.members.values()].map((m) => ({ memberId: m.memberId, memberEpoch: m.memberEpoch, state: m.state, assigned: toList(m.assigned) })),
    };
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(b);
  return a.every((x) => s.has(x));
}
