/**
 * ConsumerGroupHeartbeat (key 68), versions 0-1: the KIP-848 consumer group protocol
 * (`group.protocol=consumer`).
 *
 * Behavior: as Kafka 4.1's group coordinator (src/groups/consumer-group-protocol.ts): members join with
 * epoch 0, heartbeat with their epoch, leave with -1 (static members with -2); the server-side assignor
 * (`uniform` or `range`, group.consumer.assignors) computes the target assignment and each member
 * reconciles towards it, revoking before anything is reassigned. The group's state is in the coordinator
 * DB before the answer is sent, so another broker can take the group over. Regexes are matched as
 * anchored JavaScript RegExps (RE2/J syntax; constructs one engine lacks are refused).
 * Version notes: v0 lets the coordinator pick the member id of a joining member; from v1 the client
 * generates it (an empty one is INVALID_REQUEST) and may subscribe by regex (SubscribedTopicRegex).
 */
import type { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse } from '../../protocol/gen/messages/consumer-group-heartbeat.ts';
import { clientHost } from '../../groups/group-coordinator.ts';
import { defineHandler } from '../handler.ts';

export const consumerGroupHeartbeat = defineHandler<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse>({
  key: 68,
  name: 'ConsumerGroupHeartbeat',
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, req) {
    const r = await ctx.groups.consumerHeartbeat({
      groupId: req.groupId,
      memberId: req.memberId,
      memberEpoch: req.memberEpoch,
      instanceId: req.instanceId,
      rackId: req.rackId,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      subscribedTopicNames: req.subscribedTopicNames,
      subscribedTopicRegex: req.subscribedTopicRegex,
      serverAssignor: req.serverAssignor,
      topicPartitions: req.topicPartitions,
      clientId: ctx.clientId ?? '',
      clientHost: clientHost(ctx.conn.remoteAddress),
      apiVersion: ctx.apiVersion,
    });
    return {
      throttleTimeMs: 0,
      errorCode: r.errorCode,
      errorMessage: r.errorMessage,
      memberId: r.memberId,
      memberEpoch: r.memberEpoch,
      heartbeatIntervalMs: r.heartbeatIntervalMs,
      assignment: r.assignment === null ? null : { topicPartitions: r.assignment },
    };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, memberEpoch: -1 }),
});
