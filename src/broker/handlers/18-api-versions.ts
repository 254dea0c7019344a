/**
 * ApiVersions (key 18), versions 0-4.
 *
 * Behavior: advertises exactly the handlers in handlers/index.ts with their version ranges. A request for
 * a version newer than 4 is answered by dispatch at v0 with UNSUPPORTED_VERSION (KIP-511), so old and new
 * clients can both negotiate. v3+ validates ClientSoftwareName/Version like Kafka (INVALID_REQUEST).
 * Features (v3+): `group.version` supported 0-1 and finalized at 1, as a Kafka 4 cluster reports it, so
 * clients know the KIP-848 consumer group protocol (ConsumerGroupHeartbeat) is enabled.
 */
import type { ApiVersionsRequest, ApiVersionsResponse } from '../../protocol/gen/messages/api-versions.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler, type AnyHandler } from '../handler.ts';

// Kafka's rule for client software names and versions (ApiVersionsRequest.isValid).
const SOFTWARE_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export function apiVersionsBody(handlers: readonly (AnyHandler | undefined)[]): Init<ApiVersionsResponse> {
  const apiKeys = [];
  for (const h of handlers) if (h) apiKeys.push({ apiKey: h.key, minVersion: h.minVersion, maxVersion: h.maxVersion });
  apiKeys.sort((a, b) => a.apiKey - b.apiKey);
  return {
    errorCode: ErrorCode.NONE,
    apiKeys,
    throttleTimeMs: 0,
    supportedFeatures: [{ name: 'group.version', minVersion: 0, maxVersion: 1 }],
    finalizedFeaturesEpoch: 1n,
    finalizedFeatures: [{ name: 'group.version', minVersionLevel: 1, maxVersionLevel: 1 }],
  };
}

export const apiVersions = defineHandler<ApiVersionsRequest, ApiVersionsResponse>({
  key: 18,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, req) {
    const body = apiVersionsBody(ctx.handlers);
    if (ctx.apiVersion >= 3 && !(SOFTWARE_PATTERN.test(req.clientSoftwareName) && SOFTWARE_PATTERN.test(req.clientSoftwareVersion))) {
      return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys: [] };
    }
    return body;
  },
  errorResponse: (_req, errorCode) => ({ errorCode }),
});
