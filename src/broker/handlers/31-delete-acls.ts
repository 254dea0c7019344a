/**
 * DeleteAcls (key 31), versions 0-3 (v0, from Kafka 3.9 and older, matches literal patterns only).
 *
 * Behavior: as Kafka: each filter (the matching rules of DescribeAcls) deletes the bindings it matches and
 * lists them; all deletions are one coordinator transaction and reach every broker at once. An invalid
 * filter gets INVALID_REQUEST. Without an authorizer: SECURITY_DISABLED per filter. Needs ALTER on the cluster.
 * Version notes: v0 (removed in Kafka 4) has no pattern types; v2+ flexible.
 */
import type { DeleteAclsRequest, DeleteAclsResponse } from '../../protocol/gen/messages/delete-acls.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import type { AclBinding } from '../../coordinator/security-store.ts';
import { filterMatches } from '../../security/authorizer.ts';
import { aclFilterError } from '../../security/acl-validation.ts';
import { defineHandler } from '../handler.ts';

export const deleteAcls = defineHandler<DeleteAclsRequest, DeleteAclsResponse>({
  key: 31,
  name: 'DeleteAcls',
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, req) {
    if (!ctx.authorizer.enabled) {
      return { throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: 'No Authorizer is configured on the broker', matchingAcls: [] })) };
    }
    const all = ctx.authorizer.all();
    const doomed = new Set<AclBinding>();
    const filterResults = req.filters.map((f) => {
      const invalid = aclFilterError(f);
      if (invalid) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid, matchingAcls: [] };
      const matching = all.filter((b) => filterMatches(f, b));
      for (const b of matching) doomed.add(b);
      return { errorCode: ErrorCode.NONE, errorMessage: null, matchingAcls: matching.map((b) => ({ errorCode: ErrorCode.NONE, errorMessage: null, ...b })) };
    });
    if (doomed.size > 0) await ctx.acls.delete([...doomed]);
    return { throttleTimeMs: 0, filterResults };
  },
  errorResponse: (req, errorCode) => ({ throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode, errorMessage: null, matchingAcls: [] })) }),
});
