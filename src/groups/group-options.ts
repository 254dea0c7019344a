/**
 * The settings of the group coordinator (the broker's group.* and offsets.* configs, plus the clock, the
 * session ticker period and the placement rule), shared by its parts. Its own file so that the parts can take
 * them without importing the facade that wires them (group-coordinator.ts re-exports both).
 *
 * The parts share one options object, not copies: a test may change a setting on the running coordinator
 * (e.g. offsetsRetentionMs through `GroupCoordinator.options`) and every part sees it.
 */
import type { BrokerConfig } from '../config/broker-config.ts';
import { assignorName } from './assignors.ts';

/** What the consumer protocol needs to know of topics (the broker's topic registry is one). */
export interface GroupTopics {
  get(name: string): { topicId: string; partitionCount: number } | undefined;
  getById(topicId: string): { name: string; partitionCount: number } | undefined;
  all(): readonly { name: string; topicId: string; partitionCount: number }[];
}

/** Kafka's defaults of the group.consumer.* configs (KIP-848). */
export const CONSUMER_GROUP_DEFAULTS = {
  sessionTimeoutMs: 45_000,
  heartbeatIntervalMs: 5_000,
  maxSize: 2147483647,
  assignors: ['uniform', 'range'],
} as const;

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
  /** group.consumer.session.timeout.ms (KIP-848 groups). */
  consumerSessionTimeoutMs?: number;
  /** group.consumer.heartbeat.interval.ms. */
  consumerHeartbeatIntervalMs?: number;
  /** group.consumer.max.size. */
  consumerMaxSize?: number;
  /** group.consumer.migration.policy: upgrade, downgrade, bidirectional (default) or disabled. */
  consumerMigrationPolicy?: string;
  /** group.consumer.assignors, as short names (uniform, range); the first is the default. */
  consumerAssignors?: string[];
  /** The topics, for subscriptions of KIP-848 groups; none without it (unit tests). */
  topics?: GroupTopics;
  /** The broker's configuration: its group.* values are the defaults and bounds of per-group configs. */
  brokerConfig?: Pick<BrokerConfig, 'values'>;
  /** Per-group configs (group-configs.ts); the GroupCoordinator puts its own here when none is given. */
  groupConfigs?: { ownInt(groupId: string, key: string): number | null };
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
    consumerSessionTimeoutMs: intValue(config, 'group.consumer.session.timeout.ms', CONSUMER_GROUP_DEFAULTS.sessionTimeoutMs),
    consumerHeartbeatIntervalMs: intValue(config, 'group.consumer.heartbeat.interval.ms', CONSUMER_GROUP_DEFAULTS.heartbeatIntervalMs),
    consumerMaxSize: intValue(config, 'group.consumer.max.size', CONSUMER_GROUP_DEFAULTS.maxSize),
    consumerAssignors: (config.values?.['group.consumer.assignors'] ?? CONSUMER_GROUP_DEFAULTS.assignors.join(','))
      .split(',').map((a) => assignorName(a)).filter((a): a is string => a !== null),
    consumerMigrationPolicy: config.values?.['group.consumer.migration.policy'] ?? 'bidirectional',
    brokerConfig: config,
  };
}

/** A group.consumer.* value from the loaded table (validated there), or Kafka's default for hand-built configs. */
function intValue(config: BrokerConfig, key: string, fallback: number): number {
  const v = config.values?.[key];
  return v === undefined || v === null ? fallback : Number(v);
}
