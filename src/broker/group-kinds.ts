/**
 * Group ids are one namespace for every kind of group (classic, KIP-848 consumer, share), as in Kafka: a
 * request of one protocol naming a group of another kind gets Kafka's error (JoinGroup
 * INCONSISTENT_GROUP_PROTOCOL, ConsumerGroupHeartbeat and OffsetCommit GROUP_ID_NOT_FOUND, ...). Classic and
 * consumer groups live in their coordinator's memory, share groups in the coordinator DB (any broker serves
 * them), so the share check is one read, made only when no classic or consumer group of the id is
 * coordinated here: when the request would otherwise create one or find none.
 *
 * Requests for one id that arrive while its read is in flight share it, and resume in the order they came
 * (one promise's reactions run in order): pipelined OffsetCommits creating a group still reach the group
 * coordinator in the order they were sent, which their order of storing depends on.
 */
import type { RequestContext } from './handler.ts';

type Kinds = Pick<RequestContext, 'groups' | 'shareGroups'>;

/** Per broker (its share groups), the reads in flight by group id. */
const inFlight = new WeakMap<object, Map<string, Promise<boolean | null>>>();

/** true: a share group has this id; false: none has; null: the coordinator DB could not be read. */
export function namesShareGroup(ctx: Kinds, groupId: string): Promise<boolean | null> | false {
  const { groups } = ctx;
  if (groups.groupIdError(groupId, false) !== null || groups.placementError(groupId) !== null || groups.hasGroup(groupId)) return false;
  let reads = inFlight.get(ctx.shareGroups);
  if (reads === undefined) inFlight.set(ctx.shareGroups, (reads = new Map()));
  let read = reads.get(groupId);
  if (read === undefined) {
    read = ctx.shareGroups.describe([groupId]).then((found) => found.has(groupId), () => null);
    reads.set(groupId, read);
    const done = read;
    void done.then(() => {
      if (reads.get(groupId) === done) reads.delete(groupId);
    });
  }
  return read;
}
