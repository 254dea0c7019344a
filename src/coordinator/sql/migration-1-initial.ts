/**
 * Migration 1: the initial schema (topics, partitions, objects, batches) and the functions of the hot
 * operations: floe_commit_object, floe_find_batches, floe_list_offsets.
 *
 * Functions, not statements sent by the client, for the hot operations: one call = one statement = one
 * transaction = one round trip, and plpgsql caches the plans of the statements inside (planning the
 * lookups below costs more than running them). Requests arrive as parallel arrays, one element per
 * batch or partition, unpacked with `unnest(...) WITH ORDINALITY` (parsed once, when the call binds its
 * parameters; far cheaper than JSON on PGlite). Result rows carry `o_idx`, the 0-based request index.
 * Every column reference inside is qualified; `#variable_conflict use_column` guards the rest.
 * The read functions force generic plans: with `auto`, PostgreSQL keeps re-planning them on every call
 * (their generic cost estimate looks worse than it is), which costs more than running them.
 */
import type { Migration } from './migration.ts';

/**
 * floe_commit_object(object_key, object_size, broker_id, <batch arrays>) → one row per batch, in request
 * order: (o_idx, o_error_code, o_base_offset, o_log_append_time, o_log_start_offset).
 */
const COMMIT_OBJECT_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_commit_object(
  p_object_key      text,
  p_object_size     bigint,
  p_broker_id       integer,
  p_topic_ids       uuid[],
  p_partitions      integer[],
  p_byte_offsets    bigint[],
  p_byte_sizes      bigint[],
  p_record_counts   integer[],
  p_base_timestamps bigint[],
  p_max_timestamps  bigint[],
  p_timestamp_types smallint[],
  p_producer_ids    bigint[],
  p_producer_epochs smallint[],
  p_base_sequences  integer[],
  p_last_sequences  integer[]
) RETURNS TABLE (
  o_idx              integer,
  o_error_code       smallint,
  o_base_offset      bigint,
  o_log_append_time  bigint,
  o_log_start_offset bigint
) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_object_id bigint;
  v_now       bigint;
BEGIN
  -- 1. Lock the touched partitions in one fixed order, so concurrent commits never deadlock.
  --    (LockRows runs above the sort: rows are locked in ORDER BY order.) A partition that does not
  --    exist (or was deleted before we got its lock) simply is not locked: its batches fail below.
  PERFORM 1
    FROM partitions p
   WHERE (p.topic_id, p.partition) IN (SELECT r.topic_id, r.partition
                                         FROM unnest(p_topic_ids, p_partitions) AS r(topic_id, partition))
   ORDER BY p.topic_id, p.partition
     FOR UPDATE;

  -- The commit's wall clock, taken after the locks so it follows every earlier commit to the same
  -- partitions. One value for every batch of the object.
  v_now := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;

  INSERT INTO objects (object_key, size, state, broker_id)
  VALUES (p_object_key, p_object_size, 'uploaded', p_broker_id)
  RETURNING object_id INTO v_object_id;

  -- 2. Idempotent-producer checks go here (later issue): for batches with producer_id >= 0, compare
  --    (producer_epoch, base_sequence, last_sequence) with producer_state of their partition (rows
  --    locked above): duplicate → answer with the original base offset and do not append; sequence
  --    gap → OUT_OF_ORDER_SEQUENCE_NUMBER (45); older epoch → INVALID_PRODUCER_EPOCH (47). Then record
  --    the accepted batches in producer_state (last 5 per producer and partition). Rejected batches
  --    must be left out of "acc" below, exactly like batches of unknown partitions.

  -- 3. Assign offsets: base_offset = high_watermark + records of earlier batches of the same partition
  --    in this object; advance the partitions; record the batches. All CTEs see the partition rows as
  --    of this statement's snapshot, taken after the locks, so nothing can move under us.
  RETURN QUERY
  WITH req AS (
    SELECT r.*,
           CASE WHEN r.timestamp_type = 1 THEN v_now ELSE r.max_timestamp END AS effective_ts
      FROM unnest(p_topic_ids, p_partitions, p_byte_offsets, p_byte_sizes, p_record_counts,
                  p_base_timestamps, p_max_timestamps, p_timestamp_types, p_producer_ids,
                  p_producer_epochs, p_base_sequences, p_last_sequences)
             WITH ORDINALITY
             AS r(topic_id, partition, byte_offset, byte_size, record_count, base_timestamp,
                  max_timestamp, timestamp_type, producer_id, producer_epoch, base_sequence,
                  last_sequence, i)
  ), acc AS (
    SELECT q.*,
           p.log_start_offset,
           p.high_watermark + sum(q.record_count) OVER w - q.record_count AS base_offset,
           greatest(p.max_timestamp, max(q.effective_ts) OVER w)        AS max_timestamp_so_far
      FROM req q
      JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition
    WINDOW w AS (PARTITION BY q.topic_id, q.partition ORDER BY q.i)
  ), ins AS (
    INSERT INTO batches (topic_id, partition, base_offset, last_offset, object_id, byte_offset, byte_size,
                         record_count, base_timestamp, max_timestamp, log_append_time, timestamp_type,
                         max_timestamp_so_far, producer_id, producer_epoch, base_sequence, last_sequence)
    SELECT a.topic_id, a.partition, a.base_offset, a.base_offset + a.record_count - 1, v_object_id,
           a.byte_offset, a.byte_size, a.record_count, a.base_timestamp, a.max_timestamp, v_now,
           a.timestamp_type, a.max_timestamp_so_far, a.producer_id, a.producer_epoch, a.base_sequence,
           a.last_sequence
      FROM acc a
  ), upd AS (
    UPDATE partitions p
       SET high_watermark = p.high_watermark + s.records,
           byte_size      = p.byte_size + s.bytes,
           max_timestamp  = greatest(p.max_timestamp, s.max_ts)
      FROM (SELECT a.topic_id, a.partition, sum(a.record_count) AS records, sum(a.byte_size) AS bytes,
                   max(a.max_timestamp_so_far) AS max_ts
              FROM acc a
             GROUP BY a.topic_id, a.partition) s
     WHERE p.topic_id = s.topic_id AND p.partition = s.partition
  )
  SELECT (q.i - 1)::integer,
         CASE WHEN a.i IS NULL THEN 3 ELSE 0 END::smallint, -- 3 UNKNOWN_TOPIC_OR_PARTITION
         coalesce(a.base_offset, -1)::bigint,
         CASE WHEN a.i IS NULL THEN -1 ELSE v_now END::bigint,
         coalesce(a.log_start_offset, -1)::bigint
    FROM req q
    LEFT JOIN acc a ON a.i = q.i
   ORDER BY q.i;

  -- 4. An object none of whose batches was accepted is still recorded, ready for the cleaner.
  IF NOT EXISTS (SELECT 1 FROM batches b WHERE b.object_id = v_object_id) THEN
    UPDATE objects
       SET state = 'deleting', marked_for_deletion_at = now()
     WHERE object_id = v_object_id;
  END IF;
END
$fn$`;

/** Columns of a batch location in function results (the object key joined in). */
const BATCH_LOCATION_COLUMNS = `
  o_object_key      text,
  o_byte_offset     bigint,
  o_byte_size       bigint,
  o_base_offset     bigint,
  o_last_offset     bigint,
  o_max_timestamp   bigint,
  o_log_append_time bigint,
  o_timestamp_type  smallint`;

/**
 * floe_find_batches(topic_ids, partitions, offsets, max_bytes) → per request, one row per batch found
 * (or one row with null batch columns when none, or when the partition is unknown: null offsets):
 * (o_idx, o_log_start_offset, o_high_watermark, <batch location>), ordered by request, then offset.
 *
 * `walk` follows each partition's batches in offset order, one index probe per batch, and stops once the
 * sizes so far reach max_bytes (the first batch is always taken), so a lagging consumer never makes the
 * database read the whole tail of a partition. Offsets outside [log start, high watermark) find nothing;
 * the caller tells OFFSET_OUT_OF_RANGE from "at the high watermark".
 */
const FIND_BATCHES_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_find_batches(
  p_topic_ids  uuid[],
  p_partitions integer[],
  p_offsets    bigint[],
  p_max_bytes  bigint[]
) RETURNS TABLE (
  o_idx              integer,
  o_log_start_offset bigint,
  o_high_watermark   bigint,${BATCH_LOCATION_COLUMNS}
) LANGUAGE plpgsql STABLE
  SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH RECURSIVE req AS (
    SELECT r.i, r.topic_id, r.partition, r.fetch_offset, r.max_bytes, p.log_start_offset, p.high_watermark
      FROM unnest(p_topic_ids, p_partitions, p_offsets, p_max_bytes) WITH ORDINALITY
             AS r(topic_id, partition, fetch_offset, max_bytes, i)
      LEFT JOIN partitions p ON p.topic_id = r.topic_id AND p.partition = r.partition
  ), walk AS (
    SELECT q.i, q.max_bytes, b.topic_id, b.partition, b.base_offset, b.last_offset, b.object_id,
           b.byte_offset, b.byte_size, b.max_timestamp, b.log_append_time, b.timestamp_type,
           b.byte_size AS total_bytes
      FROM req q
     CROSS JOIN LATERAL (
             SELECT f.* FROM batches f
              WHERE f.topic_id = q.topic_id AND f.partition = q.partition AND f.last_offset >= q.fetch_offset
              ORDER BY f.last_offset
              LIMIT 1) b
     WHERE q.fetch_offset >= q.log_start_offset AND q.fetch_offset < q.high_watermark
    UNION ALL
    SELECT w.i, w.max_bytes, n.topic_id, n.partition, n.base_offset, n.last_offset, n.object_id,
           n.byte_offset, n.byte_size, n.max_timestamp, n.log_append_time, n.timestamp_type,
           w.total_bytes + n.byte_size
      FROM walk w
     CROSS JOIN LATERAL (
             SELECT f.* FROM batches f
              WHERE f.topic_id = w.topic_id AND f.partition = w.partition AND f.base_offset > w.last_offset
              ORDER BY f.base_offset
              LIMIT 1) n
     WHERE w.total_bytes < w.max_bytes
  )
  SELECT (q.i - 1)::integer, q.log_start_offset, q.high_watermark,
         o.object_key, w.byte_offset, w.byte_size, w.base_offset, w.last_offset, w.max_timestamp,
         w.log_append_time, w.timestamp_type
    FROM req q
    LEFT JOIN walk w ON w.i = q.i
    LEFT JOIN objects o ON o.object_id = w.object_id
   ORDER BY q.i, w.base_offset;
END
$fn$`;

/** Effective timestamp of a batch row: log-append time for LogAppendTime batches, else max timestamp. */
function effectiveTs(alias: string): string {
  return `(CASE WHEN ${alias}.timestamp_type = 1 THEN ${alias}.log_append_time ELSE ${alias}.max_timestamp END)`;
}

/**
 * floe_list_offsets(topic_ids, partitions, timestamps) → one row per request:
 * (o_idx, o_log_start_offset, o_high_watermark, <batch location>); null offsets: unknown partition;
 * null batch: none (or -2/-1, answered by the offsets).
 *
 * By timestamp T (>= 0): the first batch at or after log start whose effective timestamp is >= T. As
 * max_timestamp_so_far is a running maximum, no such batch lies before the first batch whose
 * max_timestamp_so_far is >= T: one index probe finds where to start, and the scan from there normally
 * stops at its first row.
 * Max timestamp (-3): the first batch holding the partition's largest timestamp. The first batch whose
 * running maximum reaches the partition's maximum is it, unless that batch is gone or lies before log
 * start (records deleted); then the retained batches are scanned.
 */
const LIST_OFFSETS_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_list_offsets(
  p_topic_ids  uuid[],
  p_partitions integer[],
  p_timestamps bigint[]
) RETURNS TABLE (
  o_idx              integer,
  o_log_start_offset bigint,
  o_high_watermark   bigint,${BATCH_LOCATION_COLUMNS}
) LANGUAGE plpgsql STABLE
  SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT (q.i - 1)::integer, p.log_start_offset, p.high_watermark,
         o.object_key, b.byte_offset, b.byte_size, b.base_offset, b.last_offset, b.max_timestamp,
         b.log_append_time, b.timestamp_type
    FROM unnest(p_topic_ids, p_partitions, p_timestamps) WITH ORDINALITY AS q(topic_id, partition, ts, i)
    LEFT JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition
    -- At most one branch runs: the q.ts tests are one-time filters, and LIMIT 1 stops the Append at
    -- the first row (the -3 fallback scan runs only when the probe before it found nothing).
    LEFT JOIN LATERAL (
      SELECT f.* FROM (
        (SELECT t.* FROM batches t
          WHERE q.ts >= 0
            AND t.topic_id = q.topic_id AND t.partition = q.partition
            AND t.base_offset >= (
                  SELECT s.base_offset FROM batches s
                   WHERE s.topic_id = q.topic_id AND s.partition = q.partition
                     AND s.max_timestamp_so_far >= q.ts
                   ORDER BY s.max_timestamp_so_far, s.base_offset
                   LIMIT 1)
            AND t.last_offset >= p.log_start_offset
            AND ${effectiveTs('t')} >= q.ts
          ORDER BY t.base_offset
          LIMIT 1)
        UNION ALL
        (SELECT h.* FROM (
            SELECT s.* FROM batches s
             WHERE q.ts = -3
               AND s.topic_id = q.topic_id AND s.partition = q.partition
               AND s.max_timestamp_so_far >= p.max_timestamp
             ORDER BY s.max_timestamp_so_far, s.base_offset
             LIMIT 1) h
          WHERE h.last_offset >= p.log_start_offset AND ${effectiveTs('h')} >= p.max_timestamp)
        UNION ALL
        (SELECT t.* FROM batches t
          WHERE q.ts = -3
            AND t.topic_id = q.topic_id AND t.partition = q.partition AND t.last_offset >= p.log_start_offset
          ORDER BY ${effectiveTs('t')} DESC, t.base_offset
          LIMIT 1)
      ) f
      LIMIT 1
    ) b ON p.topic_id IS NOT NULL
    LEFT JOIN objects o ON o.object_id = b.object_id
   ORDER BY q.i;
END
$fn$`;

// The statements keep the exact text applied since release (continuation lines are indented for where they stood
// then, inside migrations.ts's list).
export const MIGRATION_1: Migration = {
  version: 1,
  name: 'initial schema; commit, find-batches and list-offsets functions',
  statements: [
    `CREATE TABLE topics (
         topic_id        uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
         name            text        NOT NULL UNIQUE,
         partition_count integer     NOT NULL CHECK (partition_count > 0),
         diskless        boolean     NOT NULL,
         configs         jsonb       NOT NULL DEFAULT '{}'::jsonb,
         created_at      timestamptz NOT NULL DEFAULT now()
       )`,
    `CREATE TABLE partitions (
         topic_id         uuid    NOT NULL REFERENCES topics (topic_id) ON DELETE CASCADE,
         partition        integer NOT NULL,
         log_start_offset bigint  NOT NULL DEFAULT 0,
         high_watermark   bigint  NOT NULL DEFAULT 0,
         byte_size        bigint  NOT NULL DEFAULT 0,
         -- running maximum of the effective timestamps of every batch ever appended (-1: none)
         max_timestamp    bigint  NOT NULL DEFAULT -1,
         PRIMARY KEY (topic_id, partition)
       )`,
    `CREATE TABLE objects (
         object_id              bigserial   PRIMARY KEY,
         object_key             text        NOT NULL UNIQUE,
         size                   bigint      NOT NULL,
         state                  text        NOT NULL CHECK (state IN ('uploaded', 'deleting')),
         broker_id              integer     NOT NULL,
         created_at             timestamptz NOT NULL DEFAULT now(),
         marked_for_deletion_at timestamptz
       )`,
    `CREATE INDEX objects_deleting_idx ON objects (marked_for_deletion_at) WHERE state = 'deleting'`,
    `CREATE TABLE batches (
         topic_id             uuid     NOT NULL,
         partition            integer  NOT NULL,
         base_offset          bigint   NOT NULL,
         last_offset          bigint   NOT NULL,
         object_id            bigint   NOT NULL,
         byte_offset          bigint   NOT NULL,
         byte_size            bigint   NOT NULL,
         record_count         integer  NOT NULL,
         base_timestamp       bigint   NOT NULL,
         max_timestamp        bigint   NOT NULL,
         log_append_time      bigint   NOT NULL,
         timestamp_type       smallint NOT NULL,
         -- running maximum of the partition's effective timestamps up to and including this batch:
         -- non-decreasing in offset order, so "first batch with effective timestamp >= T" starts at the
         -- first batch with max_timestamp_so_far >= T (one index probe instead of a scan).
         max_timestamp_so_far bigint   NOT NULL,
         producer_id          bigint   NOT NULL,
         producer_epoch       smallint NOT NULL,
         base_sequence        integer  NOT NULL,
         last_sequence        integer  NOT NULL,
         -- No foreign keys (the per-row checks cost ~15-20% of a 100..1000-batch commit on PGlite):
         -- commits only add batches to partitions they hold locked, into the object row they insert in
         -- the same transaction; deleteTopic deletes the batches itself; whoever deletes object rows (the
         -- cleaner) must first check that no batch references them (batches_object_idx).
         PRIMARY KEY (topic_id, partition, base_offset)
       )`,
    // "first batch with last_offset >= X" (fetch)
    `CREATE UNIQUE INDEX batches_last_offset_idx ON batches (topic_id, partition, last_offset)`,
    // timestamp lookups (ListOffsets by timestamp and max timestamp)
    `CREATE INDEX batches_timestamp_idx ON batches (topic_id, partition, max_timestamp_so_far, base_offset)`,
    // "does this object still hold a batch?" (deleteTopic, retention, the cleaner)
    `CREATE INDEX batches_object_idx ON batches (object_id)`,
    COMMIT_OBJECT_FUNCTION,
    FIND_BATCHES_FUNCTION,
    LIST_OFFSETS_FUNCTION,
  ],
};
