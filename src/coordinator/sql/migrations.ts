/**
 * Versioned schema migrations of the batch coordinator (DESIGN.md, "Coordinator contract").
 *
 * PostgreSQL-compatible SQL only: every statement must run unchanged on PostgreSQL 15+ and on PGlite.
 * A migration is a list of single statements (drivers' extended protocol takes one statement per call,
 * and plpgsql bodies contain semicolons, so statements are never split by text). Migrations are applied
 * in version order, each in its own transaction together with its `schema_migrations` row, under an
 * advisory lock so brokers starting at the same time do not race. Never edit a released migration:
 * append a new one.
 *
 * Conventions: offsets, sizes and timestamps (ms since the epoch) are bigint; -1 means "none".
 * The "effective timestamp" of a batch is its log_append_time when timestamp_type = 1 (LogAppendTime),
 * else its max_timestamp (CreateTime).
 */

export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

/** Advisory-lock key taken while migrating ("floe" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x666c6f65;

export const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/**
 * floe_commit_object(object_key, object_size, broker_id, batches jsonb) → one row per batch, in
 * request order: (o_idx, o_error_code, o_base_offset, o_log_append_time, o_log_start_offset).
 *
 * `batches` is a JSON array of objects with keys i (request index), topic_id, partition, byte_offset,
 * byte_size, record_count, base_timestamp, max_timestamp, timestamp_type, producer_id, producer_epoch,
 * base_sequence, last_sequence. One call = one statement = one transaction = one round trip.
 */
const COMMIT_OBJECT_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_commit_object(
  p_object_key  text,
  p_object_size bigint,
  p_broker_id   integer,
  p_batches     jsonb
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
   WHERE (p.topic_id, p.partition) IN (
           SELECT DISTINCT r.topic_id, r.partition
             FROM jsonb_to_recordset(p_batches) AS r(topic_id uuid, partition integer))
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
      FROM jsonb_to_recordset(p_batches) AS r(
             i integer, topic_id uuid, partition integer, byte_offset bigint, byte_size bigint,
             record_count integer, base_timestamp bigint, max_timestamp bigint, timestamp_type smallint,
             producer_id bigint, producer_epoch smallint, base_sequence integer, last_sequence integer)
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
  SELECT q.i,
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

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'topics, partitions, objects, batches, commit function',
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
         object_id            bigint   NOT NULL REFERENCES objects (object_id),
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
         PRIMARY KEY (topic_id, partition, base_offset),
         FOREIGN KEY (topic_id, partition) REFERENCES partitions (topic_id, partition) ON DELETE CASCADE
       )`,
      // "first batch with last_offset >= X" (fetch)
      `CREATE UNIQUE INDEX batches_last_offset_idx ON batches (topic_id, partition, last_offset)`,
      // timestamp lookups (ListOffsets by timestamp and max timestamp)
      `CREATE INDEX batches_timestamp_idx ON batches (topic_id, partition, max_timestamp_so_far, base_offset)`,
      // "does this object still hold a batch?" (deleteTopic, retention, the cleaner)
      `CREATE INDEX batches_object_idx ON batches (object_id)`,
      COMMIT_OBJECT_FUNCTION,
    ],
  },
];
