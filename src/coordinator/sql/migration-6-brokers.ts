/**
 * Migration 6: broker membership (issue 7).
 *
 * Brokers register (`node.id`, or one allocated once from 1001 up, as Kafka's reserved.broker.max.id leaves
 * room for configured ids), heartbeat, and leave. Liveness is judged by the database clock, so broker clocks
 * need not agree. `membership.epoch` grows on every change of the set of live brokers: brokers report it
 * as the leader epoch of diskless partitions, which must never decrease and must grow when the broker
 * chosen for a partition changes. Every change is announced on the `floe_brokers` channel.
 *
 * `membership.cluster_id` is the cluster id every broker of this coordinator reports: the first broker to
 * start sets it, the others adopt it.
 *
 * Lock order: the `membership` row first, then `brokers` rows; a heartbeat that finds nothing expired
 * locks only its own row.
 */
import type { Migration } from './migration.ts';

const REGISTER_BROKER_FUNCTION = `
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
$fn$`;

const ALLOCATE_NODE_ID_FUNCTION = `
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
$fn$`;

const BROKER_HEARTBEAT_FUNCTION = `
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
$fn$`;

const DEREGISTER_BROKER_FUNCTION = `
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
$fn$`;

export const MIGRATION_6: Migration = {
  version: 6,
  name: 'broker membership: registration, heartbeats, membership epoch',
  statements: [
    `CREATE TABLE brokers (
       node_id        integer     PRIMARY KEY,
       incarnation    text        NOT NULL,
       host           text        NOT NULL,
       port           integer     NOT NULL,
       rack           text,
       registered_at  timestamptz NOT NULL,
       last_heartbeat timestamptz NOT NULL
     )`,
    `CREATE TABLE membership (
       singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
       epoch      bigint  NOT NULL,
       cluster_id text
     )`,
    `INSERT INTO membership (singleton, epoch) VALUES (true, 0)`,
    `CREATE SEQUENCE broker_node_id_seq START 1001`,
    ALLOCATE_NODE_ID_FUNCTION,
    REGISTER_BROKER_FUNCTION,
    BROKER_HEARTBEAT_FUNCTION,
    DEREGISTER_BROKER_FUNCTION,
  ],
};
