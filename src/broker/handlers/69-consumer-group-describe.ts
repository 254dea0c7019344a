/**
 * ConsumerGroupDescribe (key 69), versions 0-1.
 *
 * Behavior: each KIP-848 consumer group's state (Empty, Assigning, Reconciling, Stable), group and
 * assignment epochs, assignor, and members with their epochs, subscriptions, current and target
 * assignments. A classic group, or an unknown one, gets GROUP_ID_NOT_FOUND (as Kafka); another broker's
 * group NOT_COORDINATOR. Authorized operations are not computed (no ACLs yet): Kafka's "not requested".
 * Version notes: v1 adds the member type (always 1, consumer: classic members cannot join a consumer
 * group in Floe).
 */
import type { ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse } from '../../protocol/gen/messages/consumer-group-describe.ts';
import { defineHandler } from '../handler.ts';

const AUTHORIZED_OPERATIONS_NOT_REQUESTED = -2147483648;

export const consumerGroupDescribe = defineHandler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse>({
  key: 69,
  name: 'ConsumerGroupDescribe',
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, req) {
    return {
      throttleTimeMs: 0,
      groups: req.groupIds.map((groupId) => ({ ...ctx.groups.describeConsumerGroup(groupId), authorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED })),
    };
  },
  errorResponse: (req, errorCode) => ({
    groups: req.groupIds.map((groupId) => ({ groupId, errorCode, groupState: '', assignorName: '', members: [] })),
  }),
});
