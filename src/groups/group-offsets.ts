/**
 * Committed offsets of the groups this broker coordinates, as Kafka's GroupCoordinator handles them:
 * OffsetCommit (simple commits of clients without group management, and member commits checked against
 * the member and generation), OffsetFetch (several groups in one coordinator query), OffsetDelete (not for
 * topics a non-empty consumer group subscribes to), and expiry by offsets.retention.minutes or a commit's
 * own retention. The offsets themselves are rows in the coordinator DB (what Kafka keeps in
 * __consumer_offsets); nothing of them is cached here. Membership and generations are the protocol's
 * (classic-protocol.ts): a commit is checked with its rules and counts as a sign of life of the member.
 * Expiry runs over the whole coordinator DB, so it names the groups it must not touch: those with members
 * here, and those another broker coordinates (theirs to expire, by their own view of their members).
 *
 * KIP-848 consumer groups share the same offsets; their commits and fetches are checked with the consumer
 * protocol's rules (member id and member epoch: STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID).
 *
 * Floe difference: offsets of topics a Stable consumer group no longer subscribes to do not expire (Kafka
 * expires them by commit time); offsets of empty and simple groups expire as in Kafka.
 */
import type { Coordinator, GroupOffsetCommit } from '../coordinator/coordinator.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { childLogger } from '../observability/log.ts';
import type { ClassicGroup } from './classic-group.ts';
import type { ConsumerGroup } from './consumer-group.ts';
import type { ClassicProtocol } from './classic-protocol.ts';
import type { ConsumerGroupProtocol } from './consumer-group-protocol.ts';
import { CONSUMER_PROTOCOL_TYPE } from './consumer-protocol.ts';
import { groupIdError } from './group-id.ts';
import type { GroupCoordinatorOptions } from './group-options.ts';
import type { OwnedGroups } from './owned-groups.ts';

const log = childLogger('groups');

export interface CommitParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2-v4; -1: the broker's offsets.retention.minutes. */
  retentionTimeMs: number;
  commits: Omit<GroupOffsetCommit, 'expireTimestamp'>[];
  /** The OffsetCommit version: members of KIP-848 consumer groups must use v9+. Unset: not checked (transactional commits). */
  apiVersion?: number;
}

export interface FetchedPartition {
  partition: number;
  offset: bigint;
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
  /** OffsetFetch v9+: the member asking, checked against KIP-848 consumer groups (null/unset: an admin). */
  memberId?: string | null;
  memberEpoch?: number;
}

export interface DeleteOffsetsTarget {
  topicId: string;
  topicName: string;
  partition: number;
}

export class GroupOffsets {
  private readonly now: () => number;
  private expiryTimer: NodeJS.Timeout | null = null;
  /** The expiry run in progress (one at a time; shutdown waits for it). */
  private expiring: Promise<void> | null = null;
  /**
   * Per group, the last of its commits being stored. A group's commits are stored one after the other, in
   * the order they were accepted: the pool runs transactions on several connections, and a member's
   * pipelined commits (librdkafka auto-commits again while the previous commit is in flight) would otherwise
   * land in any order, an older offset overwriting a newer one after both were acknowledged.
   */
  private readonly storing = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Coordinator,
    private readonly groups: OwnedGroups,
    private readonly protocol: ClassicProtocol,
    private readonly consumer: ConsumerGroupProtocol,
    private readonly options: GroupCoordinatorOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Starts the periodic expiry (offsets.retention.check.interval.ms). */
  startExpiry(): void {
    this.expiryTimer = setInterval(() => void this.expireOffsets(), this.options.offsetsRetentionCheckIntervalMs);
    this.expiryTimer.unref();
  }

  /** Stops the periodic expiry; resolves when a run in progress is done. */
  async stopExpiry(): Promise<void> {
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    await this.expiring;
  }

  /** OffsetCommit: one error for every partition, or one per commit (in order). */
  async commitOffsets(p: CommitParams): Promise<number | number[]> {
    const idError = groupIdError(p.groupId, true) ?? this.groups.placementError(p.groupId);
    if (idError !== null) return idError;
    const consumerGroup = this.groups.getConsumer(p.groupId);
    if (consumerGroup !== undefined) {
      const error = this.consumer.validateOffsetCommit(consumerGroup, p.memberId, p.generationId, p.apiVersion);
      if (error !== null) return error;
      consumerGroup.version++;
      return this.store_(p);
    }
    let g = this.groups.get(p.groupId);
    if (g === undefined) {
      // Only a client that does not use group management (generation -1) may create a group by committing.
      // Kafka: GROUP_ID_NOT_FOUND from OffsetCommit v9 on, ILLEGAL_GENERATION before (what older clients expect).
      if (p.generationId >= 0) return (p.apiVersion ?? 0) >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION;
      g = this.groups.create(p.groupId);
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
        if (member) this.protocol.touch(member);
        break;
      }
      case 'Empty':
      case 'Dead':
        break;
    }
    g.version++;
    return this.store_(p);
  }

  /** Stores an accepted commit after the group's earlier ones (see `storing`). */
  private store_(p: CommitParams): Promise<number | number[]> {
    if (p.commits.length === 0) return Promise.resolve([]);
    const now = this.now();
    const expireTimestamp = p.retentionTimeMs >= 0 ? now + p.retentionTimeMs : -1;
    const previous = this.storing.get(p.groupId);
    const write = async (): Promise<number | number[]> => {
      // The group moved to another broker while this commit waited its turn: the new coordinator may have
      // stored newer commits already, so this one is refused (the client commits again there).
      if (this.groups.placementError(p.groupId) === ErrorCode.NOT_COORDINATOR) return ErrorCode.NOT_COORDINATOR;
      try {
        return await this.store.commitGroupOffsets(p.groupId, now, p.commits.map((c) => ({ ...c, expireTimestamp })));
      } catch (err) {
        log.warn({ err, group: p.groupId }, 'could not store committed offsets');
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      }
    };
    const result = previous === undefined ? write() : previous.then(write);
    this.storing.set(p.groupId, result);
    void result.finally(() => {
      if (this.storing.get(p.groupId) === result) this.storing.delete(p.groupId);
    });
    return result;
  }

  /**
   * TxnOffsetCommit, as Kafka's GroupCoordinator checks it: on the group's coordinator only; a member id or
   * generation given must be the group's current ones (a zombie consumer's offsets never join a
   * transaction); none given (generation -1, old clients): only the producer's epoch fences.
   */
  validateTxnCommit(groupId: string, memberId: string, generationId: number, groupInstanceId: string | null): number | null {
    const idError = groupIdError(groupId, false) ?? this.groups.placementError(groupId);
    if (idError !== null) return idError;
    const cg = this.groups.getConsumer(groupId);
    if (cg !== undefined && !cg.dead) {
      // A KIP-848 group: the generation is the member's epoch (Kafka's transactional offset commit check).
      if (memberId === '' && generationId < 0) return null;
      const member = cg.members.get(memberId);
      if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      return generationId >= 0 && generationId !== member.memberEpoch ? ErrorCode.ILLEGAL_GENERATION : null;
    }
    const g = this.groups.get(groupId);
    if (g === undefined) return generationId >= 0 || memberId !== '' ? ErrorCode.ILLEGAL_GENERATION : null;
    if (g.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (memberId !== '' || groupInstanceId !== null) {
      const error = this.protocol.validateCurrentMember(g, memberId, groupInstanceId);
      if (error !== null) return error;
    }
    if (generationId >= 0 && generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
    return null;
  }

  private validateOffsetCommit(g: ClassicGroup, p: CommitParams): number | null {
    if (g.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (p.generationId >= 0 || p.memberId !== '' || p.groupInstanceId !== null) {
      return this.protocol.validateCurrentMember(g, p.memberId, p.groupInstanceId)
        ?? (p.generationId !== g.generationId ? ErrorCode.ILLEGAL_GENERATION : null);
    }
    // A simple commit (no member, generation -1): only while nobody is a member.
    return g.state === 'Empty' ? null : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /** OffsetFetch for several groups in one coordinator query. Partitions without a commit get offset -1. */
  async fetchOffsets(requests: readonly FetchRequestGroup[]): Promise<FetchedGroup[]> {
    const groupError = (r: FetchRequestGroup) => {
      const error = groupIdError(r.groupId, true) ?? this.groups.placementError(r.groupId);
      if (error !== null) return error;
      const cg = this.groups.getConsumer(r.groupId);
      return cg === undefined ? null : this.consumer.validateOffsetFetch(cg, r.memberId, r.memberEpoch);
    };
    const wanted = requests.filter((r) => groupError(r) === null).map((r) => r.groupId);
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
      const idError = groupError(req);
      if (idError !== null) return { groupId: req.groupId, errorCode: idError, topics: [] };
      if (failed) return { groupId: req.groupId, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, topics: [] };
      const committed = byGroup.get(req.groupId) ?? new Map();
      const entry = (partition: number, r: (typeof rows)[number] | undefined): FetchedPartition => r
        ? { partition, offset: r.offset, leaderEpoch: r.leaderEpoch, metadata: r.metadata ?? '', errorCode: ErrorCode.NONE }
        : { partition, offset: -1n, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE };
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
    const idError = groupIdError(groupId, false) ?? this.groups.placementError(groupId);
    if (idError !== null) return idError;
    const cg = this.groups.getConsumer(groupId);
    if (cg !== undefined && !cg.dead) return this.deleteConsumerGroupOffsets(cg, targets);
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
          this.groups.remove(g);
          await this.groups.deleteStored([g]);
        }
      }
    } catch (err) {
      log.warn({ err, group: groupId }, 'could not delete committed offsets');
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    return codes;
  }

  /** OffsetDelete on a consumer group: not for topics its members subscribe to while it has members. */
  private async deleteConsumerGroupOffsets(g: ConsumerGroup, targets: readonly DeleteOffsetsTarget[]): Promise<number | number[]> {
    const codes = targets.map((t) => (g.members.size > 0 && this.consumer.isSubscribed(g, t.topicName) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE) as number);
    const eligible = targets.filter((_, i) => codes[i] === ErrorCode.NONE);
    if (eligible.length === 0) return codes;
    try {
      const removed = await this.store.deleteGroupOffsets(g.groupId, eligible);
      log.info({ group: g.groupId, removed }, 'deleted committed offsets');
    } catch (err) {
      log.warn({ err, group: g.groupId }, 'could not delete committed offsets');
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    return codes;
  }

  /** One run of offset expiry (offsets.retention.minutes); also drops empty groups left without offsets. */
  expireOffsets(): Promise<void> {
    if (this.expiring || this.groups.closed) return this.expiring ?? Promise.resolve();
    const run = (async () => {
      try {
        // Groups another broker created since this one last read them are theirs too: read the list now.
        await this.groups.refreshStored();
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
        const consumerVersions = new Map<string, number>();
        for (const g of this.groups.consumerValues()) {
          if (g.dead) continue;
          if (g.members.size > 0) {
            active.push(g.groupId);
          } else {
            empty.push(g.groupId);
            consumerVersions.set(g.groupId, g.version);
          }
        }
        // Groups coordinated by other brokers are theirs to expire: left alone here.
        for (const id of this.groups.storedElsewhere()) active.push(id);
        const results = await this.store.expireGroupOffsets(this.now(), this.options.offsetsRetentionMs, active, empty);
        for (const r of results) {
          if (r.expiredOffsets > 0) log.info({ group: r.groupId, offsets: r.expiredOffsets }, 'expired committed offsets');
          if (!r.deleted) continue;
          const cg = this.groups.getConsumer(r.groupId);
          if (cg && cg.members.size === 0 && cg.version === consumerVersions.get(r.groupId)) {
            cg.dead = true;
            this.groups.removeConsumer(cg);
            await this.groups.deleteStored([cg]);
            log.info({ group: r.groupId }, 'removed empty consumer group without offsets');
            continue;
          }
          const g = this.groups.get(r.groupId);
          if (g && g.state === 'Empty' && g.version === versions.get(r.groupId)) {
            g.transition('Dead', this.now());
            this.groups.remove(g);
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
}
