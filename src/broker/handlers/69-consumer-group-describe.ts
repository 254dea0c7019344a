/**
 * ConsumerGroupDescribe (key 69), versions 0-1.
 *
 * Behavior: each KIP-848 consumer group's state (Empty, Assigning, Reconciling, Stable), group and
 * assignment epochs, assignor, and members with their epochs, subscriptions, current and target
 * assignments. A classic or share group, or an unknown one, gets GROUP_ID_NOT_FOUND ("Group X is not a
 * consumer group." / "Group X not found.", as Kafka); another broker's group NOT_COORDINATOR.
 * Authorized operations are not computed (no ACLs yet): Kafka's "not requested".
 * Version notes: v1 adds the member type (KIP-1099: 1 a consumer-protocol member, 0 a classic member of
 * the consumer group).
 */
import type { ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse } from '../../protocol/gen/messages/consumer-group-describe.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

const AUTHORIZED_OPERATIONS_NOT_REQUESTED = -2147483648;

export const consumerGroupDescribe = defineHandler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse>({
  key: 69,
  name: 'ConsumerGroupDescribe',
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, req) {
    const groups = req.groupIds.map((groupId) => ({ ...ctx.groups.describeConsumerGroup(groupId), authorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED }));
    // Share groups live in the coordinator DB: one read for the ids found nowhere here.
    const unknown = groups.filter((g) => g.errorCode === ErrorCode.GROUP_ID_NOT_FOUND && !ctx.groups.hasGroup(g.groupId)).map((g) => g.groupId);
    if (unknown.length > 0) {
      const shares = await ctx.shareGroups.describe(unknown).catch(() => new Map());
      for (const g of groups) if (unknown.includes(g.groupId) && shares.has(g.groupId)) g.errorMessage = `Group ${g.groupId} is not a consumer group.`;
    }
    return { throttleTimeMs: 0, groups };
  },
  errorResponse: (req, errorCode) => ({
    groups: req.groupIds.map((groupId) => ({ groupId, errorCode, groupState: '', assignorName: '', members: [] })),
  }),
});
