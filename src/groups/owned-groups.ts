/**
 * The groups this broker coordinates, and how they are kept in the coordinator DB.
 *
 * Ownership: groups are placed by hash over the live brokers (the broker passes that rule as
 * `options.owns`), so each group has one coordinator at a time. A broker asked about a group it does not
 * own answers NOT_COORDINATOR and the client asks FindCoordinator again. When the live brokers change,
 * groups that moved away are dropped here (their waiting members are told NOT_COORDINATOR) and groups that
 * moved here are read from the coordinator DB with their generation, members and assignments, so members
 * carry on with their ids; until that read completes, requests for groups not yet in memory get
 * COORDINATOR_LOAD_IN_PROGRESS.
 *
 * Persistence: each generation of a group (members, their subscription for the selected protocol and their
 * assignment) is stored as one GroupRecord, what Kafka writes to __consumer_offsets as group metadata. A
 * group read back with members comes back Stable and its members must heartbeat within their session
 * timeout, as after a Kafka coordinator failover.
 */
import type { Coordinator, GroupRecord } from '../coordinator/coordinator.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { childLogger } from '../observability/log.ts';
import { ClassicGroup, EMPTY, Member } from './classic-group.ts';
import { CONSUMER_PROTOCOL_TYPE } from './consumer-protocol.ts';
import { ConsumerGroup } from './consumer-group.ts';
import { restoredConsumerGroup, storedConsumerGroup } from './consumer-group-record.ts';
import { CONSUMER_GROUP_DEFAULTS } from './group-options.ts';
import type { GroupCoordinatorOptions } from './group-options.ts';

const log = childLogger('groups');

/** How long a failed read of the stored groups waits before it is tried again. */
const LOAD_RETRY_MS = 1000;

export class OwnedGroups {
  private readonly groups = new Map<string, ClassicGroup>();
  /** KIP-848 consumer groups; an id is in one of the two maps at most. */
  private readonly consumerGroups = new Map<string, ConsumerGroup>();
  private readonly now: () => number;
  private shutDown = false;
  /** Set while the groups that moved to this broker are read from the coordinator. */
  private loading: Promise<void> | null = null;
  private reloadWanted = false;
  /** Every group id stored in the coordinator at the last load (those of other brokers too). */
  private storedGroupIds = new Set<string>();

  constructor(private readonly store: Coordinator, private readonly options: GroupCoordinatorOptions) {
    this.now = options.now ?? Date.now;
  }

  get(groupId: string): ClassicGroup | undefined {
    return this.groups.get(groupId);
  }

  values(): IterableIterator<ClassicGroup> {
    return this.groups.values();
  }

  getConsumer(groupId: string): ConsumerGroup | undefined {
    return this.consumerGroups.get(groupId);
  }

  consumerValues(): IterableIterator<ConsumerGroup> {
    return this.consumerGroups.values();
  }

  /** A new empty consumer group (an empty classic group of that id, if any, is replaced: Kafka's conversion). */
  createConsumer(groupId: string): ConsumerGroup {
    this.groups.delete(groupId);
    const g = new ConsumerGroup(groupId, this.now());
    this.consumerGroups.set(groupId, g);
    return g;
  }

  /** Forgets the consumer group, unless another group of that id has replaced it meanwhile. */
  removeConsumer(g: ConsumerGroup): void {
    if (this.consumerGroups.get(g.groupId) === g) this.consumerGroups.delete(g.groupId);
  }

  /**
   * Stores the consumer group as it is now; writes of one group happen in order. A failed write leaves the
   * memory ahead of the store, so the group is dropped here and read back (its last stored state).
   */
  persistConsumer(g: ConsumerGroup): Promise<void> {
    const record = storedConsumerGroup(g);
    const write = g.persisting.then(() => this.store.saveConsumerGroup(record, this.now()));
    g.persisting = write.catch(() => undefined);
    return write.catch((err: unknown) => {
      log.warn({ err, group: g.groupId }, 'could not store the consumer group; reading it back');
      this.removeConsumer(g);
      this.ownershipChanged();
      throw err;
    });
  }

  /** A new Empty group, coordinated here from now on (the caller checked placementError first). */
  create(groupId: string): ClassicGroup {
    this.consumerGroups.delete(groupId);
    const g = new ClassicGroup(groupId, this.now());
    this.groups.set(groupId, g);
    return g;
  }

  /** Forgets the group, unless another group of that id has replaced it meanwhile. */
  remove(g: ClassicGroup): void {
    if (this.groups.get(g.groupId) === g) this.groups.delete(g.groupId);
  }

  /** The broker is shutting down: every group is answered NOT_COORDINATOR. */
  get closed(): boolean {
    return this.shutDown;
  }

  /** Rebuilds the groups this broker coordinates from the coordinator DB; call before serving. */
  async load(): Promise<void> {
    this.ownershipChanged();
    await this.loading;
  }

  /**
   * The live brokers changed, so groups may have moved: groups now coordinated elsewhere are dropped,
   * groups that moved here are read from the coordinator DB. Changes that come during a read start one
   * more read after it (never two at once).
   */
  ownershipChanged(): void {
    if (this.shutDown) return;
    this.reloadWanted = true;
    if (this.loading) return;
    this.loading = (async () => {
      while (this.reloadWanted && !this.shutDown) {
        this.reloadWanted = false;
        this.unloadForeignGroups();
        try {
          await this.loadOwnedGroups();
        } catch (err) {
          log.warn({ err }, 'could not load consumer groups; retrying');
          this.reloadWanted = true;
          await new Promise((res) => setTimeout(res, LOAD_RETRY_MS).unref());
        }
      }
    })().finally(() => {
      this.loading = null;
    });
  }

  /**
   * NOT_COORDINATOR when another broker coordinates the group (or this one is shutting down);
   * COORDINATOR_LOAD_IN_PROGRESS while groups that moved here are being loaded.
   */
  placementError(groupId: string): number | null {
    if (this.shutDown || !this.owns(groupId)) return ErrorCode.NOT_COORDINATOR;
    if (this.loading !== null && !this.groups.has(groupId) && !this.consumerGroups.has(groupId)) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return null;
  }

  /**
   * Reads again which groups are stored in the coordinator (another broker may have created some since the
   * last load), without loading any: offset expiry must know every group another broker coordinates.
   */
  async refreshStored(): Promise<void> {
    const [records, consumerRecords] = await Promise.all([this.store.loadGroups(), this.store.loadConsumerGroups()]);
    this.storedGroupIds = new Set([...records.map((r) => r.groupId), ...consumerRecords.map((r) => r.groupId)]);
  }

  /** Groups stored in the coordinator (at the last load or refresh) that another broker coordinates. */
  storedElsewhere(): string[] {
    const ids: string[] = [];
    for (const id of this.storedGroupIds) if (!this.owns(id) && !this.groups.has(id) && !this.consumerGroups.has(id)) ids.push(id);
    return ids;
  }

  /** Stores the group's current generation with this assignment; writes of one group happen in order. */
  persist(g: ClassicGroup, assignment: ReadonlyMap<string, Buffer>): Promise<void> {
    const record = groupRecord(g, assignment, this.now());
    const write = g.persisting.then(() => this.store.saveGroup(record));
    g.persisting = write.catch(() => undefined);
    return write;
  }

  /**
   * Removes the groups' stored generations and offsets, once their generation writes in flight are done
   * (a late write would bring a deleted group back).
   */
  async deleteStored(groups: readonly { groupId: string; persisting: Promise<unknown> }[]): Promise<void> {
    await Promise.allSettled(groups.map((g) => g.persisting));
    await this.store.deleteGroups(groups.map((g) => g.groupId));
  }

  /**
   * Shutdown: from now on every group gets NOT_COORDINATOR, and the waiting JoinGroup/SyncGroup requests
   * are answered so. Resolves when the generation writes in flight are done.
   */
  async close(): Promise<void> {
    this.shutDown = true;
    const writes: Promise<unknown>[] = [];
    for (const g of this.groups.values()) {
      g.abandon(ErrorCode.NOT_COORDINATOR);
      writes.push(g.persisting);
    }
    for (const g of this.consumerGroups.values()) writes.push(g.persisting);
    await Promise.allSettled(writes);
  }

  private owns(groupId: string): boolean {
    return this.options.owns?.(groupId) ?? true;
  }

  private unloadForeignGroups(): void {
    for (const g of [...this.groups.values()]) {
      if (this.owns(g.groupId)) continue;
      g.abandon(ErrorCode.NOT_COORDINATOR);
      this.groups.delete(g.groupId);
      log.info({ group: g.groupId }, 'group moved to another coordinator');
    }
    for (const g of [...this.consumerGroups.values()]) {
      if (this.owns(g.groupId)) continue;
      this.consumerGroups.delete(g.groupId);
      log.info({ group: g.groupId }, 'consumer group moved to another coordinator');
    }
  }

  private async loadOwnedGroups(): Promise<void> {
    const [records, consumerRecords] = await Promise.all([this.store.loadGroups(), this.store.loadConsumerGroups()]);
    this.storedGroupIds = new Set([...records.map((r) => r.groupId), ...consumerRecords.map((r) => r.groupId)]);
    const now = this.now();
    let loaded = 0;
    const defaultSessionTimeoutMs = this.options.consumerSessionTimeoutMs ?? CONSUMER_GROUP_DEFAULTS.sessionTimeoutMs;
    for (const r of consumerRecords) {
      if (!this.owns(r.groupId) || this.consumerGroups.has(r.groupId) || this.groups.has(r.groupId)) continue;
      const sessionTimeoutMs = this.options.groupConfigs?.ownInt(r.groupId, 'consumer.session.timeout.ms') ?? defaultSessionTimeoutMs;
      this.consumerGroups.set(r.groupId, restoredConsumerGroup(r, now, sessionTimeoutMs));
      loaded++;
    }
    for (const r of records) {
      // A group already in memory never left this broker: its state in memory is newer than its record.
      if (!this.owns(r.groupId) || this.groups.has(r.groupId) || this.consumerGroups.has(r.groupId)) continue;
      this.groups.set(r.groupId, restoredGroup(r, now));
      loaded++;
    }
    if (loaded > 0) log.info({ groups: loaded }, 'loaded consumer groups');
  }
}

/** The group's current generation as stored, with `assignment` for its members (empty for those it lacks). */
export function groupRecord(g: ClassicGroup, assignment: ReadonlyMap<string, Buffer>, now: number): GroupRecord {
  const protocol = g.protocolName ?? '';
  return {
    groupId: g.groupId,
    protocolType: g.protocolType,
    generation: g.generationId,
    protocolName: g.protocolName,
    leader: g.leaderId,
    stateTimestamp: now,
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
}

/**
 * A group as stored: with members it comes back Stable, each member with a full session from `now` to
 * heartbeat in; without members (or without a selected protocol) it comes back Empty.
 */
export function restoredGroup(r: GroupRecord, now: number): ClassicGroup {
  const g = new ClassicGroup(r.groupId, r.stateTimestamp >= 0 ? r.stateTimestamp : now);
  g.generationId = r.generation;
  g.protocolType = r.protocolType;
  if (r.members.length > 0 && r.protocolName !== null && r.protocolType !== null) {
    for (const rm of r.members) {
      // Only the selected protocol's metadata is stored: the member comes back supporting that one.
      const m = new Member(rm.memberId, rm.groupInstanceId, rm.clientId, rm.clientHost, rm.rebalanceTimeoutMs, rm.sessionTimeoutMs, r.protocolType,
        [{ name: r.protocolName, metadata: rm.subscription }]);
      m.assignment = rm.assignment;
      m.deadline = now + rm.sessionTimeoutMs;
      g.add(m, null);
    }
    g.protocolName = r.protocolName;
    if (r.leader !== null && g.has(r.leader)) g.leaderId = r.leader;
    g.state = 'Stable';
    g.subscribedTopics = g.membersSubscribedTopics();
  } else {
    g.subscribedTopics = g.protocolType === CONSUMER_PROTOCOL_TYPE ? new Set() : null;
  }
  return g;
}
