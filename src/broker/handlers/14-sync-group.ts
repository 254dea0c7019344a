/**
 * SyncGroup (key 14), versions 0-5.
 *
 * Behavior: after a rebalance, the leader sends every member's assignment; the coordinator stores the
 * generation (members, subscriptions, assignments: what Kafka writes to __consumer_offsets) in the
 * coordinator DB, then answers each member's SyncGroup with its assignment and the group becomes Stable.
 * Followers wait for the leader's SyncGroup (up to the rebalance timeout, after which members that did not
 * sync are removed). Members the leader left out get an empty assignment; assignments for unknown member
 * ids are ignored. Errors as Kafka: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS (the
 * group is rebalancing again), FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL (v5+ protocol type/name
 * differ), INVALID_GROUP_ID (empty group id), COORDINATOR_NOT_AVAILABLE (the generation could not be
 * stored; the group rebalances).
 * Version notes: v3+ carries group.instance.id; v5+ protocol type and name in request and response.
 */
import type { SyncGroupRequest, SyncGroupResponse } from '../../protocol/gen/messages/sync-group.ts';
import { defineHandler } from '../handler.ts';

export const syncGroup = defineHandler<SyncGroupRequest, SyncGroupResponse>({
  key: 14,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, req) {
    const r = await ctx.groups.sync({
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      protocolType: req.protocolType,
      protocolName: req.protocolName,
      // Copied out of the request frame: assignments live as long as the generation.
      assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
    });
    return { throttleTimeMs: 0, errorCode: r.errorCode, protocolType: r.protocolType, protocolName: r.protocolName, assignment: r.assignment };
  },
  errorResponse: (_req, errorCode) => ({ errorCode }),
});
