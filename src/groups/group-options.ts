/**
 * The settings of the group coordinator (the broker's group.* and offsets.* configs, plus the clock, the
 * session ticker period and the placement rule), shared by its parts. Its own file so that the parts can take
 * them without importing the facade that wires them (group-coordinator.ts re-exports both).
 *
 * The parts share one options object, not copies: a test may change a setting on the running coordinator
 * (e.g. offsetsRetentionMs through `GroupCoordinator.options`) and every part sees it.
 */
import type { BrokerConfig } from '../config/broker-config.ts';

export interface GroupCoordinatorOptions {
  initialRebalanceDelayMs: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  maxSize: number;
  offsetsRetentionMs: number;
  offsetsRetentionCheckIntervalMs: number;
  offsetMetadataMaxBytes: number;
  /** The clock (ms). Date.now by default. */
  now?: () => number;
  /** How often session deadlines are checked; by default a tenth of the minimum session timeout, within [10, 500] ms. */
  tickMs?: number;
  /** Whether this broker coordinates the group (placement over the live brokers); every group by default. */
  owns?: (groupId: string) => boolean;
}

export function groupOptionsFromConfig(config: BrokerConfig): GroupCoordinatorOptions {
  return {
    initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
    minSessionTimeoutMs: config.groupMinSessionTimeoutMs ?? 6000,
    maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs ?? 1_800_000,
    maxSize: config.groupMaxSize ?? 2147483647,
    offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
    offsetsRetentionCheckIntervalMs: config.offsetsRetentionCheckIntervalMs ?? 600_000,
    offsetMetadataMaxBytes: config.offsetMetadataMaxBytes ?? 4096,
  };
}
