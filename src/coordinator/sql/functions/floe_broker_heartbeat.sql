-- floe_broker_heartbeat: created by migration 6, replaced by 18; this is migration 18's text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_broker_heartbeat(node_id, incarnation, session_timeout_ms) → one row per live broker (o_known,
-- o_epoch, o_node_id, o_host, o_port, o_rack), or one row with null broker columns when none. Expires the
-- other brokers whose last heartbeat is older than the session timeout (database clock), or older than a
-- third of it when they held their liveness lock (advisory lock 1718382444, node id) at their last
-- heartbeat and hold it no more (a dead process; not within a session of a server start), bumping and
-- announcing the membership epoch, then renews this registration and notes whether this broker holds its
-- lock (o_known: false when it is gone, so the broker must register again). Locks the membership row only
-- when something expired.

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
$fn$;
