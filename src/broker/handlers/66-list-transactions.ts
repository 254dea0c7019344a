/**
 * ListTransactions (key 66), versions 0-2.
 *
 * Behavior: the transactional ids of the whole cluster (their state is in the batch coordinator, so every
 * broker answers for all of them), filtered by state (Kafka's names; unknown names are echoed in
 * UnknownStateFilters and match nothing), by producer id, by how long the ongoing transaction has run (v1,
 * DurationFilter ms; -1 none) and by a regular expression on the id (v2). A coordinator failure →
 * COORDINATOR_NOT_AVAILABLE; an invalid pattern → INVALID_REGULAR_EXPRESSION.
 */
import type { ListTransactionsRequest, ListTransactionsResponse } from '../../protocol/gen/messages/list-transactions.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import type { TxnState } from '../../coordinator/transaction-store.ts';
import { defineHandler } from '../handler.ts';
import { kafkaTxnState, TXN_STATE_BY_KAFKA_NAME } from '../transaction-coordinator.ts';

export const listTransactions = defineHandler<ListTransactionsRequest, ListTransactionsResponse>({
  key: 66,
  name: 'ListTransactions',
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, req) {
    const unknownStateFilters: string[] = [];
    const states: TxnState[] = [];
    for (const name of req.stateFilters) {
      const state = TXN_STATE_BY_KAFKA_NAME.get(name);
      if (state) states.push(state);
      else unknownStateFilters.push(name);
    }
    const reply = (errorCode: number, transactionStates: ListTransactionsResponse['transactionStates'] = []) => ({ throttleTimeMs: 0, errorCode, unknownStateFilters, transactionStates });
    // Only unknown states asked for: nothing matches.
    if (req.stateFilters.length > 0 && states.length === 0) return reply(ErrorCode.NONE);
    const pattern = ctx.apiVersion >= 2 && req.transactionalIdPattern ? req.transactionalIdPattern : null;
    if (pattern !== null) {
      try {
        new RegExp(pattern);
      } catch {
        return reply(ErrorCode.INVALID_REGULAR_EXPRESSION);
      }
    }
    const producerIds = req.producerIdFilters.filter((id) => id >= 0n && id <= BigInt(Number.MAX_SAFE_INTEGER)).map(Number);
    if (req.producerIdFilters.length > 0 && producerIds.length === 0) return reply(ErrorCode.NONE);
    let listed;
    try {
      const minDuration = ctx.apiVersion >= 1 && req.durationFilter >= 0n ? Number(req.durationFilter) : -1;
      listed = await ctx.transactions.store.list(states, producerIds, minDuration, Date.now(), pattern);
    } catch {
      return reply(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    return reply(ErrorCode.NONE, listed.map((t) => ({ transactionalId: t.transactionalId, producerId: BigInt(t.producerId), transactionState: kafkaTxnState(t.state) })));
  },
  errorResponse: (_req, errorCode) => ({ errorCode, unknownStateFilters: [], transactionStates: [] }),
});
