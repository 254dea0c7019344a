/**
 * DeleteShareGroupOffsets (key 92), version 0 (KIP-932 share groups).
 *
 * Behavior: forgets the share-partition state of every partition of each named topic (they start again
 * per share.auto.offset.reset), in the coordinator. Only while the group has no members (NON_EMPTY_GROUP);
 * an unknown group, or one of another type, gets GROUP_ID_NOT_FOUND; an unknown topic
 * UNKNOWN_TOPIC_OR_PARTITION.
 */
import type { DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse } from '../../protocol/gen/messages/delete-share-group-offsets.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

export const deleteShareGroupOffsets = defineHandler<DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse>({
  key: 92,
  name: 'DeleteShareGroupOffsets',
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, req) {
    const top = (errorCode: number, errorMessage: string) => ({ throttleTimeMs: 0, errorCode, errorMessage, responses: [] });
    if (!req.groupId) return top(ErrorCode.INVALID_GROUP_ID, 'The group id is invalid.');
    const g = (await ctx.shareGroups.describe([req.groupId])).get(req.groupId);
    const offsets = await ctx.shareGroups.offsets(req.groupId);
    if (!g && offsets.length === 0) return top(ErrorCode.GROUP_ID_NOT_FOUND, `Share group ${req.groupId} not found.`);
    if (g && g.members.length > 0) return top(ErrorCode.NON_EMPTY_GROUP, `Share group ${req.groupId} has members: stop them first.`);
    const drop: { topicId: string; partition: number }[] = [];
    const responses = req.topics.map((t) => {
      const topic = ctx.topics.get(t.topicName);
      if (!topic) return { topicName: t.topicName, topicId: '00000000-0000-0000-0000-000000000000', errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null };
      for (const o of offsets) if (o.topicId === topic.topicId) drop.push({ topicId: o.topicId, partition: o.partition });
      return { topicName: t.topicName, topicId: topic.topicId, errorCode: ErrorCode.NONE, errorMessage: null };
    });
    await ctx.shareGroups.deleteOffsets(req.groupId, drop);
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, responses };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, responses: [] }),
});
