/**
 * Migration 19: a commit timestamp per committed offset. OffsetCommit v1 carries one per partition, which Kafka
 * 3.9 stored as the offset's commit time (so it decides when the offset of a group without members expires);
 * floe_commit_group_offsets (migration 2) gains `p_commit_tss`, one per commit, -1 for the coordinator's time
 * (p_commit_ts). Everything else is migration 2's.
 */
import type { Migration } from './migration.ts';

/** The arguments of migration 2's floe_commit_group_offsets (dropped: the new one has one more). */
const OLD_ARGUMENTS = 'text, bigint, uuid[], integer[], bigint[], integer[], text[], bigint[]';

const COMMIT_GROUP_OFFSETS_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_commit_group_offsets(
  p_group_id      text,
  p_commit_ts     bigint,
  p_topic_ids     uuid[],
  p_partitions    integer[],
  p_offsets       bigint[],
  p_leader_epochs integer[],
  p_metadata      text[],
  p_expire_ts     bigint[],
  p_commit_tss    bigint[]
) RETURNS TABLE (o_idx integer) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH req AS (
    SELECT r.*
      FROM unnest(p_topic_ids, p_partitions, p_offsets, p_leader_epochs, p_metadata, p_expire_ts, p_commit_tss)
           WITH ORDINALITY AS r(topic_id, partition, committed_offset, leader_epoch, metadata, expire_timestamp, commit_timestamp, i)
  ), ok AS (
    SELECT q.* FROM req q JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition
  ), ins AS (
    INSERT INTO group_offsets AS g (group_id, topic_id, partition, committed_offset, leader_epoch, metadata,
                                    commit_timestamp, expire_timestamp)
    SELECT DISTINCT ON (k.topic_id, k.partition)
           p_group_id, k.topic_id, k.partition, k.committed_offset, k.leader_epoch, k.metadata,
           CASE WHEN k.commit_timestamp = -1 THEN p_commit_ts ELSE k.commit_timestamp END, k.expire_timestamp
      FROM ok k
     ORDER BY k.topic_id, k.partition, k.i DESC
    ON CONFLICT (group_id, topic_id, partition) DO UPDATE
       SET committed_offset = EXCLUDED.committed_offset,
           leader_epoch     = EXCLUDED.leader_epoch,
           metadata         = EXCLUDED.metadata,
           commit_timestamp = EXCLUDED.commit_timestamp,
           expire_timestamp = EXCLUDED.expire_timestamp
  )
  SELECT (k.i - 1)::integer FROM ok k ORDER BY k.i;
END
$fn$;`;

export const MIGRATION_19: Migration = {
  version: 19,
  name: 'offset-commit-timestamps',
  statements: [`DROP FUNCTION floe_commit_group_offsets(${OLD_ARGUMENTS})`, COMMIT_GROUP_OFFSETS_FUNCTION],
};
