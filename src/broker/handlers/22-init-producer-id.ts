/**
 * InitProducerId (key 22), versions 0-5.
 *
 * Behavior, idempotent producers (TransactionalId null): a producer id from the coordinator's sequence,
 * unique among all brokers sharing the coordinator, epoch 0. With v3+ ProducerId/ProducerEpoch naming the
 * current epoch of a known id (KIP-360: a producer recovering from UNKNOWN_PRODUCER_ID or a sequence error):
 * the same id with the epoch bumped, which fences the old epoch's batches (INVALID_PRODUCER_EPOCH); an
 * unknown id or a stale epoch gets a new id instead (Kafka always hands a new id to non-transactional
 * producers). Exactly one of ProducerId/ProducerEpoch being -1 is INVALID_REQUEST, as in Kafka.
 *
 * Transactional producers (KIP-98): the transactional id keeps one producer id; each InitProducerId bumps its
 * epoch, fencing the previous producer with the same id. A transaction it left open is aborted first (its
 * markers written with the bumped epoch), and one being ended is finished first; when that cannot complete at
 * once the answer is CONCURRENT_TRANSACTIONS (retriable). With v3+ ProducerId/ProducerEpoch (KIP-360) only the
 * current producer (or the one a timeout fenced) may re-initialise: another id → INVALID_PRODUCER_ID_MAPPING,
 * an old epoch → PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v4, KIP-588). An empty transactional id is
 * INVALID_REQUEST; a timeout <= 0 or above transaction.max.timeout.ms is INVALID_TRANSACTION_TIMEOUT.
 * A coordinator failure is COORDINATOR_NOT_AVAILABLE (retriable).
 * Version notes: v2 is flexible; v3 adds ProducerId/ProducerEpoch; v4 adds PRODUCER_FENCED; v5 only error
 * codes. v6 (KIP-939, two-phase commit) is not served.
 */
import type { InitProducerIdRequest, InitProducerIdResponse } from '../../protocol/gen/messages/init-producer-id.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { toSafeInteger } from '../../protocol/int64.ts';
import { childLogger } from '../../observability/log.ts';
import { defineHandler, type RequestContext } from '../handler.ts';
import { fencedError } from '../transaction-coordinator.ts';

const log = childLogger('init-producer-id');

/** Attempts to end a previous transaction before giving up with CONCURRENT_TRANSACTIONS. */
const ENDING_ATTEMPTS = 3;

export const initProducerId = defineHandler<InitProducerIdRequest, InitProducerIdResponse>({
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, req) {
    const fail = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 });
    if ((req.producerId === -1n) !== (req.producerEpoch === -1)) return fail(ErrorCode.INVALID_REQUEST);
    // An id past 2^53 was never handed out (ids come from the coordinator's sequence).
    const known = toSafeInteger(req.producerId);
    try {
      if (req.transactionalId !== null) return await initTransactional(ctx, req.transactionalId, req.transactionTimeoutMs, known, req.producerEpoch);
      // Unknown: a new one.
      const r = await ctx.producerIds.initProducerId(known ?? -1, known === null ? -1 : req.producerEpoch);
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: BigInt(r.producerId), producerEpoch: r.producerEpoch };
    } catch (err) {
      log.warn({ err }, 'init producer id: coordinator call failed');
      return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
  },
  errorResponse: (_req, errorCode) => ({ errorCode, producerId: -1n, producerEpoch: -1 }),
});

async function initTransactional(ctx: RequestContext, transactionalId: string, timeoutMs: number, producerId: number | null, producerEpoch: number) {
  const fail = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 });
  if (transactionalId === '') return fail(ErrorCode.INVALID_REQUEST);
  if (timeoutMs <= 0 || timeoutMs > ctx.transactions.options.maxTimeoutMs) return fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  if (producerId === null) return fail(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  for (let attempt = 0; attempt < ENDING_ATTEMPTS; attempt++) {
    const r = await ctx.transactions.store.initProducerId(transactionalId, timeoutMs, producerId, producerId < 0 ? -1 : producerEpoch, Date.now());
    if ('ending' in r) {
      await ctx.transactions.finish(r.ending);
      continue;
    }
    if (r.errorCode !== ErrorCode.NONE) return fail(fencedError(r.errorCode, ctx.apiVersion, 4));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: BigInt(r.producerId), producerEpoch: r.producerEpoch };
  }
  return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
}
