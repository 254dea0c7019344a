/**
 * Migration 17: KIP-932 share groups (issue 20).
 *
 * - `share_groups`: one row per share group, what Kafka writes to __consumer_offsets as ShareGroupMetadata,
 *   ShareGroupMemberMetadata and the share group's assignment records, kept as one JSON document (`state`:
 *   group epoch and every member with its epoch, subscription, last heartbeat and assignment). Every
 *   ShareGroupHeartbeat reads and rewrites it under a row lock, so any broker can serve any share group.
 * - `share_partitions`: one row per (share group, topic id, partition), what Kafka's share coordinator keeps
 *   in __share_group_state: the share-partition start offset (SPSO), the end of what was ever acquired, and
 *   the in-flight records (offset ranges with their state, delivery count, holding member and lock expiry),
 *   as one JSON document (src/groups/share-partition-state.ts). Every acquisition (ShareFetch) and
 *   acknowledgement (ShareFetch, ShareAcknowledge) is one transaction over these rows, taken FOR UPDATE,
 *   and is answered only after it commits: any broker serves any share partition, and a broker's death
 *   loses no acknowledgement.
 * A row whose `state` is null is a placeholder taken only to lock the key; readers treat it as absent.
 */
import type { Migration } from './migration.ts';

export const MIGRATION_17: Migration = {
  version: 17,
  name: 'share-groups',
  statements: [
    `CREATE TABLE share_groups (
  group_id   text   PRIMARY KEY,
  state      jsonb,
  updated_at bigint NOT NULL
)`,
    `CREATE TABLE share_partitions (
  group_id   text    NOT NULL,
  topic_id   text    NOT NULL,
  partition  integer NOT NULL,
  state      jsonb,
  updated_at bigint  NOT NULL,
  PRIMARY KEY (group_id, topic_id, partition)
)`,
  ],
};
