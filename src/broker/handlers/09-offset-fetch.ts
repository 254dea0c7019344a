/**
 * OffsetFetch (key 9), versions 0-10.
 *
 * Behavior: committed offsets are read from the coordinator DB, one query for all the groups of a request.
 * A partition without a committed offset (or of an unknown group or topic) gets offset -1, metadata "" and
 * no error, as in Kafka. With no topic list (null, v2+) every committed offset of the group is returned.
 * RequireStable (v7+): a partition with an offset committed by a transaction that has not ended
 * (TxnOffsetCommit) gets UNSTABLE_OFFSET_COMMIT (retriable), as in Kafka; without it the last committed
 * offset is returned. An empty group id is accepted (Kafka accepts it for OffsetFetch).
 * Version notes: v0 (Kafka 3.9 and older) is v1's shape; v0-v1 report group errors in every partition (it has no top-level error); v2-v7 one group
 * with a top-level error; v5+ leader epochs; v8+ several groups per request, answered per group; v9 adds
 * the member id and epoch of KIP-848 consumer groups (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH), ignored for
 * classic groups (as Kafka does). v10 (KIP-848; Kafka 4.1 marks it unstable) names topics by id: an unknown id
 * gets UNKNOWN_TOPIC_ID in each of its partitions (offset -1), and with no topic list the topics are answered
 * by id.
 */
import type { OffsetFetchRequest, OffsetFetchResponse } from '../../protocol/gen/messages/offset-fetch.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler, type RequestContext } from '../handler.ts';
import type { FetchedGroup, FetchedPartition } from '../../groups/group-coordinator.ts';

/** RequireStable: partitions with a transactional offset commit pending get UNSTABLE_OFFSET_COMMIT. */
async function markUnstable(ctx: RequestContext, group: FetchedGroup): Promise<void> {
  if (group.errorCode !== ErrorCode.NONE) return;
  let pending;
  try {
    pending = await ctx.transactions.store.pendingOffsets(group.groupId);
  } catch {
    group.errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return;
  }
  if (pending.length === 0) return;
  const unstable = new Set(pending.map((p) => `${ctx.topics.getById(p.topicId)?.name}:${p.partition}`));
  for (const t of group.topics) {
    for (const p of t.partitions) {
      if (!unstable.has(`${t.name}:${p.partition}`)) continue;
      p.errorCode = ErrorCode.UNSTABLE_OFFSET_COMMIT;
      p.offset = -1n;
    }
  }
}

function partitionOut(p: FetchedPartition) {
  return { partitionIndex: p.partition, committedOffset: p.offset, committedLeaderEpoch: p.leaderEpoch, metadata: p.metadata, errorCode: p.errorCode };
}

export const offsetFetch = defineHandler<OffsetFetchRequest, OffsetFetchResponse>({
  key: 9,
  name: 'OffsetFetch',
  minVersion: 0,
  maxVersion: 10,
  async handle(ctx, req) {
    const { groups, topics: registry } = ctx;
    if (ctx.apiVersion >= 8) {
      const byId = ctx.apiVersion >= 10;
      // v10: topics by id; the ids no topic has are answered UNKNOWN_TOPIC_ID without asking the group.
      const unknownIds = req.groups.map((g) => (byId && g.topics !== null ? g.topics.filter((t) => !registry.getById(t.topicId)) : []));
      const fetched = await groups.fetchOffsets(req.groups.map((g) => ({
        groupId: g.groupId,
        memberId: ctx.apiVersion >= 9 ? g.memberId : null,
        memberEpoch: ctx.apiVersion >= 9 ? g.memberEpoch : -1,
        topics: g.topics === null ? null : g.topics.flatMap((t) => {
          if (!byId) return [{ name: t.name, partitions: t.partitionIndexes }];
          const topic = registry.getById(t.topicId);
          return topic ? [{ name: topic.name, partitions: t.partitionIndexes }] : [];
        }),
      })));
      if (req.requireStable) await Promise.all(fetched.map((g) => markUnstable(ctx, g)));
      return {
        throttleTimeMs: 0,
        groups: fetched.map((g, i) => ({
          groupId: g.groupId,
          errorCode: g.errorCode,
          topics: [
            ...g.topics.flatMap((t) => {
              const topicId = byId ? registry.get(t.name)?.topicId : undefined;
              if (byId && topicId === undefined) return []; // a topic deleted since: it has no id to answer with
              return [{ name: t.name, topicId, partitions: t.partitions.map(partitionOut) }];
            }),
            ...(g.errorCode === ErrorCode.NONE ? unknownIds[i]! : []).map((t) => ({
              topicId: t.topicId,
              partitions: t.partitionIndexes.map((p) => ({ partitionIndex: p, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNKNOWN_TOPIC_ID })),
            })),
          ],
        })),
      };
    }
    const topics = req.topics === null ? null : req.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes }));
    const [g] = await groups.fetchOffsets([{ groupId: req.groupId, topics }]);
    if (ctx.apiVersion >= 7 && req.requireStable) await markUnstable(ctx, g!);
    if (g!.errorCode !== ErrorCode.NONE) {
      if (ctx.apiVersion >= 2) return { throttleTimeMs: 0, errorCode: g!.errorCode, topics: [] };
      return {
        throttleTimeMs: 0,
        topics: (req.topics ?? []).map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((p) => ({ partitionIndex: p, committedOffset: -1n, metadata: '', errorCode: g!.errorCode })),
        })),
      };
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      topics: g!.topics.map((t) => ({ name: t.name, partitions: t.partitions.map(partitionOut) })),
    };
  },
  errorResponse: (req, errorCode, ctx) => ({
    errorCode,
    topics: ctx.apiVersion >= 2 ? [] : (req.topics ?? []).map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((p) => ({ partitionIndex: p, committedOffset: -1n, metadata: '', errorCode })),
    })),
    groups: req.groups.map((g) => ({ groupId: g.groupId, errorCode, topics: [] })),
  }),
});
