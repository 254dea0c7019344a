/**
 * Migration 3: idempotent producers, retention, and an object lifecycle without orphans (issue 5).
 *
 * Tables
 * - `producer_ids`: every producer id InitProducerId handed out, with its current epoch. Ids come from one
 *   sequence, so they are unique across all brokers sharing the coordinator; a re-init that names the
 *   current (id, epoch) bumps the epoch (KIP-360).
 * - `producer_state`: per (partition, producer) the epoch and the last 5 batches committed (sequence range,
 *   base offset, append time), oldest first, as parallel arrays: one row per producer and partition, updated
 *   in place by the commit that touches it. `last_update` (ms, commit clock) drives expiry.
 * - `pending_objects`: object keys a broker registered before uploading to them. The object is an orphan if
 *   the broker dies before the commit; the reaper (floe_reap_pending_objects) turns registrations older than
 *   `diskless.orphan.min.age.ms` into 'deleting' objects, which the cleaner deletes like any other. The
 *   commit of a registered key removes its registration in the commit transaction; both take the
 *   registration's row lock, so a key is either committed or reaped, never both.
 * - `job_leases`: which broker runs a cluster-wide background job (retention, cleaner) until when.
 *
 * Functions
 * - floe_commit_object: CREATE OR REPLACE, same arguments and result as migration 1 (floe_commit_object_once
 *   of migration 4 calls it), with the idempotent-producer checks and the registration removal added.
 * - floe_delete_records: CREATE OR REPLACE of migration 2's, same contract, on floe_advance_log_start.
 * - floe_advance_log_start: moves log starts and deletes the batches wholly below them (bounded), releases
 *   the objects that lost their last batch, shrinks byte sizes. Shared by DeleteRecords and retention.
 * - floe_retention_step: one bounded step of retention (retention.ms, retention.bytes, and batches left
 *   below the log start by earlier bounded steps).
 * - floe_release_objects: marks objects without batches 'deleting', safely under concurrency.
 * - floe_lock_topics: transaction-scoped advisory locks per topic (shared: DeleteRecords and retention;
 *   exclusive: topic deletion).
 * - floe_init_producer_id.
 *
 * Locking (why nothing deadlocks and why retention does not stall commits): commits lock partition rows
 * (sorted). Record deletion (DeleteRecords, retention) takes the topic's shared advisory lock, deletes batch
 * rows below the log start (rows commits never touch), locks the objects that lost batches (sorted), and
 * only then locks the partition rows (sorted) for the short final UPDATE, so a commit waits at most for that
 * UPDATE and the transaction's commit. Topic deletion takes the topic's exclusive advisory lock first, so it
 * never interleaves with a record deletion on the same topic.
 */
import type { Migration } from './migration.ts';

/** Namespace (first key) of the per-topic advisory locks: "flof". */
const TOPIC_LOCK_NAMESPACE = 0x666c6f66;

const TAIL_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_tail(p_array anyarray, p_n integer) RETURNS anyarray
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT p_array[greatest(coalesce(cardinality(p_array), 0) - p_n + 1, 1) : coalesce(cardinality(p_array), 0)]
$fn$`;

/**
 * floe_lock_topics(topic_ids, exclusive): transaction-scoped advisory locks on the topics, taken in key
 * order (distinct keys), so two callers never wait on each other in a cycle.
 */
const LOCK_TOPICS_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_lock_topics(p_topic_ids uuid[], p_exclusive boolean) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_key integer;
BEGIN
  FOR v_key IN SELECT DISTINCT hashtext(u::text) AS k FROM unnest(p_topic_ids) AS u ORDER BY k LOOP
    IF p_exclusive THEN
      PERFORM pg_advisory_xact_lock(${TOPIC_LOCK_NAMESPACE}, v_key);
    ELSE
      PERFORM pg_advisory_xact_lock_shared(${TOPIC_LOCK_NAMESPACE}, v_key);
    END IF;
  END LOOP;
END
$fn$`;

/**
 * floe_release_objects(object_ids) → how many became 'deleting'. Called by a transaction that just deleted
 * batches of these objects. The rows are locked (in id order) before looking for remaining batches: a
 * concurrent transaction that removed other batches of the same object holds that lock until it commits, so
 * the check, a new statement and hence a new snapshot under READ COMMITTED, sees its deletions. Without the
 * lock, two transactions each deleting half of an object's batches could both see the other half and leave
 * the object 'uploaded' with no batch: a leak.
 */
const RELEASE_OBJECTS_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_release_objects(p_object_ids bigint[]) RETURNS integer
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_count integer;
BEGIN
  IF coalesce(cardinality(p_object_ids), 0) = 0 THEN
    RETURN 0;
  END IF;
  PERFORM 1 FROM objects o
   WHERE o.object_id = ANY (p_object_ids) AND o.state = 'uploaded'
   ORDER BY o.object_id
     FOR UPDATE;
  UPDATE objects o
     SET state = 'deleting', marked_for_deletion_at = now()
   WHERE o.object_id = ANY (p_object_ids)
     AND o.state = 'uploaded'
     AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.object_id = o.object_id);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$fn$`;

/**
 * floe_commit_object: migration 1's function with step 2 filled in. Per batch with producer_id >= 0 and
 * base_sequence >= 0, in object order per (partition, producer), against producer_state (its partition row
 * is locked, so the state cannot move under us) and the batches of the same producer accepted earlier in
 * this object:
 * - epoch older than the state's → INVALID_PRODUCER_EPOCH (47) (Produce answers this, not PRODUCER_FENCED,
 *   since KIP-588);
 * - same epoch, (base, last sequence) equal to one of the last 5 batches → a duplicate: not appended,
 *   answered with the original's base offset and append time. In the result it carries the internal marker
 *   o_error_code = 46 (DUPLICATE_SEQUENCE_NUMBER) with o_base_offset set; SqlCoordinator turns it into a
 *   success flagged `duplicate`;
 * - same epoch, base sequence not last + 1 (with wrap at 2^31 - 1) → OUT_OF_ORDER_SEQUENCE_NUMBER (45);
 * - newer epoch: the sequence must restart at 0, else OUT_OF_ORDER_SEQUENCE_NUMBER; the state is reset;
 * - no state: the sequence must be 0, else UNKNOWN_PRODUCER_ID (59). Kafka (KIP-360) accepts any first
 *   sequence, but its failures are correlated (a partition that fails one request fails the next too); here
 *   each object fails on its own, so a producer's request 2 could commit after request 1's object failed,
 *   and librdkafka would then take request 1 as delivered (it infers that from a later success). Clients
 *   answer UNKNOWN_PRODUCER_ID by bumping the epoch and retrying.
 * Rejected batches are left out of the offsets exactly like batches of unknown partitions. The state of each
 * (partition, producer) is then upserted once, from the accepted batches of the newest epoch.
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
  v_object_id  bigint;
  v_now        bigint;
  v_n          integer := coalesce(cardinality(p_topic_ids), 0);
  -- Per batch: 0 accepted, 46 duplicate, else the error code.
  v_verdict    smallint[];
  v_dup_offset bigint[];
  v_dup_time   bigint[];
  -- A duplicate of a batch accepted earlier in this object: that batch's 1-based index.
  v_dup_of     integer[];
  r            record;
  k_topic      uuid;
  k_partition  integer;
  k_producer   bigint;
  s_known      boolean := false;
  s_epoch      smallint;
  s_base       integer[];
  s_last       integer[];
  s_offset     bigint[]; -- -i: accepted earlier in this object as batch i (offset not assigned yet)
  s_time       bigint[];
  v_len        integer;
  v_j          integer;
  v_dup        integer;
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

  -- The key was registered before its upload (when the broker does so): it is committed now, so the
  -- orphan reaper must not take it. Waits if the reaper holds the row; then the INSERT below fails on the
  -- 'deleting' row the reaper made, and the commit fails: nothing is acknowledged.
  DELETE FROM pending_objects po WHERE po.object_key = p_object_key;

  INSERT INTO objects (object_key, size, state, broker_id)
  VALUES (p_object_key, p_object_size, 'uploaded', p_broker_id)
  RETURNING object_id INTO v_object_id;

  -- 2. Idempotent producers.
  v_verdict    := array_fill(0::smallint, ARRAY[v_n]);
  v_dup_offset := array_fill(-1::bigint, ARRAY[v_n]);
  v_dup_time   := array_fill(-1::bigint, ARRAY[v_n]);
  v_dup_of     := array_fill(0, ARRAY[v_n]);
  FOR r IN
    SELECT q.i::integer AS i, q.topic_id, q.partition, q.producer_id, q.producer_epoch, q.base_sequence,
           q.last_sequence
      FROM unnest(p_topic_ids, p_partitions, p_producer_ids, p_producer_epochs, p_base_sequences,
                  p_last_sequences) WITH ORDINALITY
             AS q(topic_id, partition, producer_id, producer_epoch, base_sequence, last_sequence, i)
      JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition
     WHERE q.producer_id >= 0 AND q.base_sequence >= 0
     ORDER BY q.topic_id, q.partition, q.producer_id, q.i
  LOOP
    IF k_producer IS DISTINCT FROM r.producer_id OR k_partition IS DISTINCT FROM r.partition
       OR k_topic IS DISTINCT FROM r.topic_id THEN
      k_topic := r.topic_id;
      k_partition := r.partition;
      k_producer := r.producer_id;
      SELECT s.producer_epoch, s.base_sequences, s.last_sequences, s.base_offsets, s.append_times
        INTO s_epoch, s_base, s_last, s_offset, s_time
        FROM producer_state s
       WHERE s.topic_id = k_topic AND s.partition = k_partition AND s.producer_id = k_producer;
      s_known := FOUND;
    END IF;

    IF s_known AND r.producer_epoch < s_epoch THEN
      v_verdict[r.i] := 47; -- INVALID_PRODUCER_EPOCH
      CONTINUE;
    END IF;
    IF s_known AND r.producer_epoch = s_epoch THEN
      v_len := coalesce(cardinality(s_base), 0);
      v_dup := 0;
      FOR v_j IN 1 .. v_len LOOP
        IF s_base[v_j] = r.base_sequence AND s_last[v_j] = r.last_sequence THEN
          v_dup := v_j;
          EXIT;
        END IF;
      END LOOP;
      IF v_dup > 0 THEN
        v_verdict[r.i] := 46;
        IF s_offset[v_dup] >= 0 THEN
          v_dup_offset[r.i] := s_offset[v_dup];
          v_dup_time[r.i] := s_time[v_dup];
        ELSE
          v_dup_of[r.i] := (-s_offset[v_dup])::integer;
        END IF;
        CONTINUE;
      END IF;
      IF v_len > 0 AND NOT (r.base_sequence::bigint = s_last[v_len]::bigint + 1
                            OR (r.base_sequence = 0 AND s_last[v_len] = 2147483647)) THEN
        v_verdict[r.i] := 45; -- OUT_OF_ORDER_SEQUENCE_NUMBER
        CONTINUE;
      END IF;
    ELSIF s_known THEN
      -- A newer epoch (the producer re-initialised): its sequences restart at 0.
      IF r.base_sequence <> 0 THEN
        v_verdict[r.i] := 45;
        CONTINUE;
      END IF;
      s_base := '{}'; s_last := '{}'; s_offset := '{}'; s_time := '{}';
    ELSE
      IF r.base_sequence <> 0 THEN
        v_verdict[r.i] := 59; -- UNKNOWN_PRODUCER_ID
        CONTINUE;
      END IF;
      s_known := true;
      s_base := '{}'; s_last := '{}'; s_offset := '{}'; s_time := '{}';
    END IF;
    -- Accepted: it joins the state the next batches of this producer are checked against.
    s_epoch  := r.producer_epoch;
    s_base   := floe_tail(s_base || r.base_sequence, 5);
    s_last   := floe_tail(s_last || r.last_sequence, 5);
    s_offset := floe_tail(s_offset || (-r.i)::bigint, 5);
    s_time   := floe_tail(s_time || v_now, 5);
  END LOOP;

  -- 3. Assign offsets to the accepted batches: base_offset = high_watermark + records of earlier accepted
  --    batches of the same partition in this object; advance the partitions; record the batches and the
  --    producer states. All CTEs see the partition rows as of this statement's snapshot, taken after the
  --    locks, so nothing can move under us.
  RETURN QUERY
  WITH req AS (
    SELECT r.*,
           CASE WHEN r.timestamp_type = 1 THEN v_now ELSE r.max_timestamp END AS effective_ts
      FROM unnest(p_topic_ids, p_partitions, p_byte_offsets, p_byte_sizes, p_record_counts,
                  p_base_timestamps, p_max_timestamps, p_timestamp_types, p_producer_ids,
                  p_producer_epochs, p_base_sequences, p_last_sequences, v_verdict, v_dup_offset,
                  v_dup_time, v_dup_of)
             WITH ORDINALITY
             AS r(topic_id, partition, byte_offset, byte_size, record_count, base_timestamp,
                  max_timestamp, timestamp_type, producer_id, producer_epoch, base_sequence,
                  last_sequence, verdict, dup_offset, dup_time, dup_of, i)
  ), acc AS (
    SELECT q.*,
           p.log_start_offset,
           p.high_watermark + sum(q.record_count) OVER w - q.record_count AS base_offset,
           greatest(p.max_timestamp, max(q.effective_ts) OVER w)        AS max_timestamp_so_far
      FROM req q
      JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition
     WHERE q.verdict = 0
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
  ), st AS (
    INSERT INTO producer_state AS s (topic_id, partition, producer_id, producer_epoch, base_sequences,
                                     last_sequences, base_offsets, append_times, last_update)
    SELECT g.topic_id, g.partition, g.producer_id, g.producer_epoch, floe_tail(g.base_sequences, 5),
           floe_tail(g.last_sequences, 5), floe_tail(g.base_offsets, 5), floe_tail(g.append_times, 5), v_now
      FROM (SELECT e.topic_id, e.partition, e.producer_id, e.producer_epoch,
                   array_agg(e.base_sequence ORDER BY e.i) AS base_sequences,
                   array_agg(e.last_sequence ORDER BY e.i) AS last_sequences,
                   array_agg(e.base_offset ORDER BY e.i)   AS base_offsets,
                   array_agg(v_now ORDER BY e.i)           AS append_times
              FROM (SELECT a.*, max(a.producer_epoch) OVER (PARTITION BY a.topic_id, a.partition, a.producer_id) AS top_epoch
                      FROM acc a
                     WHERE a.producer_id >= 0 AND a.base_sequence >= 0) e
             WHERE e.producer_epoch = e.top_epoch
             GROUP BY e.topic_id, e.partition, e.producer_id, e.producer_epoch) g
    ON CONFLICT (topic_id, partition, producer_id) DO UPDATE
       SET base_sequences = floe_tail(CASE WHEN s.producer_epoch = EXCLUDED.producer_epoch
                                           THEN s.base_sequences || EXCLUDED.base_sequences
                                           ELSE EXCLUDED.base_sequences END, 5),
           last_sequences = floe_tail(CASE WHEN s.producer_epoch = EXCLUDED.producer_epoch
                                           THEN s.last_sequences || EXCLUDED.last_sequences
                                           ELSE EXCLUDED.last_sequences END, 5),
           base_offsets   = floe_tail(CASE WHEN s.producer_epoch = EXCLUDED.producer_epoch
                                           THEN s.base_offsets || EXCLUDED.base_offsets
                                           ELSE EXCLUDED.base_offsets END, 5),
           append_times   = floe_tail(CASE WHEN s.producer_epoch = EXCLUDED.producer_epoch
                                           THEN s.append_times || EXCLUDED.append_times
                                           ELSE EXCLUDED.append_times END, 5),
           producer_epoch = EXCLUDED.producer_epoch,
           last_update    = EXCLUDED.last_update
  )
  SELECT (q.i - 1)::integer,
         CASE WHEN q.verdict <> 0 THEN q.verdict WHEN a.i IS NULL THEN 3 ELSE 0 END::smallint, -- 3 UNKNOWN_TOPIC_OR_PARTITION
         CASE WHEN q.verdict = 46 THEN coalesce(d.base_offset, q.dup_offset)
              WHEN q.verdict <> 0 THEN -1
              ELSE coalesce(a.base_offset, -1) END::bigint,
         CASE WHEN q.verdict = 46 THEN CASE WHEN q.dup_of > 0 THEN v_now ELSE q.dup_time END
              WHEN a.i IS NULL THEN -1
              ELSE v_now END::bigint,
         CASE WHEN q.verdict = 46 THEN coalesce(pp.log_start_offset, -1)
              WHEN q.verdict <> 0 THEN -1
              ELSE coalesce(a.log_start_offset, -1) END::bigint
    FROM req q
    LEFT JOIN acc a ON a.i = q.i
    LEFT JOIN acc d ON q.dup_of > 0 AND d.i = q.dup_of
    LEFT JOIN partitions pp ON q.verdict = 46 AND pp.topic_id = q.topic_id AND pp.partition = q.partition
   ORDER BY q.i;

  -- 4. An object none of whose batches was accepted is still recorded, ready for the cleaner.
  IF NOT EXISTS (SELECT 1 FROM batches b WHERE b.object_id = v_object_id) THEN
    UPDATE objects
       SET state = 'deleting', marked_for_deletion_at = now()
     WHERE object_id = v_object_id;
  END IF;
END
$fn$`;

/**
 * floe_advance_log_start(topic_ids, partitions, log_starts, max_batches) → one row:
 * (o_batches_deleted, o_objects_marked, o_more).
 *
 * Each partition's log start becomes at least the given one (never past its high watermark; the caller has
 * validated against a snapshot, and the high watermark only grows). The batches wholly below the (new or
 * current) log start are deleted, at most max_batches in all: the rest is left for the next retention step
 * (o_more), invisible meanwhile since every read starts at the log start. The partition's byte size shrinks
 * by the deleted batches, and the objects that lost their last batch become 'deleting'.
 * The caller holds floe_lock_topics(..., false) on the topics. Partition rows are locked last (see the
 * migration header).
 */
const ADVANCE_LOG_START_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_advance_log_start(
  p_topic_ids   uuid[],
  p_partitions  integer[],
  p_log_starts  bigint[],
  p_max_batches integer
) RETURNS TABLE (o_batches_deleted integer, o_objects_marked integer, o_more boolean)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_objects bigint[];
  v_deleted integer;
  v_marked  integer;
  v_d_topic uuid[];
  v_d_part  integer[];
  v_d_bytes bigint[];
BEGIN
  WITH tgt AS (
    SELECT t.topic_id, t.partition, greatest(t.log_start, p.log_start_offset) AS log_start, t.i
      FROM unnest(p_topic_ids, p_partitions, p_log_starts) WITH ORDINALITY AS t(topic_id, partition, log_start, i)
      JOIN partitions p ON p.topic_id = t.topic_id AND p.partition = t.partition
  ), victims AS (
    SELECT v.topic_id, v.partition, v.base_offset
      FROM tgt t
     CROSS JOIN LATERAL (
             SELECT f.topic_id, f.partition, f.base_offset FROM batches f
              WHERE f.topic_id = t.topic_id AND f.partition = t.partition AND f.last_offset < t.log_start
              ORDER BY f.last_offset
              LIMIT p_max_batches) v
     LIMIT p_max_batches
  ), gone AS (
    DELETE FROM batches b
     USING victims v
     WHERE b.topic_id = v.topic_id AND b.partition = v.partition AND b.base_offset = v.base_offset
    RETURNING b.topic_id, b.partition, b.object_id, b.byte_size
  ), per_partition AS (
    SELECT g.topic_id, g.partition, sum(g.byte_size)::bigint AS bytes FROM gone g GROUP BY g.topic_id, g.partition
  )
  SELECT (SELECT count(*)::integer FROM gone),
         (SELECT coalesce(array_agg(DISTINCT g.object_id), '{}'::bigint[]) FROM gone g),
         pp.topics, pp.parts, pp.bytes
    INTO v_deleted, v_objects, v_d_topic, v_d_part, v_d_bytes
    FROM (SELECT coalesce(array_agg(x.topic_id), '{}'::uuid[]) AS topics,
                 coalesce(array_agg(x.partition), '{}'::integer[]) AS parts,
                 coalesce(array_agg(x.bytes), '{}'::bigint[]) AS bytes
            FROM per_partition x) pp;

  v_marked := floe_release_objects(v_objects);

  PERFORM 1
    FROM partitions p
   WHERE (p.topic_id, p.partition) IN (SELECT t.topic_id, t.partition
                                         FROM unnest(p_topic_ids, p_partitions) AS t(topic_id, partition))
   ORDER BY p.topic_id, p.partition
     FOR NO KEY UPDATE;
  UPDATE partitions p
     SET log_start_offset = greatest(p.log_start_offset, least(t.log_start, p.high_watermark)),
         byte_size        = greatest(p.byte_size - coalesce(d.bytes, 0), 0)
    FROM (SELECT u.topic_id, u.partition, max(u.log_start) AS log_start
            FROM unnest(p_topic_ids, p_partitions, p_log_starts) AS u(topic_id, partition, log_start)
           GROUP BY u.topic_id, u.partition) t
    LEFT JOIN unnest(v_d_topic, v_d_part, v_d_bytes) AS d(topic_id, partition, bytes)
           ON d.topic_id = t.topic_id AND d.partition = t.partition
   WHERE p.topic_id = t.topic_id AND p.partition = t.partition;

  RETURN QUERY SELECT v_deleted, v_marked, v_deleted >= p_max_batches;
END
$fn$`;

/** Batches DeleteRecords deletes at once; any rest is left to the retention steps. */
const DELETE_RECORDS_MAX_BATCHES = 10_000;

/**
 * floe_delete_records: migration 2's contract (one row per request: (o_idx, o_error_code,
 * o_low_watermark); -1 = the high watermark; beyond it or below -1 → OFFSET_OUT_OF_RANGE; below the log
 * start changes nothing; a partition named twice gets the larger offset), now on floe_advance_log_start:
 * topic advisory lock, bounded deletion, objects released safely, partition rows locked only at the end.
 */
const DELETE_RECORDS_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_delete_records(
  p_topic_ids  uuid[],
  p_partitions integer[],
  p_offsets    bigint[]
) RETURNS TABLE (o_idx integer, o_error_code smallint, o_low_watermark bigint) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_topics  uuid[];
  v_parts   integer[];
  v_starts  bigint[];
BEGIN
  PERFORM floe_lock_topics(p_topic_ids, false);

  -- Valid targets, from this snapshot: an offset within the high watermark now is within it later too.
  SELECT coalesce(array_agg(t.topic_id), '{}'), coalesce(array_agg(t.partition), '{}'), coalesce(array_agg(t.new_start), '{}')
    INTO v_topics, v_parts, v_starts
    FROM (SELECT r.topic_id, r.partition,
                 max(CASE WHEN r.off = -1 THEN q.high_watermark ELSE r.off END) AS new_start
            FROM unnest(p_topic_ids, p_partitions, p_offsets) AS r(topic_id, partition, off)
            JOIN partitions q ON q.topic_id = r.topic_id AND q.partition = r.partition
           WHERE r.off = -1 OR (r.off >= 0 AND r.off <= q.high_watermark)
           GROUP BY r.topic_id, r.partition) t;

  IF cardinality(v_topics) > 0 THEN
    PERFORM floe_advance_log_start(v_topics, v_parts, v_starts, ${DELETE_RECORDS_MAX_BATCHES});
  END IF;

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

/**
 * floe_retention_step(topic_ids, retention_ms, retention_bytes, max_batches) → one row per partition whose
 * log start moved or that had batches deleted: (o_topic_id, o_partition, o_log_start_offset, null, null,
 * null), then one summary row: (null, null, null, o_batches_deleted, o_objects_marked, o_more).
 *
 * For every partition of a diskless topic that holds batches (one index probe for its oldest batch), with
 * the retention given for its topic (-1: none; topics not listed: none):
 * - retention.ms: the log start moves to the first batch whose running maximum timestamp
 *   (max_timestamp_so_far, non-decreasing in offset order) is within retention.ms of the coordinator's
 *   clock: everything before it is wholly expired. One index probe. As in Kafka, a batch from the future
 *   holds back everything after it.
 * - retention.bytes: the oldest batches go while what remains is still at least retention.bytes (Kafka's
 *   rule for segments). The walk reads at most max_batches + 1 batches.
 * - batches still below the log start (left by a bounded DeleteRecords or an earlier step) are deleted.
 * All the moves then go through floe_advance_log_start, at most max_batches deletions per step; o_more says
 * work is left. The step reads without locks; only floe_advance_log_start's final UPDATE locks partition rows.
 */
const RETENTION_STEP_FUNCTION = `
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
$fn$`;

/**
 * floe_init_producer_id(producer_id, producer_epoch) → (o_producer_id, o_producer_epoch). With the current
 * (id, epoch) of a known producer: the same id, epoch + 1 (a new id once the epoch is exhausted). Otherwise
 * (-1/-1, an unknown id, or a stale epoch): a new id from the sequence, epoch 0.
 */
const INIT_PRODUCER_ID_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_init_producer_id(p_producer_id bigint, p_producer_epoch smallint)
RETURNS TABLE (o_producer_id bigint, o_producer_epoch smallint) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
  IF p_producer_id >= 0 THEN
    RETURN QUERY
    WITH bumped AS (
      UPDATE producer_ids s
         SET producer_epoch = s.producer_epoch + 1, last_update = now()
       WHERE s.producer_id = p_producer_id AND s.producer_epoch = p_producer_epoch AND s.producer_epoch < 32766
      RETURNING s.producer_id, s.producer_epoch
    )
    SELECT b.producer_id, b.producer_epoch FROM bumped b;
    IF FOUND THEN
      RETURN;
    END IF;
  END IF;
  RETURN QUERY
  WITH created AS (
    INSERT INTO producer_ids (producer_id, producer_epoch)
    VALUES (nextval('producer_id_seq'), 0)
    RETURNING producer_id, producer_epoch
  )
  SELECT c.producer_id, c.producer_epoch FROM created c;
END
$fn$`;

export const MIGRATION_3: Migration = {
  version: 3,
  name: 'idempotent producers, retention, pending objects, job leases',
  statements: [
    `CREATE SEQUENCE producer_id_seq START WITH 1`,
    `CREATE TABLE producer_ids (
       producer_id    bigint      PRIMARY KEY,
       producer_epoch smallint    NOT NULL,
       last_update    timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE TABLE producer_state (
       topic_id       uuid      NOT NULL,
       partition      integer   NOT NULL,
       producer_id    bigint    NOT NULL,
       producer_epoch smallint  NOT NULL,
       -- the last 5 batches committed with producer_epoch, oldest first
       base_sequences integer[] NOT NULL,
       last_sequences integer[] NOT NULL,
       base_offsets   bigint[]  NOT NULL,
       append_times   bigint[]  NOT NULL,
       -- ms since the epoch (commit clock) of the last commit that touched this producer here
       last_update    bigint    NOT NULL,
       -- No foreign key, like batches: deleteTopic deletes the rows itself.
       PRIMARY KEY (topic_id, partition, producer_id)
     )`,
    // expiry of producer_ids whose producer has no state left
    `CREATE INDEX producer_state_producer_idx ON producer_state (producer_id)`,
    `CREATE TABLE pending_objects (
       object_key    text        PRIMARY KEY,
       broker_id     integer     NOT NULL,
       registered_at timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE INDEX pending_objects_registered_idx ON pending_objects (registered_at)`,
    `CREATE TABLE job_leases (
       name       text        PRIMARY KEY,
       holder     text        NOT NULL,
       expires_at timestamptz NOT NULL
     )`,
    TAIL_FUNCTION,
    LOCK_TOPICS_FUNCTION,
    RELEASE_OBJECTS_FUNCTION,
    COMMIT_OBJECT_FUNCTION,
    ADVANCE_LOG_START_FUNCTION,
    DELETE_RECORDS_FUNCTION,
    RETENTION_STEP_FUNCTION,
    INIT_PRODUCER_ID_FUNCTION,
  ],
};
