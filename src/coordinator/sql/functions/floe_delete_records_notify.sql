-- floe_delete_records_notify: created by migration 7; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_delete_records_notify: floe_delete_records (same arguments and result), then announces the log starts it
-- moved on floe_log_starts (floe_notify_log_starts), in the same transaction.

CREATE OR REPLACE FUNCTION floe_delete_records_notify(
  p_topic_ids  uuid[],
  p_partitions integer[],
  p_offsets    bigint[]
) RETURNS TABLE (o_idx integer, o_error_code smallint, o_low_watermark bigint) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_idx integer[];
  v_err smallint[];
  v_low bigint[];
  v_topics uuid[];
  v_parts  integer[];
  v_starts bigint[];
BEGIN
  SELECT coalesce(array_agg(d.o_idx ORDER BY d.o_idx), '{}'), coalesce(array_agg(d.o_error_code ORDER BY d.o_idx), '{}'),
         coalesce(array_agg(d.o_low_watermark ORDER BY d.o_idx), '{}')
    INTO v_idx, v_err, v_low
    FROM floe_delete_records(p_topic_ids, p_partitions, p_offsets) d;
  SELECT array_agg(r.topic_id), array_agg(r.partition), array_agg(c.low)
    INTO v_topics, v_parts, v_starts
    FROM unnest(v_idx, v_err, v_low) AS c(idx, err, low)
    JOIN unnest(p_topic_ids, p_partitions) WITH ORDINALITY AS r(topic_id, partition, i) ON r.i = c.idx + 1
   WHERE c.err = 0 AND c.low >= 0;
  PERFORM floe_notify_log_starts(v_topics, v_parts, v_starts);
  RETURN QUERY SELECT * FROM unnest(v_idx, v_err, v_low);
END
$fn$;
