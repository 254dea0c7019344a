/**
 * DescribeShareGroupOffsets (key 90), versions 0-1 (KIP-932 share groups, Kafka 4.2).
 *
 * Behavior: each share partition's start offset (SPSO) from the coordinator (any broker answers); all the
 * group's started partitions when no topics are named; a named partition not started yet has start offset
 * -1, an unknown topic UNKNOWN_TOPIC_OR_PARTITION. An unknown group has no partitions (as Kafka, no error).
 * Leader epoch is 0 (STORED_LEADER_EPOCH).
 * Version notes: v1 adds Lag (KIP-1226): the high watermark minus the SPSO minus the records past it already
 * acknowledged or archived; -1 when the partition cannot be read here.
 */
import type { DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse, DescribeShareGroupOffsetsResponsePartition } from '../../protocol/gen/messages/describe-share-group-offsets.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { LATEST_TIMESTAMP, STORED_LEADER_EPOCH } from '../../storage/partition-log.ts';
import { defineHandler } from '../handler.ts';
import { isServeError } from '../partitions.ts';

export const describeShareGroupOffsets = defineHandler<DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse>({
  key: 90,
  name: 'DescribeShareGroupOffsets',
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, req) {
    const groups = [];
    for (const g of req.groups) {
      if (!g.groupId) {
        groups.push({ groupId: g.groupId, topics: [], errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: 'The group id is invalid.' });
        continue;
      }
      const offsets = await ctx.shareGroups.offsets(g.groupId);
      const byKey = new Map(offsets.map((o) => [`${o.topicId}:${o.partition}`, o]));
      const wanted: { name: string; partitions: number[] }[] = g.topics
        ? g.topics.map((t) => ({ name: t.topicName, partitions: t.partitions }))
        : [...new Set(offsets.map((o) => o.topicId))].flatMap((id) => {
          const name = ctx.topics.getById(id)?.name;
          return name === undefined ? [] : [{ name, partitions: offsets.filter((o) => o.topicId === id).map((o) => o.partition).sort((a, b) => a - b) }];
        });
      const topics = [];
      for (const t of wanted) {
        const topic = ctx.topics.get(t.name);
        const partitions: Init<DescribeShareGroupOffsetsResponsePartition>[] = [];
        for (const p of t.partitions) {
          if (!topic || p < 0 || p >= topic.partitionCount) {
            partitions.push({ partitionIndex: p, startOffset: -1n, leaderEpoch: -1, lag: -1n, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null });
            continue;
          }
          const o = byKey.get(`${topic.topicId}:${p}`);
          let lag = -1n;
          if (o && ctx.apiVersion >= 1) {
            const log = ctx.partitions.serve(topic, p, -1);
            if (!isServeError(log)) {
              const end = await log.listOffset(LATEST_TIMESTAMP);
              if (end.errorCode === ErrorCode.NONE) lag = BigInt(Math.max(0, end.offset - o.startOffset - o.done));
            }
          }
          partitions.push({ partitionIndex: p, startOffset: o ? BigInt(o.startOffset) : -1n, leaderEpoch: o ? STORED_LEADER_EPOCH : -1, lag, errorCode: ErrorCode.NONE, errorMessage: null });
        }
        topics.push({ topicName: t.name, topicId: topic?.topicId ?? '00000000-0000-0000-0000-000000000000', partitions });
      }
      groups.push({ groupId: g.groupId, topics, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    return { throttleTimeMs: 0, groups };
  },
  errorResponse: (req, errorCode) => ({ groups: req.groups.map((g) => ({ groupId: g.groupId, topics: [], errorCode })) }),
});
