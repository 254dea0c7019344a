/**
 * Retention of diskless topics (retention.ms, retention.bytes) and expiry of idle producer state.
 *
 * A pass calls the coordinator's bounded retention step (floe_retention_step: at most `maxBatchesPerStep`
 * batch deletions, one short transaction that locks partition rows only for its final UPDATE) until it
 * reports nothing left or the pass has run `maxPassMs`; the rest waits for the next pass. Log starts it
 * moved go into this broker's index cache at once (other brokers re-read them, see DisklessStorage).
 * Objects that lost their last batch are marked 'deleting' in the same transactions; the cleaner deletes
 * them after the grace period.
 */
import type { Coordinator, PartitionKey, RetentionTopic } from '../../coordinator/coordinator.ts';
import { childLogger } from '../../observability/log.ts';

const log = childLogger('retention');

export interface RetentionOptions {
  /** The diskless topics and their effective retention (topic config over broker defaults). */
  topics: () => Promise<RetentionTopic[]>;
  /** Log starts moved by a step. */
  onLogStarts: (moves: readonly (PartitionKey & { logStartOffset: number })[]) => void;
  producerIdExpirationMs: number;
  /** Batch deletions per coordinator transaction (default 1,000: a step then takes a few ms to tens of ms). */
  maxBatchesPerStep?: number;
  /** A pass stops starting steps after this long (default 30 s). */
  maxPassMs?: number;
  /** True once the broker shuts down: the pass stops between steps. */
  stopping?: () => boolean;
}

export interface RetentionPassStats {
  steps: number;
  batchesDeleted: number;
  objectsMarked: number;
  partitionsMoved: number;
  producersExpired: number;
  /** False when the pass stopped at maxPassMs with work left. */
  complete: boolean;
  ms: number;
}

export class RetentionJob {
  constructor(private readonly coordinator: Coordinator, private readonly options: RetentionOptions) {}

  async runPass(): Promise<RetentionPassStats> {
    const start = performance.now();
    const maxBatches = this.options.maxBatchesPerStep ?? 1_000;
    const maxPassMs = this.options.maxPassMs ?? 30_000;
    const stats: RetentionPassStats = { steps: 0, batchesDeleted: 0, objectsMarked: 0, partitionsMoved: 0, producersExpired: 0, complete: true, ms: 0 };
    const topics = await this.options.topics();
    for (;;) {
      const step = await this.coordinator.enforceRetention(topics, maxBatches);
      stats.steps++;
      stats.batchesDeleted += step.batchesDeleted;
      stats.objectsMarked += step.objectsMarked;
      stats.partitionsMoved += step.logStarts.length;
      if (step.logStarts.length > 0) this.options.onLogStarts(step.logStarts);
      if (!step.more) break;
      if (performance.now() - start > maxPassMs || this.options.stopping?.()) {
        stats.complete = false;
        break;
      }
    }
    stats.producersExpired = await this.coordinator.expireProducers(this.options.producerIdExpirationMs);
    stats.ms = performance.now() - start;
    if (stats.batchesDeleted > 0 || stats.producersExpired > 0 || !stats.complete) {
      log.info(stats, 'retention pass');
    }
    return stats;
  }
}
