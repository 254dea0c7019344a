-- floe_retention_step: created by migration 3; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_retention_step(topic_ids, retention_ms, retention_bytes, max_batches) → one row per partition whose
-- log start moved or that had batches deleted: (o_topic_id, o_partition, o_log_start_offset, null, null,
-- null), then one summary row: (null, null, null, o_batches_deleted, o_objects_marked, o_more).
--
-- For every partition of a diskless topic that holds batches (one index probe for its oldest batch), with
-- the retention given for its topic (-1: none; topics not listed: none):
-- - retention.ms: the log start moves to the first batch whose running maximum timestamp
--   (max_timestamp_so_far, non-decreasing in offset order) is within retention.ms of the coordinator's
--   clock: everything before it is wholly expired. One index probe. As in Kafka, a batch from the future
--   holds back everything after it.
-- - retention.bytes: the oldest batches go while what remains is still at least retention.bytes (Kafka's
--   rule for segments). The walk reads at most max_batches + 1 batches.
-- - batches still below the log start (left by a bounded DeleteRecords or an earlier step) are deleted.
-- All the moves then go through floe_advance_log_start, at most max_batches deletions per step; o_more says
-- work is left. The step reads without locks; only floe_advance_log_start's final UPDATE locks partition rows.

CREATE OR REPLACE FUNCTION floe_retention_step(
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
  v_now    bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  c        record;
  res      record;
  v_t      bigint;
  v_target bigint;
  v_more   boolean := false;
  a_topic  uuid[] := '{}';
  a_part   integer[] := '{}';
  a_start  bigint[] := '{}';
BEGIN
  FOR c IN
    SELECT p.topic_id, p.partition, p.log_start_offset, p.high_watermark, p.byte_size,
           coalesce(r.retention_ms, -1) AS retention_ms, coalesce(r.retention_bytes, -1) AS retention_bytes,
           o.last_offset AS oldest_last, o.max_timestamp_so_far AS oldest_ts
      FROM partitions p
      JOIN topics t ON t.topic_id = p.topic_id AND t.diskless
      LEFT JOIN unnest(p_topic_ids, p_retention_ms, p_retention_bytes) AS r(topic_id, retention_ms, retention_bytes)
             ON r.topic_id = p.topic_id
     CROSS JOIN LATERAL (
             SELECT b.last_offset, b.max_timestamp_so_far FROM batches b
              WHERE b.topic_id = p.topic_id AND b.partition = p.partition
              ORDER BY b.base_offset
              LIMIT 1) o
     ORDER BY p.topic_id, p.partition
  LOOP
    v_target := c.log_start_offset;
    IF c.retention_ms >= 0 AND c.oldest_ts < v_now - c.retention_ms THEN
      SELECT b.base_offset INTO v_t FROM batches b
       WHERE b.topic_id = c.topic_id AND b.partition = c.partition
         AND b.max_timestamp_so_far >= v_now - c.retention_ms
       ORDER BY b.max_timestamp_so_far, b.base_offset
       LIMIT 1;
      v_target := greatest(v_target, CASE WHEN FOUND THEN v_t ELSE c.high_watermark END);
    END IF;
    IF c.retention_bytes >= 0 AND c.byte_size > c.retention_bytes THEN
      -- Deleting the first k batches leaves byte_size - cum_k: delete while that is >= retention.bytes.
      SELECT w.base_offset INTO v_t FROM (
          SELECT f.base_offset, sum(f.byte_size) OVER (ORDER BY f.base_offset) AS cum
            FROM (SELECT b.base_offset, b.byte_size FROM batches b
                   WHERE b.topic_id = c.topic_id AND b.partition = c.partition
                   ORDER BY b.base_offset
                   LIMIT p_max_batches + 1) f) w
       WHERE w.cum > c.byte_size - c.retention_bytes
       ORDER BY w.base_offset
       LIMIT 1;
      IF FOUND THEN
        v_target := greatest(v_target, v_t);
      ELSE
        -- The bounded walk ended first: go as far as it read, the rest next step.
        SELECT max(f.last_offset) + 1 INTO v_t FROM (
            SELECT b.last_offset FROM batches b
             WHERE b.topic_id = c.topic_id AND b.partition = c.partition
             ORDER BY b.base_offset
             LIMIT p_max_batches + 1) f;
        v_target := greatest(v_target, least(v_t, c.high_watermark));
        v_more := true;
      END IF;
    END IF;
    IF v_target > c.log_start_offset OR c.oldest_last < c.log_start_offset THEN
      a_topic := a_topic || c.topic_id;
      a_part  := a_part || c.partition;
      a_start := a_start || v_target;
    END IF;
  END LOOP;

  IF cardinality(a_topic) = 0 THEN
    RETURN QUERY SELECT NULL::uuid, NULL::integer, NULL::bigint, 0, 0, false;
    RETURN;
  END IF;

  PERFORM floe_lock_topics(a_topic, false);
  SELECT * INTO res FROM floe_advance_log_start(a_topic, a_part, a_start, p_max_batches);

  RETURN QUERY
  SELECT p.topic_id, p.partition, p.log_start_offset, NULL::integer, NULL::integer, NULL::boolean
    FROM unnest(a_topic, a_part) AS u(topic_id, partition)
    JOIN partitions p ON p.topic_id = u.topic_id AND p.partition = u.partition;
  RETURN QUERY SELECT NULL::uuid, NULL::integer, NULL::bigint, res.o_batches_deleted, res.o_objects_marked,
                      v_more OR res.o_more;
END
$fn$;
