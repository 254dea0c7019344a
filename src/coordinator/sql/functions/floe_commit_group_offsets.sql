-- floe_commit_group_offsets: created by migration 2, replaced by 19; this is migration 19's text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_commit_group_offsets(group, commit_ts, <arrays>) → the 0-based indexes of the commits stored;
-- commits for partitions that do not exist are left out (the caller answers UNKNOWN_TOPIC_OR_PARTITION).
-- A partition given twice keeps the last value, as Kafka does. A commit's own commit timestamp (OffsetCommit
-- v1) replaces commit_ts when it is not -1.

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
$fn$;
