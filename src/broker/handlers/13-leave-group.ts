/**
 * LeaveGroup (key 13), versions 0-5.
 *
 * Behavior: each leaving member is removed and the group rebalances (or completes the rebalance in
 * progress). A member id of "" with a group.instance.id removes that static member (administrative
 * removal, v3+). Unknown members get UNKNOWN_MEMBER_ID, a static member named with an old member id
 * FENCED_INSTANCE_ID; an unknown group answers UNKNOWN_MEMBER_ID for every member; an empty group id is
 * INVALID_GROUP_ID for the whole request.
 * Version notes: v0-v2 name one member (MemberId) and have only the top-level error, which is the
 * member's; v3+ batch members with per-member errors; v5+ carry a reason per member (logged).
 */
import type { LeaveGroupRequest, LeaveGroupResponse } from '../../protocol/gen/messages/leave-group.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

export const leaveGroup = defineHandler<LeaveGroupRequest, LeaveGroupResponse>({
  key: 13,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, req) {
    const leaving = ctx.apiVersion >= 3 ? req.members : [{ memberId: req.memberId, groupInstanceId: null, reason: null }];
    const r = await ctx.groups.leave(req.groupId, leaving);
    if (ctx.apiVersion < 3) {
      return { throttleTimeMs: 0, errorCode: r.errorCode !== ErrorCode.NONE ? r.errorCode : (r.members[0]?.errorCode ?? ErrorCode.NONE) };
    }
    return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, members: [] }),
});
