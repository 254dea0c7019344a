/**
 * DescribeTopicPartitions (key 75), version 0.
 *
 * Behavior: Metadata's topic and partition descriptions (leaders, epochs, replicas, ISR: the same as
 * 03-metadata's describeTopic), paged as Kafka pages them: topics in name order (all topics when the list
 * is empty), at most ResponsePartitionLimit partitions per response (capped at 2000, Kafka's
 * max.request.partition.size.limit default), and a NextCursor (topic, partition) to continue from. A
 * cursor naming a topic that is not requested is INVALID_REQUEST. Unknown topics get
 * UNKNOWN_TOPIC_OR_PARTITION and no partitions. Eligible leader replicas are empty (no ELR: no replication).
 * Authorized operations and the ACL checks are filled in by broker/authorization.ts.
 */
import type { DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse } from '../../protocol/gen/messages/describe-topic-partitions.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { ZERO_UUID } from '../../protocol/uuid.ts';
import { defineHandler } from '../handler.ts';
import { describeTopic } from './03-metadata.ts';
import { clientAz } from '../../cluster/routing.ts';

const MAX_PARTITION_LIMIT = 2000;
const AUTHORIZED_OPERATIONS_NOT_REQUESTED = -2147483648;

export const describeTopicPartitions = defineHandler<DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse>({
  key: 75,
  name: 'DescribeTopicPartitions',
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, req) {
    const all = req.topics.length === 0;
    let names = [...new Set(all ? ctx.topics.all().map((t) => t.name) : req.topics.map((t) => t.name))].sort();
    const cursor = req.cursor;
    if (cursor !== null) {
      if (!all && !names.includes(cursor.topicName)) {
        return {
          throttleTimeMs: 0,
          topics: names.map((name) => ({ errorCode: ErrorCode.INVALID_REQUEST, name, topicId: ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED })),
          nextCursor: null,
        };
      }
      names = names.filter((n) => n >= cursor.topicName);
    }
    let remaining = req.responsePartitionLimit > 0 ? Math.min(req.responsePartitionLimit, MAX_PARTITION_LIMIT) : MAX_PARTITION_LIMIT;
    const topics = [];
    let nextCursor: { topicName: string; partitionIndex: number } | null = null;
    for (const name of names) {
      const start = cursor !== null && name === cursor.topicName ? Math.max(0, cursor.partitionIndex) : 0;
      if (remaining === 0) {
        nextCursor = { topicName: name, partitionIndex: start };
        break;
      }
      const topic = ctx.topics.get(name);
      if (!topic) {
        topics.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, topicId: ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED });
        continue;
      }
      const described = describeTopic(ctx, topic, clientAz(ctx.clientId));
      const partitions = (described.partitions ?? []).slice(start, start + remaining);
      remaining -= partitions.length;
      topics.push({
        errorCode: ErrorCode.NONE,
        name,
        topicId: topic.topicId,
        isInternal: false,
        partitions: partitions.map((p) => ({ ...p, eligibleLeaderReplicas: [], lastKnownElr: [] })),
        topicAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
      });
      if (start + partitions.length < topic.partitionCount) {
        nextCursor = { topicName: name, partitionIndex: start + partitions.length };
        break;
      }
    }
    return { throttleTimeMs: 0, topics, nextCursor };
  },
  errorResponse: (req, errorCode) => ({
    topics: req.topics.map((t) => ({ errorCode, name: t.name, topicId: ZERO_UUID, partitions: [] })),
    nextCursor: null,
  }),
});
