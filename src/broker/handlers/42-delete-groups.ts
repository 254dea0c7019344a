/**
 * DeleteGroups (key 42), versions 0-2.
 *
 * Behavior: an Empty group is deleted with its committed offsets (from the coordinator DB too); a group
 * with members gets NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND, as in Kafka. A group named twice
 * is answered twice with the same result. A share group (KIP-932) with no members is deleted with its
 * share-partition state; one with members gets NON_EMPTY_GROUP.
 */
import type { DeleteGroupsRequest, DeleteGroupsResponse } from '../../protocol/gen/messages/delete-groups.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

export const deleteGroups = defineHandler<DeleteGroupsRequest, DeleteGroupsResponse>({
  key: 42,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, req) {
    const shares = await ctx.shareGroups.describe(req.groupsNames.filter((g) => g));
    if (shares.size === 0) return { throttleTimeMs: 0, results: await ctx.groups.deleteGroups(req.groupsNames) };
    const others = await ctx.groups.deleteGroups(req.groupsNames.filter((g) => !shares.has(g)));
    const results = [];
    for (const groupId of req.groupsNames) {
      const share = shares.get(groupId);
      if (!share) {
        results.push(others.find((r) => r.groupId === groupId)!);
        continue;
      }
      if (share.members.length > 0) {
        results.push({ groupId, errorCode: ErrorCode.NON_EMPTY_GROUP });
        continue;
      }
      await ctx.shareGroups.deleteGroup(groupId);
      results.push({ groupId, errorCode: ErrorCode.NONE });
    }
    return { throttleTimeMs: 0, results };
  },
  errorResponse: (req, errorCode) => ({ results: req.groupsNames.map((groupId) => ({ groupId, errorCode })) }),
});
