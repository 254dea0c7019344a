/**
 * DescribeClientQuotas (key 48), versions 0-1.
 *
 * Behavior: as Kafka: the quota values (kept in the coordinator) of the entities matching every component
 * of the filter — EXACT name, DEFAULT (the type's default entity) or SPECIFIED (any named entity of the
 * type); with `strict`, only entities made of exactly the filtered types. An unknown entity type or a
 * filter naming a type twice: INVALID_REQUEST. Needs DESCRIBE_CONFIGS on the cluster.
 * Version notes: v1 is flexible.
 */
import type { DescribeClientQuotasRequest, DescribeClientQuotasResponse } from '../../protocol/gen/messages/describe-client-quotas.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { QUOTA_KEYS, entityParts } from '../../security/quotas.ts';
import { defineHandler } from '../handler.ts';

const MATCH_EXACT = 0;
const MATCH_DEFAULT = 1;
const MATCH_SPECIFIED = 2;

export const describeClientQuotas = defineHandler<DescribeClientQuotasRequest, DescribeClientQuotasResponse>({
  key: 48,
  name: 'DescribeClientQuotas',
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, req) {
    const invalid = (message: string) => ({ throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: message, entries: null });
    const types = new Set<string>();
    for (const c of req.components) {
      if (!QUOTA_KEYS[c.entityType]) return invalid(`Custom entity type '${c.entityType}' not supported`);
      if (types.has(c.entityType)) return invalid(`Duplicate entity type in filter: ${c.entityType}`);
      if (c.matchType < MATCH_EXACT || c.matchType > MATCH_SPECIFIED) return invalid(`Unknown match type ${c.matchType}`);
      if (c.matchType === MATCH_EXACT && c.match === null) return invalid(`Exact match of ${c.entityType} needs a name`);
      types.add(c.entityType);
    }
    const entries = [];
    for (const [key, values] of ctx.quotas.all()) {
      const parts = entityParts(key);
      if (req.strict && (parts.length !== types.size || parts.some((p) => !types.has(p.entityType)))) continue;
      const matches = req.components.every((c) => {
        const part = parts.find((p) => p.entityType === c.entityType);
        if (!part) return false;
        if (c.matchType === MATCH_EXACT) return part.entityName === c.match;
        if (c.matchType === MATCH_DEFAULT) return part.entityName === null;
        return part.entityName !== null;
      });
      if (!matches) continue;
      entries.push({ entity: parts, values: [...values].map(([k, value]) => ({ key: k, value })) });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, entries };
  },
  errorResponse: (_req, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, entries: null }),
});
