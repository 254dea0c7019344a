/**
 * The partition seam as handlers use it: `serve` is the one answer to "may this partition be served here,
 * with this epoch" (routing's rule, then the partition's log from storage), and `read` runs a Fetch over the
 * partitions it returned, whatever their kind. Handlers never see which kind they hold, except where the
 * response differs by kind (DescribeLogDirs: `localLog`, `disklessSizes`).
 */
import type { ClassicLog } from '../storage/classic/classic-log.ts';
import type { ClusterView } from '../cluster/cluster-view.ts';
import type { RoutedTopic } from '../cluster/routing.ts';
import type { Coordinator, PartitionKey } from '../coordinator/coordinator.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import type { PartitionLog, PartitionTopic, ReadResult } from '../storage/partition-log.ts';
import type { PartitionRead, ReadOptions, Storage } from '../storage/storage.ts';

export interface ServeError {
  errorCode: number;
  errorMessage: string | null;
}

export class Partitions {
  constructor(
    private readonly storage: Storage,
    private readonly cluster: ClusterView,
    private readonly coordinator: Pick<Coordinator, 'getPartitionSizes'>,
  ) {}

  /**
   * The partition's log, when this broker may serve it to a request carrying `currentLeaderEpoch` (-1 when the
   * request has none); else the Kafka error (UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER).
   */
  serve(topic: PartitionTopic & RoutedTopic, partition: number, currentLeaderEpoch = -1): PartitionLog | ServeError {
    const errorCode = this.cluster.partitionServeError(topic, partition, currentLeaderEpoch);
    if (errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) return { errorCode, errorMessage: `Partition ${partition} of topic ${topic.name} does not exist` };
    if (errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) return { errorCode, errorMessage: `Partition ${partition} of topic ${topic.name} is led by broker ${this.cluster.classicLeader(topic)}` };
    if (errorCode !== ErrorCode.NONE) return { errorCode, errorMessage: null };
    // A classic partition routed here whose log is not open (its topic is being created or deleted).
    return this.storage.partition(topic, partition) ?? { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: 'this broker has no log for the partition' };
  }

  /** The classic logs this broker leads (the transaction janitor looks for hanging transactions in them). */
  openClassicLogs(): IterableIterator<ClassicLog> {
    return this.storage.classic.openLogs();
  }

  /** One Fetch over logs `serve` returned (see Storage.read). */
  read(reads: readonly PartitionRead[], options: ReadOptions): Promise<ReadResult[]> {
    return this.storage.read(reads, options);
  }

  /** A classic partition's log dir and size when its log is on this broker, else null. */
  localLog(topicId: string, partition: number): { logDir: string; size: number } | null {
    const logDir = this.storage.classic.logDirOf(topicId, partition);
    return logDir === null ? null : { logDir, size: this.storage.classic.size(topicId, partition) ?? 0 };
  }

  /** Bytes held by each diskless partition (null for one that no longer exists). */
  disklessSizes(keys: readonly PartitionKey[]): Promise<(number | null)[]> {
    return this.coordinator.getPartitionSizes(keys);
  }
}

/** A partition that cannot be served for a reason the handler found (unknown topic, …). */
export function serveError(errorCode: number): ServeError {
  return { errorCode, errorMessage: null };
}

export function isServeError(served: PartitionLog | ServeError): served is ServeError {
  return 'errorCode' in served;
}
