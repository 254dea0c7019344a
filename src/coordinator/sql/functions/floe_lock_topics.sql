-- floe_lock_topics: created by migration 3; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_lock_topics(topic_ids, exclusive): transaction-scoped advisory locks on the topics, taken in key
-- order (distinct keys), so two callers never wait on each other in a cycle.

CREATE OR REPLACE FUNCTION floe_lock_topics(p_topic_ids uuid[], p_exclusive boolean) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_key integer;
BEGIN
  FOR v_key IN SELECT DISTINCT hashtext(u::text) AS k FROM unnest(p_topic_ids) AS u ORDER BY k LOOP
    IF p_exclusive THEN
      PERFORM pg_advisory_xact_lock(1718382438, v_key);
    ELSE
      PERFORM pg_advisory_xact_lock_shared(1718382438, v_key);
    END IF;
  END LOOP;
END
$fn$;
