/**
 * ShareFetch (key 78), versions 1-2 (KIP-932 share groups, Kafka 4.2).
 *
 * Behavior: share sessions as Kafka's: epoch 0 opens one for (group, member) with the partitions named
 * (acknowledgements in it are INVALID_REQUEST; as in Kafka, membership is not checked here), epoch N
 * must be the session's next epoch (INVALID_SHARE_SESSION_EPOCH; no session: SHARE_SESSION_NOT_FOUND) and
 * adds and forgets partitions, epoch -1 applies its acknowledgements, releases what the member still holds
 * in the session's partitions and closes it; so does the close of the connection that opened the session
 * (Kafka's disconnect listener). Piggy-backed acknowledgements are applied first (per partition,
 * all or nothing: INVALID_RECORD_STATE for records the member does not hold, or whose lock expired).
 * Records are read through the partition seam (both topic kinds; a classic partition led elsewhere gets
 * NOT_LEADER_OR_FOLLOWER with its leader in CurrentLeader and NodeEndpoints) from the lowest acquirable
 * offset of each partition, long-polling like Fetch (a fetch that wakes to find every new record taken by
 * another consumer waits again for the rest of its max wait); whole batches are returned
 * and their available records acquired (src/groups/share-groups.ts: one coordinator transaction for the
 * request's partitions, committed before the answer), so any broker serves any share partition and two
 * consumers never hold the same record. A new share partition starts where the group's
 * share.auto.offset.reset says: `latest` (the default) the log end, `earliest` the log start, `by_duration:D`
 * the first record whose timestamp is at least now - D (ListOffsets by timestamp; when no record is that recent,
 * the log end: Kafka answers OFFSET_NOT_AVAILABLE until one is, which starts at the same record). MaxRecords
 * bounds the records acquired (after the whole batch that reaches it; ShareAcquireMode 1, v2: exactly).
 * The group's share.isolation.level applies as Kafka 4.2 applies it: read_committed reads up to the last stable
 * offset, and the batches of aborted transactions are archived as they are passed, never delivered
 * (SharePartition's filterAbortedTransactionalAcquiredRecords); read_uncommitted (the default) delivers them.
 * Control batches are archived, never delivered. Acquisition locks last the group's share.record.lock.duration.ms
 * (else group.share.record.lock.duration.ms), which AcquisitionLockTimeoutMs reports, as Kafka. Sessions are this broker's: a client that moves to another broker gets SHARE_SESSION_NOT_FOUND
 * and opens one there, as with a Kafka leader change.
 * Version notes: v2 adds ShareAcquireMode and RENEW acknowledgements: allowed only with IsRenewAck, which
 * requires MaxBytes, MinBytes, MaxRecords and MaxWaitMs to be 0 (INVALID_REQUEST) and fetches nothing (KIP-1222).
 */
import type { ShareFetchRequest, ShareFetchResponse, ShareFetchResponsePartitionData } from '../../protocol/gen/messages/share-fetch.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, READ_COMMITTED, READ_UNCOMMITTED, type OffsetAnswer, type PartitionLog } from '../../storage/partition-log.ts';
import type { ShareAutoOffsetReset } from '../../config/group-config.ts';
import type { SharePartitionKey } from '../../coordinator/coordinator.ts';
import type { AcquiredRange, AcquireInput } from '../../groups/share-groups.ts';
import { childLogger } from '../../observability/log.ts';
import { defineHandler, type RequestContext } from '../handler.ts';
import { isServeError } from '../partitions.ts';
import { applyAcknowledgements, batchExtents, markAbortedBatches, nextSessionEpoch, shareRequestError, type PartitionAcknowledgements } from '../share-requests.ts';

type PartitionOut = Init<ShareFetchResponsePartitionData>;
const EMPTY = Buffer.alloc(0);
const log = childLogger('share-fetch');
const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };
const keyOf = (k: SharePartitionKey): string => `${k.topicId}:${k.partition}`;

export const shareFetch = defineHandler<ShareFetchRequest, ShareFetchResponse>({
  key: 78,
  name: 'ShareFetch',
  minVersion: 1,
  maxVersion: 2,
  async handle(ctx, req) {
    const lockMs = ctx.shareGroups.lockDurationMs(req.groupId ?? '');
    const top = (errorCode: number, errorMessage: string | null): Init<ShareFetchResponse> => ({ throttleTimeMs: 0, errorCode, errorMessage, acquisitionLockTimeoutMs: lockMs, responses: [], nodeEndpoints: [] });
    const bad = shareRequestError(req.groupId, req.memberId);
    if (bad) return top(bad.errorCode, bad.errorMessage);
    const groupId = req.groupId!;
    const memberId = req.memberId!;
    const shares = ctx.shareGroups;

    const named: SharePartitionKey[] = req.topics.flatMap((t) => t.partitions.map((p) => ({ topicId: t.topicId, partition: p.partitionIndex })));
    const acks: PartitionAcknowledgements[] = req.topics.flatMap((t) =>
      t.partitions.filter((p) => p.acknowledgementBatches.length > 0).map((p) => ({ topicId: t.topicId, partition: p.partitionIndex, batches: p.acknowledgementBatches })),
    );
    const epoch = req.shareSessionEpoch;
    // KIP-1222: a request renewing locks fetches nothing, and must say so.
    const renewing = ctx.apiVersion >= 2 && req.isRenewAck;
    if (renewing) {
      const nonZero = (['maxBytes', 'minBytes', 'maxRecords', 'maxWaitMs'] as const).filter((k) => req[k] !== 0);
      if (nonZero.length > 0) return top(ErrorCode.INVALID_REQUEST, `${nonZero.map((k) => `${k} must be set to 0`).join(', ')} if isRenewAck is true.`);
    }
    let fetchKeys: SharePartitionKey[];
    let closing = false;
    if (epoch === 0) {
      if (acks.length > 0) return top(ErrorCode.INVALID_REQUEST, 'Acknowledgements are not allowed in a request opening a share session');
      const conn = { id: ctx.conn.id, onClose: (f: () => void) => ctx.conn.socket.once('close', f) };
      fetchKeys = [...shares.openSession(groupId, memberId, named, conn, (err) => log.warn({ err, groupId, memberId }, 'releasing the records of a closed share session failed; their locks expire')).partitions.values()];
    } else {
      const session = shares.session(groupId, memberId);
      if (!session) return top(ErrorCode.SHARE_SESSION_NOT_FOUND, 'No share session for this member here');
      if (epoch === -1) {
        closing = true;
        fetchKeys = [];
      } else {
        if (epoch !== session.epoch) return top(ErrorCode.INVALID_SHARE_SESSION_EPOCH, `Expected share session epoch ${session.epoch}, got ${epoch}`);
        session.epoch = nextSessionEpoch(epoch);
        for (const f of req.forgottenTopicsData) for (const p of f.partitions) session.partitions.delete(keyOf({ topicId: f.topicId, partition: p }));
        for (const k of named) session.partitions.set(keyOf(k), k);
        fetchKeys = [...session.partitions.values()];
      }
    }

    const outs = new Map<string, PartitionOut>();
    const outOf = (k: SharePartitionKey): PartitionOut => {
      let o = outs.get(keyOf(k));
      if (!o) {
        o = { partitionIndex: k.partition, errorCode: ErrorCode.NONE, errorMessage: null, acknowledgeErrorCode: ErrorCode.NONE, acknowledgeErrorMessage: null, currentLeader: NO_LEADER, records: EMPTY, acquiredRecords: [] };
        outs.set(keyOf(k), o);
      }
      return o;
    };
    const topicOrder: string[] = [];
    const leaders = new Map<number, { nodeId: number; host: string; port: number; rack: string | null }>();
    const noteTopic = (topicId: string): void => {
      if (!topicOrder.includes(topicId)) topicOrder.push(topicId);
    };

    // Piggy-backed acknowledgements first.
    if (acks.length > 0) {
      const answers = await applyAcknowledgements(shares, groupId, memberId, acks, renewing);
      acks.forEach((a, i) => {
        const o = outOf(a);
        noteTopic(a.topicId);
        o.acknowledgeErrorCode = answers[i]!.errorCode;
        o.acknowledgeErrorMessage = answers[i]!.errorMessage;
      });
    }
    if (closing) {
      const session = shares.session(groupId, memberId);
      if (session) await shares.release(groupId, memberId, [...session.partitions.values()]);
      shares.closeSession(groupId, memberId);
    } else if (fetchKeys.length > 0 && !renewing) {
      await fetchRecords(ctx, req, groupId, memberId, fetchKeys, outOf, noteTopic, epoch === 0, leaders);
    }

    const responses = topicOrder.map((topicId) => ({
      topicId,
      partitions: [...outs.entries()].filter(([k]) => k.startsWith(`${topicId}:`)).map(([, o]) => o),
    }));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, acquisitionLockTimeoutMs: lockMs, responses, nodeEndpoints: [...leaders.values()] };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, responses: [], nodeEndpoints: [] }),
});

async function fetchRecords(
  ctx: RequestContext,
  req: ShareFetchRequest,
  groupId: string,
  memberId: string,
  keys: SharePartitionKey[],
  outOf: (k: SharePartitionKey) => PartitionOut,
  noteTopic: (topicId: string) => void,
  answerAll: boolean,
  leaders: Map<number, { nodeId: number; host: string; port: number; rack: string | null }>,
): Promise<void> {
  const shares = ctx.shareGroups;
  const served: { key: SharePartitionKey; log: PartitionLog }[] = [];
  const failedTopics = new Set<string>();
  const lookup = ctx.topics.ensure(keys.map((k) => ({ name: null, topicId: k.topicId, partitionCount: k.partition + 1 })));
  if (lookup) await lookup;
  for (const k of keys) {
    const topic = ctx.topics.getById(k.topicId);
    const log = topic ? ctx.partitions.serve(topic, k.partition, -1) : null;
    if (log === null || isServeError(log)) {
      const o = outOf(k);
      noteTopic(k.topicId);
      failedTopics.add(k.topicId);
      o.errorCode = log === null ? ErrorCode.UNKNOWN_TOPIC_ID : log.errorCode;
      // A classic partition led elsewhere: name its leader, as Kafka does, so the client goes there.
      if (topic && o.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) {
        const leader = ctx.cluster.live().find((b) => b.nodeId === ctx.cluster.classicLeader(topic));
        if (leader) {
          o.currentLeader = { leaderId: leader.nodeId, leaderEpoch: 0 };
          leaders.set(leader.nodeId, { nodeId: leader.nodeId, host: leader.host, port: leader.port, rack: leader.rack });
        }
      }
      continue;
    }
    served.push({ key: k, log });
  }
  try {
    if (served.length > 0) await acquireRecords(ctx, req, groupId, memberId, served, outOf, noteTopic, answerAll, failedTopics);
  } finally {
    shares.countFetch(new Set(keys.map((k) => k.topicId)).size, failedTopics.size);
  }
}

/** Where a share partition with no state starts, per the group's share.auto.offset.reset. */
async function initialOffset(log: PartitionLog, reset: ShareAutoOffsetReset): Promise<OffsetAnswer> {
  if (reset.type === 'earliest') return log.listOffset(EARLIEST_TIMESTAMP);
  if (reset.type === 'by_duration') {
    // Timestamps below 0 would be ListOffsets' special values: a duration reaching past 1970 means every record.
    const found = await log.listOffset(Math.max(0, Date.now() - reset.durationMs));
    if (found.errorCode !== ErrorCode.NONE || found.offset >= 0) return found;
  }
  return log.listOffset(LATEST_TIMESTAMP);
}

async function acquireRecords(
  ctx: RequestContext,
  req: ShareFetchRequest,
  groupId: string,
  memberId: string,
  served: { key: SharePartitionKey; log: PartitionLog }[],
  outOf: (k: SharePartitionKey) => PartitionOut,
  noteTopic: (topicId: string) => void,
  answerAll: boolean,
  failedTopics: Set<string>,
): Promise<void> {
  const shares = ctx.shareGroups;
  const isolation = shares.options.readCommitted(groupId) ? READ_COMMITTED : READ_UNCOMMITTED;
  // Several consumers' fetches may wait on one partition and wake together on new records: those that find
  // everything taken by a faster one wait again for the rest of their max wait instead of answering empty
  // (so the next records go to a consumer already waiting, and the consumers take turns).
  const deadline = Date.now() + Math.max(0, req.maxWaitMs);
  let inputs: AcquireInput[] = [];
  let parsed: ReturnType<typeof batchExtents>[] = [];
  let inputOf: number[] = [];
  let acquired: AcquiredRange[][] = [];
  for (;;) {
    const states = await shares.partitionStates(groupId, served.map((s) => s.key));
    const reset = shares.options.autoOffsetReset(groupId);
    // Where a share partition starts when it has no state yet, and the log start (retention may have passed the SPSO).
    const starts = await Promise.all(served.map(async (s, i) => {
      if (states[i] !== null) return { initial: states[i]!.startOffset, logStart: -1 };
      const at = await initialOffset(s.log, reset);
      return { initial: at.errorCode === ErrorCode.NONE ? at.offset : 0, logStart: -1 };
    }));
    let offsets = served.map((s, i) => shares.firstAcquirableOffset(groupId, states[i] ?? null, starts[i]!.initial, starts[i]!.logStart));
    const maxBytes = req.maxBytes > 0 ? req.maxBytes : 0x7fffffff;
    const readOnce = () => ctx.partitions.read(
      served.map((s, i) => ({ log: s.log, offset: offsets[i]!, maxBytes })),
      { maxBytes, minBytes: req.minBytes, maxWaitMs: Math.max(0, deadline - Date.now()), isolation },
    );
    let results = await readOnce();
    // The SPSO fell below the log start (retention, DeleteRecords): move past what is gone and read again.
    if (results.some((r) => r.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE)) {
      await Promise.all(served.map(async (s, i) => {
        if (results[i]!.errorCode !== ErrorCode.OFFSET_OUT_OF_RANGE) return;
        const earliest = await s.log.listOffset(EARLIEST_TIMESTAMP);
        starts[i]!.logStart = earliest.offset;
        if (states[i] === null && starts[i]!.initial < earliest.offset) starts[i]!.initial = earliest.offset;
      }));
      offsets = served.map((s, i) => shares.firstAcquirableOffset(groupId, states[i] ?? null, starts[i]!.initial, starts[i]!.logStart));
      results = await readOnce();
    }
    inputs = [];
    parsed = [];
    inputOf = [];
    served.forEach((s, i) => {
      const r = results[i]!;
      if (r.errorCode !== ErrorCode.NONE) {
        const o = outOf(s.key);
        noteTopic(s.key.topicId);
        failedTopics.add(s.key.topicId);
        o.errorCode = r.errorCode;
        return;
      }
      const p = batchExtents(r.records);
      if (r.abortedTransactions) markAbortedBatches(p.extents, r.abortedTransactions);
      parsed.push(p);
      inputOf.push(i);
      inputs.push({ ...s.key, initialOffset: starts[i]!.initial, logStartOffset: Math.max(starts[i]!.logStart, r.logStartOffset), batches: p.extents });
    });
    acquired = await shares.acquire(groupId, memberId, inputs, Math.max(0, req.maxRecords), ctx.apiVersion >= 2 && req.shareAcquireMode === 1);
    const anyData = parsed.some((p) => p.extents.length > 0);
    if (acquired.some((a) => a.length > 0) || !anyData || inputs.length < served.length || Date.now() >= deadline) break;
  }
  inputs.forEach((input, j) => {
    const ranges = acquired[j]!;
    const key = served[inputOf[j]!]!.key;
    if (ranges.length === 0) {
      if (answerAll) {
        outOf(key);
        noteTopic(key.topicId);
      }
      return;
    }
    const o = outOf(key);
    noteTopic(key.topicId);
    const { data, extents } = parsed[j]!;
    const slices = extents.filter((b) => ranges.some((a) => a.firstOffset <= b.lastOffset && a.lastOffset >= b.baseOffset)).map((b) => data.subarray(b.start, b.end));
    o.records = slices.length === 1 ? slices[0]! : Buffer.concat(slices);
    o.acquiredRecords = ranges.map((a) => ({ firstOffset: BigInt(a.firstOffset), lastOffset: BigInt(a.lastOffset), deliveryCount: a.deliveryCount }));
  });
}
