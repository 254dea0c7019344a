/**
 * ListConfigResources (key 74), versions 0-1 (KIP-1142; v0 was KIP-714's ListClientMetricsResources).
 *
 * Behavior: as Kafka 4.1's KafkaApis, the config resources of the requested types, in Kafka's order of types
 * (GROUP, CLIENT_METRICS, BROKER_LOGGER, BROKER, TOPIC): every live broker's id (brokers reachable on this
 * listener) and every topic's name, topics in name order. v0 asks for client-metrics resources only; v1 for
 * the types it lists (an empty list: every type). A type Kafka does not define (outside TOPIC 2, BROKER 4,
 * BROKER_LOGGER 8, CLIENT_METRICS 16, GROUP 32; v0: other than 16) fails the whole request with
 * UNSUPPORTED_VERSION, as in Kafka. Floe keeps no group configs, client-metrics subscriptions or broker
 * loggers, so those types list nothing (Kafka lists each broker as a BROKER_LOGGER resource; DescribeConfigs
 * in Floe does not serve BROKER_LOGGER, so it is not offered here). The ACL check (DESCRIBE_CONFIGS on the
 * cluster) is in broker/authorization.ts.
 */
import type { ListConfigResourcesRequest, ListConfigResourcesResponse, ListConfigResourcesResponseConfigResource } from '../../protocol/gen/messages/list-config-resources.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;
const CLIENT_METRICS = 16;
const GROUP = 32;
const SUPPORTED_V1 = new Set([TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP]);

export const listConfigResources = defineHandler<ListConfigResourcesRequest, ListConfigResourcesResponse>({
  key: 74,
  name: 'ListConfigResources',
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, req) {
    const requested = ctx.apiVersion === 0 ? [CLIENT_METRICS] : req.resourceTypes;
    if (requested.some((t) => !SUPPORTED_V1.has(t))) return { throttleTimeMs: 0, errorCode: ErrorCode.UNSUPPORTED_VERSION, configResources: [] };
    const wants = (type: number) => requested.length === 0 || requested.includes(type);
    const configResources: Init<ListConfigResourcesResponseConfigResource>[] = [];
    if (wants(BROKER)) {
      for (const b of [...ctx.cluster.live()].sort((x, y) => x.nodeId - y.nodeId)) configResources.push({ resourceName: String(b.nodeId), resourceType: BROKER });
    }
    if (wants(TOPIC)) {
      for (const name of ctx.topics.all().map((t) => t.name).sort()) configResources.push({ resourceName: name, resourceType: TOPIC });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, configResources };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, configResources: [] }),
});
