/**
 * AlterConfigs (key 33), versions 0-2.
 *
 * Behavior: the legacy, non-incremental API: a TOPIC resource's explicit configs are replaced by the ones
 * given (keys not named go back to their defaults), validated as a whole, stored in the coordinator and
 * visible at once through DescribeConfigs and storage. BROKER resources ("" = cluster default, or this
 * broker's id): the entity's whole set of dynamic broker configs is replaced (../dynamic-configs.ts);
 * static keys are INVALID_REQUEST as in Kafka. See ../config-admin.ts for
 * every rule and error.
 * Version notes: v2 is flexible; nothing else changes.
 */
import type { AlterConfigsRequest, AlterConfigsResponse } from '../../protocol/gen/messages/alter-configs.ts';
import { defineHandler } from '../handler.ts';
import { alterResources, OP_SET } from '../config-admin.ts';

export const alterConfigs = defineHandler<AlterConfigsRequest, AlterConfigsResponse>({
  key: 33,
  name: 'AlterConfigs',
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, req) {
    const responses = await alterResources(ctx.admin, req.resources, (r) => r.configs.map((c) => ({ name: c.name, op: OP_SET, value: c.value })),
      { replace: true, validateOnly: req.validateOnly }, ctx.brokerConfigs, ctx.groups.configs);
    return { throttleTimeMs: 0, responses };
  },
  errorResponse: (req, errorCode) => ({
    responses: req.resources.map((r) => ({ errorCode, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName })),
  }),
});
