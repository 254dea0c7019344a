-- floe_list_offsets: created by migration 1; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_list_offsets(topic_ids, partitions, timestamps) → one row per request:
-- (o_idx, o_log_start_offset, o_high_watermark, <batch location>); null offsets: unknown partition;
-- null batch: none (or -2/-1, answered by the offsets).
--
-- By timestamp T (>= 0): the first batch at or after log start whose effective timestamp is >= T. As
-- max_timestamp_so_far is a running maximum, no such batch lies before the first batch whose
-- max_timestamp_so_far is >= T: one index probe finds where to start, and the scan from there normally
-- stops at its first row.
-- Max timestamp (-3): the first batch holding the partition's largest timestamp. The first batch whose
-- running maximum reaches the partition's maximum is it, unless that batch is gone or lies before log
-- start (records deleted); then the retained batches are scanned.

CREATE OR REPLACE FUNCTION floe_list_offsets(
  p_topic_ids  uuid[],
  p_partitions integer[],
  p_timestamps bigint[]
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
  SELECT (q.i - 1)::integer, p.log_start_offset, p.high_watermark,
         o.object_key, b.byte_offset, b.byte_size, b.base_offset, b.last_offset, b.max_timestamp,
         b.log_append_time, b.timestamp_type
    FROM unnest(p_topic_ids, p_partitions, p_timestamps) WITH ORDINALITY AS q(topic_id, partition, ts, i)
    LEFT JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition
    -- At most one branch runs: the q.ts tests are one-time filters, and LIMIT 1 stops the Append at
    -- the first row (the -3 fallback scan runs only when the probe before it found nothing).
    LEFT JOIN LATERAL (
      SELECT f.* FROM (
        (SELECT t.* FROM batches t
          WHERE q.ts >= 0
            AND t.topic_id = q.topic_id AND t.partition = q.partition
            AND t.base_offset >= (
                  SELECT s.base_offset FROM batches s
                   WHERE s.topic_id = q.topic_id AND s.partition = q.partition
                     AND s.max_timestamp_so_far >= q.ts
                   ORDER BY s.max_timestamp_so_far, s.base_offset
                   LIMIT 1)
            AND t.last_offset >= p.log_start_offset
            AND (CASE WHEN t.timestamp_type = 1 THEN t.log_append_time ELSE t.max_timestamp END) >= q.ts
          ORDER BY t.base_offset
          LIMIT 1)
        UNION ALL
        (SELECT h.* FROM (
            SELECT s.* FROM batches s
             WHERE q.ts = -3
               AND s.topic_id = q.topic_id AND s.partition = q.partition
               AND s.max_timestamp_so_far >= p.max_timestamp
             ORDER BY s.max_timestamp_so_far, s.base_offset
             LIMIT 1) h
          WHERE h.last_offset >= p.log_start_offset AND (CASE WHEN h.timestamp_type = 1 THEN h.log_append_time ELSE h.max_timestamp END) >= p.max_timestamp)
        UNION ALL
        (SELECT t.* FROM batches t
          WHERE q.ts = -3
            AND t.topic_id = q.topic_id AND t.partition = q.partition AND t.last_offset >= p.log_start_offset
          ORDER BY (CASE WHEN t.timestamp_type = 1 THEN t.log_append_time ELSE t.max_timestamp END) DESC, t.base_offset
          LIMIT 1)
      ) f
      LIMIT 1
    ) b ON p.topic_id IS NOT NULL
    LEFT JOIN objects o ON o.object_id = b.object_id
   ORDER BY q.i;
END
$fn$;
