/**
 * JoinGroup (key 11), versions 0-9.
 *
 * Behavior: the classic group protocol as Kafka's coordinator runs it (src/groups/classic-protocol.ts):
 * a new dynamic member gets MEMBER_ID_REQUIRED with its member id first (v4+), static members
 * (group.instance.id, v5+) keep their place across restarts and fence older instances (FENCED_INSTANCE_ID),
 * a new group waits group.initial.rebalance.delay.ms for more members, then the response waits until every
 * member rejoined or the rebalance timeout passed. Session timeouts outside
 * [group.min.session.timeout.ms, group.max.session.timeout.ms] get INVALID_SESSION_TIMEOUT; an empty group
 * id INVALID_GROUP_ID; a protocol type or protocol list that does not match the group's,
 * INCONSISTENT_GROUP_PROTOCOL. Protocol metadata is copied out of the request frame (it lives as long as
 * the member). A member joining a KIP-848 consumer group with members is served by that group (online
 * migration, src/groups/consumer-group-protocol.ts): its generation is its member epoch, the broker assigns
 * its partitions, and no member is leader. A share group's id gets INCONSISTENT_GROUP_PROTOCOL with no
 * member id, as Kafka (src/broker/group-kinds.ts).
 * Version notes: v0 has no rebalance timeout (the session timeout is used); v7+ returns the protocol type
 * and a nullable protocol name (older versions get "" when there is none); v8+ carries a reason (logged);
 * v9+ may tell a rejoining static leader to skip the assignment (SkipAssignment).
 */
import type { JoinGroupRequest, JoinGroupResponse } from '../../protocol/gen/messages/join-group.ts';
import { defineHandler } from '../handler.ts';
import { clientHost } from '../../groups/group-coordinator.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { namesShareGroup } from '../group-kinds.ts';

export const joinGroup = defineHandler<JoinGroupRequest, JoinGroupResponse>({
  key: 11,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 9,
  async handle(ctx, req) {
    const v = ctx.apiVersion;
    const check = namesShareGroup(ctx, req.groupId);
    const share = check === false ? false : await check;
    if (share !== false) {
      // Kafka: a classic member cannot join a share group (no member id is handed out).
      const errorCode = share === null ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
      return { throttleTimeMs: 0, errorCode, generationId: -1, protocolType: null, protocolName: v >= 7 ? null : '', leader: '', skipAssignment: false, memberId: share === null ? req.memberId : '', members: [] };
    }
    const r = await ctx.groups.join({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      requireKnownMemberId: v >= 4,
      supportSkippingAssignment: v >= 9,
      clientId: ctx.clientId ?? '',
      clientHost: clientHost(ctx.conn.remoteAddress),
      rebalanceTimeoutMs: v === 0 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs,
      sessionTimeoutMs: req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
      reason: req.reason,
    });
    return {
      throttleTimeMs: 0,
      errorCode: r.errorCode,
      generationId: r.generationId,
      protocolType: r.protocolType,
      protocolName: v >= 7 ? r.protocolName : (r.protocolName ?? ''),
      leader: r.leader,
      skipAssignment: r.skipAssignment,
      memberId: r.memberId,
      members: r.members,
    };
  },
  errorResponse: (req, errorCode, ctx) => ({
    errorCode,
    generationId: -1,
    protocolName: ctx.apiVersion >= 7 ? null : '',
    leader: '',
    memberId: req.memberId,
    members: [],
  }),
});
