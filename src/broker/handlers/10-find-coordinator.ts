/**
 * FindCoordinator (key 10), versions 0-6.
 *
 * Behavior: a consumer group (key type 0) is coordinated by the live broker its id hashes to (rendezvous
 * hashing over the live brokers, so only the groups of a broker that joins or leaves move). A transactional id
 * (key type 1) is placed the same way; its state is in the batch coordinator, so any broker could serve it, but
 * clients meet at one. An empty transactional id is INVALID_REQUEST. Share groups (key type 2, v6) are not
 * supported: INVALID_REQUEST. Any other key type is INVALID_REQUEST, as in Kafka.
 * Version notes: v0 has no key type (groups); v1-v3 one key per request; v4+ batches keys (CoordinatorKeys)
 * and answers per key in Coordinators, each with its own error.
 */
import type { FindCoordinatorRequest, FindCoordinatorResponse, FindCoordinatorResponseCoordinator } from '../../protocol/gen/messages/find-coordinator.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler, type RequestContext } from '../handler.ts';

const GROUP = 0;
const TRANSACTION = 1;
const SHARE = 2;

type Answer = Init<FindCoordinatorResponseCoordinator> & { errorCode: number };

function answer(ctx: RequestContext, keyType: number, key: string): Answer {
  const none = { key, nodeId: -1, host: '', port: -1 };
  if (keyType === GROUP) {
    const idError = ctx.groups.groupIdError(key, true);
    if (idError !== null) return { ...none, errorCode: idError, errorMessage: 'The group id is invalid.' };
    const owner = ctx.cluster.groupCoordinator(key);
    return { key, nodeId: owner.nodeId, host: owner.host, port: owner.port, errorCode: ErrorCode.NONE, errorMessage: null };
  }
  if (keyType === TRANSACTION) {
    if (key === '') return { ...none, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'The transactional id is empty.' };
    const owner = ctx.cluster.transactionCoordinator(key);
    return { key, nodeId: owner.nodeId, host: owner.host, port: owner.port, errorCode: ErrorCode.NONE, errorMessage: null };
  }
  if (keyType === SHARE) return { ...none, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Share groups are not supported by Floe.' };
  return { ...none, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown coordinator type ${keyType}` };
}

export const findCoordinator = defineHandler<FindCoordinatorRequest, FindCoordinatorResponse>({
  key: 10,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 6,
  async handle(ctx, req) {
    if (ctx.apiVersion >= 4) {
      return { throttleTimeMs: 0, coordinators: req.coordinatorKeys.map((k) => answer(ctx, req.keyType, k)) };
    }
    const a = answer(ctx, req.keyType, req.key);
    return { throttleTimeMs: 0, errorCode: a.errorCode, errorMessage: a.errorMessage, nodeId: a.nodeId, host: a.host, port: a.port };
  },
  errorResponse: (req, errorCode) => ({
    errorCode,
    nodeId: -1,
    host: '',
    port: -1,
    coordinators: req.coordinatorKeys.map((key) => ({ key, nodeId: -1, host: '', port: -1, errorCode })),
  }),
});
