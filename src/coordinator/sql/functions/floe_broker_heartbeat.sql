-- floe_broker_heartbeat: created by migration 6; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_broker_heartbeat(node_id, incarnation, session_timeout_ms) → one row per live broker (o_known,
-- o_epoch, o_node_id, o_host, o_port, o_rack), or one row with null broker columns when none. Expires the
-- other brokers whose last heartbeat is older than the session timeout (database clock), bumping and
-- announcing the membership epoch, then renews this registration (o_known: false when it is gone, so the
-- broker must register again). Locks the membership row only when something expired.

CREATE OR REPLACE FUNCTION floe_broker_heartbeat(
  p_node_id            integer,
  p_incarnation        text,
  p_session_timeout_ms bigint
) RETURNS TABLE (o_known boolean, o_epoch bigint, o_node_id integer, o_host text, o_port integer, o_rack text)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_deadline timestamptz := clock_timestamp() - p_session_timeout_ms * interval '1 millisecond';
  v_known    boolean;
  v_epoch    bigint;
BEGIN
  -- Expire brokers that stopped heartbeating (this one excepted: it is alive, it is calling).
  IF EXISTS (SELECT 1 FROM brokers b WHERE b.last_heartbeat < v_deadline AND b.node_id <> p_node_id) THEN
    PERFORM 1 FROM membership FOR UPDATE;
    DELETE FROM brokers b WHERE b.last_heartbeat < v_deadline AND b.node_id <> p_node_id;
    IF FOUND THEN
      UPDATE membership SET epoch = epoch + 1 RETURNING epoch INTO v_epoch;
      PERFORM pg_notify('floe_brokers', v_epoch::text);
    END IF;
  END IF;

  UPDATE brokers b SET last_heartbeat = clock_timestamp()
   WHERE b.node_id = p_node_id AND b.incarnation = p_incarnation;
  v_known := FOUND;

  SELECT m.epoch INTO v_epoch FROM membership m;
  RETURN QUERY
  SELECT v_known, v_epoch, b.node_id, b.host, b.port, b.rack FROM brokers b ORDER BY b.node_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT v_known, v_epoch, NULL::integer, NULL::text, NULL::integer, NULL::text;
  END IF;
END
$fn$;
