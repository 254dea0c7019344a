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
 * Fetch sessions (KIP-227, v7+), as Kafka's FetchManager: a full request with epoch 0 gets a session when the
 * cache (fetch/fetch-session-cache.ts, `max.incremental.fetch.session.cache.slots`) has or can free a slot;
 * epoch -1 closes the session it names and fetches without one. An incremental request (any other epoch)
 * adds or updates its partitions in the session, drops the forgotten ones, reads every partition of the
 * session (those that returned records last go last) and answers only the partitions with records, an error,
 * a preferred read replica or a changed high watermark, last stable offset or log start offset. An unknown
 * session id gets FETCH_SESSION_ID_NOT_FOUND, a wrong epoch (or a duplicate answered meanwhile)
 * INVALID_FETCH_SESSION_EPOCH, a v13+ request in a session of names (or the reverse)
 * FETCH_SESSION_TOPIC_ID_ERROR. Sessions belong to the broker that created them, as in Kafka.
 * Leader epochs: a diskless partition is served whatever epoch the request carries (every broker serves it;
 * the epoch only tells clients which metadata is newer), and a newer epoch than this broker's makes it
 * refresh its view of the live brokers. A classic partition's epoch is 0: a newer one gets UNKNOWN_LEADER_EPOCH.
 * A topic or partition not known here (created or grown through another broker a moment ago) is looked up in
 * the coordinator once before answering UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID.
 * Version notes: v0-3 (Kafka 3.9 and older; Kafka 4 removed them) read message format v0 (v0-1) or v1
 * (v2-3): the batches read are converted down (protocol/legacy-records.ts, as Kafka 3.x's down-conversion:
 * control batches left out, records below the fetch offset too, a compressed batch compressed again with its
 * codec in one wrapper message, lz4 at magic 0 excepted), the output bounded by
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
import type { Topic } from '../topics.ts';
import { FINAL_EPOCH, INITIAL_EPOCH, NO_SESSION, SessionPartition, nextEpoch, partitionKey, type FetchSession, type PartitionAnswer, type PartitionRequest } from '../fetch/fetch-session-cache.ts';

type PartitionOut = Init<FetchResponsePartitionData> &
  Pick<FetchResponsePartitionData, 'errorCode' | 'highWatermark' | 'lastStableOffset' | 'logStartOffset' | 'preferredReadReplica'>;

// Kafka sends empty record sets, not null ones; some clients do not expect null.
const EMPTY = Buffer.alloc(0);

export const fetch = defineHandler<FetchRequest, FetchResponse>({
  key: 1,
  name: 'Fetch',
  minVersion: 0,
  maxVersion: 18,
  async handle(ctx, req) {
    const { topics, partitions, cluster, fetchSessions } = ctx;
    const byId = ctx.apiVersion >= 13;
    const requested: FetchItem[] = [];
    for (let t = 0; t < req.topics.length; t++) {
      const ft = req.topics[t]!;
      for (const fp of ft.partitions) {
        requested.push(new FetchItem(t, ft.topic, ft.topicId, fp.partition, fp.fetchOffset, fp.partitionMaxBytes, fp.currentLeaderEpoch, null));
      }
    }

    // KIP-227 (Kafka's FetchManager.newContext): epoch 0 or -1 is a full request (closing any session it names;
    // 0 asks for a new one), any other epoch continues a session. Below v7 the decoder gives id 0, epoch -1.
    let session: FetchSession | undefined;
    let items: FetchItem[] = requested;
    if (req.sessionEpoch === INITIAL_EPOCH || req.sessionEpoch === FINAL_EPOCH) {
      if (req.sessionId !== NO_SESSION) fetchSessions.remove(req.sessionId);
    } else {
      const found = fetchSessions.get(req.sessionId);
      if (!found) return sessionError(ErrorCode.FETCH_SESSION_ID_NOT_FOUND, NO_SESSION);
      if (found.epoch !== req.sessionEpoch) return sessionError(ErrorCode.INVALID_FETCH_SESSION_EPOCH, NO_SESSION);
      if (found.usesTopicIds !== byId) return sessionError(ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR, NO_SESSION);
      found.update(requested, forgottenOf(req));
      if (found.partitions.size === 0) {
        fetchSessions.remove(found.id); // nothing left: answered as a sessionless request
      } else {
        fetchSessions.touch(found);
        found.epoch = nextEpoch(found.epoch);
        session = found;
        items = [];
        for (const p of found.partitions.values()) {
          items.push(new FetchItem(found.usesTopicIds ? p.topicId : p.topic, p.topic, p.topicId, p.partition, p.fetchOffset, p.partitionMaxBytes, p.currentLeaderEpoch, p));
        }
      }
    }

    // KIP-392: a client outside this broker's zone is sent to a broker of its own (v11+ only).
    const zone = ctx.apiVersion >= 11 ? clientAz(ctx.clientId) ?? (req.rackId || null) : null;
    const outs: PartitionOut[] = [];
    const reads: PartitionRead[] = [];
    const readOuts: PartitionOut[] = [];
    const readOffsets: bigint[] = [];
    const readLimits: number[] = [];
    let anyError = false;
    const lookup = topics.ensure(topicRefs(items, byId));
    if (lookup) await lookup;
    let group: number | string | undefined;
    let topic: Topic | undefined;
    for (const item of items) {
      if (item.group !== group) {
        group = item.group;
        topic = byId ? topics.getById(item.topicId) : topics.get(item.topic);
      }
      const out: PartitionOut = {
        partitionIndex: item.partition, errorCode: ErrorCode.NONE, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n,
        abortedTransactions: req.isolationLevel === READ_COMMITTED ? [] : null, preferredReadReplica: -1, records: EMPTY,
      };
      outs.push(out);
      const log = topic ? partitions.serve(topic, item.partition, item.currentLeaderEpoch) : serveError(byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
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
      const replica = zone === null ? null : cluster.preferredReadReplica(zone, topic!, item.partition);
      if (replica !== null) {
        out.preferredReadReplica = replica;
        continue;
      }
      reads.push({ log, offset: clampToSafeInteger(item.fetchOffset), maxBytes: Math.max(0, item.partitionMaxBytes) });
      readOuts.push(out);
      readOffsets.push(item.fetchOffset);
      readLimits.push(Math.max(0, item.partitionMaxBytes));
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

    let sessionId = NO_SESSION;
    let keep: boolean[] | undefined;
    if (session) {
      // Another request of this session was answered meanwhile (a duplicate): Kafka's check before answering.
      if (session.epoch !== nextEpoch(req.sessionEpoch)) return sessionError(ErrorCode.INVALID_FETCH_SESSION_EPOCH, session.id);
      sessionId = session.id;
      keep = items.map((item, i) => session.mustRespond(item.cached!, answerOf(outs[i]!)));
    } else if (req.sessionEpoch === INITIAL_EPOCH && ctx.apiVersion >= 7) {
      const created = fetchSessions.maybeCreate(byId, items.map((item, i) => {
        const p = new SessionPartition(partitionKey(byId, item.topic, item.topicId, item.partition), item.topic, item.topicId, item.partition, item.fetchOffset, item.partitionMaxBytes, item.currentLeaderEpoch);
        const out = outs[i]!;
        p.highWatermark = out.highWatermark;
        p.lastStableOffset = out.lastStableOffset;
        p.logStartOffset = out.logStartOffset;
        return p;
      }));
      if (created) sessionId = created.id;
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId, responses: groupByTopic(items, outs, keep) };
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

/** A partition to read, with what groups it into a response topic (the request's topic entry, or the session's topic). */
class FetchItem implements PartitionRequest {
  constructor(
    readonly group: number | string,
    readonly topic: string,
    readonly topicId: string,
    readonly partition: number,
    readonly fetchOffset: bigint,
    readonly partitionMaxBytes: number,
    readonly currentLeaderEpoch: number,
    /** The session's entry, in an incremental request. */
    readonly cached: SessionPartition | null,
  ) {}
}

function forgottenOf(req: FetchRequest): { topic: string; topicId: string; partition: number }[] {
  const out: { topic: string; topicId: string; partition: number }[] = [];
  for (const f of req.forgottenTopicsData) for (const partition of f.partitions) out.push({ topic: f.topic, topicId: f.topicId, partition });
  return out;
}

/** One lookup reference per response topic, naming the partitions below its highest one. */
function topicRefs(items: readonly FetchItem[], byId: boolean): { name: string | null; topicId: string; partitionCount: number }[] {
  const refs: { name: string | null; topicId: string; partitionCount: number }[] = [];
  let group: number | string | undefined;
  for (const item of items) {
    if (item.group !== group) {
      group = item.group;
      refs.push({ name: byId ? null : item.topic, topicId: item.topicId, partitionCount: 0 });
    }
    const ref = refs[refs.length - 1]!;
    ref.partitionCount = Math.max(ref.partitionCount, item.partition + 1);
  }
  return refs;
}

function answerOf(out: PartitionOut): PartitionAnswer {
  const records = out.records;
  const hasRecords = Array.isArray(records) ? records.some((b: Buffer) => b.length > 0) : (records as Buffer | null)?.length ? true : false;
  return {
    errorCode: out.errorCode, highWatermark: out.highWatermark, lastStableOffset: out.lastStableOffset, logStartOffset: out.logStartOffset,
    preferredReadReplica: out.preferredReadReplica, hasRecords,
  };
}

/** Consecutive partitions of one group form one topic of the response (Kafka's FetchResponse.of); `keep` filters. */
function groupByTopic(items: readonly FetchItem[], outs: readonly PartitionOut[], keep: readonly boolean[] | undefined): Init<FetchResponseFetchableTopicResponse>[] {
  const responses: Init<FetchResponseFetchableTopicResponse>[] = [];
  let group: number | string | undefined;
  let current: PartitionOut[] | undefined;
  for (let i = 0; i < items.length; i++) {
    if (keep && !keep[i]) continue;
    const item = items[i]!;
    if (item.group !== group || !current) {
      group = item.group;
      current = [];
      responses.push({ topic: item.topic, topicId: item.topicId, partitions: current });
    }
    current.push(outs[i]!);
  }
  return responses;
}

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

function sessionError(errorCode: number, sessionId: number): Init<FetchResponse> {
  return { throttleTimeMs: 0, errorCode, sessionId, responses: [] };
}
