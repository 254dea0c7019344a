/**
 * CreateAcls (key 30), versions 0-3 (v0, from Kafka 3.9 and older, creates literal patterns only).
 *
 * Behavior: as Kafka: each creation is validated (a concrete resource type, LITERAL or PREFIXED pattern,
 * a concrete operation, ALLOW or DENY, a `Type:name` principal, `kafka-cluster` for the cluster resource)
 * and gets its own result (INVALID_REQUEST with a message when it is not valid); the valid ones are stored in
 * the coordinator in one transaction and reach every broker at once (notification). Without an authorizer:
 * SECURITY_DISABLED for each creation. Needs ALTER on the cluster.
 * Version notes: v0 (removed in Kafka 4) has no pattern types; v2+ flexible.
 */
import type { CreateAclsRequest, CreateAclsResponse } from '../../protocol/gen/messages/create-acls.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import type { AclBinding } from '../../coordinator/security-store.ts';
import { aclBindingError } from '../../security/acl-validation.ts';
import { defineHandler } from '../handler.ts';

export const createAcls = defineHandler<CreateAclsRequest, CreateAclsResponse>({
  key: 30,
  name: 'CreateAcls',
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, req) {
    if (!ctx.authorizer.enabled) {
      return { throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: 'No Authorizer is configured on the broker' })) };
    }
    const valid: AclBinding[] = [];
    const results = req.creations.map((c) => {
      const binding: AclBinding = {
        resourceType: c.resourceType, resourceName: c.resourceName, patternType: c.resourcePatternType,
        principal: c.principal, host: c.host, operation: c.operation, permissionType: c.permissionType,
      };
      const error = aclBindingError(binding);
      if (error) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: error };
      valid.push(binding);
      return { errorCode: ErrorCode.NONE, errorMessage: null };
    });
    if (valid.length > 0) await ctx.acls.create(valid);
    return { throttleTimeMs: 0, results };
  },
  errorResponse: (req, errorCode) => ({ throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode, errorMessage: null })) }),
});
