/**
 * ShareGroupHeartbeat (key 76), version 1 (KIP-932 share groups, Kafka 4.2).
 *
 * Behavior: as Kafka's group coordinator (src/groups/share-group-state.ts): a member joins with epoch 0
 * and the member id it generated (empty or longer than 36: INVALID_REQUEST, as are missing subscriptions with
 * epoch 0 and an empty rack id), heartbeats with the epoch it was given or the one before (whose answer may
 * have been lost; UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH otherwise; GROUP_ID_NOT_FOUND for no group), and
 * leaves with -1 (what it holds is released at once); group.share.session.timeout.ms removes a silent member, group.share.max.size bounds the
 * group. The broker assigns partitions (Kafka's simple assignor's outcome: a topic's partitions spread over
 * its subscribers, every subscriber of a topic with fewer partitions than subscribers gets one). Any
 * broker answers: the group's state is read and written under its row lock in the coordinator. A group id
 * used by a classic or consumer group gets GROUP_ID_NOT_FOUND ("not a share group"), as in Kafka, whichever
 * broker coordinates that group (a joining member's heartbeat looks for it in the coordinator DB).
 */
import type { ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse } from '../../protocol/gen/messages/share-group-heartbeat.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { clientHost } from '../../groups/group-coordinator.ts';
import { defineHandler } from '../handler.ts';

export const shareGroupHeartbeat = defineHandler<ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse>({
  key: 76,
  name: 'ShareGroupHeartbeat',
  minVersion: 1,
  maxVersion: 1,
  async handle(ctx, req) {
    const interval = ctx.shareGroups.options.heartbeatIntervalMs;
    const fail = (errorCode: number, errorMessage: string) => ({ throttleTimeMs: 0, errorCode, errorMessage, memberId: req.memberId, memberEpoch: -1, heartbeatIntervalMs: interval, assignment: null });
    if (!req.groupId) return fail(ErrorCode.INVALID_REQUEST, 'GroupId can\'t be empty.');
    if (!req.memberId) return fail(ErrorCode.INVALID_REQUEST, 'MemberId can\'t be empty.');
    if (req.memberId.length > 36) return fail(ErrorCode.INVALID_REQUEST, 'Invalid member id in the request.');
    if (req.rackId === '') return fail(ErrorCode.INVALID_REQUEST, 'RackId can\'t be empty.');
    // A classic or consumer group's id, here or (checked in the coordinator DB when a member joins) wherever it is coordinated.
    const clash = ctx.groups.hasGroup(req.groupId) || (req.memberEpoch === 0 && await ctx.groups.existsInCluster(req.groupId).catch(() => null));
    if (clash === null) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'The coordinator is not available.');
    if (clash) return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a share group.`);
    const r = await ctx.shareGroups.heartbeat({
      groupId: req.groupId,
      memberId: req.memberId,
      memberEpoch: req.memberEpoch,
      rackId: req.rackId,
      subscribedTopicNames: req.subscribedTopicNames,
      clientId: ctx.clientId ?? '',
      clientHost: clientHost(ctx.conn.remoteAddress),
    });
    if (r.error !== null) return fail(ErrorCode[r.error], r.errorMessage ?? '');
    // As Kafka: a member that leaves gives back the records it holds at once.
    if (req.memberEpoch === -1) await ctx.shareGroups.memberLeft(req.groupId, req.memberId);
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: req.memberId,
      memberEpoch: r.memberEpoch,
      heartbeatIntervalMs: interval,
      assignment: r.assignment === null ? null : { topicPartitions: Object.entries(r.assignment).map(([topicId, partitions]) => ({ topicId, partitions })) },
    };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, memberEpoch: -1 }),
});
