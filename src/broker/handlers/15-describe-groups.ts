/**
 * DescribeGroups (key 15), versions 0-6.
 *
 * Behavior: state, protocol type, and members (member id, group.instance.id, client id, client host) of
 * each group. As in Kafka, the selected protocol and the members' metadata and assignments are only filled
 * in while the group is Stable. A group that does not exist is described as Dead with no members (v6+:
 * with GROUP_ID_NOT_FOUND, KIP-1043); so is a KIP-848 consumer group (ConsumerGroupDescribe describes it) or a
 * share group (ShareGroupDescribe),
 * as in Kafka. Authorized operations, when asked, and the ACL checks are filled in by broker/authorization.ts.
 * Version notes: v3+ authorized operations; v4+ group.instance.id of members; v6+ error message.
 */
import type { DescribeGroupsRequest, DescribeGroupsResponse } from '../../protocol/gen/messages/describe-groups.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

const AUTHORIZED_OPERATIONS_NOT_REQUESTED = -2147483648;

export const describeGroups = defineHandler<DescribeGroupsRequest, DescribeGroupsResponse>({
  key: 15,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 6,
  async handle(ctx, req) {
    const { groups } = ctx;
    // Share groups live in the coordinator: one read for the ids no classic group answers for.
    const shareIds = new Set((await ctx.shareGroups.describe(req.groups.filter((g) => g && groups.describe(g) === null))).keys());
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((groupId) => {
        const base = { groupId, protocolType: '', protocolData: '', members: [], authorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED };
        const idError = groups.groupIdError(groupId, true);
        if (idError !== null) return { ...base, errorCode: idError, errorMessage: 'The group id is invalid.', groupState: 'Dead' };
        const placement = groups.placementError(groupId);
        if (placement !== null) return { ...base, errorCode: placement, errorMessage: null, groupState: 'Dead' };
        const g = groups.describe(groupId);
        if (g === null) {
          return ctx.apiVersion >= 6
            ? { ...base, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: groups.isConsumerGroup(groupId) || shareIds.has(groupId) ? `Group ${groupId} is not a classic group.` : `Group ${groupId} not found.`, groupState: 'Dead' }
            : { ...base, errorCode: ErrorCode.NONE, errorMessage: null, groupState: 'Dead' };
        }
        return {
          ...base,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          groupState: g.state,
          protocolType: g.protocolType,
          protocolData: g.protocolData,
          members: g.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.metadata,
            memberAssignment: m.assignment,
          })),
        };
      }),
    };
  },
  errorResponse: (req, errorCode) => ({
    groups: req.groups.map((groupId) => ({ groupId, errorCode, groupState: '', protocolType: '', protocolData: '', members: [] })),
  }),
});
