/**
 * A broker's storage, as handlers reach it: the partition seam's entry point. `partition()` hands out a
 * `PartitionLog` of either kind — diskless (any broker serves it) or classic (only where its log is open) —
 * and `read()` runs one Fetch over partitions of both kinds: plan every partition, apply the byte limits in
 * request order against one budget, load, and long-poll until enough bytes are visible or the wait ends.
 *
 * It owns the long-poll waiters both kinds wake, and answers for both kinds' back-pressure (bytes appended
 * and not yet answered): past either bound the broker stops reading from producer sockets.
 */
import type { Coordinator } from '../coordinator/coordinator.ts';
import type { ObjectStore } from '../objectstore/object-store.ts';
import { ClassicStorage, type ClassicStorageOptions } from './classic/classic-storage.ts';
import { DisklessStorage, type DisklessStorageOptions } from './diskless/diskless-storage.ts';
import { fetchBudget, partitionKey, type IsolationLevel, type PartitionLog, type PartitionTopic, type ReadResult } from './partition-log.ts';
import { PartitionWaiters } from './partition-waiters.ts';

export interface StorageOptions {
  diskless: DisklessStorageOptions;
  classic: Omit<ClassicStorageOptions, 'onVisible'>;
}

/** One partition of a Fetch: where to start and the partition's byte limit. */
export interface PartitionRead {
  log: PartitionLog;
  offset: number;
  maxBytes: number;
}

export interface ReadOptions {
  /** The request's byte limit across its partitions (KIP-74: the first batch found is sent whole anyway). */
  maxBytes: number;
  /** Answer once this many bytes are found ... */
  minBytes: number;
  /** ... or once this long has passed. */
  maxWaitMs: number;
  isolation: IsolationLevel;
}

export class Storage {
  /** Long polls of both kinds wait here. */
  readonly waiters = new PartitionWaiters();
  readonly diskless: DisklessStorage;
  /** The local logs of the classic partitions this broker leads. */
  readonly classic: ClassicStorage;

  constructor(coordinator: Coordinator, objectStore: ObjectStore, options: StorageOptions) {
    this.diskless = new DisklessStorage(coordinator, objectStore, this.waiters, options.diskless);
    this.classic = new ClassicStorage({ ...options.classic, onVisible: (key) => this.waiters.notify([key]) });
  }

  /** The partition's log; undefined for a classic partition whose log is not on this broker. */
  partition(topic: PartitionTopic, partition: number): PartitionLog | undefined {
    return topic.diskless ? this.diskless.partition(topic.topicId, partition) : this.classic.log(topic.topicId, partition);
  }

  /**
   * One Fetch: answers when the partitions hold at least `minBytes` (or any partition has an error), when
   * `maxWaitMs` has passed, or at shutdown. Results are in `reads` order.
   */
  async read(reads: readonly PartitionRead[], options: ReadOptions): Promise<ReadResult[]> {
    const deadline = Date.now() + Math.max(0, options.maxWaitMs);
    let keys: string[] | null = null;
    for (;;) {
      const generation = this.waiters.generation;
      const results = await readOnce(reads, options.maxBytes, options.isolation);
      let bytes = 0;
      let errors = false;
      for (const r of results) {
        bytes += r.bytes;
        if (r.errorCode !== 0) errors = true;
      }
      const remaining = deadline - Date.now();
      if (bytes >= options.minBytes || errors || remaining <= 0 || reads.length === 0 || this.waiters.closed) return results;
      // Data became visible while we were reading (its wake-up found nobody waiting): read again.
      if (this.waiters.generation !== generation) continue;
      keys ??= reads.map((r) => partitionKey(r.log.topicId, r.log.partition));
      await this.waiters.wait(keys, remaining);
    }
  }

  /** Producers must wait: too many bytes appended and not yet answered. */
  get paused(): boolean {
    return this.diskless.writer.paused || this.classic.paused;
  }

  async whenResumed(): Promise<void> {
    await this.diskless.writer.whenResumed();
    await this.classic.whenResumed();
  }

  /** A deleted topic: its cached batches go, and (for a classic topic led here) its logs. */
  async dropTopic(topic: PartitionTopic & { partitionCount: number }): Promise<void> {
    this.diskless.dropTopic(topic.topicId);
    if (!topic.diskless) await this.classic.dropTopic(topic);
  }

  /** Shutdown, first step: long polls answer at once. */
  stopWaiting(): void {
    this.waiters.close();
  }

  /** Shutdown: seals and commits the open object, withdraws unused object keys, closes the classic logs cleanly. */
  async close(): Promise<void> {
    await this.diskless.close();
    await this.classic.close();
  }
}

/** Plans every partition, limits them in request order against one budget, then loads them. */
async function readOnce(reads: readonly PartitionRead[], requestMaxBytes: number, isolation: IsolationLevel): Promise<ReadResult[]> {
  const plans = await Promise.all(reads.map((r) => r.log.plan(r.offset, r.maxBytes, isolation)));
  const budget = fetchBudget(requestMaxBytes);
  for (const plan of plans) plan.limit(budget);
  return Promise.all(plans.map((plan) => plan.load()));
}
