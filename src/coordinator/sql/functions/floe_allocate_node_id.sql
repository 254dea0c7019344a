-- floe_allocate_node_id: created by migration 6; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_allocate_node_id() → a node id no registered broker uses, from broker_node_id_seq (1001 up, as Kafka's
-- reserved.broker.max.id leaves room for configured ids).

CREATE OR REPLACE FUNCTION floe_allocate_node_id() RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  v_id integer;
BEGIN
  LOOP
    v_id := nextval('broker_node_id_seq')::integer;
    EXIT WHEN NOT EXISTS (SELECT 1 FROM brokers b WHERE b.node_id = v_id);
  END LOOP;
  RETURN v_id;
END
$fn$;
