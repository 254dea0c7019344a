-- floe_find_batches: created by migration 1; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_find_batches(topic_ids, partitions, offsets, max_bytes) → per request, one row per batch found
-- (or one row with null batch columns when none, or when the partition is unknown: null offsets):
-- (o_idx, o_log_start_offset, o_high_watermark, <batch location>), ordered by request, then offset.
--
-- `walk` follows each partition's batches in offset order, one index probe per batch, and stops once the
-- sizes so far reach max_bytes (the first batch is always taken), so a lagging consumer never makes the
-- database read the whole tail of a partition. Offsets outside [log start, high watermark) find nothing;
-- the caller tells OFFSET_OUT_OF_RANGE from "at the high watermark".

CREATE OR REPLACE FUNCTION floe_find_batches(
  p_topic_ids  uuid[],
  p_partitions integer[],
  p_offsets    bigint[],
  p_max_bytes  bigint[]
) RETURNS TABLE (
  o_idx              integer,
  o_log_start_offset bigint,
  o_high_watermark   bigint,
  o_object_key      text,
  o_byte_offset     bigint,
  o_byte_size       bigint,
  o_base_offset     bigint,
  o_last_offset     bigint,
  o_max_timestamp   bigint,
  o_log_append_time bigint,
  o_timestamp_type  smallint
) LANGUAGE plpgsql STABLE
  SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH RECURSIVE req AS (
    SELECT r.i, r.topic_id, r.partition, r.fetch_offset, r.max_bytes, p.log_start_offset, p.high_watermark
      FROM unnest(p_topic_ids, p_partitions, p_offsets, p_max_bytes) WITH ORDINALITY
             AS r(topic_id, partition, fetch_offset, max_bytes, i)
      LEFT JOIN partitions p ON p.topic_id = r.topic_id AND p.partition = r.partition
  ), walk AS (
    SELECT q.i, q.max_bytes, b.topic_id, b.partition, b.base_offset, b.last_offset, b.object_id,
           b.byte_offset, b.byte_size, b.max_timestamp, b.log_append_time, b.timestamp_type,
           b.byte_size AS total_bytes
      FROM req q
     CROSS JOIN LATERAL (
             SELECT f.* FROM batches f
              WHERE f.topic_id = q.topic_id AND f.partition = q.partition AND f.last_offset >= q.fetch_offset
              ORDER BY f.last_offset
              LIMIT 1) b
     WHERE q.fetch_offset >= q.log_start_offset AND q.fetch_offset < q.high_watermark
    UNION ALL
    SELECT w.i, w.max_bytes, n.topic_id, n.partition, n.base_offset, n.last_offset, n.object_id,
           n.byte_offset, n.byte_size, n.max_timestamp, n.log_append_time, n.timestamp_type,
           w.total_bytes + n.byte_size
      FROM walk w
     CROSS JOIN LATERAL (
             SELECT f.* FROM batches f
              WHERE f.topic_id = w.topic_id AND f.partition = w.partition AND f.base_offset > w.last_offset
              ORDER BY f.base_offset
              LIMIT 1) n
     WHERE w.total_bytes < w.max_bytes
  )
  SELECT (q.i - 1)::integer, q.log_start_offset, q.high_watermark,
         o.object_key, w.byte_offset, w.byte_size, w.base_offset, w.last_offset, w.max_timestamp,
         w.log_append_time, w.timestamp_type
    FROM req q
    LEFT JOIN walk w ON w.i = q.i
    LEFT JOIN objects o ON o.object_id = w.object_id
   ORDER BY q.i, w.base_offset;
END
$fn$;
