/**
 * Fetch (key 1), versions 0-18.
 *
 * Behavior: every partition is read through the partition seam (storage/storage.ts: plan, limit, load, long
 * poll): diskless ones through the batch index cache and object cache, headers patched with the assigned
 * offsets; classic ones from their local log. Partition and request byte limits hold across both kinds, applied
 * in request order, except that the first non-empty partition always gets at least one whole batch (KIP-74).
 * Only whole batches are returned. With less than min.bytes available the request long-polls: it is woken
 * by any commit (diskless) or append becoming visible (classic) touching one of its partitions, or answers
 * when max.wait.ms ends; a partition in error answers at once. A classic partition led by another broker gets
 * NOT_LEADER_OR_FOLLOWER.
 * A v11+ request from a client of another zone (`diskless_az=<az>` in client.id, else the request's rack id)
 * than this broker's, when that zone has a live broker, gets for each diskless partition no records and
 * the zone's broker for it as preferred read replica (KIP-392), so consumers read within their zone.
 * read_committed (KIP-98) reads stop at the last stable offset and carry the aborted transactions among the
 * records returned (consumers drop those batches); read_uncommitted reads go to the high watermark.
 * Fetch sessions (KIP-227) are not kept: every response carries session id 0, which tells clients to send
 * full fetch requests; an unknown session id gets FETCH_SESSION_ID_NOT_FOUND.
 * Leader epochs: a diskless partition is served whatever epoch the request carries (every broker serves it;
 * the epoch only tells clients which metadata is newer), and a newer epoch than this broker's makes it
 * refresh its view of the live brokers. A classic partition's epoch is 0: a newer one gets UNKNOWN_LEADER_EPOCH.
 * A topic or partition not known here (created or grown through another broker a moment ago) is looked up in
 * the coordinator once before answering UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID.
 * Version notes: v0-3 (Kafka 3.9 and older; Kafka 4 removed them) read message format v0 (v0-1) or v1
 * (v2-3): the batches read are converted down (protocol/legacy-records.ts, as Kafka 3.x's down-conversion:
 * control batches left out, records below the fetch offset too, sent uncompressed), the output bounded by
 * the partition's and what is left of the request's byte limit (the first record always goes); a topic with
 * message.downconversion.enable=false answers UNSUPPORTED_VERSION, zstd batches UNSUPPORTED_COMPRESSION_TYPE
 * (as Kafka below Fetch v10); v0-3 are read_uncommitted.
 * v13+ addresses topics by id (UNKNOWN_TOPIC_ID); v12+ flexible.
 */
import type { FetchRequest, FetchResponse, FetchResponsePartitionData, FetchResponseFetchableTopicResponse } from '../../protocol/gen/messages/fetch.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { clientAz } from '../../cluster/routing.ts';
import { clampToSafeInteger } from '../../protocol/int64.ts';
import { READ_COMMITTED, READ_UNCOMMITTED } from '../../storage/partition-log.ts';
import { downConvert } from '../../protocol/legacy-records.ts';
import { compressionOf, CompressionType } from '../../protocol/record-batch.ts';
import { CompressionError } from '../../protocol/compression.ts';
import { RecordDecodeError } from '../../protocol/records.ts';
import type { PartitionRead } from '../../storage/storage.ts';
import { defineHandler } from '../handler.ts';
import { isServeError, serveError } from '../partitions.ts';

type PartitionOut = Init<FetchResponsePartitionData>;

// Kafka sends empty record sets, not null ones; some clients do not expect null.
const EMPTY = Buffer.alloc(0);

export const fetch = defineHandler<FetchRequest, FetchResponse>({
  key: 1,
  name: 'Fetch',
  minVersion: 0,
  maxVersion: 18,
  async handle(ctx, req) {
    const { topics, partitions, cluster } = ctx;
    if (req.sessionId !== 0) return sessionError(ErrorCode.FETCH_SESSION_ID_NOT_FOUND, req.sessionId);
    if (req.sessionEpoch !== -1 && req.sessionEpoch !== 0) return sessionError(ErrorCode.INVALID_FETCH_SESSION_EPOCH, 0);

    const byId = ctx.apiVersion >= 13;
    // KIP-392: a client outside this broker's zone is sent to a broker of its own (v11+ only).
    const zone = ctx.apiVersion >= 11 ? clientAz(ctx.clientId) ?? (req.rackId || null) : null;
    const responses: Init<FetchResponseFetchableTopicResponse>[] = [];
    const reads: PartitionRead[] = [];
    const readOuts: PartitionOut[] = [];
    const readOffsets: bigint[] = [];
    const readLimits: number[] = [];
    let anyError = false;
    const lookup = topics.ensure(req.topics.map((ft) => ({ name: byId ? null : ft.topic, topicId: ft.topicId, partitionCount: partitionCount(ft.partitions) })));
    if (lookup) await lookup;
    for (const ft of req.topics) {
      const topic = byId ? topics.getById(ft.topicId) : topics.get(ft.topic);
      const outs: PartitionOut[] = [];
      responses.push({ topic: ft.topic, topicId: ft.topicId, partitions: outs });
      for (const fp of ft.partitions) {
        const out: PartitionOut = {
          partitionIndex: fp.partition, errorCode: ErrorCode.NONE, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n,
          abortedTransactions: req.isolationLevel === READ_COMMITTED ? [] : null, preferredReadReplica: -1, records: EMPTY,
        };
        outs.push(out);
        const log = topic ? partitions.serve(topic, fp.partition, fp.currentLeaderEpoch) : serveError(byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        if (isServeError(log)) {
          out.errorCode = log.errorCode;
          anyError = true;
          continue;
        }
        if (ctx.apiVersion < 4 && !topic!.config.messageDownconversionEnable) {
          out.errorCode = ErrorCode.UNSUPPORTED_VERSION;
          anyError = true;
          continue;
        }
        const replica = zone === null ? null : cluster.preferredReadReplica(zone, topic!, fp.partition);
        if (replica !== null) {
          out.preferredReadReplica = replica;
          continue;
        }
        reads.push({ log, offset: clampToSafeInteger(fp.fetchOffset), maxBytes: Math.max(0, fp.partitionMaxBytes) });
        readOuts.push(out);
        readOffsets.push(fp.fetchOffset);
        readLimits.push(Math.max(0, fp.partitionMaxBytes));
      }
    }

    // A partition in error is answered at once, as Kafka does: no long poll.
    const isolation = req.isolationLevel === READ_COMMITTED ? READ_COMMITTED : READ_UNCOMMITTED;
    const results = await partitions.read(reads, { maxBytes: req.maxBytes, minBytes: req.minBytes, maxWaitMs: anyError ? 0 : req.maxWaitMs, isolation });
    for (let i = 0; i < results.length; i++) {
      const out = readOuts[i]!;
      const r = results[i]!;
      out.errorCode = r.errorCode;
      out.highWatermark = BigInt(r.highWatermark);
      out.lastStableOffset = BigInt(r.lastStableOffset);
      out.logStartOffset = BigInt(r.logStartOffset);
      if (r.abortedTransactions) out.abortedTransactions = r.abortedTransactions.map((a) => ({ producerId: BigInt(a.producerId), firstOffset: BigInt(a.firstOffset) }));
      // Several slices (batch runs, or one run held in several cached parts) go out back to back, uncopied.
      out.records = r.records.length === 0 ? EMPTY : r.records.length === 1 ? r.records[0]! : r.records;
    }
    if (ctx.apiVersion < 4) await convertDown(readOuts, readOffsets, readLimits, ctx.apiVersion <= 1 ? 0 : 1, req.maxBytes);
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses };
  },
  // Every requested partition carries the error too: v4-6 have no top-level error code.
  errorResponse: (req, errorCode) => ({
    errorCode,
    sessionId: 0,
    responses: req.topics.map((ft) => ({
      topic: ft.topic,
      topicId: ft.topicId,
      partitions: ft.partitions.map((fp) => ({ partitionIndex: fp.partition, errorCode, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, records: EMPTY })),
    })),
  }),
});

/** Fetch v0-3: each partition's batches as message format v0/v1, within its limit and the request's. */
async function convertDown(outs: PartitionOut[], offsets: bigint[], limits: number[], magic: 0 | 1, requestMaxBytes: number): Promise<void> {
  let budget = Math.max(0, requestMaxBytes);
  for (let i = 0; i < outs.length; i++) {
    const out = outs[i]!;
    const parts = out.records;
    if (out.errorCode !== ErrorCode.NONE || !parts) continue;
    const data = Array.isArray(parts) ? Buffer.concat(parts as Buffer[]) : (parts as Buffer);
    if (data.length === 0) continue;
    if (budget === 0) {
      out.records = EMPTY; // the request's limit is reached (the first partition's first record went)
      continue;
    }
    // Kafka below Fetch v10: zstd cannot reach these clients.
    if (data.length > 22 && compressionOf(data.readInt16BE(21)) === CompressionType.ZSTD) {
      out.errorCode = ErrorCode.UNSUPPORTED_COMPRESSION_TYPE;
      out.records = EMPTY;
      continue;
    }
    try {
      const converted = await downConvert(data, magic, offsets[i]!, Math.min(limits[i]!, budget));
      out.records = converted.count === 0 ? EMPTY : converted.records;
      budget = Math.max(0, budget - converted.records.length);
    } catch (e) {
      if (!(e instanceof RecordDecodeError || e instanceof CompressionError)) throw e;
      out.errorCode = ErrorCode.CORRUPT_MESSAGE;
      out.records = EMPTY;
    }
  }
}

/** Partitions below this are named (0 for none). */
function partitionCount(partitions: readonly { partition: number }[]): number {
  let n = 0;
  for (const p of partitions) n = Math.max(n, p.partition + 1);
  return n;
}

function sessionError(errorCode: number, sessionId: number): Init<FetchResponse> {
  return { throttleTimeMs: 0, errorCode, sessionId, responses: [] };
}
