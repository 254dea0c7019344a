-- floe_advance_log_start: created by migration 3; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_advance_log_start(topic_ids, partitions, log_starts, max_batches) → one row:
-- (o_batches_deleted, o_objects_marked, o_more).
--
-- Each partition's log start becomes at least the given one (never past its high watermark; the caller has
-- validated against a snapshot, and the high watermark only grows). The batches wholly below the (new or
-- current) log start are deleted, at most max_batches in all: the rest is left for the next retention step
-- (o_more), invisible meanwhile since every read starts at the log start. The partition's byte size shrinks
-- by the deleted batches, and the objects that lost their last batch become 'deleting'.
-- The caller holds floe_lock_topics(..., false) on the topics. Partition rows are locked last (migration 3's
-- header explains the lock order).

CREATE OR REPLACE FUNCTION floe_advance_log_start(
  p_topic_ids   uuid[],
  p_partitions  integer[],
  p_log_starts  bigint[],
  p_max_batches integer
) RETURNS TABLE (o_batches_deleted integer, o_objects_marked integer, o_more boolean)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_objects bigint[];
  v_deleted integer;
  v_marked  integer;
  v_d_topic uuid[];
  v_d_part  integer[];
  v_d_bytes bigint[];
BEGIN
  WITH tgt AS (
    SELECT t.topic_id, t.partition, greatest(t.log_start, p.log_start_offset) AS log_start, t.i
      FROM unnest(p_topic_ids, p_partitions, p_log_starts) WITH ORDINALITY AS t(topic_id, partition, log_start, i)
      JOIN partitions p ON p.topic_id = t.topic_id AND p.partition = t.partition
  ), victims AS (
    SELECT v.topic_id, v.partition, v.base_offset
      FROM tgt t
     CROSS JOIN LATERAL (
             SELECT f.topic_id, f.partition, f.base_offset FROM batches f
              WHERE f.topic_id = t.topic_id AND f.partition = t.partition AND f.last_offset < t.log_start
              ORDER BY f.last_offset
              LIMIT p_max_batches) v
     LIMIT p_max_batches
  ), gone AS (
    DELETE FROM batches b
     USING victims v
     WHERE b.topic_id = v.topic_id AND b.partition = v.partition AND b.base_offset = v.base_offset
    RETURNING b.topic_id, b.partition, b.object_id, b.byte_size
  ), per_partition AS (
    SELECT g.topic_id, g.partition, sum(g.byte_size)::bigint AS bytes FROM gone g GROUP BY g.topic_id, g.partition
  )
  SELECT (SELECT count(*)::integer FROM gone),
         (SELECT coalesce(array_agg(DISTINCT g.object_id), '{}'::bigint[]) FROM gone g),
         pp.topics, pp.parts, pp.bytes
    INTO v_deleted, v_objects, v_d_topic, v_d_part, v_d_bytes
    FROM (SELECT coalesce(array_agg(x.topic_id), '{}'::uuid[]) AS topics,
                 coalesce(array_agg(x.partition), '{}'::integer[]) AS parts,
                 coalesce(array_agg(x.bytes), '{}'::bigint[]) AS bytes
            FROM per_partition x) pp;

  v_marked := floe_release_objects(v_objects);

  PERFORM 1
    FROM partitions p
   WHERE (p.topic_id, p.partition) IN (SELECT t.topic_id, t.partition
                                         FROM unnest(p_topic_ids, p_partitions) AS t(topic_id, partition))
   ORDER BY p.topic_id, p.partition
     FOR NO KEY UPDATE;
  UPDATE partitions p
     SET log_start_offset = greatest(p.log_start_offset, least(t.log_start, p.high_watermark)),
         byte_size        = greatest(p.byte_size - coalesce(d.bytes, 0), 0)
    FROM (SELECT u.topic_id, u.partition, max(u.log_start) AS log_start
            FROM unnest(p_topic_ids, p_partitions, p_log_starts) AS u(topic_id, partition, log_start)
           GROUP BY u.topic_id, u.partition) t
    LEFT JOIN unnest(v_d_topic, v_d_part, v_d_bytes) AS d(topic_id, partition, bytes)
           ON d.topic_id = t.topic_id AND d.partition = t.partition
   WHERE p.topic_id = t.topic_id AND p.partition = t.partition;

  RETURN QUERY SELECT v_deleted, v_marked, v_deleted >= p_max_batches;
END
$fn$;
