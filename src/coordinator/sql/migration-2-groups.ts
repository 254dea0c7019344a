/**
 * Migration 2: consumer groups and the admin operations (issue 4).
 *
 * - `groups`: what Kafka keeps in `__consumer_offsets` as group metadata, written on each generation (when
 *   the leader's assignment is stored, and when the group becomes empty), so the group coordinator can
 *   rebuild its groups after a restart. `members` is a JSON array of the members of the generation, with
 *   the selected protocol's subscription and the assignment as base64.
 * - `group_offsets`: committed offsets, keyed by topic id: they go with their topic when it is deleted
 *   (Kafka removes the offsets of deleted topics too). `expire_timestamp` is -1 unless the commit carried
 *   an explicit retention (OffsetCommit v2-v4).
 * - floe_commit_group_offsets / floe_expire_group_offsets / floe_delete_records: one call per operation.
 */
import type { Migration } from './migration.ts';

/**
 * floe_commit_group_offsets(group, commit_ts, <arrays>) → the 0-based indexes of the commits stored;
 * commits for partitions that do not exist are left out (the caller answers UNKNOWN_TOPIC_OR_PARTITION).
 * A partition given twice keeps the last value, as Kafka does.
 */
const COMMIT_GROUP_OFFSETS_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_commit_group_offsets(
  p_group_id      text,
  p_commit_ts     bigint,
  p_topic_ids     uuid[],
  p_partitions    integer[],
  p_offsets       bigint[],
  p_leader_epochs integer[],
  p_metadata      text[],
  p_expire_ts     bigint[]
) RETURNS TABLE (o_idx integer) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH req AS (
    SELECT r.*
      FROM unnest(p_topic_ids, p_partitions, p_offsets, p_leader_epochs, p_metadata, p_expire_ts) WITH ORDINALITY
             AS r(topic_id, partition, committed_offset, leader_epoch, metadata, expire_timestamp, i)
  ), ok AS (
    SELECT q.* FROM req q JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition
  ), ins AS (
    INSERT INTO group_offsets AS g (group_id, topic_id, partition, committed_offset, leader_epoch, metadata,
                                    commit_timestamp, expire_timestamp)
    SELECT DISTINCT ON (k.topic_id, k.partition)
           p_group_id, k.topic_id, k.partition, k.committed_offset, k.leader_epoch, k.metadata, p_commit_ts,
           k.expire_timestamp
      FROM ok k
     ORDER BY k.topic_id, k.partition, k.i DESC
    ON CONFLICT (group_id, topic_id, partition) DO UPDATE
       SET committed_offset = EXCLUDED.committed_offset,
           leader_epoch     = EXCLUDED.leader_epoch,
           metadata         = EXCLUDED.metadata,
           commit_timestamp = EXCLUDED.commit_timestamp,
           expire_timestamp = EXCLUDED.expire_timestamp
  )
  SELECT (k.i - 1)::integer FROM ok k ORDER BY k.i;
END
$fn$`;

/**
 * floe_expire_group_offsets(now, retention_ms, active_groups, empty_groups) → one row per group touched:
 * (o_group_id, o_expired, o_deleted).
 *
 * Kafka's rules (GroupMetadata.removeExpiredOffsets), for groups not in `active_groups` (the groups with
 * members in the broker's memory):
 * - an offset committed with an explicit retention (v2-v4) expires at its expire timestamp;
 * - a group with a protocol type (it had members) and no members: every offset expires once the group has
 *   been empty for the retention (state_timestamp = when the empty generation was stored);
 * - a group without protocol type (simple commits only, or no group row): each offset expires retention
 *   after its own commit.
 * Then a group that has no members and no offsets left is deleted (Kafka does this at once, whatever its
 * age). `empty_groups` are groups the broker holds as empty in memory: those that have neither a row nor
 * offsets are reported as deleted too.
 */
const EXPIRE_GROUP_OFFSETS_FUNCTION = `
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
$fn$`;

/**
 * floe_delete_records(topic_ids, partitions, offsets) → one row per request: (o_idx, o_error_code,
 * o_low_watermark). Offset -1 means the high watermark; an offset beyond the high watermark (or below -1)
 * is OFFSET_OUT_OF_RANGE; one below the log start changes nothing. The log start moves, the batches wholly
 * before it are dropped (a batch that straddles it stays: fetches skip its first records), the partition's
 * byte size shrinks, and objects that lost their last batch become 'deleting', as in deleteTopic.
 */
const DELETE_RECORDS_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_delete_records(
  p_topic_ids  uuid[],
  p_partitions integer[],
  p_offsets    bigint[]
) RETURNS TABLE (o_idx integer, o_error_code smallint, o_low_watermark bigint) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_objects bigint[];
BEGIN
  -- Same lock order as commits.
  PERFORM 1
    FROM partitions p
   WHERE (p.topic_id, p.partition) IN (SELECT r.topic_id, r.partition
                                         FROM unnest(p_topic_ids, p_partitions) AS r(topic_id, partition))
   ORDER BY p.topic_id, p.partition
     FOR UPDATE;

  UPDATE partitions p
     SET log_start_offset = t.new_start
    FROM (SELECT r.topic_id, r.partition,
                 max(CASE WHEN r.off = -1 THEN q.high_watermark ELSE r.off END) AS new_start
            FROM unnest(p_topic_ids, p_partitions, p_offsets) AS r(topic_id, partition, off)
            JOIN partitions q ON q.topic_id = r.topic_id AND q.partition = r.partition
           WHERE r.off = -1 OR (r.off >= 0 AND r.off <= q.high_watermark)
           GROUP BY r.topic_id, r.partition) t
   WHERE p.topic_id = t.topic_id AND p.partition = t.partition AND t.new_start > p.log_start_offset;

  WITH gone AS (
    DELETE FROM batches b
     USING partitions p
     WHERE (p.topic_id, p.partition) IN (SELECT r.topic_id, r.partition
                                           FROM unnest(p_topic_ids, p_partitions) AS r(topic_id, partition))
       AND b.topic_id = p.topic_id AND b.partition = p.partition AND b.last_offset < p.log_start_offset
    RETURNING b.topic_id, b.partition, b.object_id, b.byte_size
  ), sizes AS (
    UPDATE partitions p
       SET byte_size = greatest(p.byte_size - s.bytes, 0)
      FROM (SELECT g.topic_id, g.partition, sum(g.byte_size) AS bytes FROM gone g GROUP BY g.topic_id, g.partition) s
     WHERE p.topic_id = s.topic_id AND p.partition = s.partition
  )
  SELECT coalesce(array_agg(DISTINCT gone.object_id), '{}'::bigint[]) INTO v_objects FROM gone;

  UPDATE objects o
     SET state = 'deleting', marked_for_deletion_at = now()
   WHERE o.object_id = ANY (v_objects)
     AND o.state = 'uploaded'
     AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.object_id = o.object_id);

  RETURN QUERY
  SELECT (r.i - 1)::integer,
         CASE WHEN p.topic_id IS NULL THEN 3
              WHEN r.off = -1 OR (r.off >= 0 AND r.off <= p.high_watermark) THEN 0
              ELSE 1 END::smallint,                             -- 3 UNKNOWN_TOPIC_OR_PARTITION, 1 OFFSET_OUT_OF_RANGE
         coalesce(p.log_start_offset, -1)::bigint
    FROM unnest(p_topic_ids, p_partitions, p_offsets) WITH ORDINALITY AS r(topic_id, partition, off, i)
    LEFT JOIN partitions p ON p.topic_id = r.topic_id AND p.partition = r.partition
   ORDER BY r.i;
END
$fn$`;

export const MIGRATION_2: Migration = {
  version: 2,
  name: 'consumer groups, committed offsets, delete records',
  statements: [
    `CREATE TABLE groups (
       group_id        text    PRIMARY KEY,
       -- null: a group that only ever got simple commits (no member ever joined)
       protocol_type   text,
       generation      integer NOT NULL,
       protocol_name   text,
       leader          text,
       -- ms since the epoch: when this generation was stored (for an empty group: when it became empty)
       state_timestamp bigint  NOT NULL,
       members         jsonb   NOT NULL DEFAULT '[]'::jsonb
     )`,
    `CREATE TABLE group_offsets (
       group_id         text    NOT NULL,
       topic_id         uuid    NOT NULL REFERENCES topics (topic_id) ON DELETE CASCADE,
       partition        integer NOT NULL,
       committed_offset bigint  NOT NULL,
       leader_epoch     integer NOT NULL DEFAULT -1,
       metadata         text,
       commit_timestamp bigint  NOT NULL,
       expire_timestamp bigint  NOT NULL DEFAULT -1,
       PRIMARY KEY (group_id, topic_id, partition)
     )`,
    // the cascade when a topic is deleted
    `CREATE INDEX group_offsets_topic_idx ON group_offsets (topic_id)`,
    COMMIT_GROUP_OFFSETS_FUNCTION,
    EXPIRE_GROUP_OFFSETS_FUNCTION,
    DELETE_RECORDS_FUNCTION,
  ],
};
