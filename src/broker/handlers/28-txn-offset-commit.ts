/**
 * TxnOffsetCommit (key 28), versions 0-4.
 *
 * Behavior: offsets a transactional producer commits for a consumer group (sendOffsetsToTransaction) are kept
 * with its transaction in the batch coordinator, and become the group's committed offsets only when the
 * transaction commits (EndTxn); an abort drops them. Meanwhile OffsetFetch with RequireStable answers
 * UNSTABLE_OFFSET_COMMIT for those partitions. Every partition gets the request's outcome. Errors, as Kafka's:
 * an invalid group id → INVALID_GROUP_ID; a topic or partition that does not exist →
 * UNKNOWN_TOPIC_OR_PARTITION (for it alone); another producer id → INVALID_PRODUCER_ID_MAPPING; an old epoch
 * → PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v3, KIP-588); a group not added
 * with AddOffsetsToTxn, or no ongoing transaction → INVALID_TXN_STATE; a transaction being ended →
 * CONCURRENT_TRANSACTIONS; a coordinator failure → COORDINATOR_NOT_AVAILABLE.
 * The request goes to the group's coordinator (NOT_COORDINATOR elsewhere), which checks a v3+ member id and
 * generation against the group's (KIP-447: UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION), so a
 * zombie consumer's offsets never join a transaction; the producer epoch fences zombie producers.
 * Version notes: v2 adds leader epochs; v3 member id, generation and instance id, flexible; v4 an error code.
 */
import type { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from '../../protocol/gen/messages/txn-offset-commit.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { toSafeInteger } from '../../protocol/int64.ts';
import type { TxnOffset } from '../../coordinator/transaction-store.ts';
import { childLogger } from '../../observability/log.ts';
import { defineHandler } from '../handler.ts';
import { fencedError } from '../transaction-coordinator.ts';

const log = childLogger('txn-offset-commit');

export const txnOffsetCommit = defineHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponse>({
  key: 28,
  name: 'TxnOffsetCommit',
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, req) {
    const answer = (code: (topic: string, partition: number) => number) => ({
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code(t.name, p.partitionIndex) })) })),
    });
    // v3+: the consumer's member id and generation (KIP-447); the group's coordinator checks them.
    const memberError = ctx.groups.validateTxnCommit(req.groupId, ctx.apiVersion >= 3 ? req.memberId : '', ctx.apiVersion >= 3 ? req.generationId : -1, ctx.apiVersion >= 3 ? req.groupInstanceId : null);
    if (memberError !== null) return answer(() => memberError);
    const lookup = ctx.topics.ensure(req.topics.map((t) => ({ name: t.name, partitionCount: Math.max(0, ...t.partitions.map((p) => p.partitionIndex)) + 1 })));
    if (lookup) await lookup.catch(() => undefined);
    const offsets: TxnOffset[] = [];
    const unknown = new Set<string>();
    for (const t of req.topics) {
      const topic = ctx.topics.get(t.name);
      for (const p of t.partitions) {
        if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) {
          unknown.add(`${t.name}:${p.partitionIndex}`);
          continue;
        }
        offsets.push({ topicId: topic.topicId, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata });
      }
    }
    const producerId = toSafeInteger(req.producerId);
    let errorCode: number;
    if (producerId === null) {
      errorCode = ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    } else {
      try {
        errorCode = offsets.length === 0 ? ErrorCode.NONE : await ctx.transactions.store.commitOffsets({ transactionalId: req.transactionalId, producerId, producerEpoch: req.producerEpoch }, req.groupId, offsets);
      } catch (err) {
        log.warn({ err }, 'transactional offset commit: coordinator call failed');
        errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
      }
    }
    const code = fencedError(errorCode, ctx.apiVersion, 3);
    return answer((name, p) => (unknown.has(`${name}:${p}`) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : code));
  },
  errorResponse: (req, errorCode) => ({
    topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
  }),
});
