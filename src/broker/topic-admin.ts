/**
 * Topic creation and deletion, shared by CreateTopics, DeleteTopics and Metadata's auto-creation.
 */
import { CoordinatorError, type TopicInfo } from '../coordinator/coordinator.ts';
import { resolveTopicConfig, validateTopicConfigs } from '../config/topic-config.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import type { Broker } from './broker.ts';
import type { Topic } from './topics.ts';
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

export async function createTopic(broker: Broker, input: CreateTopicInput): Promise<CreateTopicOutcome> {
  const fail = (errorCode: number, errorMessage: string): CreateTopicOutcome =>
    ({ errorCode, errorMessage, numPartitions: -1, replicationFactor: -1 });

  const nameError = topicNameError(input.name);
  if (nameError) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError);
  if (broker.topics.get(input.name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${input.name}' already exists.`);

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
    const known = new Set(broker.liveBrokers().map((b) => b.nodeId));
    for (const a of input.assignments) {
      if (a.brokerIds.length === 0 || a.brokerIds.some((id) => !known.has(id))) {
        return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Replica assignment for partition ${a.partitionIndex} names unknown or no brokers: ${a.brokerIds.join(',')}`);
      }
    }
    numPartitions = input.assignments.length;
    replicationFactor = input.assignments[0]!.brokerIds.length;
  }
  if (numPartitions === -1) numPartitions = broker.config.numPartitions;
  if (replicationFactor === -1) replicationFactor = broker.config.defaultReplicationFactor;
  if (numPartitions <= 0) return fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions must be larger than 0.');
  if (numPartitions > MAX_PARTITIONS) return fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be at most ${MAX_PARTITIONS}.`);
  if (replicationFactor <= 0) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0.');

  const validated = validateTopicConfigs(input.configs, broker.config);
  if (!validated.ok) return fail(validated.errorCode, validated.message);
  const diskless = validated.configs['diskless.enable'] !== undefined
    ? validated.configs['diskless.enable'] === 'true'
    : broker.config.logDisklessEnable;
  if (!diskless) {
    // Classic: one local log per partition, on this broker (the leader chosen at creation), no replicas yet.
    if (replicationFactor !== 1) {
      return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor ${replicationFactor} is not supported for classic topics: replicated classic topics are not supported yet. Use replication factor 1, or a diskless topic (diskless.enable=true), which is as durable as its object store.`);
    }
    if (input.assignments.some((a) => a.brokerIds[0] !== broker.config.nodeId)) {
      return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Classic partitions are placed on the broker that creates the topic (${broker.config.nodeId}) for now.`);
    }
  }
  // Diskless data is as durable as the object store; the replication factor is recorded, not used.
  if (input.validateOnly) return { errorCode: ErrorCode.NONE, errorMessage: null, numPartitions, replicationFactor };

  try {
    const info = await broker.coordinator.createTopic({
      name: input.name, partitionCount: numPartitions, diskless, configs: validated.configs,
      leaderBrokerId: diskless ? null : broker.config.nodeId,
    });
    if (!diskless) {
      // The logs exist before the topic is visible, so the first produce finds them.
      try {
        await broker.classic.createTopic(info, resolveTopicConfig(info.configs, broker.config));
      } catch (err) {
        await broker.classic.dropTopic(info).catch(() => {});
        await broker.coordinator.deleteTopic(info.name).catch(() => {});
        return fail(ErrorCode.KAFKA_STORAGE_ERROR, `Could not create the logs of classic topic '${input.name}': ${(err as Error).message}`);
      }
    }
    const topic = broker.topics.remember(info);
    return { errorCode: ErrorCode.NONE, errorMessage: null, topic, numPartitions, replicationFactor };
  } catch (err) {
    if (err instanceof CoordinatorError) {
      if (err.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) await broker.topics.load();
      return fail(err.errorCode, err.message);
    }
    throw err;
  }
}

const classicOpens = new WeakMap<Broker, Promise<void>>();

/**
 * Opens the logs a classic topic led here lacks (after CreatePartitions, through this broker or another).
 * Calls run one after another, so a partition is never opened twice when both paths see the same growth.
 */
export function openClassicLogs(broker: Broker, info: TopicInfo): Promise<void> {
  const run = (classicOpens.get(broker) ?? Promise.resolve()).then(() => broker.classic.createTopic(info));
  classicOpens.set(broker, run.catch(() => undefined));
  return run;
}

export async function deleteTopic(broker: Broker, topic: Topic): Promise<number> {
  const deleted = await broker.coordinator.deleteTopic(topic.name);
  broker.topics.forget(topic);
  broker.storage.dropTopic(topic.topicId);
  if (!topic.diskless) await broker.classic.dropTopic(topic);
  return deleted ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
}
