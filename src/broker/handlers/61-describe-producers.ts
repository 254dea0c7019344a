/**
 * DescribeProducers (key 61), version 0.
 *
 * Behavior: per partition, the idempotent and transactional producers with state there (Kafka's
 * kafka-transactions.sh describe-producers): producer id and epoch, the last sequence written, when, and the
 * first offset of the producer's open transaction in the partition (-1 when none). Diskless partitions
 * answer from the coordinator's producer state (any broker); classic ones from their log's, on their leader
 * (elsewhere NOT_LEADER_OR_FOLLOWER). Unknown topics or partitions → UNKNOWN_TOPIC_OR_PARTITION.
 * CoordinatorEpoch is -1: markers carry no coordinator epoch here (the coordinator is the database).
 */
import type { DescribeProducersRequest, DescribeProducersResponse } from '../../protocol/gen/messages/describe-producers.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { toKafkaError } from '../../storage/storage-error.ts';
import { defineHandler } from '../handler.ts';
import { isServeError } from '../partitions.ts';

export const describeProducers = defineHandler<DescribeProducersRequest, DescribeProducersResponse>({
  key: 61,
  name: 'DescribeProducers',
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, req) {
    const lookup = ctx.topics.ensure(req.topics.map((t) => ({ name: t.name, partitionCount: Math.max(0, ...t.partitionIndexes) + 1 })));
    if (lookup) await lookup.catch(() => undefined);
    const topics = await Promise.all(req.topics.map(async (t) => {
      const topic = ctx.topics.get(t.name);
      const partitions = await Promise.all(t.partitionIndexes.map(async (partitionIndex) => {
        const out = { partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null as string | null, activeProducers: [] as DescribeProducersResponse['topics'][number]['partitions'][number]['activeProducers'] };
        if (!topic) return { ...out, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        const log = ctx.partitions.serve(topic, partitionIndex);
        if (isServeError(log)) return { ...out, errorCode: log.errorCode, errorMessage: log.errorMessage };
        try {
          out.activeProducers = (await log.activeProducers()).map((p) => ({
            producerId: BigInt(p.producerId),
            producerEpoch: p.producerEpoch,
            lastSequence: p.lastSequence,
            lastTimestamp: BigInt(p.lastTimestamp),
            coordinatorEpoch: -1,
            currentTxnStartOffset: BigInt(p.currentTxnStartOffset),
          }));
        } catch (err) {
          return { ...out, errorCode: toKafkaError('coordinator', err).errorCode };
        }
        return out;
      }));
      return { name: t.name, partitions };
    }));
    return { throttleTimeMs: 0, topics };
  },
  errorResponse: (req, errorCode) => ({
    topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode, errorMessage: null, activeProducers: [] })) })),
  }),
});
