/**
 * Migration 18: per-group configs (issue 20, Kafka's GROUP resource of DescribeConfigs and
 * IncrementalAlterConfigs/AlterConfigs: consumer.session.timeout.ms, share.record.lock.duration.ms, …).
 *
 * - `group_configs`: one row per key set on a group, values as the normalised text DescribeConfigs shows.
 *   A group needs no other row to have configs (Kafka lets configs be set before the group exists). Every
 *   change is announced on `floe_group_configs` (payload: the group id) inside its transaction, so every
 *   broker reloads the table at once.
 */
import type { Migration } from './migration.ts';

export const MIGRATION_18: Migration = {
  version: 18,
  name: 'group-configs',
  statements: [
    `CREATE TABLE group_configs (
       group_id text NOT NULL,
       name     text NOT NULL,
       value    text NOT NULL,
       PRIMARY KEY (group_id, name)
     )`,
  ],
};
