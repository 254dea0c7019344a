/**
 * Share groups (KIP-932), leaderless: the group's membership and every share partition's state live in the
 * coordinator (migration 17) and every request reads and changes them in one transaction under their row
 * locks, with this broker's clock (share-group-state.ts and share-partition-state.ts hold the rules). Any
 * broker answers any share group's heartbeats and serves any share partition; a broker's death loses
 * nothing that was answered. Only the share sessions (which partitions a member fetches, and the session
 * epoch) are this broker's own, as in Kafka: a client that moves to another broker opens a new one. As in
 * Kafka, a session's end with its connection, and a member's leaving, release the records the member holds.
 * Lock expiry is compared with the clock of the broker serving a request (brokers' clocks are assumed close).
 */
import type { Coordinator, SharePartitionKey } from '../coordinator/coordinator.ts';
import type { ShareAutoOffsetReset } from '../config/group-config.ts';
import {
  acknowledge,
  acquire,
  addEvents,
  noEvents,
  asSharePartitionState,
  doneInFlight,
  firstAcquirableOffset,
  initialState,
  moveToLogStart,
  releaseMember,
  type AcknowledgementBatch,
  type AcknowledgeRefusal,
  type AcquiredRange,
  type BatchExtent,
  type ShareEvents,
  type SharePartitionState,
  type ShareRules,
} from './share-partition-state.ts';
import {
  asShareGroupState,
  expireMembers,
  heartbeat,
  shareGroupStateName,
  type ShareGroupState,
  type ShareHeartbeatOutcome,
  type ShareHeartbeatRequest,
  type ShareTopics,
} from './share-group-state.ts';

export type ShareStore = Pick<
  Coordinator,
  'updateShareGroup' | 'loadShareGroups' | 'updateSharePartitions' | 'loadSharePartitions' | 'deleteShareGroups'
>;

/** Kafka's defaults of the group.share.* broker configs. */
export const SHARE_GROUP_DEFAULTS = {
  sessionTimeoutMs: 45_000,
  heartbeatIntervalMs: 5_000,
  maxSize: 200,
  recordLockDurationMs: 30_000,
  deliveryCountLimit: 5,
} as const;

export interface ShareGroupOptions {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxSize: number;
  /** group.share.record.lock.duration.ms: the lock of groups that do not set share.record.lock.duration.ms. */
  recordLockDurationMs: number;
  /** A group's own share.record.lock.duration.ms (a group config in Kafka), or null. */
  groupRecordLockDurationMs?: (groupId: string) => number | null;
  deliveryCountLimit: number;
  /** share.auto.offset.reset of a group (a group config in Kafka): where a share partition starts. */
  autoOffsetReset: (groupId: string) => ShareAutoOffsetReset;
  /** share.isolation.level of a group (a group config in Kafka): read_committed delivers committed transactional records only. */
  readCommitted: (groupId: string) => boolean;
  topics: ShareTopics;
  now?: () => number;
}

/** One partition of a ShareFetch: where its state stands and the facts to start it if it has none. */
export interface AcquireInput extends SharePartitionKey {
  /** The offset a new share partition starts at (share.auto.offset.reset applied by the caller). */
  initialOffset: number;
  logStartOffset: number;
  batches: BatchExtent[];
}

export type AcknowledgeResult = { errorCode: 'NONE' } | { errorCode: AcknowledgeRefusal['error']; message: string };

export interface ShareSession {
  epoch: number;
  /** The connection that opened it: its close ends the session and releases what the member holds. */
  connectionId: number;
  /** partitionKey → key */
  partitions: Map<string, SharePartitionKey>;
}

const keyOf = (k: SharePartitionKey): string => `${k.topicId}:${k.partition}`;

/**
 * What this broker's share-group requests did, for /metrics: the record events of committed changes
 * (ShareEvents) and Kafka's share request counts, which Kafka counts once per topic of a request
 * (BrokerTopicMetrics' TotalShareFetchRequestsPerSec and the like; failed: a topic with a partition in error).
 */
export interface ShareGroupStats extends ShareEvents {
  fetchRequests: number;
  failedFetchRequests: number;
  acknowledgementRequests: number;
  failedAcknowledgementRequests: number;
}

export class ShareGroups {
  readonly options: ShareGroupOptions;
  /** Share sessions of this broker, by group id and member id. */
  private readonly sessions = new Map<string, ShareSession>();
  /** Connection id → the session keys it opened (for the release on close). */
  private readonly watched = new Map<number, Set<string>>();
  readonly stats: ShareGroupStats = { ...noEvents(), fetchRequests: 0, failedFetchRequests: 0, acknowledgementRequests: 0, failedAcknowledgementRequests: 0 };

  constructor(private readonly store: ShareStore, options: ShareGroupOptions) {
    this.options = options;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** The acquisition lock duration of a group's records: its share.record.lock.duration.ms, else the broker's (Kafka's recordLockDurationMsOrDefault). */
  lockDurationMs(groupId: string): number {
    return this.options.groupRecordLockDurationMs?.(groupId) ?? this.options.recordLockDurationMs;
  }

  private rules(groupId: string): ShareRules {
    return { lockDurationMs: this.lockDurationMs(groupId), deliveryCountLimit: this.options.deliveryCountLimit };
  }

  // ---- Membership ----

  async heartbeat(req: ShareHeartbeatRequest): Promise<ShareHeartbeatOutcome> {
    const now = this.now();
    return this.store.updateShareGroup(
      req.groupId,
      (current) => {
        const { state, outcome } = heartbeat(asShareGroupState(current), req, now, { sessionTimeoutMs: this.options.sessionTimeoutMs, maxSize: this.options.maxSize }, this.options.topics);
        return { next: state === null ? (current === null ? null : undefined) : state, result: outcome };
      },
      now,
    );
  }

  /** The share groups (members whose session ended left out), by id. */
  async describe(groupIds: readonly string[] | null): Promise<Map<string, ShareGroupState>> {
    const now = this.now();
    const out = new Map<string, ShareGroupState>();
    for (const g of await this.store.loadShareGroups(groupIds)) {
      const s = asShareGroupState(g.state);
      if (!s) continue;
      expireMembers(s, now, { sessionTimeoutMs: this.options.sessionTimeoutMs, maxSize: this.options.maxSize });
      out.set(g.groupId, s);
    }
    return out;
  }

  async list(): Promise<{ groupId: string; state: string }[]> {
    return [...(await this.describe(null))].map(([groupId, s]) => ({ groupId, state: shareGroupStateName(s) }));
  }

  /** How many of the share groups `owns` picks (those this broker coordinates) are in each state, for /metrics. */
  async countByState(owns: (groupId: string) => boolean): Promise<Record<'Empty' | 'Stable', number>> {
    const counts = { Empty: 0, Stable: 0 };
    for (const g of await this.list()) if (owns(g.groupId)) counts[g.state as 'Empty' | 'Stable'] += 1;
    return counts;
  }

  // ---- Share sessions (this broker's) ----

  session(groupId: string, memberId: string): ShareSession | undefined {
    return this.sessions.get(`${groupId}\0${memberId}`);
  }

  /**
   * Opens (or replaces) the member's session. When `connection` closes while the session is still the one it
   * opened, the session ends and the member's records in its partitions are released, as Kafka does (its
   * share session cache's disconnect listener); `onError` hears of a release that failed (the locks expire).
   */
  openSession(groupId: string, memberId: string, partitions: readonly SharePartitionKey[], connection: { id: number; onClose(f: () => void): void }, onError: (err: unknown) => void): ShareSession {
    const key = `${groupId}\0${memberId}`;
    const s: ShareSession = { epoch: 1, connectionId: connection.id, partitions: new Map(partitions.map((p) => [keyOf(p), p])) };
    this.sessions.set(key, s);
    let watched = this.watched.get(connection.id);
    if (!watched) {
      watched = new Set();
      this.watched.set(connection.id, watched);
      connection.onClose(() => {
        const keys = this.watched.get(connection.id) ?? new Set<string>();
        this.watched.delete(connection.id);
        for (const k of keys) {
          const session = this.sessions.get(k);
          if (!session || session.connectionId !== connection.id) continue;
          this.sessions.delete(k);
          const [g, m] = k.split('\0') as [string, string];
          this.release(g, m, [...session.partitions.values()]).catch(onError);
        }
      });
    }
    watched.add(key);
    return s;
  }

  /** The member left the group: its session here ends and what it holds in any share partition of the group is released. */
  async memberLeft(groupId: string, memberId: string): Promise<void> {
    this.closeSession(groupId, memberId);
    const held = (await this.store.loadSharePartitions([groupId]))
      .filter((p) => asSharePartitionState(p.state)?.inFlight.some((r) => r.member === memberId))
      .map((p) => ({ topicId: p.topicId, partition: p.partition }));
    await this.release(groupId, memberId, held);
  }

  closeSession(groupId: string, memberId: string): void {
    this.sessions.delete(`${groupId}\0${memberId}`);
  }

  // ---- Share partitions ----

  /** The stored states of these partitions (null: not started), without locking. */
  async partitionStates(groupId: string, keys: readonly SharePartitionKey[]): Promise<(SharePartitionState | null)[]> {
    const stored = new Map((await this.store.loadSharePartitions([groupId], keys)).map((p) => [keyOf(p), asSharePartitionState(p.state)]));
    return keys.map((k) => stored.get(keyOf(k)) ?? null);
  }

  /** Where a read for this partition should start (null state: at the offset it would start at). */
  firstAcquirableOffset(groupId: string, state: SharePartitionState | null, initialOffset: number, logStartOffset: number): number {
    const s = state ? structuredClone(state) : initialState(initialOffset);
    moveToLogStart(s, logStartOffset);
    return firstAcquirableOffset(s, this.now(), this.rules(groupId));
  }

  /**
   * One coordinator transaction over share partitions' states: `step` maps their stored states to the next
   * ones and a result, with the clock and the group's rules. Its events (acquisitions, lock timeouts,
   * archiving) reach the metrics only from the attempt that committed: a retried transaction counts again.
   */
  private async updatePartitions<T>(
    groupId: string,
    keys: readonly SharePartitionKey[],
    step: (current: (unknown | null)[], now: number, rules: ShareRules, events: ShareEvents) => { next: (SharePartitionState | undefined)[]; result: T },
  ): Promise<T> {
    const now = this.now();
    const rules = this.rules(groupId);
    let events = noEvents();
    const result = await this.store.updateSharePartitions(groupId, keys, (current) => {
      events = noEvents();
      return step(current, now, rules, events);
    }, now);
    addEvents(this.stats, events);
    return result;
  }

  /** Acquires records of each partition for the member, in one transaction. */
  async acquire(groupId: string, memberId: string, inputs: readonly AcquireInput[], maxRecords: number, recordLimit: boolean): Promise<AcquiredRange[][]> {
    if (inputs.length === 0) return [];
    return this.updatePartitions(groupId, inputs, (current, now, rules, events) => {
      let budget = maxRecords;
      const next: (SharePartitionState | undefined)[] = [];
      const result: AcquiredRange[][] = [];
      current.forEach((c, i) => {
        const input = inputs[i]!;
        const s = asSharePartitionState(c) ?? initialState(input.initialOffset);
        moveToLogStart(s, input.logStartOffset);
        if (budget <= 0 && maxRecords > 0) {
          next.push(s);
          result.push([]);
          return;
        }
        const r = acquire(s, memberId, input.batches, now, rules, maxRecords > 0 ? budget : 0, recordLimit, events);
        for (const a of r.acquired) budget -= a.lastOffset - a.firstOffset + 1;
        next.push(r.state);
        result.push(r.acquired);
      });
      return { next, result };
    });
  }

  /** Applies the member's acknowledgements of each partition, in one transaction. */
  async acknowledge(groupId: string, memberId: string, parts: readonly (SharePartitionKey & { batches: AcknowledgementBatch[] })[], allowRenew: boolean): Promise<AcknowledgeResult[]> {
    if (parts.length === 0) return [];
    const results = await this.updatePartitions(groupId, parts, (current, now, rules, events) => {
      const next: (SharePartitionState | undefined)[] = [];
      const result: AcknowledgeResult[] = [];
      current.forEach((c, i) => {
        const s = asSharePartitionState(c);
        if (!s) {
          next.push(undefined);
          result.push({ errorCode: 'INVALID_RECORD_STATE', message: 'No records of this partition are acquired' });
          return;
        }
        const r = acknowledge(s, memberId, parts[i]!.batches, now, rules, allowRenew, events);
        if ('error' in r) {
          next.push(undefined);
          result.push({ errorCode: r.error, message: r.message });
        } else {
          next.push(r.state);
          result.push({ errorCode: 'NONE' });
        }
      });
      return { next, result };
    });
    const topics = new Set(parts.map((p) => p.topicId));
    const failed = new Set(parts.filter((_, i) => results[i]!.errorCode !== 'NONE').map((p) => p.topicId));
    this.stats.acknowledgementRequests += topics.size;
    this.stats.failedAcknowledgementRequests += failed.size;
    return results;
  }

  /** A share fetch read these topics, and these of them had a partition in error (for /metrics). */
  countFetch(topics: number, failedTopics: number): void {
    this.stats.fetchRequests += topics;
    this.stats.failedFetchRequests += failedTopics;
  }

  /** Releases every record the member holds in these partitions (its share session closed). */
  async release(groupId: string, memberId: string, keys: readonly SharePartitionKey[]): Promise<void> {
    if (keys.length === 0) return;
    await this.updatePartitions(groupId, keys, (current, now, rules, events) => ({
      next: current.map((c) => { const s = asSharePartitionState(c); return s ? releaseMember(s, memberId, now, rules, events) : undefined; }),
      result: undefined,
    }));
  }

  // ---- Admin (DescribeShareGroupOffsets, AlterShareGroupOffsets, DeleteShareGroupOffsets, DeleteGroups) ----

  /** Every started share partition of the group: its SPSO and how many records past it are done. */
  async offsets(groupId: string): Promise<{ topicId: string; partition: number; startOffset: number; done: number }[]> {
    return (await this.store.loadSharePartitions([groupId]))
      .map((p) => ({ p, s: asSharePartitionState(p.state) }))
      .filter((x) => x.s !== null)
      .map(({ p, s }) => ({ topicId: p.topicId, partition: p.partition, startOffset: s!.startOffset, done: doneInFlight(s!) }));
  }

  /** Sets the SPSO of these partitions (nothing in flight any more); the caller checked the group is empty. */
  async alterOffsets(groupId: string, parts: readonly (SharePartitionKey & { startOffset: number })[]): Promise<void> {
    if (parts.length === 0) return;
    await this.store.updateSharePartitions(groupId, parts, () => ({ next: parts.map((p) => initialState(p.startOffset)), result: undefined }), this.now());
  }

  /** Forgets these partitions' state (they start again per share.auto.offset.reset). */
  async deleteOffsets(groupId: string, parts: readonly SharePartitionKey[]): Promise<void> {
    if (parts.length === 0) return;
    await this.store.updateSharePartitions(groupId, parts, () => ({ next: parts.map(() => null), result: undefined }), this.now());
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.store.deleteShareGroups([groupId]);
  }
}

export type { ShareGroupState, ShareHeartbeatOutcome } from './share-group-state.ts';
export type { AcquiredRange, BatchExtent, AcknowledgementBatch } from './share-partition-state.ts';
