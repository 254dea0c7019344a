/**
 * Metadata (key 3), versions 0-13.
 *
 * Behavior: any live broker serves any diskless partition; the leader named to a client is one live broker
 * of the client's zone (`diskless_az=<az>` in client.id; every live broker without one), chosen by
 * rendezvous hashing of the partition, so one partition's producers and consumers meet the same broker
 * cache per zone. Replicas and ISR: the zone's brokers in hash order (leader first). The leader epoch is
 * the membership epoch, which grows whenever the live set (and so possibly the leader) changes. A classic
 * partition is led by the broker recorded when its topic was created (replicas = ISR = [it]);
 * LEADER_NOT_AVAILABLE when that broker is not live. Unknown topics are auto-created
 * when both the request (v4+, AllowAutoTopicCreation) and `auto.create.topics.enable` allow it, with
 * `num.partitions` partitions; the created topic is returned at once (no LEADER_NOT_AVAILABLE round).
 * Invalid names get INVALID_TOPIC_EXCEPTION; unknown topic ids (v10+) UNKNOWN_TOPIC_ID.
 * Version notes: v0 empty topic list = all topics; v1+ null = all, [] = none. Authorized operations (when
 * asked), the topics a principal may not describe and auto-creation without CREATE are handled by
 * broker/authorization.ts.
 */
import type { MetadataRequest, MetadataResponse, MetadataResponsePartition, MetadataResponseTopic } from '../../protocol/gen/messages/metadata.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler, type RequestContext } from '../handler.ts';
import type { Topic } from '../topics.ts';
import { topicNameError } from '../topic-names.ts';
import { ZERO_UUID } from '../../protocol/uuid.ts';
import type { ClusterView } from '../../cluster/cluster-view.ts';
import { clientAz } from '../../cluster/routing.ts';

const AUTHORIZED_OPERATIONS_NOT_REQUESTED = -2147483648;

export const metadata = defineHandler<MetadataRequest, MetadataResponse>({
  key: 3,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 13,
  async handle(ctx, req) {
    const { topics: registry, cluster } = ctx;
    const all = req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0);
    const az = clientAz(ctx.clientId);
    const topics: Init<MetadataResponseTopic>[] = [];
    if (all) {
      for (const t of registry.all()) topics.push(describeTopic(ctx, t, az));
    } else {
      const autoCreate = req.allowAutoTopicCreation && ctx.config.autoCreateTopicsEnable;
      // A topic created through another broker a moment ago may not have reached this one yet: ask once.
      await registry.ensure(req.topics!.map((t) => ({ name: t.name, topicId: t.topicId })));
      for (const requested of req.topics!) {
        topics.push(await resolveRequested(ctx, requested.name, requested.topicId, autoCreate, az));
      }
    }
    return {
      throttleTimeMs: 0,
      brokers: cluster.live().map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
      clusterId: cluster.clusterId,
      controllerId: cluster.controllerId(),
      topics,
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
      errorCode: ErrorCode.NONE,
    };
  },
  // Every requested topic carries the error too: before v13 there is no top-level error code.
  errorResponse: (req, errorCode) => ({
    errorCode,
    topics: (req.topics ?? []).map((t) => unknownTopic(t.name, t.topicId, errorCode)),
  }),
});

async function resolveRequested(ctx: RequestContext, name: string | null, topicId: string, autoCreate: boolean, az: string | null): Promise<Init<MetadataResponseTopic>> {
  if (name === null || name === '') {
    if (topicId === ZERO_UUID) return unknownTopic(name, topicId, ErrorCode.INVALID_REQUEST);
    const byId = ctx.topics.getById(topicId);
    return byId ? describeTopic(ctx, byId, az) : unknownTopic(null, topicId, ErrorCode.UNKNOWN_TOPIC_ID);
  }
  const existing = ctx.topics.get(name);
  if (existing) return describeTopic(ctx, existing, az);
  if (topicNameError(name)) return unknownTopic(name, ZERO_UUID, ErrorCode.INVALID_TOPIC_EXCEPTION);
  if (!autoCreate) return unknownTopic(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const created = await ctx.admin.createTopic({
    name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: {}, validateOnly: false,
  });
  const topic = created.topic ?? ctx.topics.get(name); // another request may have created it meanwhile
  if (topic) return describeTopic(ctx, topic, az);
  return unknownTopic(name, ZERO_UUID, created.errorCode === ErrorCode.INVALID_CONFIG ? ErrorCode.INVALID_CONFIG : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
}

function unknownTopic(name: string | null, topicId: string, errorCode: number): Init<MetadataResponseTopic> {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED };
}

export function describeTopic(ctx: Pick<RequestContext, 'cluster'>, topic: Topic, az: string | null): Init<MetadataResponseTopic> {
  const partitions = topic.diskless ? disklessPartitions(ctx.cluster, topic, az) : classicPartitions(ctx.cluster, topic);
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: false,
    partitions,
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
  };
}

function disklessPartitions(cluster: ClusterView, topic: Topic, az: string | null): Init<MetadataResponsePartition>[] {
  const leaderEpoch = cluster.epoch;
  const partitions = new Array<Init<MetadataResponsePartition>>(topic.partitionCount);
  for (let p = 0; p < topic.partitionCount; p++) {
    const replicas = cluster.disklessReplicas(az, topic.topicId, p).map((b) => b.nodeId);
    partitions[p] = { errorCode: ErrorCode.NONE, partitionIndex: p, leaderId: replicas[0]!, leaderEpoch, replicaNodes: replicas, isrNodes: replicas, offlineReplicas: [] };
  }
  return partitions;
}

/** A classic partition is led by the broker that holds its log; when that broker is not live, it has no leader. */
function classicPartitions(cluster: ClusterView, topic: Topic): Init<MetadataResponsePartition>[] {
  const leader = cluster.classicLeader(topic);
  const live = cluster.isLive(leader);
  const partitions = new Array<Init<MetadataResponsePartition>>(topic.partitionCount);
  for (let p = 0; p < topic.partitionCount; p++) {
    partitions[p] = live
      ? { errorCode: ErrorCode.NONE, partitionIndex: p, leaderId: leader, leaderEpoch: 0, replicaNodes: [leader], isrNodes: [leader], offlineReplicas: [] }
      : { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, partitionIndex: p, leaderId: -1, leaderEpoch: 0, replicaNodes: [leader], isrNodes: [], offlineReplicas: [leader] };
  }
  return partitions;
}
