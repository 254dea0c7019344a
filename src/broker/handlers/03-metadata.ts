/**
 * Metadata (key 3), versions 0-13.
 *
 * Behavior: every diskless partition is led by this broker (single node for now), leader epoch 0,
 * replicas and ISR = [this broker], so clients and tools are content. A classic partition is led by the
 * broker recorded when its topic was created (replicas = ISR = [it]); LEADER_NOT_AVAILABLE when that broker
 * is not live. Unknown topics are auto-created
 * when both the request (v4+, AllowAutoTopicCreation) and `auto.create.topics.enable` allow it, with
 * `num.partitions` partitions; the created topic is returned at once (no LEADER_NOT_AVAILABLE round).
 * Invalid names get INVALID_TOPIC_EXCEPTION; unknown topic ids (v10+) UNKNOWN_TOPIC_ID.
 * Version notes: v0 empty topic list = all topics; v1+ null = all, [] = none. Authorized operations are
 * not computed (no ACLs): reported as Kafka's "not requested" value.
 */
import type { MetadataRequest, MetadataResponse, MetadataResponseTopic } from '../../protocol/gen/messages/metadata.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';
import type { Broker } from '../broker.ts';
import type { Topic } from '../topics.ts';
import { createTopic } from '../topic-admin.ts';
import { topicNameError } from '../topic-names.ts';
import { ZERO_UUID } from '../../protocol/uuid.ts';

const AUTHORIZED_OPERATIONS_NOT_REQUESTED = -2147483648;

export const metadata = defineHandler<MetadataRequest, MetadataResponse>({
  key: 3,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 13,
  async handle(ctx, req) {
    const { broker } = ctx;
    const all = req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0);
    const topics: Init<MetadataResponseTopic>[] = [];
    if (all) {
      for (const t of broker.topics.all()) topics.push(describeTopic(broker, t));
    } else {
      const autoCreate = req.allowAutoTopicCreation && broker.config.autoCreateTopicsEnable;
      for (const requested of req.topics!) {
        topics.push(await resolveRequested(broker, requested.name, requested.topicId, autoCreate));
      }
    }
    return {
      throttleTimeMs: 0,
      brokers: broker.liveBrokers().map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
      clusterId: broker.clusterId,
      controllerId: broker.config.nodeId,
      topics,
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
      errorCode: ErrorCode.NONE,
    };
  },
  errorResponse: (_req, errorCode) => ({ errorCode }),
});

async function resolveRequested(broker: Broker, name: string | null, topicId: string, autoCreate: boolean): Promise<Init<MetadataResponseTopic>> {
  if (name === null || name === '') {
    if (topicId === ZERO_UUID) return unknownTopic(name, topicId, ErrorCode.INVALID_REQUEST);
    const byId = broker.topics.getById(topicId);
    return byId ? describeTopic(broker, byId) : unknownTopic(null, topicId, ErrorCode.UNKNOWN_TOPIC_ID);
  }
  const existing = broker.topics.get(name);
  if (existing) return describeTopic(broker, existing);
  if (topicNameError(name)) return unknownTopic(name, ZERO_UUID, ErrorCode.INVALID_TOPIC_EXCEPTION);
  if (!autoCreate) return unknownTopic(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const created = await createTopic(broker, {
    name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: {}, validateOnly: false,
  });
  const topic = created.topic ?? broker.topics.get(name); // another request may have created it meanwhile
  if (topic) return describeTopic(broker, topic);
  return unknownTopic(name, ZERO_UUID, created.errorCode === ErrorCode.INVALID_CONFIG ? ErrorCode.INVALID_CONFIG : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
}

function unknownTopic(name: string | null, topicId: string, errorCode: number): Init<MetadataResponseTopic> {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED };
}

export function describeTopic(broker: Broker, topic: Topic): Init<MetadataResponseTopic> {
  // A classic partition is led by the broker that holds its log; when that broker is not live, it has no leader.
  const leader = topic.diskless ? broker.config.nodeId : broker.classicLeader(topic);
  const live = topic.diskless || broker.liveBrokers().some((b) => b.nodeId === leader);
  const partitions = new Array(topic.partitionCount);
  for (let p = 0; p < topic.partitionCount; p++) {
    partitions[p] = live
      ? { errorCode: ErrorCode.NONE, partitionIndex: p, leaderId: leader, leaderEpoch: 0, replicaNodes: [leader], isrNodes: [leader], offlineReplicas: [] }
      : { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, partitionIndex: p, leaderId: -1, leaderEpoch: 0, replicaNodes: [leader], isrNodes: [], offlineReplicas: [leader] };
  }
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: false,
    partitions,
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
  };
}
