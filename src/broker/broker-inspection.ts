/**
 * A read-only view of a running broker's internals for tests and tools (kfake's `GroupInfo`): every method
 * returns a copy, so an observer can neither change the broker nor come to depend on its internal types.
 */
import type { Membership } from '../cluster/membership.ts';
import type { NotificationStats } from '../storage/diskless/diskless-storage.ts';
import type { WriterStats } from '../storage/diskless/diskless-writer.ts';
import { partitionKey } from '../storage/partition-log.ts';
import type { Storage } from '../storage/storage.ts';

export interface DisklessInspection {
  /** The writer's counters: objects committed, upload and commit failures, commit retries, pending bytes, … */
  writer: WriterStats;
  /** Other brokers' commits and log-start moves learned from notifications, and resyncs. */
  notifications: NotificationStats;
  /** Coordinator queries made by fetches (batch index cache misses). */
  fetchCoordinatorQueries: number;
}

export class BrokerInspection {
  constructor(private readonly storage: Storage, private readonly membership: Membership) {}

  diskless(): DisklessInspection {
    const d = this.storage.diskless;
    return { writer: { ...d.writer.stats }, notifications: { ...d.notificationStats }, fetchCoordinatorQueries: d.reader.coordinatorQueries };
  }

  /** What the batch index cache holds of a diskless partition's offsets (undefined when it holds nothing). */
  cachedOffsets(topicId: string, partition: number): { logStartOffset: number; highWatermark: number } | undefined {
    const offsets = this.storage.diskless.index.offsets(partitionKey(topicId, partition));
    return offsets && { ...offsets };
  }

  /** The membership epoch: the leader epoch of diskless partitions. */
  membershipEpoch(): number {
    return this.membership.epoch;
  }
}
