/**
 * The batch-coordinator seam (DESIGN.md, "Coordinator contract"). One implementation per SQL connection
 * kind (PGlite embedded; `pg` later), sharing one schema and one set of SQL. Every operation is one
 * transaction. Offsets and timestamps are JS numbers: they stay far below 2^53 in practice, and the
 * protocol layer converts to and from int64 (bigint) at the edge.
 *
 * Errors: operations reject with CoordinatorError (a Kafka error code plus message) for outcomes the
 * client must see, and with any other Error when the database itself failed (the caller answers a
 * retriable error then).
 */

export type TimestampType = 0 | 1; // 0 CreateTime, 1 LogAppendTime

export interface TopicInfo {
  topicId: string; // canonical UUID text, e.g. "3b241101-e2bb-4255-8caf-4136c566a962"
  name: string;
  partitionCount: number;
  diskless: boolean;
  /** Only the configs set explicitly on the topic (key → value as Kafka strings). */
  configs: Record<string, string>;
}

export interface CreateTopicSpec {
  name: string;
  partitionCount: number;
  diskless: boolean;
  configs: Record<string, string>;
}

export interface PartitionKey {
  topicId: string;
  partition: number;
}

/** One batch of a WAL object being committed, in object order. */
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
}

export interface PartitionOffsets {
  logStartOffset: number;
  highWatermark: number;
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

export interface Coordinator {
  /** Applies migrations; safe to call on every start. */
  init(): Promise<void>;
  close(): Promise<void>;

  /** Rejects with CoordinatorError(TOPIC_ALREADY_EXISTS) when the name is taken. */
  createTopic(spec: CreateTopicSpec): Promise<TopicInfo>;
  /** Removes the topic, its partitions and batch rows; null when it does not exist. */
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
}

export class CoordinatorError extends Error {
  constructor(readonly errorCode: number, message: string) {
    super(message);
    this.name = 'CoordinatorError';
  }
}
