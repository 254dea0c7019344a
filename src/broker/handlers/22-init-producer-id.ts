/**
 * InitProducerId (key 22), versions 0-5.
 *
 * Behavior: idempotent producers only. TransactionalId null: a producer id from the coordinator's sequence,
 * unique among all brokers sharing the coordinator, epoch 0. With v3+ ProducerId/ProducerEpoch naming the
 * current epoch of a known id (KIP-360: a producer recovering from UNKNOWN_PRODUCER_ID or a sequence error):
 * the same id with the epoch bumped, which fences the old epoch's batches (INVALID_PRODUCER_EPOCH); an
 * unknown id or a stale epoch gets a new id instead (Kafka always hands a new id to non-transactional
 * producers). Exactly one of ProducerId/ProducerEpoch being -1 is INVALID_REQUEST, as in Kafka.
 * A transactional id gets UNSUPPORTED_VERSION, Kafka's answer for a feature the broker does not offer,
 * until transactions exist. A coordinator failure is COORDINATOR_NOT_AVAILABLE (retriable).
 * Version notes: v2 is flexible; v3 adds ProducerId/ProducerEpoch; v4 and v5 only add error codes for
 * transactions. v6 (KIP-939, two-phase commit) is unstable in Kafka and not served.
 */
import type { InitProducerIdRequest, InitProducerIdResponse } from '../../protocol/gen/messages/init-producer-id.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { toSafeInteger } from '../../protocol/int64.ts';
import { childLogger } from '../../observability/log.ts';
import { defineHandler } from '../handler.ts';

const log = childLogger('init-producer-id');

export const initProducerId = defineHandler<InitProducerIdRequest, InitProducerIdResponse>({
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, req) {
    const fail = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 });
    if (req.transactionalId !== null) return fail(ErrorCode.UNSUPPORTED_VERSION);
    if ((req.producerId === -1n) !== (req.producerEpoch === -1)) return fail(ErrorCode.INVALID_REQUEST);
    try {
      // An id past 2^53 was never handed out (ids come from the coordinator's sequence): unknown, so a new one.
      const known = toSafeInteger(req.producerId);
      const r = await ctx.producerIds.initProducerId(known ?? -1, known === null ? -1 : req.producerEpoch);
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: BigInt(r.producerId), producerEpoch: r.producerEpoch };
    } catch (err) {
      log.warn({ err }, 'init producer id: coordinator call failed');
      return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
  },
  errorResponse: (_req, errorCode) => ({ errorCode, producerId: -1n, producerEpoch: -1 }),
});
