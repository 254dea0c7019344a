/**
 * ConsumerGroupHeartbeat (key 68), versions 0-1: the KIP-848 consumer group protocol
 * (`group.protocol=consumer`).
 *
 * Behavior: as Kafka 4.1's group coordinator (src/groups/consumer-group-protocol.ts): members join with
 * epoch 0, heartbeat with their epoch, leave with -1 (static members with -2); the server-side assignor
 * (`uniform` or `range`, group.consumer.assignors) computes the target assignment and each member
 * reconciles towards it, revoking before anything is reassigned. The group's state is in the coordinator
 * DB before the answer is sent, so another broker can take the group over. Regexes are matched as
 * anchored JavaScript RegExps (RE2/J syntax; constructs one engine lacks are refused). A classic group with
 * members or a share group of that id gets GROUP_ID_NOT_FOUND "Group X is not a consumer group." (a joining
 * member may upgrade a classic group online), an unknown one with an epoch "Consumer group X not found.".
 * Version notes: v0 lets the coordinator pick the member id of a joining member; from v1 the client
 * generates it (an empty one is INVALID_REQUEST) and may subscribe by regex (SubscribedTopicRegex).
 */
import type { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse } from '../../protocol/gen/messages/consumer-group-heartbeat.ts';
import { clientHost } from '../../groups/group-coordinator.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';
import { namesShareGroup } from '../group-kinds.ts';

export const consumerGroupHeartbeat = defineHandler<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse>({
  key: 68,
  name: 'ConsumerGroupHeartbeat',
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, req) {
    const check = namesShareGroup(ctx, req.groupId);
    const share = check === false ? false : await check;
    if (share !== false) {
      return share === null
        ? { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null, memberId: null, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null }
        : { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${req.groupId} is not a consumer group.`, memberId: null, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null };
    }
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
