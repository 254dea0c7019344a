/**
 * ShareGroupDescribe (key 77), version 1 (KIP-932 share groups).
 *
 * Behavior: each share group's state (Empty or Stable: share groups never reconcile), epochs, the assignor
 * ("simple") and its members with their subscriptions and assignments, from the coordinator (any broker
 * answers; members whose session ended are left out). An unknown group, or one of another type, gets
 * GROUP_ID_NOT_FOUND; an empty group id INVALID_GROUP_ID. Authorized operations are filled in by
 * broker/authorization.ts when asked.
 */
import type { ShareGroupDescribeRequest, ShareGroupDescribeResponse } from '../../protocol/gen/messages/share-group-describe.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { shareGroupStateName } from '../../groups/share-group-state.ts';
import { defineHandler } from '../handler.ts';

const AUTHORIZED_OPERATIONS_NOT_REQUESTED = -2147483648;

export const shareGroupDescribe = defineHandler<ShareGroupDescribeRequest, ShareGroupDescribeResponse>({
  key: 77,
  name: 'ShareGroupDescribe',
  minVersion: 1,
  maxVersion: 1,
  async handle(ctx, req) {
    const found = await ctx.shareGroups.describe(req.groupIds);
    const base = { groupState: 'Dead', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [], authorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED };
    return {
      throttleTimeMs: 0,
      groups: req.groupIds.map((groupId) => {
        if (!groupId) return { ...base, groupId, errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: 'The group id is invalid.' };
        const g = found.get(groupId);
        if (!g) {
          const otherKind = ctx.groups.describe(groupId) !== null || ctx.groups.isConsumerGroup(groupId);
          return { ...base, groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: otherKind ? `Group ${groupId} is not a share group.` : `Group ${groupId} not found.` };
        }
        return {
          ...base,
          groupId,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          groupState: shareGroupStateName(g),
          groupEpoch: g.groupEpoch,
          assignmentEpoch: g.assignmentEpoch,
          assignorName: 'simple',
          members: g.members.map((m) => ({
            memberId: m.memberId,
            rackId: m.rackId,
            memberEpoch: m.memberEpoch,
            clientId: m.clientId,
            clientHost: m.clientHost,
            subscribedTopicNames: m.subscribedTopicNames,
            assignment: {
              topicPartitions: Object.entries(m.assignment).map(([topicId, partitions]) => ({ topicId, topicName: ctx.topics.getById(topicId)?.name ?? '', partitions })),
            },
          })),
        };
      }),
    };
  },
  errorResponse: (req, errorCode) => ({
    groups: req.groupIds.map((groupId) => ({ groupId, errorCode, groupState: '', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [] })),
  }),
});
