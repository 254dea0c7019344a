/**
 * Fetch (key 1), versions 4-18.
 *
 * Behavior: diskless partitions are read through the diskless read path (batch index cache → object cache),
 * headers patched with the assigned offsets; classic partitions from their local log (one positional read
 * each, batches stored ready to serve). Partition and request byte limits hold across both kinds, applied in
 * request order, except that the first non-empty partition always gets at least one whole batch (KIP-74).
 * Only whole batches are returned. With less than min.bytes available the request long-polls: it is woken
 * by any commit (diskless) or append becoming visible (classic) touching one of its partitions, or answers
 * when max.wait.ms ends. A classic partition led by another broker gets NOT_LEADER_OR_FOLLOWER.
 * A v11+ request from a client of another zone (`diskless_az=<az>` in client.id, else the request's rack id)
 * than this broker's, when that zone has a live broker, gets for each diskless partition no records and
 * the zone's broker for it as preferred read replica (KIP-392), so consumers read within their zone.
 * Both isolation levels see the high watermark (no transactions yet, so LSO = HWM).
 * Fetch sessions (KIP-227) are not kept: every response carries session id 0, which tells clients to send
 * full fetch requests; an unknown session id gets FETCH_SESSION_ID_NOT_FOUND.
 * Leader epochs: a diskless partition is served whatever epoch the request carries (every broker serves it;
 * the epoch only tells clients which metadata is newer), and a newer epoch than this broker's makes it
 * refresh its view of the live brokers. A classic partition's epoch is 0: a newer one gets UNKNOWN_LEADER_EPOCH.
 * A topic or partition not known here (created or grown through another broker a moment ago) is looked up in
 * the coordinator once before answering UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID.
 * Version notes: v13+ addresses topics by id (UNKNOWN_TOPIC_ID); v12+ flexible.
 */
import type { FetchRequest, FetchResponse, FetchResponsePartitionData, FetchResponseFetchableTopicResponse } from '../../protocol/gen/messages/fetch.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { BatchIndexCache } from '../../storage/diskless/batch-index-cache.ts';
import type { FetchPartitionRequest, FetchPartitionResult } from '../../storage/diskless/fetch-planner.ts';
import type { PartitionLog } from '../../storage/classic/log.ts';
import { fetchBudget } from '../../storage/fetch-budget.ts';
import type { Broker } from '../broker.ts';
import { defineHandler } from '../handler.ts';
import { clientAz } from '../../cluster/placement.ts';

type PartitionOut = Init<FetchResponsePartitionData>;

const READ_COMMITTED = 1;
// Kafka sends empty record sets, not null ones; some clients do not expect null.
const EMPTY = Buffer.alloc(0);

export const fetch = defineHandler<FetchRequest, FetchResponse>({
  key: 1,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 18,
  async handle(ctx, req) {
    const { broker } = ctx;
    if (req.sessionId !== 0) return sessionError(ErrorCode.FETCH_SESSION_ID_NOT_FOUND, req.sessionId);
    if (req.sessionEpoch !== -1 && req.sessionEpoch !== 0) return sessionError(ErrorCode.INVALID_FETCH_SESSION_EPOCH, 0);

    const byId = ctx.apiVersion >= 13;
    // KIP-392: a client outside this broker's zone is sent to a broker of its own (v11+ only).
    const zone = ctx.apiVersion >= 11 ? clientAz(ctx.clientId) ?? (req.rackId || null) : null;
    const responses: Init<FetchResponseFetchableTopicResponse>[] = [];
    const reads: FetchPartitionRequest[] = [];
    const readOuts: PartitionOut[] = [];
    // Request order of every partition read: index into `reads` (diskless) or `classicReads` (-1 - index).
    const order: number[] = [];
    const classicReads: ClassicRead[] = [];
    let anyError = false;
    const lookup = broker.topics.ensure(req.topics.map((ft) => ({ name: byId ? null : ft.topic, topicId: ft.topicId, partitionCount: partitionCount(ft.partitions) })));
    if (lookup) await lookup;
    for (const ft of req.topics) {
      const topic = byId ? broker.topics.getById(ft.topicId) : broker.topics.get(ft.topic);
      const partitions: PartitionOut[] = [];
      responses.push({ topic: ft.topic, topicId: ft.topicId, partitions });
      for (const fp of ft.partitions) {
        const out: PartitionOut = {
          partitionIndex: fp.partition, errorCode: ErrorCode.NONE, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n,
          abortedTransactions: req.isolationLevel === READ_COMMITTED ? [] : null, preferredReadReplica: -1, records: EMPTY,
        };
        partitions.push(out);
        const errorCode = !topic ? (byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
          : fp.partition < 0 || fp.partition >= topic.partitionCount ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
          : broker.leaderEpochError(topic.diskless, fp.currentLeaderEpoch);
        if (errorCode !== ErrorCode.NONE) {
          out.errorCode = errorCode;
          anyError = true;
          continue;
        }
        const request = { topicId: topic!.topicId, partition: fp.partition, offset: Number(fp.fetchOffset), maxBytes: Math.max(0, fp.partitionMaxBytes) };
        if (!topic!.diskless) {
          const plog = broker.classicLeader(topic!) === broker.config.nodeId ? broker.classic.log(topic!.topicId, fp.partition) : undefined;
          if (!plog) {
            out.errorCode = ErrorCode.NOT_LEADER_OR_FOLLOWER;
            anyError = true;
            continue;
          }
          order.push(-1 - classicReads.length);
          classicReads.push({ log: plog, request, out });
          continue;
        }
        const replica = zone === null ? null : broker.preferredReadReplica(zone, request.topicId, request.partition);
        if (replica !== null) {
          out.preferredReadReplica = replica;
          continue;
        }
        order.push(reads.length);
        reads.push(request);
        readOuts.push(out);
      }
    }

    const deadline = Date.now() + Math.max(0, req.maxWaitMs);
    const keys = reads.map((r) => BatchIndexCache.key(r.topicId, r.partition));
    for (const c of classicReads) keys.push(BatchIndexCache.key(c.request.topicId, c.request.partition));
    for (;;) {
      const { results, classicResults } = await readAll(broker, reads, classicReads, order, req.maxBytes);
      let bytes = 0;
      let errors = anyError;
      for (const r of results.concat(classicResults)) {
        bytes += r.bytes;
        if (r.errorCode !== ErrorCode.NONE) errors = true;
      }
      const remaining = deadline - Date.now();
      if (bytes >= req.minBytes || errors || remaining <= 0 || keys.length === 0 || broker.closing) {
        fill(readOuts, results);
        fill(classicReads.map((c) => c.out), classicResults);
        break;
      }
      // An append that became visible while we were reading woke nobody: read again instead of waiting.
      if (classicReads.some((c, i) => c.log.highWatermark !== classicResults[i]!.highWatermark)) continue;
      await broker.storage.waiters.wait(keys, remaining);
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, sessionId: 0, responses: [] }),
});

interface ClassicRead {
  log: PartitionLog;
  request: FetchPartitionRequest;
  out: PartitionOut;
}

/**
 * Reads every partition: both kinds are planned (diskless: batch locations; classic: the batch holding the
 * fetch offset), then the byte limits are applied in request order against one budget, then the bytes are read.
 */
async function readAll(broker: Broker, reads: FetchPartitionRequest[], classicReads: ClassicRead[], order: readonly number[], requestMaxBytes: number): Promise<{ results: FetchPartitionResult[]; classicResults: FetchPartitionResult[] }> {
  if (classicReads.length === 0) return { results: await broker.storage.reader.read(reads, Math.max(0, requestMaxBytes)), classicResults: [] };
  const reader = broker.storage.reader;
  const [plans, classicPlans] = await Promise.all([
    reads.length > 0 ? reader.plan(reads) : Promise.resolve([]),
    Promise.all(classicReads.map((c) => c.log.plan(c.request.offset))),
  ]);
  const budget = fetchBudget(requestMaxBytes);
  for (const i of order) {
    if (i >= 0) reader.limit(reads[i]!, plans[i]!, budget);
    else classicReads[-1 - i]!.log.limit(classicPlans[-1 - i]!, classicReads[-1 - i]!.request.maxBytes, budget);
  }
  const [results, classicResults] = await Promise.all([
    Promise.all(plans.map((p) => reader.load(p))),
    Promise.all(classicReads.map((c, i) => c.log.load(classicPlans[i]!, c.request.offset))),
  ]);
  return { results, classicResults };
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

function fill(outs: PartitionOut[], results: FetchPartitionResult[]): void {
  for (let i = 0; i < outs.length; i++) {
    const out = outs[i]!;
    const r = results[i]!;
    out.errorCode = r.errorCode;
    out.highWatermark = BigInt(r.highWatermark);
    out.lastStableOffset = BigInt(r.highWatermark);
    out.logStartOffset = BigInt(r.logStartOffset);
    // Several slices (batch runs, or one run held in several cached parts) go out back to back, uncopied.
    out.records = r.records.length === 0 ? EMPTY : r.records.length === 1 ? r.records[0]! : r.records;
  }
}
