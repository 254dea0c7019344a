/**
 * Produce (key 0), versions 0-13.
 *
 * Behavior: each partition's batches are validated (magic 2, CRC-32C, size against the topic's
 * max.message.bytes, record count and offset deltas, timestamps against message.timestamp.before/after.max.ms)
 * and appended through the partition seam synchronously — before the first await — so a pipelined
 * connection's batches keep their order, also when one request mixes diskless and classic partitions:
 * - diskless: the batch joins the open object; the response waits until the object is stored and committed;
 *   acks=1 and acks=all are the same thing (the object store is the replica).
 * - classic: the local log assigns the offsets at once (patching them into the batch) and queues the write;
 *   acks=all waits for the fsync (group commit; unless flush.messages > 1 relaxed it), acks=1 for the write.
 *   A classic partition led by another broker gets NOT_LEADER_OR_FOLLOWER.
 * acks=0 answers nothing; a failed acks=0 produce closes the connection, as Kafka does.
 * Idempotent producers: diskless batches are checked by the coordinator in the commit, classic ones by the
 * partition's log at append, with the same rules (duplicate → the original offset; errors
 * OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH, UNKNOWN_PRODUCER_ID).
 * A topic or partition not known here (created or grown through another broker a moment ago) is looked up in
 * the coordinator once before anything is appended: only such a request waits before its appends.
 * Transactional batches (KIP-98) are accepted from the producer's current epoch into a partition added to its
 * ongoing transaction (checked where the batch is stored: the coordinator's commit, the classic log), else
 * INVALID_PRODUCER_EPOCH or INVALID_TXN_STATE; they count toward the partition's last stable offset.
 * Compacted topics (cleanup.policy contains compact) refuse records without a key: INVALID_RECORD with one
 * record error per such record, as Kafka's LogValidator.
 * Version notes: v0-2 (Kafka 3.9 and older; Kafka 4 removed them) may carry message format v0/v1 (magic 0/1):
 * the message set is converted up to one magic 2 batch (protocol/legacy-records.ts, as Kafka 3.x's
 * LogValidator: offsets assigned in order, timestamps kept, magic 0's none (-1), the producer's codec kept)
 * and then checked and stored as any batch; a magic 2 batch is accepted there too (Kafka did not check).
 * v13 addresses topics by id (UNKNOWN_TOPIC_ID); v8+ carries record errors and messages.
 */
import type { ProduceRequest, ProduceResponse, ProduceResponsePartitionProduceResponse, ProduceResponseTopicProduceResponse } from '../../protocol/gen/messages/produce.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { TRANSACTIONAL_FLAG_MASK, validateBatch, validateProduceRecords } from '../../protocol/record-batch.ts';
import { clampToSafeInteger, toSafeInteger } from '../../protocol/int64.ts';
import { keylessRecordIndexes } from '../../protocol/records.ts';
import { firstMagic, upConvert } from '../../protocol/legacy-records.ts';
import type { AppendResult, ProducedBatch } from '../../storage/partition-log.ts';
import { TXN_DATA, TXN_PLAIN } from '../../coordinator/coordinator.ts';
import { defineHandler } from '../handler.ts';
import { isServeError } from '../partitions.ts';
import type { Topic } from '../topics.ts';

type PartitionResponse = Init<ProduceResponsePartitionProduceResponse>;

export const produce = defineHandler<ProduceRequest, ProduceResponse>({
  key: 0,
  name: 'Produce',
  minVersion: 0,
  maxVersion: 13,
  async handle(ctx, req) {
    const { topics, partitions } = ctx;
    const byId = ctx.apiVersion >= 13;
    const validAcks = req.acks === -1 || req.acks === 0 || req.acks === 1;
    const now = Date.now();
    const responses: Init<ProduceResponseTopicProduceResponse>[] = [];
    const pending: { out: PartitionResponse; result: Promise<AppendResult>; topic: Topic }[] = [];
    let failed = false;

    const lookup = topics.ensure(req.topicData.map((td) => ({ name: byId ? null : td.name, topicId: td.topicId, partitionCount: partitionCount(td.partitionData) })));
    if (lookup) await lookup;
    for (const td of req.topicData) {
      const topic = byId ? topics.getById(td.topicId) : topics.get(td.name);
      const partitionResponses: PartitionResponse[] = [];
      responses.push({ name: td.name, topicId: td.topicId, partitionResponses });
      for (const pd of td.partitionData) {
        const out: PartitionResponse = { index: pd.index, errorCode: ErrorCode.NONE, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage: null };
        partitionResponses.push(out);
        const error = (code: number, message: string | null = null) => {
          out.errorCode = code;
          out.errorMessage = message;
          failed = true;
        };
        if (!validAcks) { error(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, not ${req.acks}`); continue; }
        if (!topic) { error(byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION); continue; }
        const log = partitions.serve(topic, pd.index);
        if (isServeError(log)) { error(log.errorCode, log.errorMessage); continue; }
        const checked = checkBatch(pd.records, ctx.apiVersion, topic, pd.index, now);
        if ('errorCode' in checked) { error(checked.errorCode, checked.message); out.recordErrors = checked.recordErrors ?? []; continue; }
        // From here on the order of batches is fixed: append is synchronous up to its promise.
        pending.push({ out, result: log.append(checked, req.acks), topic });
      }
    }

    if (req.acks === 0) {
      if (failed) ctx.conn.close('acks=0 produce failed');
      return null;
    }
    for (const { out, result, topic } of pending) {
      const r = await result;
      out.errorCode = r.errorCode;
      out.errorMessage = r.errorMessage;
      if (r.errorCode !== ErrorCode.NONE) continue;
      out.baseOffset = BigInt(r.baseOffset);
      out.logStartOffset = BigInt(r.logStartOffset);
      if (topic.config.messageTimestampType === 1) out.logAppendTimeMs = BigInt(r.logAppendTime);
    }
    return { responses, throttleTimeMs: 0 };
  },
  errorResponse: (req, errorCode) => ({
    responses: req.topicData.map((td) => ({
      name: td.name,
      topicId: td.topicId,
      partitionResponses: td.partitionData.map((pd) => ({ index: pd.index, errorCode, baseOffset: -1n })),
    })),
  }),
});

type Checked = ProducedBatch | { errorCode: number; message: string; recordErrors?: { batchIndex: number; batchIndexErrorMessage: string }[] };

/** Partitions below this are named (0 for none). */
function partitionCount(partitions: readonly { index: number }[]): number {
  let n = 0;
  for (const p of partitions) n = Math.max(n, p.index + 1);
  return n;
}

/**
 * Kafka's LogValidator error for records without a key on a compacted topic: one record error per record and
 * the summary message (every codec, zstd included).
 */
function keylessError(indexes: number[], topicPartition: string): Checked {
  const recordErrors = indexes.map((batchIndex) => ({ batchIndex, batchIndexErrorMessage: `Compacted topic cannot accept message without key in topic partition ${topicPartition}.` }));
  const shown = recordErrors.slice(0, 3).map((e) => `RecordError(batchIndex=${e.batchIndex}, message='${e.batchIndexErrorMessage}')`);
  return {
    errorCode: ErrorCode.INVALID_RECORD,
    message: `One or more records have been rejected due to ${recordErrors.length} record errors in total, and only showing the first three errors at most: [${shown.join(', ')}]`,
    recordErrors,
  };
}

function checkBatch(records: Buffer | null, apiVersion: number, topic: Topic, partition: number, now: number): Checked {
  // Produce v0-2: message format v0/v1 becomes one magic 2 batch.
  if (apiVersion <= 2 && records !== null) {
    const magic = firstMagic(records);
    if (magic === 0 || magic === 1) {
      const converted = upConvert(records);
      if ('errorCode' in converted) return converted;
      records = converted;
    }
  }
  // Kafka (produce v3+): exactly one batch per partition.
  const one = validateProduceRecords(records, apiVersion);
  if ('errorCode' in one) return one;
  const data = one.batch;
  const config = topic.config;
  const invalid = validateBatch(data, { maxMessageBytes: config.maxMessageBytes });
  if (invalid) return invalid;
  if (config.cleanupPolicy.includes('compact')) {
    const keyless = keylessRecordIndexes(data);
    if (keyless && keyless.length > 0) return keylessError(keyless, `${topic.name}-${partition}`);
  }
  const transactional = (data.readInt16BE(21) & TRANSACTIONAL_FLAG_MASK) !== 0;
  // Stored bytes keep the exact timestamps; the facts read here only order and bound them.
  const baseTimestamp = clampToSafeInteger(data.readBigInt64BE(27));
  const maxTimestamp = clampToSafeInteger(data.readBigInt64BE(35));
  // Kafka checks each record; the batch's first and max timestamps bound them without decompressing.
  // Records without a timestamp (magic 0, converted up) are not checked, as in Kafka.
  if (config.messageTimestampType === 0 && maxTimestamp >= 0
    && (now - baseTimestamp > config.messageTimestampBeforeMaxMs || maxTimestamp - now > config.messageTimestampAfterMaxMs)) {
    return {
      errorCode: ErrorCode.INVALID_TIMESTAMP,
      message: `Timestamp of a record is out of range: must be within [now - message.timestamp.before.max.ms, now + message.timestamp.after.max.ms]`,
    };
  }
  const producerId = toSafeInteger(data.readBigInt64BE(43));
  if (producerId === null) {
    return { errorCode: ErrorCode.UNKNOWN_PRODUCER_ID, message: 'Producer id past 2^53: this cluster never allocated it (InitProducerId hands out producer ids)' };
  }
  const lastOffsetDelta = data.readInt32BE(23);
  const baseSequence = data.readInt32BE(53);
  if (transactional && (producerId < 0 || baseSequence < 0)) {
    return { errorCode: ErrorCode.INVALID_RECORD, message: 'A transactional batch must carry a producer id and sequence (transactional producers are idempotent)' };
  }
  return {
    data,
    recordCount: lastOffsetDelta + 1,
    baseTimestamp,
    maxTimestamp,
    timestampType: config.messageTimestampType,
    producerId,
    producerEpoch: data.readInt16BE(51),
    baseSequence,
    lastSequence: baseSequence < 0 ? -1 : (baseSequence + lastOffsetDelta) % 2 ** 31,
    txnKind: transactional ? TXN_DATA : TXN_PLAIN,
  };
}
