/**
 * IncrementalAlterConfigs (key 44), versions 0-1.
 *
 * Behavior: per key SET (0), DELETE (1: back to the default), APPEND (2) and SUBTRACT (3) (LIST keys
 * only, else INVALID_CONFIG; starting from the topic's value or Kafka's default) on TOPIC resources; the
 * result is validated as a whole (INVALID_CONFIG with Kafka's messages for unknown names, wrong types,
 * out-of-range values, or a change of diskless.enable), stored in the coordinator, and visible at once
 * through DescribeConfigs (source DYNAMIC_TOPIC_CONFIG) and storage. BROKER resources ("" = cluster default, or
 * this broker's id): dynamic broker configs, kept in the coordinator and applied by every broker at once
 * (../dynamic-configs.ts); static keys are INVALID_REQUEST as in Kafka. See
 * ../config-admin.ts for every rule and error.
 * Version notes: v1 is flexible; nothing else changes.
 */
import type { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from '../../protocol/gen/messages/incremental-alter-configs.ts';
import { defineHandler } from '../handler.ts';
import { alterResources } from '../config-admin.ts';

export const incrementalAlterConfigs = defineHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>({
  key: 44,
  name: 'IncrementalAlterConfigs',
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, req) {
    const responses = await alterResources(ctx.admin, req.resources, (r) => r.configs.map((c) => ({ name: c.name, op: c.configOperation, value: c.value })),
      { replace: false, validateOnly: req.validateOnly }, ctx.brokerConfigs, ctx.groups.configs);
    return { throttleTimeMs: 0, responses };
  },
  errorResponse: (req, errorCode) => ({
    responses: req.resources.map((r) => ({ errorCode, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName })),
  }),
});
