/**
 * Migration 18: per-group configs and faster broker expiry.
 *
 * - Per-group configs (issue 20, Kafka's GROUP resource of DescribeConfigs and
 * IncrementalAlterConfigs/AlterConfigs: consumer.session.timeout.ms, share.record.lock.duration.ms, …).
 *
 * - `group_configs`: one row per key set on a group, values as the normalised text DescribeConfigs shows.
 *   A group needs no other row to have configs (Kafka lets configs be set before the group exists). Every
 *   change is announced on `floe_group_configs` (payload: the group id) inside its transaction, so every
 *   broker reloads the table at once.
 * - Broker liveness (issue 20, failover within seconds): each broker holds a session advisory lock
 *   (1718382444 = "flol", node id) on its listening connection; `brokers.liveness_lock` says whether it held
 *   it at its last heartbeat. floe_broker_heartbeat expires a broker that held it and no longer does once
 *   it is late by a third of the session timeout: a process killed with -9 loses its connection, so its
 *   lock, at once, and is gone from the live set in seconds instead of a whole broker.session.timeout.ms.
 *   Not within a session timeout of a server start (a restart drops every lock while brokers are fine),
 *   and never for a broker that had no lock at its last heartbeat (PGlite, older brokers, a listening
 *   connection being replaced).
 */
import type { Migration } from './migration.ts';

const BROKER_HEARTBEAT_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_broker_heartbeat(
  p_node_id            integer,
  p_incarnation        text,
  p_session_timeout_ms bigint
) RETURNS TABLE (o_known boolean, o_epoch bigint, o_node_id integer, o_host text, o_port integer, o_rack text)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_deadline timestamptz := clock_timestamp() - p_session_timeout_ms * interval '1 millisecond';
  -- A broker that held its liveness lock and lost it (its process died, so did its session) is expired
  -- once it is this late: a third of the session timeout, more than a heartbeat interval at the defaults.
  v_late     timestamptz := clock_timestamp() - (p_session_timeout_ms / 3) * interval '1 millisecond';
  v_db       oid := (SELECT d.oid FROM pg_database d WHERE d.datname = current_database());
  v_dead     integer[] := '{}';
  v_known    boolean;
  v_epoch    bigint;
BEGIN
  -- Brokers that died with their lock: only once the server has run longer than a session (a restart
  -- drops every lock, and brokers take theirs again only when their listening connection is back).
  IF EXISTS (SELECT 1 FROM brokers b WHERE b.liveness_lock AND b.last_heartbeat < v_late AND b.node_id <> p_node_id)
     AND pg_postmaster_start_time() < v_deadline THEN
    SELECT coalesce(array_agg(b.node_id), '{}') INTO v_dead FROM brokers b
     WHERE b.liveness_lock AND b.last_heartbeat < v_late AND b.node_id <> p_node_id
       AND NOT EXISTS (SELECT 1 FROM pg_locks l
                        WHERE l.locktype = 'advisory' AND l.database = v_db AND l.classid = 1718382444::oid
                          AND l.objid = b.node_id::oid AND l.objsubid = 2 AND l.granted);
  END IF;

  -- Expire brokers that stopped heartbeating (this one excepted: it is alive, it is calling).
  IF cardinality(v_dead) > 0 OR EXISTS (SELECT 1 FROM brokers b WHERE b.last_heartbeat < v_deadline AND b.node_id <> p_node_id) THEN
    PERFORM 1 FROM membership FOR UPDATE;
    DELETE FROM brokers b WHERE (b.last_heartbeat < v_deadline OR (b.node_id = ANY (v_dead) AND b.last_heartbeat < v_late)) AND b.node_id <> p_node_id;
    IF FOUND THEN
      UPDATE membership SET epoch = epoch + 1 RETURNING epoch INTO v_epoch;
      PERFORM pg_notify('floe_brokers', v_epoch::text);
    END IF;
  END IF;

  -- Renew this registration, noting whether this broker holds its liveness lock now.
  UPDATE brokers b SET last_heartbeat = clock_timestamp(),
         liveness_lock = EXISTS (SELECT 1 FROM pg_locks l
                                  WHERE l.locktype = 'advisory' AND l.database = v_db AND l.classid = 1718382444::oid
                                    AND l.objid = p_node_id::oid AND l.objsubid = 2 AND l.granted)
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

export const MIGRATION_18: Migration = {
  version: 18,
  name: 'group-configs-liveness',
  statements: [
    `CREATE TABLE group_configs (
       group_id text NOT NULL,
       name     text NOT NULL,
       value    text NOT NULL,
       PRIMARY KEY (group_id, name)
     )`,
    `ALTER TABLE brokers ADD COLUMN liveness_lock boolean NOT NULL DEFAULT false`,
    BROKER_HEARTBEAT_FUNCTION,
  ],
};
