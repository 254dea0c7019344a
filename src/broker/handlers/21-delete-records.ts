/**
 * DeleteRecords (key 21), versions 0-2.
 *
 * Behavior: moves each partition's log start offset (low watermark) to the given offset; -1 means the high
 * watermark. An offset beyond the high watermark (or below -1) is OFFSET_OUT_OF_RANGE, one below the
 * current log start changes nothing; unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION.
 * Diskless partitions: one coordinator call for all of them; the batches wholly below the new log start are
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
import type { DeleteRecordsRequest as CoordinatorDeleteRecords } from '../../coordinator/coordinator.ts';
import { childLogger } from '../../observability/log.ts';
import { defineHandler } from '../handler.ts';

const log = childLogger('delete-records');

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
    const { broker } = ctx;
    const diskless: CoordinatorDeleteRecords[] = [];
    const disklessOuts: PartitionOut[] = [];
    const classic: Promise<void>[] = [];
    const topics = req.topics.map((t) => {
      const topic = broker.topics.get(t.name);
      return {
        name: t.name,
        partitions: t.partitions.map((p) => {
          const out: PartitionOut = { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: ErrorCode.NONE };
          const offset = Number(p.offset);
          if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) {
            out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          } else if (topic.diskless) {
            diskless.push({ topicId: topic.topicId, partition: p.partitionIndex, offset });
            disklessOuts.push(out);
          } else {
            classic.push(broker.classic.deleteRecords(topic.topicId, p.partitionIndex, offset).then((r) => {
              out.errorCode = r.errorCode;
              out.lowWatermark = BigInt(r.lowWatermark);
            }, (err: unknown) => {
              log.warn({ err, topic: t.name, partition: p.partitionIndex }, 'classic delete records failed');
              out.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
            }));
          }
          return out;
        }),
      };
    });
    if (diskless.length > 0) {
      try {
        const results = await broker.storage.deleteRecords(diskless);
        results.forEach((r, i) => {
          disklessOuts[i]!.errorCode = r.errorCode;
          disklessOuts[i]!.lowWatermark = r.errorCode === ErrorCode.NONE ? BigInt(r.logStartOffset) : -1n;
        });
      } catch (err) {
        log.warn({ err }, 'delete records: coordinator call failed');
        for (const out of disklessOuts) out.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
      }
    }
    await Promise.all(classic);
    return { throttleTimeMs: 0, topics };
  },
  errorResponse: (req, errorCode) => ({
    topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode })) })),
  }),
});
