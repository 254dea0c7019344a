/**
 * EndTxn (key 26), versions 0-4.
 *
 * Behavior: commits or aborts the producer's ongoing transaction. The decision is made durable first, in the
 * batch coordinator (state prepare_commit / prepare_abort; a commit's TxnOffsetCommit offsets become the
 * groups' committed offsets, an abort's are dropped); then the markers are written to the transaction's
 * partitions (transaction-coordinator.ts) and the transaction completes. The answer waits up to 3 s for the
 * markers this broker can write, so a read_committed consumer normally sees the outcome once the producer
 * does; markers not written by then (a classic partition led elsewhere, a failing store) are left to the
 * janitors, and the decision stands: the answer is NONE as in Kafka, and the producer's next transaction
 * gets CONCURRENT_TRANSACTIONS until they are written. A retry of an ended transaction's EndTxn → NONE.
 * Errors, as Kafka's: unknown transactional id or another producer id → INVALID_PRODUCER_ID_MAPPING; an old
 * epoch → PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v2, KIP-588); no transaction, or the opposite
 * decision already taken → INVALID_TXN_STATE; a coordinator failure → COORDINATOR_NOT_AVAILABLE.
 * Version notes: v3+ flexible; v4 only adds an error code. v5 (KIP-890 part 2, transaction.version 2:
 * a new epoch per transaction) is not served, so clients use transaction version 1.
 */
import type { EndTxnRequest, EndTxnResponse } from '../../protocol/gen/messages/end-txn.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { toSafeInteger } from '../../protocol/int64.ts';
import { childLogger } from '../../observability/log.ts';
import { defineHandler } from '../handler.ts';
import { fencedError } from '../transaction-coordinator.ts';

const log = childLogger('end-txn');

/** How long EndTxn's answer waits for the markers this broker writes (then the janitors finish them). */
const MARKER_WAIT_MS = 3_000;

export const endTxn = defineHandler<EndTxnRequest, EndTxnResponse>({
  key: 26,
  name: 'EndTxn',
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, req) {
    const reply = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 });
    const producerId = toSafeInteger(req.producerId);
    if (producerId === null) return reply(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    let result;
    try {
      result = await ctx.transactions.store.endTxn({ transactionalId: req.transactionalId, producerId, producerEpoch: req.producerEpoch }, req.committed, Date.now());
    } catch (err) {
      log.warn({ err }, 'end transaction: coordinator call failed');
      return reply(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    if ('errorCode' in result) return reply(fencedError(result.errorCode, ctx.apiVersion, 2));
    // Decided: markers left unwritten here are the janitors' to write; the outcome stands either way. The
    // answer waits for the markers only so long (Kafka answers once the decision is durable): through an
    // object-store outage a diskless marker waits for the writer's retries, longer than clients' timeouts.
    const finishing = ctx.transactions.finish(result.ending, { requestLeaders: true }).catch((err: unknown) => {
      log.warn({ err, transactionalId: req.transactionalId }, 'writing transaction markers failed; the janitors will finish');
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finishing, new Promise((resolve) => { timer = setTimeout(resolve, MARKER_WAIT_MS); })]);
    clearTimeout(timer);
    return reply(ErrorCode.NONE);
  },
  errorResponse: (_req, errorCode) => ({ errorCode, producerId: -1n, producerEpoch: -1 }),
});
