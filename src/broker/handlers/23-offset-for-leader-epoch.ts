/**
 * OffsetForLeaderEpoch (key 23), versions 0-4.
 *
 * Behavior: for each partition, the end offset of the largest leader epoch <= the one asked (KIP-320: a
 * consumer validates its position after its metadata's leader epoch changed, and detects truncation when
 * the end offset is below its position). Every stored batch of both kinds carries leader epoch 0 (no leader
 * change is recorded: any broker serves a diskless partition, a classic one has a single replica), so an
 * epoch >= 0 ends at the high watermark with leader epoch 0, and an epoch < 0 is unknown (-1, -1), as Kafka
 * answers UNDEFINED_EPOCH. The request's CurrentLeaderEpoch is checked as in Fetch (any for diskless; 0 for
 * classic, newer → UNKNOWN_LEADER_EPOCH); a classic partition led elsewhere gets NOT_LEADER_OR_FOLLOWER,
 * unknown topics and partitions UNKNOWN_TOPIC_OR_PARTITION. ReplicaId (v3+) is read and not used: Floe has
 * no followers.
 * Version notes: v0-1 (Kafka 3.9 and older; Kafka 4 removed them) have no CurrentLeaderEpoch, v0 answers
 * no leader epoch; v4 is flexible.
 */
import type { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, OffsetForLeaderEpochResponseEpochEndOffset } from '../../protocol/gen/messages/offset-for-leader-epoch.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';
import { isServeError, serveError } from '../partitions.ts';

type PartitionOut = Init<OffsetForLeaderEpochResponseEpochEndOffset>;

export const offsetForLeaderEpoch = defineHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>({
  key: 23,
  name: 'OffsetForLeaderEpoch',
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, req) {
    const { topics, partitions } = ctx;
    const answers: Promise<void>[] = [];
    const lookup = topics.ensure(req.topics.map((t) => ({ name: t.topic, partitionCount: t.partitions.reduce((n, p) => Math.max(n, p.partition + 1), 0) })));
    if (lookup) await lookup;
    const responseTopics = req.topics.map((t) => {
      const topic = topics.get(t.topic);
      return {
        topic: t.topic,
        partitions: t.partitions.map((p) => {
          const out: PartitionOut = { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: -1, endOffset: -1n };
          const log = topic ? partitions.serve(topic, p.partition, p.currentLeaderEpoch) : serveError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          if (isServeError(log)) {
            out.errorCode = log.errorCode;
            return out;
          }
          answers.push(log.endOffsetForEpoch(p.leaderEpoch).then((r) => {
            out.errorCode = r.errorCode;
            out.leaderEpoch = r.leaderEpoch;
            out.endOffset = BigInt(r.endOffset);
          }));
          return out;
        }),
      };
    });
    await Promise.all(answers);
    return { throttleTimeMs: 0, topics: responseTopics };
  },
  errorResponse: (req, errorCode) => ({
    topics: req.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ errorCode, partition: p.partition, leaderEpoch: -1, endOffset: -1n })) })),
  }),
});
