-- floe_notify_log_starts: created by migration 7; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_notify_log_starts(topic_ids, partitions, log_starts): announces moved log starts on floe_log_starts
-- (`*` when the list does not fit a payload; nothing for an empty list).

CREATE OR REPLACE FUNCTION floe_notify_log_starts(p_topic_ids uuid[], p_partitions integer[], p_log_starts bigint[])
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_list text;
BEGIN
  IF coalesce(array_length(p_topic_ids, 1), 0) = 0 THEN
    RETURN;
  END IF;
  IF array_length(p_topic_ids, 1) <= 150 THEN
    SELECT string_agg(r.topic_id::text || ',' || r.partition || ',' || r.log_start, ';')
      INTO v_list
      FROM unnest(p_topic_ids, p_partitions, p_log_starts) AS r(topic_id, partition, log_start);
  END IF;
  IF v_list IS NULL OR octet_length(v_list) >= 7900 THEN
    v_list := '*';
  END IF;
  PERFORM pg_notify('floe_log_starts', v_list);
END
$fn$;
