/**
 * What ShareFetch (78) and ShareAcknowledge (79) share: their request checks, the acknowledgements they
 * carry (applied through src/groups/share-groups.ts), and the batch facts a share fetch acquires by.
 */
import { ErrorCode } from '../protocol/gen/errors.ts';
import { toSafeInteger } from '../protocol/int64.ts';
import type { AcknowledgementBatch, AcknowledgeResult, BatchExtent, ShareGroups } from '../groups/share-groups.ts';
import type { SharePartitionKey } from '../coordinator/coordinator.ts';

/** An acknowledgement batch as the wire carries it. */
export interface WireAcknowledgementBatch {
  firstOffset: bigint;
  lastOffset: bigint;
  acknowledgeTypes: number[];
}

export interface PartitionAcknowledgements extends SharePartitionKey {
  batches: WireAcknowledgementBatch[];
}

export interface AcknowledgeAnswer {
  errorCode: number;
  errorMessage: string | null;
}

/** A request's group id and member id: INVALID_REQUEST when either is missing (or the member id longer than 36), as Kafka. */
export function shareRequestError(groupId: string | null, memberId: string | null): { errorCode: number; errorMessage: string } | null {
  if (!groupId) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'The group id must be given' };
  if (!memberId || memberId.length > 36) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Invalid member id in the request.' };
  return null;
}

/** The next share session epoch after `epoch` (it wraps to 1, never to 0 or -1). */
export function nextSessionEpoch(epoch: number): number {
  return epoch >= 0x7fffffff ? 1 : epoch + 1;
}

/** Applies the acknowledgements (partition by partition, all or nothing within one); the answer of each, in order. */
export async function applyAcknowledgements(
  shareGroups: ShareGroups,
  groupId: string,
  memberId: string,
  parts: readonly PartitionAcknowledgements[],
  allowRenew: boolean,
): Promise<AcknowledgeAnswer[]> {
  const answers: (AcknowledgeAnswer | null)[] = parts.map(() => null);
  const valid: { i: number; key: SharePartitionKey; batches: AcknowledgementBatch[] }[] = [];
  parts.forEach((p, i) => {
    const batches: AcknowledgementBatch[] = [];
    for (const b of p.batches) {
      const first = toSafeInteger(b.firstOffset);
      const last = toSafeInteger(b.lastOffset);
      if (first === null || last === null || first < 0) {
        answers[i] = { errorCode: ErrorCode.INVALID_RECORD_STATE, errorMessage: 'The records are not acquired' };
        return;
      }
      batches.push({ firstOffset: first, lastOffset: last, acknowledgeTypes: b.acknowledgeTypes });
    }
    valid.push({ i, key: { topicId: p.topicId, partition: p.partition }, batches });
  });
  const results: AcknowledgeResult[] = await shareGroups.acknowledge(groupId, memberId, valid.map((v) => ({ ...v.key, batches: v.batches })), allowRenew);
  valid.forEach((v, j) => {
    const r = results[j]!;
    answers[v.i] = r.errorCode === 'NONE' ? { errorCode: ErrorCode.NONE, errorMessage: null } : { errorCode: ErrorCode[r.errorCode], errorMessage: r.message };
  });
  return answers.map((a) => a!);
}

/** The batches of a read (one buffer or several slices), by their headers: offsets and whether each is a control batch. */
export function batchExtents(parts: readonly Buffer[]): { data: Buffer; extents: (BatchExtent & { start: number; end: number })[] } {
  const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts as Buffer[]);
  const extents: (BatchExtent & { start: number; end: number })[] = [];
  let at = 0;
  while (at + 61 <= data.length) {
    const size = 12 + data.readInt32BE(at + 8);
    if (size < 61 || at + size > data.length) break;
    const base = Number(data.readBigInt64BE(at));
    const lastDelta = data.readInt32BE(at + 23);
    const attributes = data.readInt16BE(at + 21);
    extents.push({ baseOffset: base, lastOffset: base + lastDelta, control: (attributes & 0x20) !== 0, start: at, end: at + size });
    at += size;
  }
  return { data, extents };
}
