/**
 * AddPartitionsToTxn (key 24), versions 0-5.
 *
 * Behavior: adds partitions to the producer's ongoing transaction (starting it, and its timeout, when there
 * is none), before the producer writes to them. The transaction's state is in the batch coordinator
 * (TransactionStore), so any broker serves it. Errors, as Kafka's: a partition that does not exist →
 * UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED; another producer id →
 * INVALID_PRODUCER_ID_MAPPING; an old epoch → PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v2, KIP-588); a
 * transaction being ended → CONCURRENT_TRANSACTIONS (retriable); a coordinator failure →
 * COORDINATOR_NOT_AVAILABLE.
 * Version notes: v0-3 (clients) carry one transaction; v4+ (KIP-890, brokers) batch transactions, each
 * answered on its own, and `verifyOnly` asks whether the partitions are in the transaction without adding
 * them (INVALID_TXN_STATE for those that are not). v3+ flexible.
 */
import type {
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnRequestAddPartitionsToTxnTopic,
  AddPartitionsToTxnResponse,
  AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult,
} from '../../protocol/gen/messages/add-partitions-to-txn.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { toSafeInteger } from '../../protocol/int64.ts';
import { childLogger } from '../../observability/log.ts';
import { defineHandler, type RequestContext } from '../handler.ts';
import { fencedError } from '../transaction-coordinator.ts';

const log = childLogger('add-partitions-to-txn');

type TopicResult = Init<AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult>;

interface TxnAdd {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  verifyOnly: boolean;
  topics: readonly AddPartitionsToTxnRequestAddPartitionsToTxnTopic[];
}

export const addPartitionsToTxn = defineHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse>({
  key: 24,
  name: 'AddPartitionsToTxn',
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, req) {
    if (ctx.apiVersion <= 3) {
      const results = await addToTransaction(ctx, {
        transactionalId: req.v3AndBelowTransactionalId,
        producerId: req.v3AndBelowProducerId,
        producerEpoch: req.v3AndBelowProducerEpoch,
        verifyOnly: false,
        topics: req.v3AndBelowTopics,
      });
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTopicV3AndBelow: results, resultsByTransaction: [] };
    }
    const resultsByTransaction = await Promise.all(req.transactions.map(async (t) => ({ transactionalId: t.transactionalId, topicResults: await addToTransaction(ctx, t) })));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction, resultsByTopicV3AndBelow: [] };
  },
  errorResponse: (req, errorCode) => {
    const topics = (ts: readonly AddPartitionsToTxnRequestAddPartitionsToTxnTopic[]) => ts.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: errorCode })) }));
    return {
      errorCode,
      resultsByTopicV3AndBelow: topics(req.v3AndBelowTopics),
      resultsByTransaction: req.transactions.map((t) => ({ transactionalId: t.transactionalId, topicResults: topics(t.topics) })),
    };
  },
});

async function addToTransaction(ctx: RequestContext, t: TxnAdd): Promise<TopicResult[]> {
  const answer = (code: (topic: string, partition: number) => number) =>
    t.topics.map((tp) => ({ name: tp.name, resultsByPartition: tp.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: code(tp.name, p) })) }));
  const lookup = ctx.topics.ensure(t.topics.map((tp) => ({ name: tp.name, partitionCount: Math.max(0, ...tp.partitions) + 1 })));
  if (lookup) await lookup.catch(() => undefined);
  const keys: { topicId: string; partition: number }[] = [];
  const unknown = new Set<string>();
  for (const tp of t.topics) {
    const topic = ctx.topics.get(tp.name);
    for (const p of tp.partitions) {
      if (!topic || p < 0 || p >= topic.partitionCount) unknown.add(`${tp.name}:${p}`);
      else keys.push({ topicId: topic.topicId, partition: p });
    }
  }
  if (unknown.size > 0) {
    return answer((name, p) => (unknown.has(`${name}:${p}`) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.OPERATION_NOT_ATTEMPTED));
  }
  const producerId = toSafeInteger(t.producerId);
  if (producerId === null) return answer(() => ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  const producer = { transactionalId: t.transactionalId, producerId, producerEpoch: t.producerEpoch };
  try {
    if (t.verifyOnly) {
      const verified = await ctx.transactions.store.verifyPartitions(producer, keys);
      if (typeof verified === 'number') return answer(() => fencedError(verified, ctx.apiVersion, 2));
      let i = 0;
      return answer(() => (verified[i++] ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE));
    }
    const errorCode = await ctx.transactions.store.addPartitions(producer, keys, Date.now());
    return answer(() => fencedError(errorCode, ctx.apiVersion, 2));
  } catch (err) {
    log.warn({ err }, 'add partitions to transaction: coordinator call failed');
    return answer(() => ErrorCode.COORDINATOR_NOT_AVAILABLE);
  }
}
