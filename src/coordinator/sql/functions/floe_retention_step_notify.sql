-- floe_retention_step_notify: created by migration 7; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_retention_step_notify: floe_retention_step (same arguments and result), then announces the log starts it
-- moved on floe_log_starts (floe_notify_log_starts), in the same transaction.

CREATE OR REPLACE FUNCTION floe_retention_step_notify(
  p_topic_ids       uuid[],
  p_retention_ms    bigint[],
  p_retention_bytes bigint[],
  p_max_batches     integer
) RETURNS TABLE (
  o_topic_id         uuid,
  o_partition        integer,
  o_log_start_offset bigint,
  o_batches_deleted  integer,
  o_objects_marked   integer,
  o_more             boolean
) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_topics  uuid[];
  v_parts   integer[];
  v_starts  bigint[];
  v_deleted integer[];
  v_marked  integer[];
  v_more    boolean[];
BEGIN
  SELECT coalesce(array_agg(s.o_topic_id), '{}'), coalesce(array_agg(s.o_partition), '{}'),
         coalesce(array_agg(s.o_log_start_offset), '{}'), coalesce(array_agg(s.o_batches_deleted), '{}'),
         coalesce(array_agg(s.o_objects_marked), '{}'), coalesce(array_agg(s.o_more), '{}')
    INTO v_topics, v_parts, v_starts, v_deleted, v_marked, v_more
    FROM floe_retention_step(p_topic_ids, p_retention_ms, p_retention_bytes, p_max_batches) s;
  PERFORM floe_notify_log_starts(array_agg(c.t), array_agg(c.p), array_agg(c.s))
     FROM unnest(v_topics, v_parts, v_starts) AS c(t, p, s)
    WHERE c.t IS NOT NULL;
  RETURN QUERY SELECT * FROM unnest(v_topics, v_parts, v_starts, v_deleted, v_marked, v_more);
END
$fn$;
