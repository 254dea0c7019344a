/**
 * ListGroups (key 16), versions 0-5.
 *
 * Behavior: every group this broker coordinates (all of them), except groups being deleted (Dead). Groups
 * known only from simple offset commits are listed as Empty with protocol type "". The states filter
 * (v4+, KIP-518) and the types filter (v5+, KIP-848: "classic", "consumer") compare case-insensitively,
 * as Kafka does. KIP-848 consumer groups have protocol type "consumer" and the states Empty, Assigning,
 * Reconciling, Stable. Share groups (KIP-932; kept in the coordinator, so every broker lists them) have type
 * and protocol type "share" and the states Empty, Stable.
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
    const groups: { groupId: string; protocolType: string; groupState: string; groupType: string }[] = ctx.groups
      .list()
      .filter((g) => (states.size === 0 || states.has(g.state.toLowerCase())) && (types.size === 0 || types.has(g.type)))
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: g.type }));
    if (types.size === 0 || types.has('share')) {
      for (const g of await ctx.shareGroups.list()) {
        if (states.size === 0 || states.has(g.state.toLowerCase())) groups.push({ groupId: g.groupId, protocolType: 'share', groupState: g.state, groupType: 'share' });
      }
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, groups: [] }),
});
