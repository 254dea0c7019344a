/**
 * OffsetCommit (key 8), versions 0-10.
 *
 * Behavior: offsets are stored in the coordinator DB (not in a __consumer_offsets log) with their
 * metadata, leader epoch and commit timestamp, in one transaction per request. Members commit with their
 * generation and member id (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
 * REBALANCE_IN_PROGRESS while the group completes a rebalance); clients without group management commit
 * with generation -1 and no member id, which Kafka allows only while the group has no members (it is
 * created if needed). Per partition: unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION (before
 * the group is looked at), metadata longer than offset.metadata.max.bytes OFFSET_METADATA_TOO_LARGE (when
 * the group accepts the commit); the rest is committed. A group's commits are stored in the order they
 * came (src/groups/group-offsets.ts), so pipelined commits never leave an older offset behind. A share
 * group's id gets GROUP_ID_NOT_FOUND, as Kafka; so does a generation for a group that does not exist from v9
 * (ILLEGAL_GENERATION before).
 * Version notes: v0 (Kafka 3.9 and older) has no generation or member id: a commit without group
 * management, as generation -1; v1 adds them and a commit timestamp per partition, stored as the offset's
 * commit time as Kafka 3.9 did (-1: the coordinator's time): the offsets of a group that commits without group
 * management expire offsets.retention.minutes after it; v2-v4 may carry a retention time (the offset then expires that long after the commit,
 * whatever the group's state); v6+ leader epoch; v7+ group.instance.id; v8 flexible; v9: members of KIP-848
 * consumer groups commit with their member id and member epoch (STALE_MEMBER_EPOCH when it is not their
 * current one; UNSUPPORTED_VERSION below v9, as Kafka). v10 (KIP-848; Kafka 4.1 marks it unstable) names
 * topics by id: an unknown id gets UNKNOWN_TOPIC_ID.
 */
import type { OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponsePartition } from '../../protocol/gen/messages/offset-commit.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { clampToSafeInteger } from '../../protocol/int64.ts';
import type { GroupOffsetCommit } from '../../coordinator/coordinator.ts';
import { defineHandler } from '../handler.ts';
import { namesShareGroup } from '../group-kinds.ts';

type PartitionOut = Init<OffsetCommitResponsePartition> & { errorCode: number };

export const offsetCommit = defineHandler<OffsetCommitRequest, OffsetCommitResponse>({
  key: 8,
  name: 'OffsetCommit',
  minVersion: 0,
  maxVersion: 10,
  async handle(ctx, req) {
    const byId = ctx.apiVersion >= 10;
    const maxMetadata = ctx.groups.options.offsetMetadataMaxBytes;
    const commits: Omit<GroupOffsetCommit, 'expireTimestamp'>[] = [];
    const outs: PartitionOut[] = [];
    const tooLarge: PartitionOut[] = [];
    const topics = req.topics.map((t) => {
      const topic = byId ? ctx.topics.getById(t.topicId) : ctx.topics.get(t.name);
      return {
        name: t.name,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => {
          const out: PartitionOut = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE };
          if (!topic) {
            out.errorCode = byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          } else if (p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) {
            out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          } else if (p.committedMetadata !== null && p.committedMetadata.length > maxMetadata / 3 && Buffer.byteLength(p.committedMetadata) > maxMetadata) {
            tooLarge.push(out); // OFFSET_METADATA_TOO_LARGE unless the group refuses the whole commit
          } else {
            commits.push({
              topicId: topic.topicId,
              partition: p.partitionIndex,
              offset: p.committedOffset,
              leaderEpoch: p.committedLeaderEpoch,
              metadata: p.committedMetadata ?? '',
              // v1's own commit time (-1: now). Clamped to 2^53: expiry adds the retention to it in SQL.
              commitTimestamp: ctx.apiVersion === 1 ? clampToSafeInteger(p.commitTimestamp) : -1,
            });
            outs.push(out);
          }
          return out;
        }),
      };
    });
    if (commits.length > 0 || tooLarge.length > 0) {
      // A share group's id: Kafka's ShareGroup refuses offset commits ("Group X is not a consumer group.").
      const check = namesShareGroup(ctx, req.groupId);
      const share = check === false ? false : await check;
      const result = share !== false ? (share === null ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.GROUP_ID_NOT_FOUND) : await ctx.groups.commitOffsets({
        groupId: req.groupId,
        generationId: req.generationIdOrMemberEpoch,
        memberId: req.memberId,
        groupInstanceId: req.groupInstanceId,
        retentionTimeMs: clampToSafeInteger(req.retentionTimeMs),
        commits,
        apiVersion: ctx.apiVersion,
      });
      outs.forEach((out, i) => (out.errorCode = typeof result === 'number' ? result : result[i]!));
      for (const out of tooLarge) out.errorCode = typeof result === 'number' ? result : ErrorCode.OFFSET_METADATA_TOO_LARGE;
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse: (req, errorCode) => ({
    topics: req.topics.map((t) => ({ name: t.name, topicId: t.topicId, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
  }),
});
