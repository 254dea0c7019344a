-- floe_commit_object: created by migration 1, replaced by 3, 8, 9; this is migration 9's text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_commit_object(object_key, object_size, broker_id, <batch arrays>) → one row per batch, in request
-- order: (o_idx, o_error_code, o_base_offset, o_log_append_time, o_log_start_offset). Called through
-- floe_commit_object_once (commits idempotent by object key) and floe_commit_object_notify.
--
-- 1. Locks the touched partition rows in one fixed order (concurrent commits never deadlock), takes the
--    commit's wall clock (one log-append time for every batch of the object), removes the key's
--    pending_objects registration and inserts the object row.
-- 2. Idempotent producers: per batch with producer_id >= 0 and base_sequence >= 0, in object order per
--    (partition, producer), against producer_state and the batches of the same producer accepted earlier in
--    this object:
--    - epoch older than the state's → 47 INVALID_PRODUCER_EPOCH (Produce answers this, not PRODUCER_FENCED,
--      since KIP-588);
--    - same epoch, (base, last sequence) equal to one of the last 5 batches → a duplicate: not appended,
--      answered with the original's base offset and append time, marked o_error_code = 46
--      DUPLICATE_SEQUENCE_NUMBER with o_base_offset set (SqlCoordinator turns it into a success flagged
--      `duplicate`); the offset of a duplicate of a batch earlier in this object is looked up per duplicate
--      (migration 8: a join here ran as a nested loop over the whole object);
--    - same epoch, base sequence not last + 1 (with wrap at 2^31 - 1) → 45 OUT_OF_ORDER_SEQUENCE_NUMBER;
--    - newer epoch: the sequence must restart at 0, else 45 OUT_OF_ORDER_SEQUENCE_NUMBER; the state is reset;
--    - no state: the sequence must be 0, else 59 UNKNOWN_PRODUCER_ID (each object fails on its own, so
--      accepting any first sequence as KIP-360 does could make a client take a failed request as delivered).
-- 3. Assigns offsets to the accepted batches (high watermark + records of earlier accepted batches of the same
--    partition in this object), advances the partitions, records the batches and upserts each (partition,
--    producer)'s state from its accepted batches of the newest epoch. Batches of unknown partitions → 3
--    UNKNOWN_TOPIC_OR_PARTITION.
-- 4. An object none of whose batches was accepted is still recorded, as 'deleting', ready for the cleaner.

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
  p_last_sequences  integer[],
  p_txn_kinds       smallint[]
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
  t_id         text;
  t_epoch      smallint;
  t_state      text;
  t_want       text;
  v_first      bigint;
  v_marked     text[] := '{}';
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

  v_verdict    := array_fill(0::smallint, ARRAY[v_n]);
  v_dup_offset := array_fill(-1::bigint, ARRAY[v_n]);
  v_dup_time   := array_fill(-1::bigint, ARRAY[v_n]);
  v_dup_of     := array_fill(0, ARRAY[v_n]);

  -- 2a. Transactions (p_txn_kinds: 0 plain, 1 transactional data, 2 abort marker, 3 commit marker). A
  --     transactional batch is accepted only from the producer's current epoch, into a partition added to its
  --     ongoing transaction (KIP-890's verification, done here, in the commit, so a batch can never land after
  --     its transaction ended); a marker only while its transaction is being ended the same way and the
  --     partition still waits for it, once.
  FOR r IN
    SELECT q.i::integer AS i, q.topic_id, q.partition, q.producer_id, q.producer_epoch, q.kind
      FROM unnest(p_topic_ids, p_partitions, p_producer_ids, p_producer_epochs, p_txn_kinds) WITH ORDINALITY
             AS q(topic_id, partition, producer_id, producer_epoch, kind, i)
     WHERE q.kind > 0
     ORDER BY q.i
  LOOP
    SELECT t.transactional_id, t.producer_epoch, t.state INTO t_id, t_epoch, t_state
      FROM transactions t WHERE t.producer_id = r.producer_id;
    IF NOT FOUND THEN
      v_verdict[r.i] := 48; -- INVALID_TXN_STATE
      CONTINUE;
    END IF;
    IF r.producer_epoch < t_epoch THEN
      v_verdict[r.i] := 47; -- INVALID_PRODUCER_EPOCH
      CONTINUE;
    END IF;
    -- (The state a batch of this kind needs: a CASE inside an IF condition would end the condition at its THEN.)
    t_want := CASE r.kind WHEN 1 THEN 'ongoing' WHEN 2 THEN 'prepare_abort' ELSE 'prepare_commit' END;
    IF r.producer_epoch > t_epoch
       OR t_state <> t_want
       OR NOT EXISTS (SELECT 1 FROM transaction_partitions tp
                       WHERE tp.transactional_id = t_id AND tp.topic_id = r.topic_id AND tp.partition = r.partition)
       OR (r.kind > 1 AND (r.topic_id::text || ':' || r.partition) = ANY (v_marked)) THEN
      v_verdict[r.i] := 48;
      CONTINUE;
    END IF;
    IF r.kind > 1 THEN
      v_marked := v_marked || (r.topic_id::text || ':' || r.partition);
    END IF;
  END LOOP;

  -- 2b. Idempotent producers.
  FOR r IN
    SELECT q.i::integer AS i, q.topic_id, q.partition, q.producer_id, q.producer_epoch, q.base_sequence,
           q.last_sequence
      FROM unnest(p_topic_ids, p_partitions, p_producer_ids, p_producer_epochs, p_base_sequences,
                  p_last_sequences) WITH ORDINALITY
             AS q(topic_id, partition, producer_id, producer_epoch, base_sequence, last_sequence, i)
      JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition
     WHERE q.producer_id >= 0 AND q.base_sequence >= 0 AND v_verdict[q.i] = 0
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
                  v_dup_time, v_dup_of, p_txn_kinds)
             WITH ORDINALITY
             AS r(topic_id, partition, byte_offset, byte_size, record_count, base_timestamp,
                  max_timestamp, timestamp_type, producer_id, producer_epoch, base_sequence,
                  last_sequence, verdict, dup_offset, dup_time, dup_of, txn_kind, i)
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
                         max_timestamp_so_far, producer_id, producer_epoch, base_sequence, last_sequence,
                         txn_kind)
    SELECT a.topic_id, a.partition, a.base_offset, a.base_offset + a.record_count - 1, v_object_id,
           a.byte_offset, a.byte_size, a.record_count, a.base_timestamp, a.max_timestamp, v_now,
           a.timestamp_type, a.max_timestamp_so_far, a.producer_id, a.producer_epoch, a.base_sequence,
           a.last_sequence, a.txn_kind
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
         CASE WHEN q.verdict = 46 THEN coalesce(CASE WHEN q.dup_of > 0 THEN (SELECT d.base_offset FROM acc d WHERE d.i = q.dup_of) END, q.dup_offset)
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
    LEFT JOIN partitions pp ON q.verdict = 46 AND pp.topic_id = q.topic_id AND pp.partition = q.partition
   ORDER BY q.i;

  -- 4. Transactions: a partition's first transactional batch of an ongoing transaction holds its last stable
  --    offset down; the marker ends that (an abort marker records the aborted range for read_committed
  --    fetches).
  FOR r IN
    SELECT q.topic_id, q.partition, q.producer_id, q.kind, b.base_offset
      FROM unnest(p_topic_ids, p_partitions, p_byte_offsets, p_producer_ids, p_txn_kinds) WITH ORDINALITY
             AS q(topic_id, partition, byte_offset, producer_id, kind, i)
      JOIN batches b
        ON b.object_id = v_object_id AND b.topic_id = q.topic_id AND b.partition = q.partition
       AND b.byte_offset = q.byte_offset
     WHERE q.kind > 0
     ORDER BY q.i
  LOOP
    IF r.kind = 1 THEN
      UPDATE transaction_partitions tp
         SET first_offset = r.base_offset
        FROM transactions t
       WHERE t.producer_id = r.producer_id AND tp.transactional_id = t.transactional_id
         AND tp.topic_id = r.topic_id AND tp.partition = r.partition AND tp.first_offset < 0;
    ELSE
      DELETE FROM transaction_partitions tp
       USING transactions t
       WHERE t.producer_id = r.producer_id AND tp.transactional_id = t.transactional_id
         AND tp.topic_id = r.topic_id AND tp.partition = r.partition
      RETURNING tp.first_offset INTO v_first;
      IF r.kind = 2 AND v_first >= 0 THEN
        INSERT INTO aborted_transactions (topic_id, partition, producer_id, first_offset, last_offset)
        VALUES (r.topic_id, r.partition, r.producer_id, v_first, r.base_offset);
      END IF;
    END IF;
  END LOOP;

  -- 5. An object none of whose batches was accepted is still recorded, ready for the cleaner.
  IF NOT EXISTS (SELECT 1 FROM batches b WHERE b.object_id = v_object_id) THEN
    UPDATE objects
       SET state = 'deleting', marked_for_deletion_at = now()
     WHERE object_id = v_object_id;
  END IF;
END
$fn$;
