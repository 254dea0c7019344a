-- floe_notify_topic: created by migration 7; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_notify_topic(op, topic_id, name): announces a topic change on floe_topics; returns 1 (so it can sit in a
-- SELECT list), 0 for a null topic id (no change).

CREATE OR REPLACE FUNCTION floe_notify_topic(p_op text, p_topic_id text, p_name text) RETURNS integer
LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_topic_id IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM pg_notify('floe_topics', p_op || ' ' || p_topic_id || ' ' || p_name);
  RETURN 1;
END
$fn$;
