/**
 * AddOffsetsToTxn (key 25), versions 0-4.
 *
 * Behavior: adds a consumer group to the producer's ongoing transaction (starting it when there is none), so
 * its TxnOffsetCommit offsets are committed or dropped with the transaction. Errors as AddPartitionsToTxn:
 * INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v2, KIP-588),
 * CONCURRENT_TRANSACTIONS, COORDINATOR_NOT_AVAILABLE; an invalid group id → INVALID_GROUP_ID.
 * Version notes: v3+ flexible; v4 only adds an error code (KIP-890).
 */
import type { AddOffsetsToTxnRequest, AddOffsetsToTxnResponse } from '../../protocol/gen/messages/add-offsets-to-txn.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { toSafeInteger } from '../../protocol/int64.ts';
import { childLogger } from '../../observability/log.ts';
import { defineHandler } from '../handler.ts';
import { fencedError } from '../transaction-coordinator.ts';

const log = childLogger('add-offsets-to-txn');

export const addOffsetsToTxn = defineHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse>({
  key: 25,
  name: 'AddOffsetsToTxn',
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, req) {
    const reply = (errorCode: number) => ({ throttleTimeMs: 0, errorCode });
    const idError = ctx.groups.groupIdError(req.groupId, false);
    if (idError !== null) return reply(idError);
    const producerId = toSafeInteger(req.producerId);
    if (producerId === null) return reply(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    try {
      const errorCode = await ctx.transactions.store.addOffsets({ transactionalId: req.transactionalId, producerId, producerEpoch: req.producerEpoch }, req.groupId, Date.now());
      return reply(fencedError(errorCode, ctx.apiVersion, 2));
    } catch (err) {
      log.warn({ err }, 'add offsets to transaction: coordinator call failed');
      return reply(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
  },
  errorResponse: (_req, errorCode) => ({ errorCode }),
});
