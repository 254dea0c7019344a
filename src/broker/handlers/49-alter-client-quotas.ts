/**
 * AlterClientQuotas (key 49), versions 0-1.
 *
 * Behavior: as Kafka: per entity (user, client-id, user + client-id, ip; a null name is the type's
 * default), set or remove quota values — producer_byte_rate, consumer_byte_rate, request_percentage,
 * controller_mutation_rate (connection_creation_rate for ip). An invalid entity, an unknown key or a value
 * that is not positive gets INVALID_REQUEST for that entity; the valid ones are written to the coordinator
 * in one transaction (unless validate_only) and every broker reloads them. Needs ALTER_CONFIGS on the cluster.
 * Version notes: v1 is flexible.
 */
import type { AlterClientQuotasRequest, AlterClientQuotasResponse } from '../../protocol/gen/messages/alter-client-quotas.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import type { QuotaValue } from '../../coordinator/security-store.ts';
import { QUOTA_KEYS, entityError, entityKey } from '../../security/quotas.ts';
import { defineHandler } from '../handler.ts';

export const alterClientQuotas = defineHandler<AlterClientQuotasRequest, AlterClientQuotasResponse>({
  key: 49,
  name: 'AlterClientQuotas',
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, req) {
    const set: QuotaValue[] = [];
    const remove: { entity: string; key: string }[] = [];
    const entries = req.entries.map((e) => {
      const fail = (message: string) => ({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: message, entity: e.entity });
      const bad = entityError(e.entity);
      if (bad) return fail(bad);
      const allowed = new Set(e.entity.flatMap((p) => QUOTA_KEYS[p.entityType] ?? []));
      const entity = entityKey(e.entity);
      const mine: QuotaValue[] = [];
      const gone: { entity: string; key: string }[] = [];
      for (const op of e.ops) {
        if (!allowed.has(op.key)) return fail(`Invalid configuration key ${op.key}`);
        if (op.remove) gone.push({ entity, key: op.key });
        else if (!(op.value > 0) || !Number.isFinite(op.value)) return fail(`Invalid value ${op.value} for configuration ${op.key}: value should be positive`);
        else mine.push({ entity, key: op.key, value: op.value });
      }
      set.push(...mine);
      remove.push(...gone);
      return { errorCode: ErrorCode.NONE, errorMessage: null, entity: e.entity };
    });
    if (!req.validateOnly && (set.length > 0 || remove.length > 0)) await ctx.quotas.alter(set, remove);
    return { throttleTimeMs: 0, entries };
  },
  errorResponse: (req, errorCode) => ({ throttleTimeMs: 0, entries: req.entries.map((e) => ({ errorCode, errorMessage: null, entity: e.entity })) }),
});
