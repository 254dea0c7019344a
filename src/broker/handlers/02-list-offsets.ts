/**
 * ListOffsets (key 2), versions 0-10.
 *
 * Behavior: -2 earliest (log start offset), -1 latest (high watermark; for read_committed the last stable
 * offset: where the first open transaction starts), -3 max timestamp (v7+), -4 earliest-local (v8+, = earliest: no tiered
 * storage, so all data is "local"), -5 latest-tiered (v9+: no tiered storage, so offset -1), and any
 * timestamp >= 0: the first record whose timestamp is >= it — record-granular, reading the batch found by
 * the coordinator (diskless) or by the segment's time index (classic). A classic partition led by another
 * broker gets NOT_LEADER_OR_FOLLOWER.
 * Leader epochs as in Fetch: diskless partitions accept any CurrentLeaderEpoch; a classic partition's is 0,
 * and a newer one gets UNKNOWN_LEADER_EPOCH.
 * Duplicate partitions in one request get INVALID_REQUEST, as in Kafka. A topic or partition not known here
 * (created or grown through another broker a moment ago) is looked up in the coordinator once.
 * v0 (Kafka 3.9 and older; Kafka 4 removed it) answers up to MaxNumOffsets offsets, newest first, as Kafka's
 * legacyFetchOffsetsBefore over the log seen as one segment that started at the log start offset: latest (-1)
 * gives the high watermark then the log start offset (the high watermark alone when the log is empty),
 * earliest (-2) the log start offset, a timestamp at or past now the same as latest, an earlier one the log
 * start offset when the newest record is not newer than it (the segment was last written before it), else
 * nothing.
 */
import type { ListOffsetsRequest, ListOffsetsResponse, ListOffsetsResponseListOffsetsPartitionResponse } from '../../protocol/gen/messages/list-offsets.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { clampToSafeInteger } from '../../protocol/int64.ts';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP, READ_COMMITTED, READ_UNCOMMITTED, type OffsetAnswer, type PartitionLog } from '../../storage/partition-log.ts';
import { defineHandler } from '../handler.ts';
import { isServeError, serveError } from '../partitions.ts';

type PartitionOut = Init<ListOffsetsResponseListOffsetsPartitionResponse>;

const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;

/** v0's offsets (Kafka's legacyFetchOffsetsBefore, the log as one segment): newest first, at most `max`. */
async function legacyOffsets(log: PartitionLog, timestamp: bigint, max: number): Promise<{ errorCode: number; offsets: bigint[] }> {
  const [start, end] = await Promise.all([log.listOffset(EARLIEST_TIMESTAMP), log.listOffset(LATEST_TIMESTAMP)]);
  if (start.errorCode !== ErrorCode.NONE) return { errorCode: start.errorCode, offsets: [] };
  if (end.errorCode !== ErrorCode.NONE) return { errorCode: end.errorCode, offsets: [] };
  // Kafka's array of (offset, time): the segment (start, last write) and, when it holds data, (end, now).
  const all = end.offset > start.offset ? [BigInt(end.offset), BigInt(start.offset)] : [BigInt(start.offset)];
  let from: bigint[];
  if (timestamp === BigInt(LATEST_TIMESTAMP) || timestamp >= BigInt(Date.now())) from = all;
  else if (timestamp === BigInt(EARLIEST_TIMESTAMP)) from = all.slice(-1);
  else if (timestamp < 0n) from = []; // no segment was written before it
  else {
    const newest = await log.listOffset(MAX_TIMESTAMP);
    if (newest.errorCode !== ErrorCode.NONE) return { errorCode: newest.errorCode, offsets: [] };
    from = BigInt(newest.timestamp) <= timestamp ? all.slice(-1) : [];
  }
  return { errorCode: ErrorCode.NONE, offsets: from.slice(0, Math.max(0, max)) };
}

export const listOffsets = defineHandler<ListOffsetsRequest, ListOffsetsResponse>({
  key: 2,
  name: 'ListOffsets',
  minVersion: 0,
  maxVersion: 10,
  async handle(ctx, req) {
    const { topics, partitions } = ctx;
    const answers: Promise<void>[] = [];
    const lookup = topics.ensure(req.topics.map((t) => ({ name: t.name, partitionCount: t.partitions.reduce((n, p) => Math.max(n, p.partitionIndex + 1), 0) })));
    if (lookup) await lookup;
    const responseTopics = req.topics.map((t) => {
      const topic = topics.get(t.name);
      const seen = new Set<number>();
      const outs = t.partitions.map((p) => {
        const out: PartitionOut = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, timestamp: -1n, offset: -1n, leaderEpoch: -1 };
        const duplicate = seen.has(p.partitionIndex);
        seen.add(p.partitionIndex);
        if (duplicate) {
          out.errorCode = ErrorCode.INVALID_REQUEST;
          return out;
        }
        const log = topic ? partitions.serve(topic, p.partitionIndex, p.currentLeaderEpoch) : serveError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        if (ctx.apiVersion === 0) {
          if (isServeError(log)) out.errorCode = log.errorCode;
          else {
            answers.push(legacyOffsets(log, p.timestamp, p.maxNumOffsets).then((a) => {
              out.errorCode = a.errorCode;
              out.oldStyleOffsets = a.offsets;
            }));
          }
          return out;
        }
        // Below -5 is no timestamp Kafka knows; past 2^53 ms (year 287,396) no record can be, so clamping keeps the answer.
        const ts = p.timestamp < BigInt(LATEST_TIERED) ? null : clampToSafeInteger(p.timestamp);
        if (isServeError(log)) out.errorCode = log.errorCode;
        else if (ts === null) out.errorCode = ErrorCode.INVALID_REQUEST;
        else if (ts === LATEST_TIERED) out.leaderEpoch = 0; // no tiered storage: offset -1
        else {
          out.leaderEpoch = 0;
          // No tiered storage, so all data is "local".
          answers.push(log.listOffset(ts === EARLIEST_LOCAL ? EARLIEST_TIMESTAMP : ts, req.isolationLevel === READ_COMMITTED ? READ_COMMITTED : READ_UNCOMMITTED).then((a: OffsetAnswer) => {
            out.errorCode = a.errorCode;
            out.offset = BigInt(a.offset);
            out.timestamp = BigInt(a.timestamp);
          }));
        }
        return out;
      });
      return { name: t.name, partitions: outs };
    });
    await Promise.all(answers);
    return { throttleTimeMs: 0, topics: responseTopics };
  },
  errorResponse: (req, errorCode) => ({
    topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
  }),
});
