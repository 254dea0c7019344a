/**
 * ListOffsets (key 2), versions 1-10.
 *
 * Behavior: -2 earliest (log start offset), -1 latest (high watermark; also for read_committed, as
 * LSO = HWM without transactions), -3 max timestamp (v7+), -4 earliest-local (v8+, = earliest: no tiered
 * storage, so all data is "local"), -5 latest-tiered (v9+: no tiered storage, so offset -1), and any
 * timestamp >= 0: the first record whose timestamp is >= it — record-granular, reading the batch found by
 * the coordinator (diskless) or by the segment's time index (classic). A classic partition led by another
 * broker gets NOT_LEADER_OR_FOLLOWER.
 * Leader epochs as in Fetch: diskless partitions accept any CurrentLeaderEpoch; a classic partition's is 0,
 * and a newer one gets UNKNOWN_LEADER_EPOCH.
 * Duplicate partitions in one request get INVALID_REQUEST, as in Kafka. A topic or partition not known here
 * (created or grown through another broker a moment ago) is looked up in the coordinator once.
 */
import type { ListOffsetsRequest, ListOffsetsResponse, ListOffsetsResponseListOffsetsPartitionResponse } from '../../protocol/gen/messages/list-offsets.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import type { ListOffsetsRequest as OffsetQuery } from '../../coordinator/coordinator.ts';
import { defineHandler } from '../handler.ts';

type PartitionOut = Init<ListOffsetsResponseListOffsetsPartitionResponse>;

const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;

export const listOffsets = defineHandler<ListOffsetsRequest, ListOffsetsResponse>({
  key: 2,
  name: 'ListOffsets',
  minVersion: 1,
  maxVersion: 10,
  async handle(ctx, req) {
    const { broker } = ctx;
    const queries: OffsetQuery[] = [];
    const queryOuts: PartitionOut[] = [];
    const classicQueries: { query: OffsetQuery; out: PartitionOut }[] = [];
    const lookup = broker.topics.ensure(req.topics.map((t) => ({ name: t.name, partitionCount: t.partitions.reduce((n, p) => Math.max(n, p.partitionIndex + 1), 0) })));
    if (lookup) await lookup;
    const topics = req.topics.map((t) => {
      const topic = broker.topics.get(t.name);
      const seen = new Set<number>();
      const partitions = t.partitions.map((p) => {
        const out: PartitionOut = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, timestamp: -1n, offset: -1n, leaderEpoch: -1 };
        let ts = Number(p.timestamp);
        const duplicate = seen.has(p.partitionIndex);
        seen.add(p.partitionIndex);
        if (duplicate) out.errorCode = ErrorCode.INVALID_REQUEST;
        else if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (broker.leaderEpochError(topic.diskless, p.currentLeaderEpoch) !== ErrorCode.NONE) out.errorCode = ErrorCode.UNKNOWN_LEADER_EPOCH;
        else if (ts < LATEST_TIERED) out.errorCode = ErrorCode.INVALID_REQUEST;
        else if (ts === LATEST_TIERED) out.leaderEpoch = 0;
        else if (!topic.diskless && broker.classicLeader(topic) !== broker.config.nodeId) out.errorCode = ErrorCode.NOT_LEADER_OR_FOLLOWER;
        else {
          if (ts === EARLIEST_LOCAL) ts = -2;
          out.leaderEpoch = 0;
          const query = { topicId: topic.topicId, partition: p.partitionIndex, timestamp: ts };
          if (!topic.diskless) {
            classicQueries.push({ query, out });
          } else {
            queries.push(query);
            queryOuts.push(out);
          }
        }
        return out;
      });
      return { name: t.name, partitions };
    });
    const [answers, classicAnswers] = await Promise.all([
      queries.length > 0 ? broker.storage.listOffsets(queries) : Promise.resolve([]),
      Promise.all(classicQueries.map(({ query: q }) => broker.classic.listOffset(q.topicId, q.partition, q.timestamp))),
    ]);
    const outs = queryOuts.concat(classicQueries.map((c) => c.out));
    const all = answers.concat(classicAnswers);
    for (let i = 0; i < all.length; i++) {
      const out = outs[i]!;
      const a = all[i]!;
      out.errorCode = a.errorCode;
      out.offset = BigInt(a.offset);
      out.timestamp = BigInt(a.timestamp);
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse: (req, errorCode) => ({
    topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
  }),
});
