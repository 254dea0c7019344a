/**
 * Migration 13: dynamic broker configs (issue 16, Kafka's IncrementalAlterConfigs/AlterConfigs on the BROKER
 * resource).
 *
 * - `dynamic_broker_configs`: one row per key set at runtime, for the cluster-wide default (`broker_id` -1,
 *   Kafka's resource name "") or for one broker (its node id). Values are the normalised text DescribeConfigs
 *   shows. Every change is announced on `floe_broker_configs` (payload: the broker id, -1 for the default)
 *   inside its transaction, so every broker reloads the table at once.
 */
import type { Migration } from './migration.ts';

export const MIGRATION_13: Migration = {
  version: 13,
  name: 'broker-configs',
  statements: [
    `CREATE TABLE dynamic_broker_configs (
       broker_id integer NOT NULL,
       name      text    NOT NULL,
       value     text    NOT NULL,
       PRIMARY KEY (broker_id, name)
     )`,
  ],
};
