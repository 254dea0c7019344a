/**
 * Changes to topics: creation (CreateTopics and Metadata's auto-creation), deletion, growth
 * (CreatePartitions) and the opening of the classic logs they need, and (through config-admin.ts) config
 * changes. The coordinator records every change; this broker's topic registry and storage follow at once,
 * other brokers through the coordinator's notifications (coherence.ts).
 */
import type { ClusterView } from '../cluster/cluster-view.ts';
import { CoordinatorError, type Coordinator, type TopicInfo } from '../coordinator/coordinator.ts';
import type { BrokerConfig } from '../config/broker-config.ts';
import { resolveTopicConfig, validateTopicConfigs } from '../config/topic-config.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { toKafkaError } from '../storage/storage-error.ts';
import type { Storage } from '../storage/storage.ts';
import type { ConfigAdminServices } from './config-admin.ts';
import type { Topic, TopicRegistry } from './topics.ts';
import { topicNameError } from './topic-names.ts';

export interface CreateTopicInput {
  name: string;
  /** -1: the broker's num.partitions. */
  numPartitions: number;
  /** -1: the broker's default.replication.factor. */
  replicationFactor: number;
  /** Manual assignment: partition → broker ids. Empty for automatic. */
  assignments: { partitionIndex: number; brokerIds: number[] }[];
  configs: Record<string, string | null>;
  validateOnly: boolean;
}

export interface CreateTopicOutcome {
  errorCode: number;
  errorMessage: string | null;
  topic?: Topic;
  numPartitions: number;
  replicationFactor: number;
}

/** Largest partition count accepted for one topic: a guard against absurd requests. */
export const MAX_PARTITIONS = 100_000;

export class TopicAdmin implements ConfigAdminServices {
  private classicOpens: Promise<void> = Promise.resolve();

  constructor(
    readonly topics: TopicRegistry,
    readonly coordinator: Pick<Coordinator, 'createTopic' | 'deleteTopic' | 'createPartitions' | 'alterTopicConfigs'>,
    private readonly storage: Storage,
    readonly config: BrokerConfig,
    private readonly cluster: ClusterView,
  ) {}

  async createTopic(input: CreateTopicInput): Promise<CreateTopicOutcome> {
    const { topics, config, coordinator, storage, cluster } = this;
    const fail = (errorCode: number, errorMessage: string): CreateTopicOutcome =>
      ({ errorCode, errorMessage, numPartitions: -1, replicationFactor: -1 });

    const nameError = topicNameError(input.name);
    if (nameError) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError);
    if (topics.get(input.name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${input.name}' already exists.`);

    let numPartitions = input.numPartitions;
    let replicationFactor = input.replicationFactor;
    if (input.assignments.length > 0) {
      if (numPartitions !== -1 || replicationFactor !== -1) {
        return fail(ErrorCode.INVALID_REQUEST, 'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.');
      }
      const indexes = input.assignments.map((a) => a.partitionIndex).sort((a, b) => a - b);
      if (indexes.some((p, i) => p !== i)) {
        return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'Partitions should be a consecutive 0-based integer sequence');
      }
      const known = new Set(cluster.live().map((b) => b.nodeId));
      for (const a of input.assignments) {
        if (a.brokerIds.length === 0 || a.brokerIds.some((id) => !known.has(id))) {
          return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Replica assignment for partition ${a.partitionIndex} names unknown or no brokers: ${a.brokerIds.join(',')}`);
        }
      }
      numPartitions = input.assignments.length;
      replicationFactor = input.assignments[0]!.brokerIds.length;
    }
    if (numPartitions === -1) numPartitions = config.numPartitions;
    if (replicationFactor === -1) replicationFactor = config.defaultReplicationFactor;
    if (numPartitions <= 0) return fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions must be larger than 0.');
    if (numPartitions > MAX_PARTITIONS) return fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be at most ${MAX_PARTITIONS}.`);
    if (replicationFactor <= 0) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0.');

    const validated = validateTopicConfigs(input.configs, config);
    if (!validated.ok) return fail(validated.errorCode, validated.message);
    const diskless = validated.configs['diskless.enable'] !== undefined
      ? validated.configs['diskless.enable'] === 'true'
      : config.logDisklessEnable;
    if (!diskless) {
      // Classic: one local log per partition, on this broker (the leader chosen at creation), no replicas yet.
      if (replicationFactor !== 1) {
        return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor ${replicationFactor} is not supported for classic topics: replicated classic topics are not supported yet. Use replication factor 1, or a diskless topic (diskless.enable=true), which is as durable as its object store.`);
      }
      if (input.assignments.some((a) => a.brokerIds[0] !== config.nodeId)) {
        return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Classic partitions are placed on the broker that creates the topic (${config.nodeId}) for now.`);
      }
    }
    // Diskless data is as durable as the object store; the replication factor is recorded, not used.
    if (input.validateOnly) return { errorCode: ErrorCode.NONE, errorMessage: null, numPartitions, replicationFactor };

    try {
      const info = await coordinator.createTopic({
        name: input.name, partitionCount: numPartitions, diskless, configs: validated.configs,
        leaderBrokerId: diskless ? null : config.nodeId,
      });
      if (!diskless) {
        // The logs exist before the topic is visible, so the first produce finds them.
        try {
          await storage.classic.createTopic(info, resolveTopicConfig(info.configs, config));
        } catch (err) {
          await storage.classic.dropTopic(info).catch(() => {});
          await coordinator.deleteTopic(info.name).catch(() => {});
          return fail(toKafkaError('disk', err).errorCode, `Could not create the logs of classic topic '${input.name}': ${(err as Error).message}`);
        }
      }
      const topic = topics.remember(info);
      return { errorCode: ErrorCode.NONE, errorMessage: null, topic, numPartitions, replicationFactor };
    } catch (err) {
      if (err instanceof CoordinatorError) {
        if (err.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) await topics.load();
        return fail(err.errorCode, err.message);
      }
      throw err;
    }
  }

  /**
   * Opens the logs a classic topic led here lacks (after CreatePartitions, through this broker or another).
   * Calls run one after another, so a partition is never opened twice when both paths see the same growth.
   */
  openClassicLogs(info: TopicInfo): Promise<void> {
    const run = this.classicOpens.then(() => this.storage.classic.createTopic(info));
    this.classicOpens = run.catch(() => undefined);
    return run;
  }

  /** Grows a topic to `count` partitions (validated by the caller); a classic topic led here gets its new logs. */
  async createPartitions(name: string, count: number): Promise<void> {
    const info = await this.coordinator.createPartitions(name, count);
    const grown = this.topics.remember(info);
    if (!grown.diskless && this.cluster.classicLeader(grown) === this.cluster.nodeId) await this.openClassicLogs(info);
  }

  async deleteTopic(topic: Topic): Promise<number> {
    const deleted = await this.coordinator.deleteTopic(topic.name);
    this.topics.forget(topic);
    await this.storage.dropTopic(topic);
    return deleted ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  }
}
