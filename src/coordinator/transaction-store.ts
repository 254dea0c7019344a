/**
 * The transaction coordinator's state (KIP-98), kept in the batch coordinator so that any broker can serve
 * any transactional id and a broker's death loses nothing: what each operation of Kafka's
 * TransactionCoordinator does to one transactional id, each one database transaction holding the id's row
 * locked. Implemented over SQL by sql-transaction-store.ts (tables: migration 9).
 *
 * Ending a transaction has two steps, as in Kafka: `endTxn` makes the decision durable (state
 * prepare_commit / prepare_abort, the transaction's group offsets stored or dropped) and hands back the
 * partitions that need a marker; markers are written through the partition seam (a diskless marker's
 * commit removes its partition from the transaction, a classic one is reported with `markerWritten`), and
 * `complete` ends the transaction once none is left. Whoever finds a prepared transaction (a retried EndTxn,
 * InitProducerId, the janitor of any broker) writes the missing markers again; duplicates are dropped.
 */
/** A partition (coordinator.ts's PartitionKey; repeated so the Coordinator interface can name this store without a cycle). */
export interface PartitionKey {
  topicId: string;
  partition: number;
}

export type TxnState = 'empty' | 'ongoing' | 'prepare_commit' | 'prepare_abort' | 'complete_commit' | 'complete_abort';

/** A transaction being ended: the markers still to write. */
export interface EndingTransaction {
  transactionalId: string;
  producerId: number;
  /** The epoch the markers carry. */
  producerEpoch: number;
  commit: boolean;
  partitions: PartitionKey[];
}

export type InitTransactionalResult =
  | { errorCode: number; producerId: number; producerEpoch: number }
  /** The previous transaction must end first (it was fenced into an abort, or was ending): drive it, then ask again. */
  | { ending: EndingTransaction };

export type EndTxnResult = { errorCode: number } | { ending: EndingTransaction };

export interface TxnOffset extends PartitionKey {
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
}

/** What the producer says of itself in each transactional request. */
export interface TxnProducer {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
}

/** Per diskless partition: where read_committed reads end, and the aborted ranges from a given offset. */
export interface TxnView {
  lastStableOffset: number;
  aborted: { producerId: number; firstOffset: number }[];
  /** False when the partition has neither an open transaction nor an aborted range (nothing to check). */
  transactional: boolean;
}

export interface TxnViewRequest extends PartitionKey {
  /** Aborted ranges ending at or after it are returned. */
  fromOffset: number;
  highWatermark: number;
}

export interface DescribedTransaction {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  state: TxnState;
  timeoutMs: number;
  startedAt: number;
  partitions: PartitionKey[];
}

/**
 * Notification channel: payload a transactional id whose ending needs markers on classic partitions led by
 * another broker than the one that ended it (without it, that leader's janitor finds them within a second),
 * or `*` (an id too long for a payload): every prepared transaction.
 */
export const TXN_MARKERS_CHANNEL = 'floe_txn_markers';

export interface TransactionStore {
  /** InitProducerId with a transactional id: a new producer id, or the next epoch (fencing the previous). */
  initProducerId(transactionalId: string, timeoutMs: number, producerId: number, producerEpoch: number, now: number): Promise<InitTransactionalResult>;
  /** AddPartitionsToTxn (the partitions exist: the caller checked). 0 or the request's error. */
  addPartitions(producer: TxnProducer, partitions: readonly PartitionKey[], now: number): Promise<number>;
  /** AddPartitionsToTxn v4+ verifyOnly: whether each partition is in the ongoing transaction. */
  verifyPartitions(producer: TxnProducer, partitions: readonly PartitionKey[]): Promise<number | boolean[]>;
  addOffsets(producer: TxnProducer, groupId: string, now: number): Promise<number>;
  /** TxnOffsetCommit: offsets kept with the transaction until it commits. 0 or the request's error. */
  commitOffsets(producer: TxnProducer, groupId: string, offsets: readonly TxnOffset[]): Promise<number>;
  endTxn(producer: TxnProducer, commit: boolean, now: number): Promise<EndTxnResult>;
  /**
   * The partitions of `ending` still waiting for its marker: none once the transaction moved on (completed,
   * another epoch or decision). A classic partition's marker is written only while it is listed here.
   */
  awaitingMarkers(ending: EndingTransaction): Promise<PartitionKey[]>;
  /** A classic partition's marker is in its log: the partition leaves the transaction. */
  markerWritten(ending: EndingTransaction, partition: PartitionKey): Promise<void>;
  /** Ends a prepared transaction whose markers are all written; false while some are missing. */
  complete(ending: EndingTransaction, now: number): Promise<boolean>;
  /** Ongoing transactions past their timeout, fenced into an abort (epoch bumped), to drive. */
  abortTimedOut(now: number, limit: number): Promise<EndingTransaction[]>;
  /** Transactions prepared at least `minAgeMs` ago and still missing markers (their driver died). */
  prepared(now: number, minAgeMs: number, limit: number): Promise<EndingTransaction[]>;
  /** The transaction being ended under `transactionalId` while markers are missing; null otherwise. */
  preparedEnding(transactionalId: string): Promise<EndingTransaction | null>;
  /**
   * Asks every broker (NOTIFY on TXN_MARKERS_CHANNEL) to write the markers it can of the transaction being
   * ended under `transactionalId`: the leaders of its classic partitions, which only the leader can write.
   */
  requestMarkers(transactionalId: string): Promise<void>;
  /** Aborted ranges the log start has passed, and those of deleted partitions: dropped. */
  dropPassedAborts(): Promise<number>;
  /** Whether the producer's transaction (open or being ended) includes the partition. */
  includes(producerId: number, partition: PartitionKey): Promise<boolean>;
  /** Transactional ids with no transaction open or ending, idle for longer than `maxIdleMs`: forgotten. */
  expireIds(now: number, maxIdleMs: number): Promise<number>;
  view(requests: readonly TxnViewRequest[]): Promise<TxnView[]>;
  /** Partitions of `groupId` with offsets committed in a transaction that has not ended (OffsetFetch require_stable). */
  pendingOffsets(groupId: string): Promise<PartitionKey[]>;
  describe(transactionalIds: readonly string[]): Promise<(DescribedTransaction | null)[]>;
  list(states: readonly TxnState[], producerIds: readonly number[], minDurationMs: number, now: number, idPattern: string | null): Promise<DescribedTransaction[]>;
}
