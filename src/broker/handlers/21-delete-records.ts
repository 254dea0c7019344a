/**
 * DeleteRecords (key 21), versions 0-2.
 *
 * Behavior: moves each partition's log start offset (low watermark) to the given offset; -1 means the high
 * watermark. An offset beyond the high watermark (or below -1) is OFFSET_OUT_OF_RANGE, one below the
 * current log start changes nothing; unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION.
 * Every partition goes through the partition seam. Diskless partitions: one coordinator call for all of them
 * (gathered by storage); the batches wholly below the new log start are
 * dropped (their objects are deleted once no batch uses them), and this broker's batch index cache learns
 * the new log start at once, so fetches below it get OFFSET_OUT_OF_RANGE and ListOffsets earliest returns
 * it. Classic partitions: the local log moves its log start and deletes whole segments below it
 * (NOT_LEADER_OR_FOLLOWER when another broker leads the topic). The response comes after the change is
 * durable; TimeoutMs is not needed for that. A coordinator failure is KAFKA_STORAGE_ERROR (retriable: the
 * change may or may not have happened, and repeating it is harmless).
 * Version notes: v2 is flexible; nothing else changes.
 */
import type { DeleteRecordsRequest, DeleteRecordsResponse } from '../../protocol/gen/messages/delete-records.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { toSafeInteger } from '../../protocol/int64.ts';
import { defineHandler } from '../handler.ts';
import { isServeError, serveError } from '../partitions.ts';

interface PartitionOut {
  partitionIndex: number;
  lowWatermark: bigint;
  errorCode: number;
}

export const deleteRecords = defineHandler<DeleteRecordsRequest, DeleteRecordsResponse>({
  key: 21,
  name: 'DeleteRecords',
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, req) {
    const { topics, partitions } = ctx;
    const answers: Promise<void>[] = [];
    const responseTopics = req.topics.map((t) => {
      const topic = topics.get(t.name);
      return {
        name: t.name,
        partitions: t.partitions.map((p) => {
          const out: PartitionOut = { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: ErrorCode.NONE };
          const log = topic ? partitions.serve(topic, p.partitionIndex) : serveError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          if (isServeError(log)) out.errorCode = log.errorCode;
          // Below -1, or past any high watermark there can be: out of range without asking storage.
          else if (p.offset < -1n || toSafeInteger(p.offset) === null) out.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
          else {
            answers.push(log.deleteRecords(Number(p.offset)).then((r) => {
              out.errorCode = r.errorCode;
              out.lowWatermark = BigInt(r.lowWatermark);
            }));
          }
          return out;
        }),
      };
    });
    await Promise.all(answers);
    return { throttleTimeMs: 0, topics: responseTopics };
  },
  errorResponse: (req, errorCode) => ({
    topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode })) })),
  }),
});
