/**
 * Migration 5: classic (non-diskless) topics (issue 6).
 *
 * A classic partition lives in a log on the local disk of one broker, chosen when the topic is created.
 * `topics.leader_broker_id` records that broker (replication factor 1: one broker per topic for now, so
 * the topic row is enough; per-partition placement can move to `partitions` when replicas arrive). NULL for
 * diskless topics, which any broker serves. The coordinator keeps no offsets or batches of classic
 * partitions: their `partitions` rows stay at 0 and the leader's log is the source of truth.
 */
import type { Migration } from './migration.ts';

export const MIGRATION_5: Migration = {
  version: 5,
  name: 'classic topics: leader broker of a topic',
  statements: [`ALTER TABLE topics ADD COLUMN IF NOT EXISTS leader_broker_id integer`],
};
