/**
 * OffsetDelete (key 47), version 0.
 *
 * Behavior: deletes committed offsets of a group, as Kafka: an unknown group is GROUP_ID_NOT_FOUND; in a
 * consumer group with members, partitions of topics the members subscribe to are refused with
 * GROUP_SUBSCRIBED_TO_TOPIC (the others are deleted); a non-empty group of another protocol type is
 * NON_EMPTY_GROUP. An empty group that loses its last offsets is deleted. Unknown topics or partitions
 * get UNKNOWN_TOPIC_OR_PARTITION, even when the group has an error. An empty group id is INVALID_GROUP_ID.
 */
import type { OffsetDeleteRequest, OffsetDeleteResponse } from '../../protocol/gen/messages/offset-delete.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';
import type { DeleteOffsetsTarget } from '../../groups/group-coordinator.ts';

export const offsetDelete = defineHandler<OffsetDeleteRequest, OffsetDeleteResponse>({
  key: 47,
  name: 'OffsetDelete',
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, req) {
    const targets: DeleteOffsetsTarget[] = [];
    const outs: { partitionIndex: number; errorCode: number }[] = [];
    const topics = req.topics.map((t) => {
      const topic = ctx.topics.get(t.name);
      return {
        name: t.name,
        partitions: t.partitions.map((p) => {
          const out = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE as number };
          if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          else {
            targets.push({ topicId: topic.topicId, topicName: topic.name, partition: p.partitionIndex });
            outs.push(out);
          }
          return out;
        }),
      };
    });
    const result = await ctx.groups.deleteOffsets(req.groupId, targets);
    if (typeof result === 'number') {
      // A group error: only the partitions refused before the group was looked at are listed.
      const unknown = topics
        .map((t) => ({ name: t.name, partitions: t.partitions.filter((p) => p.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) }))
        .filter((t) => t.partitions.length > 0);
      return { errorCode: result, throttleTimeMs: 0, topics: unknown };
    }
    outs.forEach((out, i) => (out.errorCode = result[i]!));
    return { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, topics: [] }),
});
