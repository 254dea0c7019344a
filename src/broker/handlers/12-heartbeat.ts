/**
 * Heartbeat (key 12), versions 0-4.
 *
 * Behavior: as Kafka's classic coordinator: a heartbeat of a current member restarts its session timer and
 * answers NONE, or REBALANCE_IN_PROGRESS while the group prepares a rebalance (the member must rejoin).
 * Unknown group or member: UNKNOWN_MEMBER_ID; another generation: ILLEGAL_GENERATION; a static member
 * with an old member id: FENCED_INSTANCE_ID; empty group id: INVALID_GROUP_ID.
 * Version notes: v3+ carries group.instance.id; v4 is flexible.
 */
import type { HeartbeatRequest, HeartbeatResponse } from '../../protocol/gen/messages/heartbeat.ts';
import { defineHandler } from '../handler.ts';

export const heartbeat = defineHandler<HeartbeatRequest, HeartbeatResponse>({
  key: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, req) {
    return { throttleTimeMs: 0, errorCode: ctx.groups.heartbeat(req.groupId, req.memberId, req.groupInstanceId, req.generationId) };
  },
  errorResponse: (_req, errorCode) => ({ errorCode }),
});
