/**
 * DescribeAcls (key 29), versions 0-3.
 *
 * Behavior: as Kafka: the ACL bindings (kept in the coordinator, shared by every broker) matching the
 * filter, grouped by resource pattern. ANY matches any type/pattern/operation/permission, a null name,
 * principal or host matches any, and pattern type MATCH returns the bindings that apply to the named
 * resource (the literal name, the literal wildcard `*`, and prefixes of it). Without an authorizer
 * (authorizer.class.name unset): SECURITY_DISABLED. Needs DESCRIBE on the cluster.
 * Version notes: v0 (Kafka 3.9 and older) filters literal patterns only; v1 adds pattern types; v2+ flexible.
 */
import type { DescribeAclsRequest, DescribeAclsResponse, DescribeAclsResponseDescribeAclsResource } from '../../protocol/gen/messages/describe-acls.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { filterMatches } from '../../security/authorizer.ts';
import { aclFilterError } from '../../security/acl-validation.ts';
import { defineHandler } from '../handler.ts';

export const describeAcls = defineHandler<DescribeAclsRequest, DescribeAclsResponse>({
  key: 29,
  name: 'DescribeAcls',
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, req) {
    if (!ctx.authorizer.enabled) return { throttleTimeMs: 0, errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: 'No Authorizer is configured on the broker', resources: [] };
    const invalid = aclFilterError(req);
    if (invalid) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid, resources: [] };
    const byResource = new Map<string, Init<DescribeAclsResponseDescribeAclsResource> & { acls: object[] }>();
    for (const b of ctx.authorizer.all()) {
      if (!filterMatches(req, b)) continue;
      const key = `${b.resourceType} ${b.patternType} ${b.resourceName}`;
      let r = byResource.get(key);
      if (!r) byResource.set(key, (r = { resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType, acls: [] }));
      r.acls.push({ principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permissionType });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: [...byResource.values()] };
  },
  errorResponse: (_req, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, resources: [] }),
});
