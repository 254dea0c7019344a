/**
 * What ShareFetch (78) and ShareAcknowledge (79) share: their request checks, the acknowledgements they
 * carry (applied through src/groups/share-groups.ts), and the batch facts a share fetch acquires by (with
 * read_committed, which batches belong to aborted transactions).
 */
import { ErrorCode } from '../protocol/gen/errors.ts';
import { toSafeInteger } from '../protocol/int64.ts';
import type { AcknowledgementBatch, AcknowledgeResult, BatchExtent, ShareGroups } from '../groups/share-groups.ts';
import type { SharePartitionKey } from '../coordinator/coordinator.ts';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BATCH_LENGTH_OFFSET,
  CompressionType,
  ControlType,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  compressionOf,
  isControl,
  isTransactional,
} from '../protocol/record-batch.ts';
import { decodeRecords } from '../protocol/records.ts';
import type { AbortedTransaction } from '../storage/partition-log.ts';

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

/** A batch of a share fetch's read: its extent in the read's bytes and the facts transactions are filtered by. */
export interface ReadBatch extends BatchExtent {
  start: number;
  end: number;
  /** -1 when the batch has no producer. */
  producerId: number;
  transactional: boolean;
  /** A control batch whose marker aborts its producer's transaction. */
  abortMarker: boolean;
}

/** The batches of a read (one buffer or several slices), by their headers: offsets, producer and whether each is a control batch. */
export function batchExtents(parts: readonly Buffer[]): { data: Buffer; extents: ReadBatch[] } {
  const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts as Buffer[]);
  const extents: ReadBatch[] = [];
  let at = 0;
  while (at + RECORD_BATCH_OVERHEAD <= data.length) {
    const size = LOG_OVERHEAD + data.readInt32BE(at + BATCH_LENGTH_OFFSET);
    if (size < RECORD_BATCH_OVERHEAD || at + size > data.length) break;
    const base = Number(data.readBigInt64BE(at + BASE_OFFSET_OFFSET));
    const lastDelta = data.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
    const attributes = data.readInt16BE(at + ATTRIBUTES_OFFSET);
    const control = isControl(attributes);
    extents.push({
      baseOffset: base,
      lastOffset: base + lastDelta,
      control,
      start: at,
      end: at + size,
      // Producer ids are below 2^53 (the coordinator assigns them from 0 up), so a number compares exactly.
      producerId: Number(data.readBigInt64BE(at + PRODUCER_ID_OFFSET)),
      transactional: isTransactional(attributes),
      abortMarker: control && controlTypeOf(data.subarray(at, at + size)) === ControlType.ABORT,
    });
    at += size;
  }
  return { data, extents };
}

/** The control type of a marker batch (its first record's key: version, type); -1 when it does not decode. */
function controlTypeOf(batch: Buffer): number {
  if (compressionOf(batch.readInt16BE(ATTRIBUTES_OFFSET)) !== CompressionType.NONE) return -1;
  try {
    const key = decodeRecords(batch.subarray(RECORDS_OFFSET), batch.readInt32BE(RECORDS_COUNT_OFFSET))[0]?.key;
    return key && key.length >= 4 ? key.readInt16BE(2) : -1;
  } catch {
    return -1;
  }
}

/**
 * Marks the batches of aborted transactions (read_committed), as Kafka's SharePartition does
 * (fetchAbortedTransactionRecordBatches): walking the batches in order, a producer's aborted transaction
 * counts from its first offset until its abort marker, and the producer's transactional batches meanwhile
 * are aborted. The acquisition then archives them instead of delivering them.
 */
export function markAbortedBatches(batches: ReadBatch[], aborted: readonly AbortedTransaction[]): void {
  if (aborted.length === 0) return;
  const pending = [...aborted].sort((a, b) => a.firstOffset - b.firstOffset);
  let next = 0;
  const abortedProducers = new Set<number>();
  for (const b of batches) {
    if (b.producerId < 0) continue;
    while (next < pending.length && pending[next]!.firstOffset <= b.lastOffset) abortedProducers.add(pending[next++]!.producerId);
    if (b.abortMarker) abortedProducers.delete(b.producerId);
    else if (b.transactional && abortedProducers.has(b.producerId)) b.aborted = true;
  }
}
