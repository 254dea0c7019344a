-- floe_expire_group_offsets: created by migration 2; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_expire_group_offsets(now, retention_ms, active_groups, empty_groups) → one row per group touched:
-- (o_group_id, o_expired, o_deleted).
--
-- Kafka's rules (GroupMetadata.removeExpiredOffsets), for groups not in `active_groups` (the groups with
-- members in the broker's memory):
-- - an offset committed with an explicit retention (v2-v4) expires at its expire timestamp;
-- - a group with a protocol type (it had members) and no members: every offset expires once the group has
--   been empty for the retention (state_timestamp = when the empty generation was stored);
-- - a group without protocol type (simple commits only, or no group row): each offset expires retention
--   after its own commit.
-- Then a group that has no members and no offsets left is deleted (Kafka does this at once, whatever its
-- age). `empty_groups` are groups the broker holds as empty in memory: those that have neither a row nor
-- offsets are reported as deleted too.

CREATE OR REPLACE FUNCTION floe_expire_group_offsets(
  p_now          bigint,
  p_retention_ms bigint,
  p_active       text[],
  p_empty        text[]
) RETURNS TABLE (o_group_id text, o_expired integer, o_deleted boolean) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_expired text[];
  v_deleted text[];
BEGIN
  WITH gone AS (
    DELETE FROM group_offsets o
     WHERE NOT (o.group_id = ANY (p_active))
       AND CASE
             WHEN o.expire_timestamp >= 0 THEN o.expire_timestamp <= p_now
             ELSE (SELECT CASE
                            WHEN g.group_id IS NULL OR g.protocol_type IS NULL
                              THEN o.commit_timestamp + p_retention_ms <= p_now
                            WHEN jsonb_array_length(g.members) = 0
                              THEN g.state_timestamp + p_retention_ms <= p_now
                            ELSE false
                          END
                     FROM (SELECT 1) AS one
                     LEFT JOIN groups g ON g.group_id = o.group_id)
           END
    RETURNING o.group_id
  )
  SELECT coalesce(array_agg(gone.group_id), '{}'::text[]) INTO v_expired FROM gone;

  WITH d AS (
    DELETE FROM groups g
     WHERE NOT (g.group_id = ANY (p_active))
       AND jsonb_array_length(g.members) = 0
       AND NOT EXISTS (SELECT 1 FROM group_offsets o WHERE o.group_id = g.group_id)
    RETURNING g.group_id
  )
  SELECT coalesce(array_agg(d.group_id), '{}'::text[]) INTO v_deleted FROM d;

  RETURN QUERY
  SELECT x.gid, (count(*) FILTER (WHERE x.src = 'e'))::integer, bool_or(x.src = 'd')
    FROM (
      SELECT e.gid, 'e' AS src FROM unnest(v_expired) AS e(gid)
      UNION ALL
      SELECT d.gid, 'd' FROM unnest(v_deleted) AS d(gid)
      UNION ALL
      SELECT c.gid, 'd'
        FROM (SELECT DISTINCT u.gid FROM unnest(v_expired || p_empty) AS u(gid)) c
       WHERE NOT (c.gid = ANY (p_active))
         AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.group_id = c.gid)
         AND NOT EXISTS (SELECT 1 FROM group_offsets o WHERE o.group_id = c.gid)
    ) x
   GROUP BY x.gid;
END
$fn$;
