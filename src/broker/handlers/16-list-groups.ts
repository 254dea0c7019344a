/**
 * ListGroups (key 16), versions 0-5.
 *
 * Behavior: every group this broker coordinates (all of them), except groups being deleted (Dead). Groups
 * known only from simple offset commits are listed as Empty with protocol type "". The states filter
 * (v4+, KIP-518) and the types filter (v5+, KIP-848) compare case-insensitively, as Kafka does; every
 * group is a "classic" group (the KIP-848 consumer protocol is not implemented), so a types filter without
 * "classic" lists nothing.
 * Version notes: v4+ reports each group's state; v5+ its type.
 */
import type { ListGroupsRequest, ListGroupsResponse } from '../../protocol/gen/messages/list-groups.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

export const listGroups = defineHandler<ListGroupsRequest, ListGroupsResponse>({
  key: 16,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, req) {
    const states = new Set(req.statesFilter.map((s) => s.toLowerCase()));
    const types = new Set(req.typesFilter.map((t) => t.toLowerCase()));
    if (types.size > 0 && !types.has('classic')) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups: [] };
    const groups = ctx.groups
      .list()
      .filter((g) => states.size === 0 || states.has(g.state.toLowerCase()))
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: 'classic' }));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, groups: [] }),
});
