/**
 * Fetch sessions (KIP-227) of this broker: what a consumer's full fetch request named, kept so its next
 * requests (incremental ones) only name what changed, and so responses can leave out partitions that have
 * nothing new. Sessions live on the broker that created them, as in Kafka: Floe brokers share no session state
 * (a client sending a session id to another broker gets FETCH_SESSION_ID_NOT_FOUND and starts a full fetch).
 *
 * The cache is bounded by `max.incremental.fetch.session.cache.slots` sessions, with Kafka's eviction rules
 * (FetchSessionCache): when full, a new session may take the slot of (1) the least recently used session if
 * it has been unused for longer than the eviction time (2 minutes, Kafka's fixed minimum), else (2) the
 * smallest session (fewest partitions, then lowest id) among those older than the eviction time when last
 * used, provided the new one has more partitions. Sessions of followers are privileged in Kafka; Floe has no followers, so
 * every session here is a consumer's. Kafka splits the slots over 8 shards (KAFKA-9401, for lock contention);
 * one event loop needs no shards, so this is one cache of all the slots.
 */
/** Session id 0: no session (INVALID_SESSION_ID). */
export const NO_SESSION = 0;
/** Epoch of a full request that asks for a new session. */
export const INITIAL_EPOCH = 0;
/** Epoch of a full request that wants no session (and of every request below Fetch v7). */
export const FINAL_EPOCH = -1;
/** Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS: a session younger than this is only evicted when stale. */
export const SESSION_EVICTION_MS = 120_000;

/** Kafka's FetchMetadata.nextEpoch: epochs count 1, 2, … and wrap to 1. */
export function nextEpoch(epoch: number): number {
  if (epoch < 0) return FINAL_EPOCH;
  return epoch === 0x7fffffff ? 1 : epoch + 1;
}

/** The request side of a partition (what a Fetch request names). */
export interface PartitionRequest {
  /** Topic name as the request gave it ('' for a Fetch v13+ topic addressed by id only). */
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly fetchOffset: bigint;
  readonly partitionMaxBytes: number;
  readonly currentLeaderEpoch: number;
}

/** One partition of a session: what the consumer last asked for and what it was last told. A class: one shape. */
export class SessionPartition {
  /** Last high watermark sent; -1 after an error, so the partition is sent again once it clears. */
  highWatermark = -1n;
  lastStableOffset = -1n;
  logStartOffset = -1n;

  constructor(
    /** Key within its session (partitionKey). */
    readonly key: string,
    public topic: string,
    readonly topicId: string,
    readonly partition: number,
    public fetchOffset: bigint,
    public partitionMaxBytes: number,
    public currentLeaderEpoch: number,
  ) {}
}

/** The response side of a partition (what decides whether an incremental response must include it). */
export interface PartitionAnswer {
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  preferredReadReplica: number;
  hasRecords: boolean;
}

/** A partition's key within a session: by topic id when the session uses ids (Fetch v13+), else by name. */
export function partitionKey(usesTopicIds: boolean, topic: string, topicId: string, partition: number): string {
  return (usesTopicIds ? topicId : topic) + ':' + partition;
}

export class FetchSession {
  /** In fetch order: partitions that returned records move to the end, so every partition gets its turn. */
  readonly partitions = new Map<string, SessionPartition>();
  /** The epoch the next incremental request must carry. */
  epoch = nextEpoch(INITIAL_EPOCH);
  lastUsedMs: number;
  /** Partitions when last touched (the cache's size accounting and eviction order use it). */
  cachedSize = 0;
  /** Older than the eviction time when last touched (Kafka's evictableByAll). */
  evictable = false;

  constructor(readonly id: number, readonly usesTopicIds: boolean, readonly creationMs: number) {
    this.lastUsedMs = creationMs;
  }

  key(topic: string, topicId: string, partition: number): string {
    return partitionKey(this.usesTopicIds, topic, topicId, partition);
  }

  /** Applies an incremental request: its partitions are added or updated, the forgotten ones removed. */
  update(requested: readonly PartitionRequest[], forgotten: readonly { topic: string; topicId: string; partition: number }[]): void {
    for (const p of requested) {
      const key = this.key(p.topic, p.topicId, p.partition);
      const cached = this.partitions.get(key);
      if (cached) {
        cached.fetchOffset = p.fetchOffset;
        cached.partitionMaxBytes = p.partitionMaxBytes;
        cached.currentLeaderEpoch = p.currentLeaderEpoch;
        if (!cached.topic && p.topic) cached.topic = p.topic;
      } else {
        this.partitions.set(key, new SessionPartition(key, p.topic, p.topicId, p.partition, p.fetchOffset, p.partitionMaxBytes, p.currentLeaderEpoch));
      }
    }
    for (const f of forgotten) this.partitions.delete(this.key(f.topic, f.topicId, f.partition));
  }

  /**
   * Whether an incremental response must carry this partition (Kafka's CachedPartition.maybeUpdateResponseData),
   * updating what the session remembers as sent: records, an error, a preferred read replica, or a changed high
   * watermark, log start offset or last stable offset. Kafka does not compare the last stable offset; Floe does,
   * so a read_committed consumer's lag (computed from it) never goes stale.
   */
  mustRespond(cached: SessionPartition, answer: PartitionAnswer): boolean {
    let must = answer.hasRecords || answer.preferredReadReplica >= 0;
    if (cached.highWatermark !== answer.highWatermark) {
      cached.highWatermark = answer.highWatermark;
      must = true;
    }
    if (cached.logStartOffset !== answer.logStartOffset) {
      cached.logStartOffset = answer.logStartOffset;
      must = true;
    }
    if (cached.lastStableOffset !== answer.lastStableOffset) {
      cached.lastStableOffset = answer.lastStableOffset;
      must = true;
    }
    if (answer.errorCode !== 0) {
      cached.highWatermark = -1n;
      must = true;
    }
    if (answer.hasRecords) {
      // Fairness: a partition that returned records goes to the back of the fetch order.
      this.partitions.delete(cached.key);
      this.partitions.set(cached.key, cached);
    }
    return must;
  }
}

export interface FetchSessionCacheStats {
  sessions: number;
  partitions: number;
  evictions: number;
}

export class FetchSessionCache {
  /** Session id -> session, least recently used first (a touch moves a session to the end). */
  private readonly sessions = new Map<number, FetchSession>();
  private cachedPartitions = 0;
  private evictions = 0;

  constructor(
    private readonly maxSessions: number,
    private readonly now: () => number = Date.now,
    private readonly evictionMs = SESSION_EVICTION_MS,
    private readonly randomId: () => number = () => 1 + Math.floor(Math.random() * 0x7ffffffe),
  ) {}

  get(id: number): FetchSession | undefined {
    return this.sessions.get(id);
  }

  stats(): FetchSessionCacheStats {
    return { sessions: this.sessions.size, partitions: this.cachedPartitions, evictions: this.evictions };
  }

  /**
   * Creates a session for a full request's partitions (keyed by partitionKey with `usesTopicIds`) if a slot is free or can be freed (tryEvict); returns
   * it, or undefined when the cache keeps its sessions (the response then carries session id 0).
   */
  maybeCreate(usesTopicIds: boolean, partitions: readonly SessionPartition[]): FetchSession | undefined {
    const now = this.now();
    if (this.sessions.size >= this.maxSessions && !this.tryEvict(partitions.length, now)) return undefined;
    let id: number;
    do id = this.randomId(); while (id === NO_SESSION || this.sessions.has(id));
    const session = new FetchSession(id, usesTopicIds, now);
    for (const p of partitions) session.partitions.set(p.key, p);
    this.sessions.set(id, session);
    session.cachedSize = -1;
    this.touch(session, now);
    return session;
  }

  /** Marks a session used now: it becomes the most recently used, and its size and age are recorded. */
  touch(session: FetchSession, now = this.now()): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.sessions.set(session.id, session);
    session.lastUsedMs = now;
    if (session.cachedSize >= 0) this.cachedPartitions -= session.cachedSize;
    session.cachedSize = session.partitions.size;
    this.cachedPartitions += session.cachedSize;
    session.evictable = now - session.creationMs > this.evictionMs;
  }

  remove(id: number): FetchSession | undefined {
    const session = this.sessions.get(id);
    if (!session) return undefined;
    this.sessions.delete(id);
    this.cachedPartitions -= Math.max(0, session.cachedSize);
    return session;
  }

  /** Kafka's tryEvict for an unprivileged newcomer of `size` partitions. */
  private tryEvict(size: number, now: number): boolean {
    const leastRecent = this.sessions.values().next();
    if (leastRecent.done) return false;
    if (now - leastRecent.value.lastUsedMs > this.evictionMs) {
      this.remove(leastRecent.value.id);
      this.evictions++;
      return true;
    }
    // The least valuable evictable session: fewest partitions, then lowest id (Kafka's EvictableKey order).
    let victim: FetchSession | undefined;
    for (const s of this.sessions.values()) {
      if (!s.evictable) continue;
      if (!victim || s.cachedSize < victim.cachedSize || (s.cachedSize === victim.cachedSize && s.id < victim.id)) victim = s;
    }
    // The newcomer's key is (size, id 0), below any session of the same size: it evicts only a smaller one.
    if (!victim || size <= victim.cachedSize) return false;
    this.remove(victim.id);
    this.evictions++;
    return true;
  }
}
