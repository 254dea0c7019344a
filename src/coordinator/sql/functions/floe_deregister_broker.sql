-- floe_deregister_broker: created by migration 6; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_deregister_broker(node_id, incarnation) → the new membership epoch, or null when the registration was
-- not there. Clean shutdown: leaves the live set at once (announced on floe_brokers).

CREATE OR REPLACE FUNCTION floe_deregister_broker(p_node_id integer, p_incarnation text) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  v_epoch bigint;
BEGIN
  PERFORM 1 FROM membership FOR UPDATE;
  DELETE FROM brokers b WHERE b.node_id = p_node_id AND b.incarnation = p_incarnation;
  IF FOUND THEN
    UPDATE membership SET epoch = epoch + 1 RETURNING epoch INTO v_epoch;
    PERFORM pg_notify('floe_brokers', v_epoch::text);
  END IF;
  RETURN v_epoch;
END
$fn$;
