/**
 * DescribeTransactions (key 65), version 0.
 *
 * Behavior: each transactional id's state as Kafka names it (Empty, Ongoing, PrepareCommit, PrepareAbort,
 * CompleteCommit, CompleteAbort), its producer id and epoch, timeout, the start of the ongoing transaction (-1
 * when none) and the partitions in it (those still waiting for a marker once it is being ended). An unknown id
 * → TRANSACTIONAL_ID_NOT_FOUND; a coordinator failure → COORDINATOR_NOT_AVAILABLE for every id.
 */
import type { DescribeTransactionsRequest, DescribeTransactionsResponse } from '../../protocol/gen/messages/describe-transactions.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';
import { kafkaTxnState } from '../transaction-coordinator.ts';

export const describeTransactions = defineHandler<DescribeTransactionsRequest, DescribeTransactionsResponse>({
  key: 65,
  name: 'DescribeTransactions',
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, req) {
    let described;
    try {
      described = await ctx.transactions.store.describe(req.transactionalIds);
    } catch {
      return { throttleTimeMs: 0, ...failed(req, ErrorCode.COORDINATOR_NOT_AVAILABLE) };
    }
    return {
      throttleTimeMs: 0,
      transactionStates: req.transactionalIds.map((id, i) => {
        const d = described[i];
        if (!d) return { errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, transactionalId: id, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1n, producerId: -1n, producerEpoch: -1, topics: [] };
        const byTopic = new Map<string, number[]>();
        for (const p of d.partitions) {
          const name = ctx.topics.getById(p.topicId)?.name;
          if (name !== undefined) byTopic.set(name, [...(byTopic.get(name) ?? []), p.partition]);
        }
        return {
          errorCode: ErrorCode.NONE,
          transactionalId: id,
          transactionState: kafkaTxnState(d.state),
          transactionTimeoutMs: d.timeoutMs,
          transactionStartTimeMs: BigInt(d.startedAt),
          producerId: BigInt(d.producerId),
          producerEpoch: d.producerEpoch,
          topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
        };
      }),
    };
  },
  errorResponse: (req, errorCode) => failed(req, errorCode),
});

function failed(req: DescribeTransactionsRequest, errorCode: number) {
  return {
    transactionStates: req.transactionalIds.map((id) => ({ errorCode, transactionalId: id, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1n, producerId: -1n, producerEpoch: -1, topics: [] })),
  };
}
