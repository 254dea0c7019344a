/**
 * The group coordinator (classic protocol and KIP-848 consumer groups), as the broker and its request
 * handlers see it: one object that wires its parts and passes each request to the part that answers it.
 *
 * - owned-groups.ts: which groups this broker coordinates (placed by hash over the live brokers; the
 *   others get NOT_COORDINATOR), reloading them from the coordinator DB when ownership moves, storing their
 *   generations, and shutdown.
 * - classic-protocol.ts: the protocol state machine (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 *   rebalance and session timers, static membership) and DescribeGroups/ListGroups/DeleteGroups.
 * - consumer-group-protocol.ts: KIP-848 consumer groups (ConsumerGroupHeartbeat/Describe), their
 *   assignors (assignors.ts) and reconciliation (consumer-group.ts).
 * - group-offsets.ts: committed offsets (OffsetCommit/Fetch/Delete, expiry) of both kinds of group.
 *
 * The parts depend on each other in that order only (offsets on the protocol for member checks, both on
 * the owned groups), so none of them imports this file.
 */
import type { Coordinator } from '../coordinator/coordinator.ts';
import { joinError, type GroupState, type JoinResult, type SyncResult } from './classic-group.ts';
import { ClassicProtocol, type DescribedGroup, type JoinParams, type LeaveResult, type MemberIdentity, type SyncParams } from './classic-protocol.ts';
import { GroupOffsets, type CommitParams, type DeleteOffsetsTarget, type FetchedGroup, type FetchRequestGroup } from './group-offsets.ts';
import { groupIdError } from './group-id.ts';
import type { GroupCoordinatorOptions } from './group-options.ts';
import { OwnedGroups } from './owned-groups.ts';
import { ConsumerGroupProtocol, type ConsumerHeartbeatParams, type ConsumerHeartbeatResult, type DescribedConsumerGroup } from './consumer-group-protocol.ts';
import type { ConsumerGroup } from './consumer-group.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { GroupConfigs } from './group-configs.ts';

// What the rest of Floe imports from here (the handlers and the broker), wherever it is defined.
export { MAX_GROUP_ID_BYTES } from './group-id.ts';
export { groupOptionsFromConfig, type GroupCoordinatorOptions } from './group-options.ts';
export { clientHost, NEW_MEMBER_JOIN_TIMEOUT_MS, type DescribedGroup, type JoinParams, type LeaveResult, type MemberIdentity, type SyncParams } from './classic-protocol.ts';
export type { CommitParams, DeleteOffsetsTarget, FetchedGroup, FetchedPartition, FetchRequestGroup } from './group-offsets.ts';
export type { ConsumerHeartbeatParams, ConsumerHeartbeatResult, DescribedConsumerGroup } from './consumer-group-protocol.ts';
export type { GroupTopics } from './group-options.ts';
export type { DescribedGroupConfig, GroupConfigOp, GroupConfigs } from './group-configs.ts';

/** A group as ListGroups shows it; `type` is KIP-848's group type. */
export interface ListedGroup {
  groupId: string;
  protocolType: string;
  state: string;
  type: 'classic' | 'consumer';
}

export class GroupCoordinator {
  private readonly owned: OwnedGroups;
  private readonly protocol: ClassicProtocol;
  private readonly consumer: ConsumerGroupProtocol;
  private readonly offsets: GroupOffsets;
  /** Per-group configs (GROUP resource of DescribeConfigs/IncrementalAlterConfigs); the broker starts and stops them. */
  readonly configs: GroupConfigs;

  /** `options` is shared with the parts: a change to it (tests) applies to the running coordinator. */
  constructor(private readonly store: Coordinator, readonly options: GroupCoordinatorOptions) {
    this.configs = new GroupConfigs(store, options.brokerConfig ?? { values: {} });
    options.groupConfigs ??= this.configs;
    this.owned = new OwnedGroups(store, options);
    this.protocol = new ClassicProtocol(this.owned, options);
    this.consumer = new ConsumerGroupProtocol(this.owned, options);
    this.consumer.downgrade = (g, leaving) => this.protocol.adoptConsumerGroup(g, leaving, (m) => this.consumer.encodedAssignment(m));
    this.offsets = new GroupOffsets(store, this.owned, this.protocol, this.consumer, options);
  }

  // ---- Lifecycle and ownership ----

  /** Rebuilds the groups this broker coordinates from the coordinator DB; call before serving. */
  load(): Promise<void> {
    return this.owned.load();
  }

  /** The live brokers changed: drops the groups that moved away, loads those that moved here. */
  ownershipChanged(): void {
    this.owned.ownershipChanged();
  }

  /** Starts the session ticker and the offset expiry. */
  start(): void {
    this.protocol.startSessionTicker();
    this.consumer.startSessionTicker();
    this.offsets.startExpiry();
  }

  /** Stops the timers and answers every waiting JoinGroup/SyncGroup with NOT_COORDINATOR. */
  async shutdown(): Promise<void> {
    const closed = this.owned.close();
    this.protocol.stopSessionTicker();
    this.consumer.stopSessionTicker();
    await Promise.allSettled([closed, this.offsets.stopExpiry()]);
  }

  /**
   * NOT_COORDINATOR when another broker coordinates the group (or this one is shutting down);
   * COORDINATOR_LOAD_IN_PROGRESS while groups that moved here are being loaded.
   */
  placementError(groupId: string): number | null {
    return this.owned.placementError(groupId);
  }

  /** INVALID_GROUP_ID for ids Kafka refuses for this API (`allowEmpty`: OffsetCommit/Fetch, Describe/DeleteGroups), or too long. */
  groupIdError(groupId: string | null, allowEmpty: boolean): number | null {
    return groupIdError(groupId, allowEmpty);
  }

  // ---- The classic protocol ----

  // A non-empty consumer group of the id serves classic members itself (KIP-848's online migration).

  join(p: JoinParams): Promise<JoinResult> {
    const g = this.liveConsumerGroup(p.groupId);
    if (g !== undefined && p.sessionTimeoutMs >= this.options.minSessionTimeoutMs && p.sessionTimeoutMs <= this.options.maxSessionTimeoutMs) {
      return this.consumer.classicJoin(g, p).catch(() => joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    }
    return this.protocol.join(p);
  }

  sync(p: SyncParams): Promise<SyncResult> {
    const g = this.liveConsumerGroup(p.groupId);
    if (g !== undefined) return Promise.resolve(this.consumer.classicSync(g, p));
    return this.protocol.sync(p);
  }

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    const g = this.liveConsumerGroup(groupId);
    if (g !== undefined) return this.consumer.classicHeartbeat(g, memberId, groupInstanceId, generationId);
    return this.protocol.heartbeat(groupId, memberId, groupInstanceId, generationId);
  }

  leave(groupId: string, leaving: readonly MemberIdentity[]): LeaveResult | Promise<LeaveResult> {
    const g = this.liveConsumerGroup(groupId);
    if (g !== undefined) {
      return this.consumer.classicLeave(g, leaving).then((r) => {
        if (r.rest.length === 0) return { errorCode: r.errorCode, members: r.members };
        // The group went back to the classic protocol on the way: it takes the rest.
        const classic = this.protocol.leave(groupId, r.rest);
        return { errorCode: classic.errorCode, members: [...r.members, ...classic.members] };
      }, () => ({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] }));
    }
    return this.protocol.leave(groupId, leaving);
  }

  /** The consumer group of that id coordinated here, when it has members (an empty one is replaced by a classic join). */
  private liveConsumerGroup(groupId: string): ConsumerGroup | undefined {
    if (groupIdError(groupId, false) !== null || this.owned.placementError(groupId) !== null) return undefined;
    const g = this.owned.getConsumer(groupId);
    return g !== undefined && !g.dead && g.members.size > 0 ? g : undefined;
  }

  describe(groupId: string): DescribedGroup | null {
    return this.protocol.describe(groupId);
  }

  /** Every group this broker coordinates, of both kinds (not those being deleted). */
  list(): ListedGroup[] {
    return [
      ...this.protocol.list().map((g) => ({ ...g, type: 'classic' as const })),
      ...this.consumer.list().map((g) => ({ ...g, type: 'consumer' as const })),
    ];
  }

  /** DeleteGroups: classic and consumer groups alike (only empty ones). */
  async deleteGroups(groupIds: readonly string[]): Promise<{ groupId: string; errorCode: number }[]> {
    const consumerGroups: ConsumerGroup[] = [];
    const classicIds: string[] = [];
    for (const id of new Set(groupIds)) {
      const g = this.owned.placementError(id) === null ? this.owned.getConsumer(id) : undefined;
      if (g !== undefined && !g.dead) consumerGroups.push(g);
      else classicIds.push(id);
    }
    const [classic, consumer] = await Promise.all([this.protocol.deleteGroups(classicIds), this.consumer.deleteGroups(consumerGroups)]);
    const codes = new Map<string, number>(consumer);
    for (const r of classic) codes.set(r.groupId, r.errorCode);
    return groupIds.map((groupId) => ({ groupId, errorCode: codes.get(groupId) ?? ErrorCode.GROUP_ID_NOT_FOUND }));
  }

  // ---- KIP-848 consumer groups ----

  consumerHeartbeat(p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    return this.consumer.heartbeat(p);
  }

  describeConsumerGroup(groupId: string): DescribedConsumerGroup {
    return this.consumer.describe(groupId);
  }

  /** Whether the id is a consumer group coordinated here (DescribeGroups answers GROUP_ID_NOT_FOUND for it, as Kafka). */
  isConsumerGroup(groupId: string): boolean {
    const g = this.owned.getConsumer(groupId);
    return g !== undefined && !g.dead;
  }

  /** Whether a classic group (not Dead) or a consumer group of this id is coordinated here (in memory). */
  hasGroup(groupId: string): boolean {
    const g = this.owned.get(groupId);
    return (g !== undefined && g.state !== 'Dead') || this.isConsumerGroup(groupId);
  }

  /**
   * Whether a classic or KIP-848 consumer group of this id exists anywhere in the cluster: coordinated here,
   * or stored by its coordinator (a generation, a consumer group's state, or committed offsets only). A
   * share group may not take such an id (ShareGroupHeartbeat: "Group X is not a share group.").
   */
  async existsInCluster(groupId: string): Promise<boolean> {
    return this.hasGroup(groupId) || this.store.hasStoredGroup(groupId);
  }

  /** Read-only view of a consumer group for tests. */
  inspectConsumerGroup(groupId: string): ReturnType<ConsumerGroupProtocol['inspect']> {
    return this.consumer.inspect(groupId);
  }

  /** Read-only view for tests: state, generation, leader and member ids. */
  inspect(groupId: string): { state: GroupState; generationId: number; leaderId: string | null; members: string[]; protocolName: string | null } | undefined {
    return this.protocol.inspect(groupId);
  }

  // ---- Offsets ----

  /** OffsetCommit: one error for every partition, or one per commit (in order). */
  commitOffsets(p: CommitParams): Promise<number | number[]> {
    return this.offsets.commitOffsets(p);
  }

  /** TxnOffsetCommit's member check (KIP-447): null when the commit may go into the transaction, else the error. */
  validateTxnCommit(groupId: string, memberId: string, generationId: number, groupInstanceId: string | null): number | null {
    return this.offsets.validateTxnCommit(groupId, memberId, generationId, groupInstanceId);
  }

  /** OffsetFetch for several groups in one coordinator query. Partitions without a commit get offset -1. */
  fetchOffsets(requests: readonly FetchRequestGroup[]): Promise<FetchedGroup[]> {
    return this.offsets.fetchOffsets(requests);
  }

  /** OffsetDelete: a group-level error, or one error per target (in order). */
  deleteOffsets(groupId: string, targets: readonly DeleteOffsetsTarget[]): Promise<number | number[]> {
    return this.offsets.deleteOffsets(groupId, targets);
  }

  /** One run of offset expiry (offsets.retention.minutes); also drops empty groups left without offsets. */
  expireOffsets(): Promise<void> {
    return this.offsets.expireOffsets();
  }
}
