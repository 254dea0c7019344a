/**
 * Migration 7: changes are announced to every broker (PostgreSQL NOTIFY; channels and payloads in
 * ../notifications.ts), so brokers keep their batch index caches and topic registries current and wake
 * their long polls on other brokers' commits (DESIGN.md, "Fetch path" step 4).
 *
 * Commits, DeleteRecords and retention get announcing wrappers (floe_commit_object_notify,
 * floe_delete_records_notify, floe_retention_step_notify: same arguments and result as the function they
 * call); topic changes call floe_notify_topic from the statements that make them. Either way pg_notify runs
 * in the same transaction: a change is announced if and only if it committed, and listeners receive
 * announcements in commit order (so, for one partition, in offset order). A retried commit that finds its
 * object already committed announces it again; listeners ignore batches they already know.
 *
 * Cost on the commit path: one string built from the committed batches (skipped past 200 batches, when
 * the list would not fit in a payload anyway: listeners then look the object up once each).
 */
import type { Migration } from './migration.ts';

/** Same arguments and result as floe_commit_object_once (migration 4). */
const COMMIT_OBJECT_NOTIFY_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_commit_object_notify(
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
  v_idx     integer[];
  v_err     smallint[];
  v_base    bigint[];
  v_lat     bigint[];
  v_lso     bigint[];
  v_ok      integer;
  v_time    bigint;
  v_list    text;
  v_payload text;
BEGIN
  SELECT coalesce(array_agg(c.o_idx ORDER BY c.o_idx), '{}'), coalesce(array_agg(c.o_error_code ORDER BY c.o_idx), '{}'),
         coalesce(array_agg(c.o_base_offset ORDER BY c.o_idx), '{}'), coalesce(array_agg(c.o_log_append_time ORDER BY c.o_idx), '{}'),
         coalesce(array_agg(c.o_log_start_offset ORDER BY c.o_idx), '{}')
    INTO v_idx, v_err, v_base, v_lat, v_lso
    FROM floe_commit_object_once(p_object_key, p_object_size, p_broker_id, p_topic_ids, p_partitions, p_byte_offsets,
                                 p_byte_sizes, p_record_counts, p_base_timestamps, p_max_timestamps, p_timestamp_types,
                                 p_producer_ids, p_producer_epochs, p_base_sequences, p_last_sequences) c;

  SELECT count(*)::integer, min(c.lat) INTO v_ok, v_time
    FROM unnest(v_err, v_lat) AS c(err, lat) WHERE c.err = 0;

  IF v_ok > 0 THEN
    IF v_ok <= 200 THEN
      SELECT string_agg(
               concat_ws(',',
                 CASE WHEN x.topic_id IS NOT DISTINCT FROM x.prev_topic THEN '' ELSE x.topic_id::text END,
                 x.partition, x.byte_offset, x.byte_size, x.base_offset, x.base_offset + x.record_count - 1,
                 x.max_timestamp, x.timestamp_type, x.log_start_offset),
               ';' ORDER BY x.i)
        INTO v_list
        FROM (SELECT r.*, c.base AS base_offset, c.lso AS log_start_offset,
                     lag(r.topic_id) OVER (ORDER BY r.i) AS prev_topic
                FROM unnest(v_idx, v_err, v_base, v_lso) AS c(idx, err, base, lso)
                JOIN unnest(p_topic_ids, p_partitions, p_byte_offsets, p_byte_sizes, p_record_counts, p_max_timestamps,
                            p_timestamp_types) WITH ORDINALITY
                       AS r(topic_id, partition, byte_offset, byte_size, record_count, max_timestamp, timestamp_type, i)
                  ON r.i = c.idx + 1
               WHERE c.err = 0) x;
    END IF;
    v_payload := p_broker_id || ' ' || v_time || ' ' || coalesce(v_list, '*') || ' ' || p_object_key;
    IF octet_length(v_payload) >= 7900 THEN
      v_payload := p_broker_id || ' ' || v_time || ' * ' || p_object_key;
      IF octet_length(v_payload) >= 7900 THEN
        v_payload := p_broker_id || ' ' || v_time || ' ?';
      END IF;
    END IF;
    PERFORM pg_notify('floe_commits', v_payload);
  END IF;

  RETURN QUERY SELECT * FROM unnest(v_idx, v_err, v_base, v_lat, v_lso);
END
$fn$`;

/** Announces a topic change; returns 1 (so it can sit in a SELECT list), 0 for a null topic id (no change). */
const NOTIFY_TOPIC_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_notify_topic(p_op text, p_topic_id text, p_name text) RETURNS integer
LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_topic_id IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM pg_notify('floe_topics', p_op || ' ' || p_topic_id || ' ' || p_name);
  RETURN 1;
END
$fn$`;

/** Announces moved log starts (`*` when the list does not fit a payload). */
const NOTIFY_LOG_STARTS_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_notify_log_starts(p_topic_ids uuid[], p_partitions integer[], p_log_starts bigint[])
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_list text;
BEGIN
  IF coalesce(array_length(p_topic_ids, 1), 0) = 0 THEN
    RETURN;
  END IF;
  IF array_length(p_topic_ids, 1) <= 150 THEN
    SELECT string_agg(r.topic_id::text || ',' || r.partition || ',' || r.log_start, ';')
      INTO v_list
      FROM unnest(p_topic_ids, p_partitions, p_log_starts) AS r(topic_id, partition, log_start);
  END IF;
  IF v_list IS NULL OR octet_length(v_list) >= 7900 THEN
    v_list := '*';
  END IF;
  PERFORM pg_notify('floe_log_starts', v_list);
END
$fn$`;

/** floe_delete_records (migration 3) that announces the log starts it moved. */
const DELETE_RECORDS_NOTIFY_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_delete_records_notify(
  p_topic_ids  uuid[],
  p_partitions integer[],
  p_offsets    bigint[]
) RETURNS TABLE (o_idx integer, o_error_code smallint, o_low_watermark bigint) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_idx integer[];
  v_err smallint[];
  v_low bigint[];
  v_topics uuid[];
  v_parts  integer[];
  v_starts bigint[];
BEGIN
  SELECT coalesce(array_agg(d.o_idx ORDER BY d.o_idx), '{}'), coalesce(array_agg(d.o_error_code ORDER BY d.o_idx), '{}'),
         coalesce(array_agg(d.o_low_watermark ORDER BY d.o_idx), '{}')
    INTO v_idx, v_err, v_low
    FROM floe_delete_records(p_topic_ids, p_partitions, p_offsets) d;
  SELECT array_agg(r.topic_id), array_agg(r.partition), array_agg(c.low)
    INTO v_topics, v_parts, v_starts
    FROM unnest(v_idx, v_err, v_low) AS c(idx, err, low)
    JOIN unnest(p_topic_ids, p_partitions) WITH ORDINALITY AS r(topic_id, partition, i) ON r.i = c.idx + 1
   WHERE c.err = 0 AND c.low >= 0;
  PERFORM floe_notify_log_starts(v_topics, v_parts, v_starts);
  RETURN QUERY SELECT * FROM unnest(v_idx, v_err, v_low);
END
$fn$`;

/** floe_retention_step (migration 3) that announces the log starts it moved. */
const RETENTION_STEP_NOTIFY_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_retention_step_notify(
  p_topic_ids       uuid[],
  p_retention_ms    bigint[],
  p_retention_bytes bigint[],
  p_max_batches     integer
) RETURNS TABLE (
  o_topic_id         uuid,
  o_partition        integer,
  o_log_start_offset bigint,
  o_batches_deleted  integer,
  o_objects_marked   integer,
  o_more             boolean
) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_topics  uuid[];
  v_parts   integer[];
  v_starts  bigint[];
  v_deleted integer[];
  v_marked  integer[];
  v_more    boolean[];
BEGIN
  SELECT coalesce(array_agg(s.o_topic_id), '{}'), coalesce(array_agg(s.o_partition), '{}'),
         coalesce(array_agg(s.o_log_start_offset), '{}'), coalesce(array_agg(s.o_batches_deleted), '{}'),
         coalesce(array_agg(s.o_objects_marked), '{}'), coalesce(array_agg(s.o_more), '{}')
    INTO v_topics, v_parts, v_starts, v_deleted, v_marked, v_more
    FROM floe_retention_step(p_topic_ids, p_retention_ms, p_retention_bytes, p_max_batches) s;
  PERFORM floe_notify_log_starts(array_agg(c.t), array_agg(c.p), array_agg(c.s))
     FROM unnest(v_topics, v_parts, v_starts) AS c(t, p, s)
    WHERE c.t IS NOT NULL;
  RETURN QUERY SELECT * FROM unnest(v_topics, v_parts, v_starts, v_deleted, v_marked, v_more);
END
$fn$`;

export const MIGRATION_7: Migration = {
  version: 7,
  name: 'notifications: commits, topic changes and log-start moves announced to every broker',
  statements: [
    COMMIT_OBJECT_NOTIFY_FUNCTION,
    NOTIFY_TOPIC_FUNCTION,
    NOTIFY_LOG_STARTS_FUNCTION,
    DELETE_RECORDS_NOTIFY_FUNCTION,
    RETENTION_STEP_NOTIFY_FUNCTION,
  ],
};
