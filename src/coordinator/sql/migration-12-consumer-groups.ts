/**
 * Migration 12: KIP-848 consumer groups (issue 20).
 *
 * - `consumer_groups`: one row per group of the consumer protocol (ConsumerGroupHeartbeat), what Kafka
 *   writes to __consumer_offsets as ConsumerGroupMetadata, ConsumerGroupMemberMetadata,
 *   ConsumerGroupTargetAssignment* and ConsumerGroupCurrentMemberAssignment records. Kept as one JSON
 *   document (`state`: group epoch, assignment epoch, subscription metadata hash and every member with
 *   its epochs, subscription, current assignment, partitions pending revocation and target assignment),
 *   written after each change before the heartbeat is answered, so whichever broker coordinates the group
 *   next carries on from the last answer any member received. `group_epoch` is repeated as a column so
 *   an older write can never replace a newer one (a write whose epoch is lower is ignored).
 * - A group id is either a classic group (`groups`) or a consumer group (`consumer_groups`), never both:
 *   writing one kind's row removes the other kind's row of that id (the coordinator's queries do it), and
 *   the committed offsets in `group_offsets` belong to the id whatever its kind, so an empty classic group
 *   that becomes a consumer group (or back) keeps them.
 */
import type { Migration } from './migration.ts';

export const MIGRATION_12: Migration = {
  version: 12,
  name: 'consumer-groups',
  statements: [
    `CREATE TABLE consumer_groups (
  group_id    text    PRIMARY KEY,
  group_epoch integer NOT NULL,
  state       jsonb   NOT NULL,
  updated_at  bigint  NOT NULL
)`,
  ],
};
