/**
 * The batch-coordinator seam (DESIGN.md, "Coordinator contract"). One implementation, SqlCoordinator
 * (sql-coordinator.ts), over two kinds of SQL connection: PGlite embedded in the broker (pglite.ts) and
 * PostgreSQL through `pg` (pg.ts), sharing one schema and one set of SQL. Every operation is one
 * transaction, except init (one per migration) and listen. Offsets and timestamps are JS numbers: they stay
 * far below 2^53 in practice, and the protocol layer converts to and from int64 (bigint) at the edge.
 *
 * Errors: operations reject with CoordinatorError (a Kafka error code plus message) for outcomes the
 * client must see, and with any other Error when the database itself failed (the caller answers a
 * retriable error then).
 */
import type { TransactionStore } from './transaction-store.ts';


import type { SecurityStore } from './security-store.ts';
import type { GroupConfigStore } from './group-config-store.ts';

export type TimestampType = 0 | 1; // 0 CreateTime, 1 LogAppendTime

export interface TopicInfo {
  topicId: string; // canonical UUID text, e.g. "3b241101-e2bb-4255-8caf-4136c566a962"
  name: string;
  partitionCount: number;
  diskless: boolean;
  /** Only the configs set explicitly on the topic (key → value as Kafka strings). */
  configs: Record<string, string>;
  /** Classic topics: the broker whose local log holds the partitions (migration 5). null/absent: diskless. */
  leaderBrokerId?: number | null;
}

export interface CreateTopicSpec {
  name: string;
  partitionCount: number;
  diskless: boolean;
  configs: Record<string, string>;
  /** Classic topics: the broker that leads them (stored in topics.leader_broker_id). */
  leaderBrokerId?: number | null;
}

export interface PartitionKey {
  topicId: string;
  partition: number;
}

/** One batch of a WAL object being committed, in object order. */
/**
 * What a batch is to transactions (KIP-98): plain (not transactional), transactional data, or a control
 * batch ending a transaction in the partition (abort or commit marker).
 */
export type TxnKind = 0 | 1 | 2 | 3;
export const TXN_PLAIN: TxnKind = 0;
export const TXN_DATA: TxnKind = 1;
export const TXN_ABORT_MARKER: TxnKind = 2;
export const TXN_COMMIT_MARKER: TxnKind = 3;

export interface CommitBatch extends PartitionKey {
  byteOffset: number; // within the object
  byteSize: number;
  recordCount: number; // lastOffsetDelta + 1
  baseTimestamp: number;
  maxTimestamp: number;
  timestampType: TimestampType;
  producerId: number; // -1 when not idempotent
  producerEpoch: number;
  baseSequence: number;
  lastSequence: number;
  txnKind: TxnKind;
}

export interface CommitObjectRequest {
  objectKey: string;
  objectSize: number;
  brokerId: number;
  batches: readonly CommitBatch[];
}

/** Per batch, same order as the request. */
export interface CommitBatchResult {
  errorCode: number; // 0 = committed
  baseOffset: number; // -1 on error
  logAppendTime: number; // the commit's wall-clock time (ms); the same for every batch of the object
  logStartOffset: number;
  /**
   * An idempotent producer's retry of a batch committed before: not appended again; baseOffset and
   * logAppendTime are the original's. Announce nothing for it (it is not in this object).
   */
  duplicate?: boolean;
}

export interface PartitionOffsets {
  logStartOffset: number;
  highWatermark: number;
  /** Times compaction rewrote the partition's batches (migration 10; absent: never): cached batch locations of an older epoch are stale. */
  compactionEpoch?: number;
  /** Times merging moved the partition's batches into another object (migration 15; absent: never). */
  mergeEpoch?: number;
}

/** A batch row as compaction reads and writes it (migration 10). */
export interface CompactionBatch extends BatchLocation {
  recordCount: number;
  baseTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  lastSequence: number;
  /** What the batch is to transactions (migration 9; kept by the swap since migration 16). */
  txnKind: TxnKind;
}

/** What the compactor of a diskless partition needs to know of it (one snapshot). */
export interface CompactionView {
  logStartOffset: number;
  highWatermark: number;
  cleanerCheckpoint: number;
  compactionEpoch: number;
  /** Earliest delete horizon in the future among kept tombstone batches (-1: none). */
  nextDeleteHorizonMs: number;
  /** Every batch row of the partition, in offset order. */
  batches: CompactionBatch[];
  /** Last offset of each idempotent producer's last batch (kept by compaction). */
  producerLastOffsets: Map<number, number>;
  /** Where the first open transaction starts (set by the compactor; the high watermark when none). */
  lastStableOffset?: number;
  /** The partition's aborted transactions (rows of aborted_transactions): compaction removes their data. */
  abortedTransactions: { producerId: number; firstOffset: number; lastOffset: number }[];
}

/** One compaction swap (floe_compact_partition): the rows of [rangeStart, rangeEnd) replaced by `batches`. */
export interface CompactionSwap extends PartitionKey {
  expectedEpoch: number;
  expectedLogStart: number;
  rangeStart: number;
  rangeEnd: number;
  /** Base offsets of the rows in the range as read: the swap fails if they changed. */
  expectedBaseOffsets: readonly number[];
  /** null: nothing was rewritten (only the checkpoint and horizon move). */
  objectKey: string | null;
  objectSize: number;
  brokerId: number;
  cleanerCheckpoint: number;
  nextDeleteHorizonMs: number;
  /** The new rows, in offset order, located in `objectKey`. */
  batches: readonly Omit<CompactionBatch, 'objectKey'>[];
}

export interface CompactionSwapResult {
  ok: boolean;
  /** Why the swap did not happen (the partition moved meanwhile). */
  reason: string | null;
  /** Old objects that lost their last batch (now 'deleting'). */
  objectsReleased: number;
}

/** A live object that merging may rewrite (migration 15). */
export interface MergeCandidate {
  objectKey: string;
  size: number;
  /** Since the object was committed. */
  ageMs: number;
}

/** One batch of an object to merge: where it is now. */
export interface MergeInput extends PartitionKey {
  objectKey: string;
  byteOffset: number;
  byteSize: number;
  baseOffset: number;
}

/** One merge swap (floe_merge_objects): every batch of `oldObjectKeys` moves into `objectKey`. */
export interface MergeSwap {
  objectKey: string;
  objectSize: number;
  brokerId: number;
  oldObjectKeys: readonly string[];
  /** Every batch of the old objects, as read (the swap fails if they changed), with its place in the new object. */
  batches: readonly (PartitionKey & { baseOffset: number; oldByteOffset: number; newByteOffset: number })[];
}

export interface MergeSwapResult {
  ok: boolean;
  /** Why the swap did not happen (the objects' batches changed meanwhile). */
  reason: string | null;
  /** Old objects now 'deleting'. */
  objectsReleased: number;
}

/** Where one committed batch lives. */
export interface BatchLocation {
  objectKey: string;
  byteOffset: number;
  byteSize: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  logAppendTime: number;
  timestampType: TimestampType;
}

export interface FindBatchesRequest extends PartitionKey {
  offset: number;
  /** Stop adding batches once their sizes sum past this (the first batch is always included). */
  maxBytes: number;
}

export interface FindBatchesResult {
  errorCode: number; // UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE, or 0
  logStartOffset: number;
  highWatermark: number;
  /** Batches covering [offset, …) in offset order; empty when offset == highWatermark. */
  batches: BatchLocation[];
}

export interface ListOffsetsRequest extends PartitionKey {
  /** -2 earliest, -1 latest, -3 max timestamp, else a timestamp (ms). */
  timestamp: number;
}

export interface ListOffsetsResult {
  errorCode: number;
  logStartOffset: number;
  highWatermark: number;
  /**
   * For -2/-1: null (the answer is logStartOffset / highWatermark). For a timestamp: the first batch
   * whose max timestamp is >= it; for -3: the first batch holding the partition's largest timestamp.
   * The caller reads that batch to find the exact record. null when there is none.
   */
  batch: BatchLocation | null;
}

/** DeleteRecords: move the partition's log start to `offset` (-1: the high watermark). */
export interface DeleteRecordsRequest extends PartitionKey {
  offset: number;
}

export interface DeleteRecordsResult {
  errorCode: number; // 0, UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE
  /** The log start offset after the call (-1 for an unknown partition). */
  logStartOffset: number;
}

/** One committed offset to store for a group. */
export interface GroupOffsetCommit extends PartitionKey {
  /** Any int64 the client sent (Kafka stores it as is). */
  offset: bigint;
  leaderEpoch: number; // -1: none
  metadata: string | null;
  /** ms since the epoch; -1: expiry by offsets.retention.minutes (only OffsetCommit v2-v4 set one). */
  expireTimestamp: number;
  /** The commit time the client gave (OffsetCommit v1), ms since the epoch; -1 or absent: the commit's own time. */
  commitTimestamp?: number;
}

export interface CommittedOffset {
  groupId: string;
  topicId: string;
  topicName: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
  commitTimestamp: number;
}

/** A member of a stored group generation (what Kafka writes in its group metadata record). */
export interface GroupMemberRecord {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** The member's metadata for the selected protocol. */
  subscription: Buffer;
  assignment: Buffer;
}

/** A group's last stored generation. */
export interface GroupRecord {
  groupId: string;
  /** null: a group known only by simple (generation -1) offset commits. */
  protocolType: string | null;
  generation: number;
  protocolName: string | null;
  leader: string | null;
  /** ms since the epoch when the generation was stored (an empty group: when it became empty); -1 unknown. */
  stateTimestamp: number;
  members: GroupMemberRecord[];
}

/**
 * A KIP-848 consumer group as stored (migration 12): its group epoch and its whole state as a JSON value,
 * which only the group coordinator (src/groups/consumer-group-record.ts) reads and writes.
 */
export interface StoredConsumerGroup {
  groupId: string;
  groupEpoch: number;
  state: unknown;
}

/** A share group's stored state (migration 17), which only src/groups/share-groups.ts reads and writes. */
export interface StoredShareGroup {
  groupId: string;
  state: unknown;
}

/** A share partition's stored state (migration 17): see src/groups/share-partition-state.ts. */
export interface StoredSharePartition {
  groupId: string;
  topicId: string;
  partition: number;
  state: unknown;
}

/** A share partition of a group (topic by id). */
export interface SharePartitionKey {
  topicId: string;
  partition: number;
}

/**
 * A change computed from stored states, run inside the transaction that holds their rows: the new state of
 * each (undefined: unchanged, null: removed) and what the caller gets back. Synchronous: nothing else waits
 * while the rows are locked.
 */
export type ShareStateUpdate<S, T> = (current: S) => { next: S; result: T };

export interface ExpiredGroup {
  groupId: string;
  /** Offsets removed by this run. */
  expiredOffsets: number;
  /** The group has no members, no offsets and no stored generation any more. */
  deleted: boolean;
}

// ---- Idempotent producers, retention and the object lifecycle (migration 3) ----

export interface ProducerIdAndEpoch {
  producerId: number;
  producerEpoch: number;
}

/** A diskless topic's effective retention (topic config resolved with the broker defaults); -1: none. */
export interface RetentionTopic {
  topicId: string;
  retentionMs: number;
  retentionBytes: number;
}

export interface RetentionStepResult {
  /** Partitions whose log start moved or that had batches deleted, with their log start now. */
  logStarts: (PartitionKey & { logStartOffset: number })[];
  batchesDeleted: number;
  /** Objects that lost their last batch and became 'deleting'. */
  objectsMarked: number;
  /** The step stopped at its bound: call again. */
  more: boolean;
}

/** One batch of a committed object, with its partition (another broker's commit, learned by `objectBatches`). */
export interface ObjectBatch extends PartitionKey, BatchLocation {
  /** The partition's log start offset when the batch was committed (or looked up). */
  logStartOffset: number;
  /** Known from commit notifications (TXN_PLAIN when not told). */
  txnKind?: TxnKind;
}

/** A broker as registered in the coordinator (what Metadata reports of it). */
export interface RegisteredBroker {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
  /** Every listener's advertised endpoint by listener name (migration 11); absent: host and port serve all. */
  endpoints?: Readonly<Record<string, { host: string; port: number }>>;
}

export interface BrokerRegistration {
  nodeId: number;
  /** Unique per process start: a restarted broker is a new incarnation of its node id. */
  incarnation: string;
  host: string;
  port: number;
  rack: string | null;
  /** Every listener's advertised endpoint (migration 11). */
  endpoints?: Readonly<Record<string, { host: string; port: number }>>;
  /** A registration older than this without a heartbeat is dead. */
  sessionTimeoutMs: number;
}

export interface MembershipView {
  /** false: this registration is gone (expired or taken over): register again. */
  known: boolean;
  /** Grows on every change of the live set (leader epoch of diskless partitions). */
  epoch: number;
  /** The live brokers, by node id. */
  brokers: RegisteredBroker[];
}

export interface Coordinator extends SecurityStore, GroupConfigStore {
  /** The transaction coordinator's state (transaction-store.ts). */
  readonly transactions: TransactionStore;
  /** Applies migrations; safe to call on every start. */
  init(): Promise<void>;
  close(): Promise<void>;

  /** Rejects with CoordinatorError(TOPIC_ALREADY_EXISTS) when the name is taken. */
  createTopic(spec: CreateTopicSpec): Promise<TopicInfo>;
  /** Removes the topic, its partitions, batch rows, producer state and share partitions' state; null when it does not exist. */
  deleteTopic(name: string): Promise<TopicInfo | null>;
  listTopics(): Promise<TopicInfo[]>;
  getTopic(name: string): Promise<TopicInfo | null>;

  commitObject(request: CommitObjectRequest): Promise<CommitBatchResult[]>;
  findBatches(requests: readonly FindBatchesRequest[]): Promise<FindBatchesResult[]>;
  listOffsets(requests: readonly ListOffsetsRequest[]): Promise<ListOffsetsResult[]>;
  /** Per partition; null where the partition does not exist. */
  getPartitionOffsets(keys: readonly PartitionKey[]): Promise<(PartitionOffsets | null)[]>;
  /** Keys of all objects the coordinator knows (any state). */
  listObjectKeys(): Promise<string[]>;

  // ---- Topic administration (AlterConfigs, CreatePartitions, DeleteRecords, DescribeLogDirs) ----
  /** Replaces the topic's explicit configs; null when the topic does not exist. */
  alterTopicConfigs(name: string, configs: Record<string, string>): Promise<TopicInfo | null>;
  /**
   * Grows the topic to `partitionCount` partitions. Rejects with CoordinatorError UNKNOWN_TOPIC_OR_PARTITION,
   * or INVALID_PARTITIONS when the count does not grow.
   */
  createPartitions(name: string, partitionCount: number): Promise<TopicInfo>;
  /** Per request, in order. A partition named twice gets the larger of its offsets. */
  deleteRecords(requests: readonly DeleteRecordsRequest[]): Promise<DeleteRecordsResult[]>;
  /** Bytes of the batches each partition holds; null where the partition does not exist. */
  getPartitionSizes(keys: readonly PartitionKey[]): Promise<(number | null)[]>;

  // ---- Consumer groups (what Kafka keeps in __consumer_offsets) ----
  /**
   * Stores the offsets in one transaction, stamped with `commitTimestamp` (ms). Per commit, in order:
   * 0, or UNKNOWN_TOPIC_OR_PARTITION when the partition does not exist.
   */
  commitGroupOffsets(groupId: string, commitTimestamp: number, commits: readonly GroupOffsetCommit[]): Promise<number[]>;
  /** Every committed offset of these groups, by group, topic name and partition. */
  fetchGroupOffsets(groupIds: readonly string[]): Promise<CommittedOffset[]>;
  /** Removes these offsets of the group; returns how many existed. */
  deleteGroupOffsets(groupId: string, keys: readonly PartitionKey[]): Promise<number>;
  /** Stores a group's generation (replacing the previous one). */
  saveGroup(group: GroupRecord): Promise<void>;
  /** Removes the groups' stored generations (classic and consumer groups) and offsets. */
  deleteGroups(groupIds: readonly string[]): Promise<void>;
  /**
   * Stores a consumer group's state (replacing the previous one unless that has a higher group epoch) and
   * removes a classic group row of that id; committed offsets stay.
   */
  saveConsumerGroup(group: StoredConsumerGroup, nowMs: number): Promise<void>;
  /** Every stored consumer group. */
  loadConsumerGroups(): Promise<StoredConsumerGroup[]>;
  /** Every stored group, plus (with protocolType null, generation 0) groups that only have offsets. */
  loadGroups(): Promise<GroupRecord[]>;
  /**
   * Whether a classic or consumer group of this id is stored (a generation, a consumer group's state, or
   * only committed offsets, Kafka's simple group), whichever broker coordinates it: a share group may not
   * take its id.
   */
  hasStoredGroup(groupId: string): Promise<boolean>;
  /**
   * Offset expiry (see floe_expire_group_offsets for Kafka's rules): groups in `activeGroupIds` (members in
   * memory) are left alone; `emptyGroupIds` are reported deleted when nothing of them is stored.
   */
  expireGroupOffsets(nowMs: number, retentionMs: number, activeGroupIds: readonly string[], emptyGroupIds: readonly string[]): Promise<ExpiredGroup[]>;

  // ---- Share groups (KIP-932; migration 17) ----
  /** Runs `update` on the share group's state (null: none) under its row lock, and stores the result. */
  updateShareGroup<T>(groupId: string, update: ShareStateUpdate<unknown | null, T>, nowMs: number): Promise<T>;
  /** These share groups' states (every share group when null); absent groups are left out. */
  loadShareGroups(groupIds: readonly string[] | null): Promise<StoredShareGroup[]>;
  /**
   * Runs `update` on these share partitions' states (null: none; in `keys` order) under their row locks
   * (taken in a fixed order), and stores the results.
   */
  updateSharePartitions<T>(groupId: string, keys: readonly SharePartitionKey[], update: ShareStateUpdate<(unknown | null)[], T>, nowMs: number): Promise<T>;
  /** The stored share partitions of these groups (only these partitions of the one group when `keys` is given). */
  loadSharePartitions(groupIds: readonly string[], keys?: readonly SharePartitionKey[]): Promise<StoredSharePartition[]>;
  /** Removes share groups and all their share partitions. */
  deleteShareGroups(groupIds: readonly string[]): Promise<void>;

  // ---- Idempotent producers, retention and the object lifecycle ----
  /**
   * InitProducerId (non-transactional). (-1, -1): a new producer id, unique among every broker of the
   * coordinator, epoch 0. The current (id, epoch) of a known producer: the same id with epoch + 1. Anything
   * else: a new id.
   */
  initProducerId(producerId: number, producerEpoch: number): Promise<ProducerIdAndEpoch>;
  /** DescribeProducers of a diskless partition: its producer states and their open transactions. */
  activeProducers(key: PartitionKey): Promise<{ producerId: number; producerEpoch: number; lastSequence: number; lastTimestamp: number; currentTxnStartOffset: number }[]>;
  /** Drops producer state idle for longer than `maxIdleMs` (and ids without state); how many states. */
  expireProducers(maxIdleMs: number): Promise<number>;
  /**
   * One bounded retention step over every diskless partition (`topics`: the retentions; others: none):
   * moves log starts, deletes at most `maxBatches` batches, releases emptied objects. One short transaction.
   */
  enforceRetention(topics: readonly RetentionTopic[], maxBatches: number): Promise<RetentionStepResult>;
  /** Registers keys about to be uploaded, so an upload that is never committed is found and reaped. */
  registerPendingObjects(brokerId: number, keys: readonly string[]): Promise<void>;
  /** Withdraws registrations that will not be used (clean shutdown). */
  forgetPendingObjects(keys: readonly string[]): Promise<void>;
  /** Registrations older than `minAgeMs`: their objects are orphans, now 'deleting' (the cleaner deletes them). */
  reapPendingObjects(minAgeMs: number): Promise<number>;
  /** Keys of 'deleting' objects marked at least `graceMs` ago and holding no batch, oldest first. */
  objectsToDelete(graceMs: number, limit: number): Promise<string[]>;
  /** Forgets 'deleting' objects once deleted from the store; how many rows went. */
  markObjectsDeleted(keys: readonly string[]): Promise<number>;
  /** The given keys that the coordinator knows neither as an object nor as a registration. */
  unknownObjectKeys(keys: readonly string[]): Promise<string[]>;
  /** Takes (or renews) a cluster-wide job lease; false while another holder's lease runs. */
  tryAcquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;

  // ---- Notifications between brokers (migration 7; channels and payloads: notifications.ts) ----
  /**
   * Subscribes to a notification channel (PostgreSQL LISTEN). `onPayload` gets every payload NOTIFYed on it
   * from then on, in commit order; `onResync` is called when notifications may have been missed (the
   * listening connection was lost and is back): the subscriber must then re-read what it keeps. Never
   * rejects for a database that cannot be reached: the subscription is kept and made once it can be (then
   * `onResync`). Resolves with the unsubscribe function. Backends with a single process (PGlite) deliver
   * their own notifications and never resync.
   */
  listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>>;
  /** The batches an object holds now, in (topic, partition, offset) order; [] for an unknown object. */
  objectBatches(objectKey: string): Promise<ObjectBatch[]>;
  /** Compaction of diskless partitions (migration 10): the partition's batches and cleaner state; null when it does not exist. */
  compactionView(key: PartitionKey): Promise<CompactionView | null>;
  /** One transaction: swap a compacted range's batch rows (see CompactionSwap), or nothing if the partition moved. */
  swapCompacted(swap: CompactionSwap): Promise<CompactionSwapResult>;
  /**
   * Merging (migration 15): up to `limit` live objects smaller than `maxObjectBytes` and committed at least
   * `minAgeMs` ago, oldest first.
   */
  mergeCandidates(maxObjectBytes: number, minAgeMs: number, limit: number): Promise<MergeCandidate[]>;
  /** Every batch the objects hold now, in (topic id, partition, base offset) order. */
  mergeInputs(objectKeys: readonly string[]): Promise<MergeInput[]>;
  /** One transaction: move the old objects' batches into the merged one (see MergeSwap), or nothing if they changed. */
  swapMerged(swap: MergeSwap): Promise<MergeSwapResult>;

  // ---- Broker membership (migration 6) ----
  /** The cluster id of this coordinator's brokers: `proposed` if none is stored yet (then stored), else the stored one. */
  clusterId(proposed: string): Promise<string>;
  /** A node id no registered broker uses, 1001 and up (for brokers started without node.id). */
  allocateNodeId(): Promise<number>;
  /**
   * Registers (or re-registers) a broker; returns its node id and the membership epoch. Rejects with
   * CoordinatorError(DUPLICATE_BROKER_REGISTRATION) while a live broker at another endpoint holds the id.
   */
  registerBroker(registration: BrokerRegistration): Promise<{ nodeId: number; epoch: number }>;
  /** Renews this broker's registration, expires silent brokers, and returns the live set. */
  brokerHeartbeat(nodeId: number, incarnation: string, sessionTimeoutMs: number): Promise<MembershipView>;
  /**
   * Holds this broker's liveness lock for as long as its process (and its listening connection) lives:
   * peers then expire it within a third of the session timeout once it dies (migration 18), instead of a
   * whole session. Nothing for single-process backends (PGlite).
   */
  holdLivenessLock(nodeId: number): Promise<void>;
  /** Clean shutdown: leaves the live set at once. */
  deregisterBroker(nodeId: number, incarnation: string): Promise<void>;
}

export class CoordinatorError extends Error {
  constructor(readonly errorCode: number, message: string) {
    super(message);
    this.name = 'CoordinatorError';
  }
}
