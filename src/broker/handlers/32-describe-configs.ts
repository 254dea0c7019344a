/**
 * DescribeConfigs (key 32), versions 0-4.
 *
 * Behavior: TOPIC resources list every topic config with its value and source (DYNAMIC_TOPIC_CONFIG when
 * set on the topic, else the broker setting it inherits or the default), with synonyms on request (v1+)
 * and types and documentation on request (v3+); an inherited broker value set dynamically has source
 * DYNAMIC_BROKER_CONFIG or DYNAMIC_DEFAULT_BROKER_CONFIG. BROKER resources: this broker's id lists every
 * broker key with its source (DYNAMIC_BROKER_CONFIG > DYNAMIC_DEFAULT_BROKER_CONFIG > STATIC_BROKER_CONFIG
 * > DEFAULT_CONFIG, as in Kafka) and synonyms; "" lists the cluster-wide dynamic defaults
 * (../dynamic-configs.ts). GROUP resources (type 32) list Kafka 4.1's per-group keys (consumer.*, share.*,
 * streams.*): source GROUP_CONFIG when the group sets the key, else the value and source of the broker's
 * group.* key it inherits (../../groups/group-configs.ts); an empty group name is INVALID_REQUEST. v0 (Kafka 3.9 and older) reports IsDefault (the source is the default) instead
 * of the source. BROKER_LOGGER, CLIENT_METRICS and other types get INVALID_REQUEST.
 */
import type { DescribeConfigsRequest, DescribeConfigsResponse, DescribeConfigsResponseDescribeConfigsResult } from '../../protocol/gen/messages/describe-configs.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { describeTopicConfigs } from '../../config/topic-config.ts';
import { defineHandler } from '../handler.ts';
import { CONFIG_SOURCE_CODES, CONFIG_TYPE_CODES, type ConfigSource, type DescribedConfig } from '../../config/config-def.ts';
import { topicNameError } from '../topic-names.ts';

const TOPIC = 2;
const BROKER = 4;
const GROUP = 32;


type Result = Init<DescribeConfigsResponseDescribeConfigsResult>;

export const describeConfigs = defineHandler<DescribeConfigsRequest, DescribeConfigsResponse>({
  key: 32,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, req) {
    const results: Result[] = req.resources.map((resource) => {
      const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
      const fail = (errorCode: number, errorMessage: string): Result => ({ ...base, errorCode, errorMessage, configs: [] });
      let described: DescribedConfig[];
      if (resource.resourceType === TOPIC) {
        if (topicNameError(resource.resourceName)) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, topicNameError(resource.resourceName)!);
        const topic = ctx.topics.get(resource.resourceName);
        if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${resource.resourceName}' does not exist.`);
        described = describeTopicConfigs(topic.configs, ctx.brokerConfigs.loadedView());
      } else if (resource.resourceType === BROKER) {
        const broker = ctx.brokerConfigs.describe(resource.resourceName);
        if (broker === null) {
          return fail(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${ctx.config.nodeId} or empty string, but received ${resource.resourceName}`);
        }
        described = broker;
      } else if (resource.resourceType === GROUP) {
        const group = ctx.groups.configs.describe(resource.resourceName);
        if (!Array.isArray(group)) return fail(group.errorCode, group.errorMessage!);
        // A key the group does not set shows the broker key it inherits, with that key's source and synonyms.
        const broker = new Map((ctx.brokerConfigs.describe(String(ctx.config.nodeId)) ?? []).map((c) => [c.name, c]));
        described = group.map((c) => {
          const inherited = (broker.get(c.brokerKey)?.synonyms ?? []) as { name: string; value: string | null; source: ConfigSource }[];
          const own = c.groupValue === null ? [] : [{ name: c.name, value: c.groupValue, source: 'GROUP_CONFIG' as const }];
          const synonyms = [...own, ...inherited];
          return {
            name: c.name, value: c.value, source: synonyms[0]?.source ?? 'DEFAULT_CONFIG', readOnly: false, isSensitive: false,
            type: c.type, documentation: c.documentation, synonyms,
          };
        });
      } else {
        return fail(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${resource.resourceType}`);
      }
      const wanted = resource.configurationKeys && new Set(resource.configurationKeys);
      return {
        ...base,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        configs: described.filter((c) => !wanted || wanted.has(c.name)).map((c) => ({
          name: c.name,
          value: c.isSensitive ? null : c.value,
          readOnly: c.readOnly,
          configSource: CONFIG_SOURCE_CODES[c.source],
          isDefault: c.source === 'DEFAULT_CONFIG',
          isSensitive: c.isSensitive,
          synonyms: req.includeSynonyms
            ? (c.synonyms ?? []).map((s) => ({ name: s.name, value: s.value, source: CONFIG_SOURCE_CODES[s.source] }))
            : [],
          configType: CONFIG_TYPE_CODES[c.type],
          documentation: req.includeDocumentation ? c.documentation : null,
        })),
      };
    });
    return { throttleTimeMs: 0, results };
  },
  errorResponse: (req, errorCode) => ({
    results: req.resources.map((r) => ({ errorCode, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] })),
  }),
});
