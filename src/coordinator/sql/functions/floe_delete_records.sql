-- floe_delete_records: created by migration 2, replaced by 3; this is migration 3's text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_delete_records(topic_ids, partitions, offsets) → one row per request: (o_idx, o_error_code,
-- o_low_watermark). Offset -1 means the high watermark; an offset beyond it (or below -1) → 1
-- OFFSET_OUT_OF_RANGE; unknown partition → 3 UNKNOWN_TOPIC_OR_PARTITION; one below the log start changes
-- nothing; a partition named twice gets the larger offset. Takes the topics' shared advisory lock and moves the
-- log starts through floe_advance_log_start (at most 10,000 batches deleted at once, the rest left to
-- retention; objects released safely; partition rows locked only at the end).

CREATE OR REPLACE FUNCTION floe_delete_records(
  p_topic_ids  uuid[],
  p_partitions integer[],
  p_offsets    bigint[]
) RETURNS TABLE (o_idx integer, o_error_code smallint, o_low_watermark bigint) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_topics  uuid[];
  v_parts   integer[];
  v_starts  bigint[];
BEGIN
  PERFORM floe_lock_topics(p_topic_ids, false);

  -- Valid targets, from this snapshot: an offset within the high watermark now is within it later too.
  SELECT coalesce(array_agg(t.topic_id), '{}'), coalesce(array_agg(t.partition), '{}'), coalesce(array_agg(t.new_start), '{}')
    INTO v_topics, v_parts, v_starts
    FROM (SELECT r.topic_id, r.partition,
                 max(CASE WHEN r.off = -1 THEN q.high_watermark ELSE r.off END) AS new_start
            FROM unnest(p_topic_ids, p_partitions, p_offsets) AS r(topic_id, partition, off)
            JOIN partitions q ON q.topic_id = r.topic_id AND q.partition = r.partition
           WHERE r.off = -1 OR (r.off >= 0 AND r.off <= q.high_watermark)
           GROUP BY r.topic_id, r.partition) t;

  IF cardinality(v_topics) > 0 THEN
    PERFORM floe_advance_log_start(v_topics, v_parts, v_starts, 10000);
  END IF;

  RETURN QUERY
  SELECT (r.i - 1)::integer,
         CASE WHEN p.topic_id IS NULL THEN 3
              WHEN r.off = -1 OR (r.off >= 0 AND r.off <= p.high_watermark) THEN 0
              ELSE 1 END::smallint,                             -- 3 UNKNOWN_TOPIC_OR_PARTITION, 1 OFFSET_OUT_OF_RANGE
         coalesce(p.log_start_offset, -1)::bigint
    FROM unnest(p_topic_ids, p_partitions, p_offsets) WITH ORDINALITY AS r(topic_id, partition, off, i)
    LEFT JOIN partitions p ON p.topic_id = r.topic_id AND p.partition = r.partition
   ORDER BY r.i;
END
$fn$;
