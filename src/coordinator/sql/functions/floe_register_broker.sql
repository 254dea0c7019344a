-- floe_register_broker: created by migration 6; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_register_broker(node_id, incarnation, host, port, rack, session_timeout_ms) → (o_node_id, o_conflict,
-- o_epoch). Registers or re-registers a broker and bumps the membership epoch (announced on floe_brokers).
-- A live registration of the id at another endpoint is another broker: o_conflict says so and nothing
-- changes. The same endpoint is this broker restarted: it takes its registration over at once.
-- Lock order: the membership row, then brokers rows.

CREATE OR REPLACE FUNCTION floe_register_broker(
  p_node_id            integer,
  p_incarnation        text,
  p_host               text,
  p_port               integer,
  p_rack               text,
  p_session_timeout_ms bigint
) RETURNS TABLE (o_node_id integer, o_conflict text, o_epoch bigint) LANGUAGE plpgsql AS $fn$
DECLARE
  v_id    integer := p_node_id;
  v_old   brokers%ROWTYPE;
  v_epoch bigint;
BEGIN
  PERFORM 1 FROM membership FOR UPDATE;
  SELECT * INTO v_old FROM brokers b WHERE b.node_id = v_id FOR UPDATE;
  -- A live registration of this id elsewhere is another broker: refuse. The same endpoint is this broker
  -- restarted (after kill -9 it cannot have deregistered): it takes its registration over at once.
  IF FOUND AND v_old.incarnation <> p_incarnation
     AND v_old.last_heartbeat >= clock_timestamp() - p_session_timeout_ms * interval '1 millisecond'
     AND (v_old.host <> p_host OR v_old.port <> p_port) THEN
    RETURN QUERY SELECT v_id, format('node.id %s is in use by a live broker at %s:%s', v_id, v_old.host, v_old.port), NULL::bigint;
    RETURN;
  END IF;

  INSERT INTO brokers AS b (node_id, incarnation, host, port, rack, registered_at, last_heartbeat)
  VALUES (v_id, p_incarnation, p_host, p_port, p_rack, clock_timestamp(), clock_timestamp())
  ON CONFLICT (node_id) DO UPDATE
     SET incarnation = EXCLUDED.incarnation, host = EXCLUDED.host, port = EXCLUDED.port, rack = EXCLUDED.rack,
         registered_at = EXCLUDED.registered_at, last_heartbeat = EXCLUDED.last_heartbeat;
  UPDATE membership SET epoch = epoch + 1 RETURNING epoch INTO v_epoch;
  PERFORM pg_notify('floe_brokers', v_epoch::text);
  RETURN QUERY SELECT v_id, NULL::text, v_epoch;
END
$fn$;
