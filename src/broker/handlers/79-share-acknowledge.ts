/**
 * ShareAcknowledge (key 79), versions 1-2 (KIP-932 share groups, Kafka 4.2).
 *
 * Behavior: acknowledges records acquired through ShareFetch in the member's share session on this broker:
 * epoch 0 is INVALID_SHARE_SESSION_EPOCH (a session is opened by ShareFetch), no session
 * SHARE_SESSION_NOT_FOUND, an epoch other than the session's next INVALID_SHARE_SESSION_EPOCH; epoch -1
 * acknowledges, then releases what the member still holds in the session's partitions and closes the
 * session. Per partition all or nothing: ACCEPT (1) acknowledges, RELEASE (2) makes records available again
 * (archived at group.share.delivery.count.limit), REJECT (3) and GAP (0) archive; records the member does
 * not hold, or whose lock expired, get INVALID_RECORD_STATE. Applied in one coordinator transaction that
 * commits before the answer.
 * Version notes: v2 adds RENEW (4) acknowledgements (only with IsRenewAck, KIP-1222), which extend the locks, and
 * AcquisitionLockTimeoutMs.
 */
import type { ShareAcknowledgeRequest, ShareAcknowledgeResponse } from '../../protocol/gen/messages/share-acknowledge.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { defineHandler } from '../handler.ts';
import { applyAcknowledgements, nextSessionEpoch, shareRequestError, type PartitionAcknowledgements } from '../share-requests.ts';

const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };

export const shareAcknowledge = defineHandler<ShareAcknowledgeRequest, ShareAcknowledgeResponse>({
  key: 79,
  name: 'ShareAcknowledge',
  minVersion: 1,
  maxVersion: 2,
  async handle(ctx, req) {
    const lockMs = ctx.shareGroups.lockDurationMs(req.groupId ?? '');
    const top = (errorCode: number, errorMessage: string | null): Init<ShareAcknowledgeResponse> => ({ throttleTimeMs: 0, errorCode, errorMessage, acquisitionLockTimeoutMs: lockMs, responses: [], nodeEndpoints: [] });
    const bad = shareRequestError(req.groupId, req.memberId);
    if (bad) return top(bad.errorCode, bad.errorMessage);
    const groupId = req.groupId!;
    const memberId = req.memberId!;
    const shares = ctx.shareGroups;
    if (req.shareSessionEpoch === 0) return top(ErrorCode.INVALID_SHARE_SESSION_EPOCH, 'A share session is opened by ShareFetch');
    const session = shares.session(groupId, memberId);
    if (!session) return top(ErrorCode.SHARE_SESSION_NOT_FOUND, 'No share session for this member here');
    if (req.shareSessionEpoch !== -1) {
      if (req.shareSessionEpoch !== session.epoch) return top(ErrorCode.INVALID_SHARE_SESSION_EPOCH, `Expected share session epoch ${session.epoch}, got ${req.shareSessionEpoch}`);
      session.epoch = nextSessionEpoch(req.shareSessionEpoch);
    }
    const acks: PartitionAcknowledgements[] = req.topics.flatMap((t) => t.partitions.map((p) => ({ topicId: t.topicId, partition: p.partitionIndex, batches: p.acknowledgementBatches })));
    const answers = await applyAcknowledgements(shares, groupId, memberId, acks, ctx.apiVersion >= 2 && req.isRenewAck);
    if (req.shareSessionEpoch === -1) {
      await shares.release(groupId, memberId, [...session.partitions.values()]);
      shares.closeSession(groupId, memberId);
    }
    let i = 0;
    const responses = req.topics.map((t) => ({
      topicId: t.topicId,
      partitions: t.partitions.map((p) => {
        const a = answers[i++]!;
        return { partitionIndex: p.partitionIndex, errorCode: a.errorCode, errorMessage: a.errorMessage, currentLeader: NO_LEADER };
      }),
    }));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, acquisitionLockTimeoutMs: lockMs, responses, nodeEndpoints: [] };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, responses: [], nodeEndpoints: [] }),
});
