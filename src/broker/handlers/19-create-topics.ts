/**
 * CreateTopics (key 19), versions 0-7.
 *
 * Behavior: `diskless.enable` (default from `log.diskless.enable`) picks diskless or classic storage. Any
 * replication factor >= 1 is accepted for diskless topics (the object store holds the data; replicas are
 * reported as this broker); classic topics are led by this broker with replication factor 1, and a larger one
 * is refused with INVALID_REPLICATION_FACTOR (replicated classic topics are not supported yet).
 * A name given twice in one request fails with INVALID_REQUEST for each occurrence, as in Kafka.
 * validateOnly runs every check and creates nothing. v0 has no validateOnly and no error messages (v1+), v2+ throttle time; v5+ returns the topic's configs.
 */
import type { CreateTopicsRequest, CreateTopicsResponse, CreateTopicsResponseCreatableTopicResult } from '../../protocol/gen/messages/create-topics.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { describeTopicConfigs } from '../../config/topic-config.ts';
import { defineHandler, type RequestContext } from '../handler.ts';
import { CONFIG_SOURCE_CODES } from '../../config/config-def.ts';

export const createTopics = defineHandler<CreateTopicsRequest, CreateTopicsResponse>({
  key: 19,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 7,
  async handle(ctx, req) {
    const counts = new Map<string, number>();
    for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const results: Init<CreateTopicsResponseCreatableTopicResult>[] = [];
    for (const t of req.topics) {
      if (counts.get(t.name)! > 1) {
        results.push({ name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Create topics request from client ${ctx.clientId ?? ''} contains multiple entries for the following topics: ${t.name}` });
        continue;
      }
      const configs: Record<string, string | null> = {};
      for (const c of t.configs) configs[c.name] = c.value;
      const outcome = await ctx.admin.createTopic({
        name: t.name,
        numPartitions: t.numPartitions,
        replicationFactor: t.replicationFactor,
        assignments: t.assignments,
        configs,
        validateOnly: req.validateOnly,
      });
      if (outcome.errorCode !== ErrorCode.NONE) {
        results.push({ name: t.name, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage, numPartitions: -1, replicationFactor: -1, configs: null });
        continue;
      }
      results.push({
        name: t.name,
        topicId: outcome.topic?.topicId,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: outcome.numPartitions,
        replicationFactor: outcome.replicationFactor,
        configs: describeCreated(ctx, configs),
      });
    }
    return { throttleTimeMs: 0, topics: results };
  },
  errorResponse: (req, errorCode) => ({
    topics: req.topics.map((t) => ({ name: t.name, errorCode, errorMessage: null })),
  }),
});

function describeCreated(ctx: RequestContext, configs: Record<string, string | null>) {
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(configs)) if (v !== null) set[k] = v;
  return describeTopicConfigs(set, ctx.brokerConfigs.loadedView()).map((c) => ({
    name: c.name,
    value: c.value,
    readOnly: c.readOnly,
    configSource: CONFIG_SOURCE_CODES[c.source],
    isSensitive: c.isSensitive,
  }));
}
