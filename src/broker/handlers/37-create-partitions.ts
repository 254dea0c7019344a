/**
 * CreatePartitions (key 37), versions 0-3.
 *
 * Behavior: grows a topic to Count partitions; the new partitions start empty, the coordinator and the
 * broker's metadata cache know them at once (Metadata reports them), and for a classic topic led here their
 * local logs are created. As Kafka: a count that does not grow (same or smaller) is INVALID_PARTITIONS, an
 * unknown topic UNKNOWN_TOPIC_OR_PARTITION, a topic named twice INVALID_REQUEST for each occurrence, and
 * manual assignments must give one broker list per new partition naming live brokers
 * (INVALID_REPLICA_ASSIGNMENT). Diskless partitions have no replicas to place: assignments are checked and
 * then not used. validateOnly runs every check and creates nothing. Counts above topic-admin's
 * MAX_PARTITIONS are refused (INVALID_PARTITIONS).
 * Version notes: v2 is flexible; v3 may throttle in Kafka (never here).
 */
import type { CreatePartitionsRequest, CreatePartitionsResponse } from '../../protocol/gen/messages/create-partitions.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { CoordinatorError } from '../../coordinator/coordinator.ts';
import { defineHandler } from '../handler.ts';
import { MAX_PARTITIONS } from '../topic-admin.ts';

export const createPartitions = defineHandler<CreatePartitionsRequest, CreatePartitionsResponse>({
  key: 37,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, req) {
    const { topics, cluster } = ctx;
    const counts = new Map<string, number>();
    for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const live = new Set(cluster.live().map((b) => b.nodeId));
    // A topic created through another broker a moment ago may not be known here yet.
    const lookup = topics.ensure(req.topics.map((t) => ({ name: t.name })));
    if (lookup) await lookup;
    const results = [];
    for (const t of req.topics) {
      const result = (errorCode: number, errorMessage: string | null) => ({ name: t.name, errorCode, errorMessage });
      if (counts.get(t.name)! > 1) {
        results.push(result(ErrorCode.INVALID_REQUEST, 'Duplicate topic in request.'));
        continue;
      }
      const topic = topics.get(t.name);
      if (!topic) {
        results.push(result(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${t.name}' does not exist.`));
        continue;
      }
      const current = topic.partitionCount;
      if (t.count === current) {
        results.push(result(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partitions.`));
        continue;
      }
      if (t.count < current) {
        results.push(result(ErrorCode.INVALID_PARTITIONS, `Topic currently has ${current} partitions, which is higher than the requested ${t.count}.`));
        continue;
      }
      if (t.count > MAX_PARTITIONS) {
        results.push(result(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be at most ${MAX_PARTITIONS}.`));
        continue;
      }
      if (t.assignments !== null) {
        const added = t.count - current;
        if (t.assignments.length !== added) {
          results.push(result(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Increasing the number of partitions by ${added} but ${t.assignments.length} assignments provided.`));
          continue;
        }
        const bad = t.assignments.findIndex((a) => a.brokerIds.length === 0 || a.brokerIds.some((id) => !live.has(id)) || new Set(a.brokerIds).size !== a.brokerIds.length);
        if (bad >= 0) {
          results.push(result(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Invalid replica assignment for partition ${current + bad}: ${t.assignments[bad]!.brokerIds.join(',')} (live brokers: ${[...live].join(',')})`));
          continue;
        }
      }
      if (req.validateOnly) {
        results.push(result(ErrorCode.NONE, null));
        continue;
      }
      try {
        await ctx.admin.createPartitions(t.name, t.count);
        results.push(result(ErrorCode.NONE, null));
      } catch (err) {
        if (!(err instanceof CoordinatorError)) throw err;
        await topics.load(); // another broker changed the topic: refresh the cache
        results.push(result(err.errorCode, err.message));
      }
    }
    return { throttleTimeMs: 0, results };
  },
  errorResponse: (req, errorCode) => ({ results: req.topics.map((t) => ({ name: t.name, errorCode, errorMessage: null })) }),
});
