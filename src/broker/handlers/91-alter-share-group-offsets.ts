/**
 * AlterShareGroupOffsets (key 91), version 0 (KIP-932 share groups; kafka-share-groups --reset-offsets).
 *
 * Behavior: sets the start offset (SPSO) of each named share partition, forgetting its in-flight records,
 * in the coordinator. Only while the group has no members (NON_EMPTY_GROUP otherwise, as Kafka); a group id
 * of a classic or consumer group gets GROUP_ID_NOT_FOUND. Per partition: unknown topic or partition
 * UNKNOWN_TOPIC_OR_PARTITION, a negative offset INVALID_REQUEST.
 */
import type { AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse } from '../../protocol/gen/messages/alter-share-group-offsets.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { toSafeInteger } from '../../protocol/int64.ts';
import { defineHandler } from '../handler.ts';

export const alterShareGroupOffsets = defineHandler<AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse>({
  key: 91,
  name: 'AlterShareGroupOffsets',
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, req) {
    const top = (errorCode: number, errorMessage: string) => ({ throttleTimeMs: 0, errorCode, errorMessage, responses: [] });
    if (!req.groupId) return top(ErrorCode.INVALID_GROUP_ID, 'The group id is invalid.');
    if (ctx.groups.describe(req.groupId) !== null || ctx.groups.isConsumerGroup(req.groupId)) return top(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a share group.`);
    const g = (await ctx.shareGroups.describe([req.groupId])).get(req.groupId);
    if (g && g.members.length > 0) return top(ErrorCode.NON_EMPTY_GROUP, `Share group ${req.groupId} has members: stop them first.`);
    const changes: { topicId: string; partition: number; startOffset: number }[] = [];
    const responses = req.topics.map((t) => {
      const topic = ctx.topics.get(t.topicName);
      return {
        topicName: t.topicName,
        topicId: topic?.topicId ?? '00000000-0000-0000-0000-000000000000',
        partitions: t.partitions.map((p) => {
          if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null };
          const offset = toSafeInteger(p.startOffset);
          if (offset === null || offset < 0) return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'The start offset must be at least 0' };
          changes.push({ topicId: topic.topicId, partition: p.partitionIndex, startOffset: offset });
          return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null };
        }),
      };
    });
    await ctx.shareGroups.alterOffsets(req.groupId, changes);
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, responses };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, responses: [] }),
});
