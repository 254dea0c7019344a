/**
 * The partition seam (Redpanda's `partition_proxy`): what a handler may ask of one partition, whatever its
 * kind. Diskless partitions (diskless/diskless-partition.ts) and classic ones (classic/classic-log.ts) both
 * implement `PartitionLog`; handlers reach storage only through it and `Storage` (storage.ts), so features
 * that touch every partition (transactions' last stable offset and aborted ranges, compaction) are added
 * here once, for both kinds.
 *
 * This file also holds the types both kinds share: the produced batch, the answers of each operation, and
 * the byte budget one Fetch request spends across its partitions.
 */
import type { TimestampType, TxnKind } from '../coordinator/coordinator.ts';

/** What storage needs to know of a topic (the broker's topic registry entries satisfy it). */
export interface PartitionTopic {
  readonly topicId: string;
  readonly name: string;
  readonly diskless: boolean;
}

/** One validated batch of a Produce request, with the header facts storage needs (read once by the handler). */
export interface ProducedBatch {
  /** The batch bytes: a view into the request frame (see objectParts for when it stays one). */
  data: Buffer;
  recordCount: number;
  baseTimestamp: number;
  maxTimestamp: number;
  timestampType: TimestampType;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  lastSequence: number;
  /** Plain, transactional data, or a transaction's marker (a control batch). */
  txnKind: TxnKind;
}

export interface AppendResult {
  errorCode: number;
  errorMessage: string | null;
  baseOffset: number;
  logAppendTime: number;
  logStartOffset: number;
}

/** ListOffsets' answer for one partition: an offset and the timestamp of the record found (-1 when none). */
export interface OffsetAnswer {
  errorCode: number;
  offset: number;
  timestamp: number;
}

/** DeleteRecords' answer for one partition: the log start offset afterwards. */
export interface DeleteRecordsAnswer {
  errorCode: number;
  lowWatermark: number;
}

/** Fetch's and ListOffsets' isolation level (KIP-98). */
export type IsolationLevel = 0 | 1;
export const READ_UNCOMMITTED: IsolationLevel = 0;
export const READ_COMMITTED: IsolationLevel = 1;

/** An aborted transaction's first offset in a partition (its abort marker ends it), as Fetch reports it. */
export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
}

export interface ReadResult {
  errorCode: number;
  highWatermark: number;
  /**
   * Offsets below it hold only decided transactions: a read_committed read stops here. For a
   * read_uncommitted read of a diskless partition it is the high watermark (not looked up).
   */
  lastStableOffset: number;
  /** read_committed: the aborted transactions the records may hold (consumers drop their batches); else null. */
  abortedTransactions: AbortedTransaction[] | null;
  logStartOffset: number;
  /** Record batch bytes, in offset order: views into cached objects or freshly read buffers, sent uncopied. */
  records: Buffer[];
  bytes: number;
}

/**
 * A partition's read, found before the byte limits are known: a Fetch plans every partition, then limits
 * them in request order against one budget, then loads them all (so both kinds share one budget).
 */
export interface ReadPlan {
  readonly errorCode: number;
  /** Trims the plan to the partition's limit and what is left of the request's budget (synchronous). */
  limit(budget: FetchBudget): void;
  load(): Promise<ReadResult>;
}

/** DescribeProducers: an idempotent or transactional producer with state in the partition. */
export interface ActiveProducer {
  producerId: number;
  producerEpoch: number;
  /** -1 when the producer has written no batch here in its current epoch. */
  lastSequence: number;
  /** When it last wrote here (ms). */
  lastTimestamp: number;
  /** The first offset of its open transaction here; -1 when none. */
  currentTxnStartOffset: number;
}

/** OffsetForLeaderEpoch's answer for one partition: the end offset of the largest epoch <= the one asked. */
export interface EpochEndOffset {
  errorCode: number;
  leaderEpoch: number;
  endOffset: number;
}

/**
 * The partition leader epoch every stored batch carries, of both kinds: no leader change is recorded yet
 * (any broker serves a diskless partition; a classic one has one replica).
 */
export const STORED_LEADER_EPOCH = 0;

/** ListOffsets' special timestamps (any value >= 0 is a record timestamp). */
export const EARLIEST_TIMESTAMP = -2;
export const LATEST_TIMESTAMP = -1;
export const MAX_TIMESTAMP = -3;

export interface PartitionLog {
  readonly topicId: string;
  readonly partition: number;
  /**
   * Assigns the batch its place, synchronously: call it before the handler's first await, so the batches of
   * pipelined requests keep their order. Resolves when the batch is durable as `acks` asks.
   */
  append(batch: ProducedBatch, acks: number): Promise<AppendResult>;
  /**
   * Where a fetch at `offset` reads, at most `maxBytes` (the partition's limit; KIP-74 aside); read_committed
   * stops at the last stable offset and names the aborted transactions.
   */
  plan(offset: number, maxBytes: number, isolation: IsolationLevel): Promise<ReadPlan>;
  /**
   * -2 earliest, -1 latest (read_committed: the last stable offset), -3 max timestamp, else the first record
   * whose timestamp is >= it.
   */
  listOffset(timestamp: number, isolation?: IsolationLevel): Promise<OffsetAnswer>;
  /** Moves the log start offset to `offset` (-1: the high watermark); OFFSET_OUT_OF_RANGE past it. */
  deleteRecords(offset: number): Promise<DeleteRecordsAnswer>;
  /** OffsetForLeaderEpoch (KIP-320): where the largest epoch <= `leaderEpoch` ends in this log. */
  endOffsetForEpoch(leaderEpoch: number): Promise<EpochEndOffset>;
  /** DescribeProducers: the producers with state here. */
  activeProducers(): Promise<ActiveProducer[]>;
}

/**
 * endOffsetForEpoch of a log whose batches all carry STORED_LEADER_EPOCH: that epoch ends at the high
 * watermark (consumers validate their position against it); an epoch before it is unknown (-1, -1).
 */
export async function endOffsetOfStoredEpoch(log: PartitionLog, leaderEpoch: number): Promise<EpochEndOffset> {
  if (leaderEpoch < STORED_LEADER_EPOCH) return { errorCode: 0, leaderEpoch: -1, endOffset: -1 };
  const latest = await log.listOffset(LATEST_TIMESTAMP);
  if (latest.errorCode !== 0) return { errorCode: latest.errorCode, leaderEpoch: -1, endOffset: -1 };
  return { errorCode: 0, leaderEpoch: STORED_LEADER_EPOCH, endOffset: latest.offset };
}

/** The key of a partition in storage's maps and the long-poll waiters. */
export function partitionKey(topicId: string, partition: number): string {
  return `${topicId}:${partition}`;
}

/**
 * The byte budget of one Fetch request, shared by every partition it reads in request order: the request's
 * max bytes, and Kafka's KIP-74 rule that the first partition with data gets at least one whole batch even
 * when that batch is larger than the limits.
 */
export interface FetchBudget {
  /** Bytes left of the request's max bytes. */
  remaining: number;
  /** True until a partition has been given data. */
  minOneBatch: boolean;
}

export function fetchBudget(requestMaxBytes: number): FetchBudget {
  return { remaining: Math.max(0, requestMaxBytes), minOneBatch: true };
}
