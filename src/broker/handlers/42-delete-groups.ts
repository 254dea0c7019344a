/**
 * DeleteGroups (key 42), versions 0-2.
 *
 * Behavior: an Empty group is deleted with its committed offsets (from the coordinator DB too); a group
 * with members gets NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND, as in Kafka. A group named twice
 * is answered twice with the same result.
 */
import type { DeleteGroupsRequest, DeleteGroupsResponse } from '../../protocol/gen/messages/delete-groups.ts';
import { defineHandler } from '../handler.ts';

export const deleteGroups = defineHandler<DeleteGroupsRequest, DeleteGroupsResponse>({
  key: 42,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, req) {
    return { throttleTimeMs: 0, results: await ctx.groups.deleteGroups(req.groupsNames) };
  },
  errorResponse: (req, errorCode) => ({ results: req.groupsNames.map((groupId) => ({ groupId, errorCode })) }),
});
