/**
 * Migration 9: transactions (KIP-98), their state kept here so any broker can serve any transactional id.
 *
 * - `transactions`: one row per transactional id: its producer id and epoch, the state of its transaction
 *   (`empty`, `ongoing`, `prepare_commit`, `prepare_abort`, `complete_commit`, `complete_abort`), its
 *   timeout and when the ongoing one began. `last_producer_epoch` is the epoch a timeout fenced (-1: none),
 *   so that producer may still re-initialise with it (KIP-360).
 * - `transaction_partitions`: the partitions added to the ongoing transaction; `first_offset` is the offset of
 *   its first batch in a diskless partition (-1: none yet), which holds the partition's last stable offset
 *   down; the row goes when the partition's marker is committed.
 * - `transaction_groups` and `transaction_offsets`: the groups added (AddOffsetsToTxn) and the offsets
 *   committed in the transaction (TxnOffsetCommit), stored into group_offsets only when it commits.
 * - `batches.txn_kind`: what each batch is to transactions (below), so brokers that look an object's batches
 *   up learn which partitions carry transactions.
 * - `aborted_transactions`: per diskless partition, the offset ranges of aborted transactions, which Fetch
 *   returns to read_committed consumers; dropped once the log start passes them.
 *
 * The commit functions gain `p_txn_kinds` (0 plain, 1 transactional data, 2 abort marker, 3 commit marker):
 * floe_commit_object checks transactional batches and markers against the transaction's state in the same
 * transaction as the offsets it assigns, and floe_commit_object_notify names the kind of every batch that is
 * not plain (a tenth field), so brokers learn which partitions carry transactions. The old signatures are
 * dropped first (one function per name). Everything else in those functions is as before (migrations 4, 7, 8).
 */
import type { Migration } from './migration.ts';

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
$fn$`;

const COMMIT_OBJECT_ONCE_FUNCTION = `
CREATE OR REPLACE FUNCTION floe_commit_object_once(
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
  v_object_id bigint;
BEGIN
  SELECT o.object_id INTO v_object_id FROM objects o WHERE o.object_key = p_object_key;

  IF v_object_id IS NULL THEN
    BEGIN
      RETURN QUERY
      SELECT * FROM floe_commit_object(p_object_key, p_object_size, p_broker_id, p_topic_ids, p_partitions,
                                       p_byte_offsets, p_byte_sizes, p_record_counts, p_base_timestamps,
                                       p_max_timestamps, p_timestamp_types, p_producer_ids, p_producer_epochs,
                                       p_base_sequences, p_last_sequences, p_txn_kinds);
      RETURN;
    EXCEPTION WHEN unique_violation THEN
      -- Another attempt with this key committed while this one waited (for the partition locks, or on the
      -- objects key index): answer with its result. This statement takes a new snapshot, which sees it.
      SELECT o.object_id INTO v_object_id FROM objects o WHERE o.object_key = p_object_key;
      IF v_object_id IS NULL THEN
        RAISE;
      END IF;
    END;
  END IF;

  -- Already committed: the original answer, batch by batch (a batch is identified by its partition and
  -- its byte offset in the object).
  RETURN QUERY
  SELECT (r.i - 1)::integer,
         CASE WHEN b.base_offset IS NULL THEN 3 ELSE 0 END::smallint, -- 3 UNKNOWN_TOPIC_OR_PARTITION
         coalesce(b.base_offset, -1)::bigint,
         coalesce(b.log_append_time, -1)::bigint,
         CASE WHEN b.base_offset IS NULL THEN -1 ELSE p.log_start_offset END::bigint
    FROM unnest(p_topic_ids, p_partitions, p_byte_offsets) WITH ORDINALITY AS r(topic_id, partition, byte_offset, i)
    LEFT JOIN batches b
           ON b.object_id = v_object_id AND b.topic_id = r.topic_id AND b.partition = r.partition
          AND b.byte_offset = r.byte_offset
    LEFT JOIN partitions p ON p.topic_id = r.topic_id AND p.partition = r.partition
   ORDER BY r.i;
END
$fn$`;

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
                                 p_producer_ids, p_producer_epochs, p_base_sequences, p_last_sequences, p_txn_kinds) c;

  SELECT count(*)::integer, min(c.lat) INTO v_ok, v_time
    FROM unnest(v_err, v_lat) AS c(err, lat) WHERE c.err = 0;

  IF v_ok > 0 THEN
    IF v_ok <= 200 THEN
      SELECT string_agg(
               concat_ws(',',
                 CASE WHEN x.topic_id IS NOT DISTINCT FROM x.prev_topic THEN '' ELSE x.topic_id::text END,
                 x.partition, x.byte_offset, x.byte_size, x.base_offset, x.base_offset + x.record_count - 1,
                 x.max_timestamp, x.timestamp_type, x.log_start_offset, nullif(x.kind, 0)),
               ';' ORDER BY x.i)
        INTO v_list
        FROM (SELECT r.*, c.base AS base_offset, c.lso AS log_start_offset,
                     lag(r.topic_id) OVER (ORDER BY r.i) AS prev_topic
                FROM unnest(v_idx, v_err, v_base, v_lso) AS c(idx, err, base, lso)
                JOIN unnest(p_topic_ids, p_partitions, p_byte_offsets, p_byte_sizes, p_record_counts, p_max_timestamps,
                            p_timestamp_types, p_txn_kinds) WITH ORDINALITY
                       AS r(topic_id, partition, byte_offset, byte_size, record_count, max_timestamp, timestamp_type,
                            kind, i)
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

const OLD_ARGUMENTS = 'text, bigint, integer, uuid[], integer[], bigint[], bigint[], integer[], bigint[], bigint[], smallint[], bigint[], smallint[], integer[], integer[]';

export const MIGRATION_9: Migration = {
  version: 9,
  name: 'transactions: transactional ids, their partitions, groups and offsets, aborted ranges; commits check them',
  statements: [
    `CREATE TABLE transactions (
       transactional_id    text     PRIMARY KEY,
       producer_id         bigint   NOT NULL UNIQUE,
       producer_epoch      smallint NOT NULL,
       last_producer_epoch smallint NOT NULL DEFAULT -1,
       state               text     NOT NULL CHECK (state IN ('empty', 'ongoing', 'prepare_commit', 'prepare_abort',
                                                              'complete_commit', 'complete_abort')),
       timeout_ms          integer  NOT NULL,
       started_at          bigint   NOT NULL DEFAULT -1,
       updated_at          bigint   NOT NULL
     )`,
    `CREATE TABLE transaction_partitions (
       transactional_id text    NOT NULL REFERENCES transactions (transactional_id) ON DELETE CASCADE,
       topic_id         uuid    NOT NULL,
       partition        integer NOT NULL,
       first_offset     bigint  NOT NULL DEFAULT -1,
       PRIMARY KEY (transactional_id, topic_id, partition)
     )`,
    `CREATE INDEX transaction_partitions_open_idx ON transaction_partitions (topic_id, partition) WHERE first_offset >= 0`,
    `CREATE TABLE transaction_groups (
       transactional_id text NOT NULL REFERENCES transactions (transactional_id) ON DELETE CASCADE,
       group_id         text NOT NULL,
       PRIMARY KEY (transactional_id, group_id)
     )`,
    `CREATE TABLE transaction_offsets (
       transactional_id text    NOT NULL REFERENCES transactions (transactional_id) ON DELETE CASCADE,
       group_id         text    NOT NULL,
       topic_id         uuid    NOT NULL,
       partition        integer NOT NULL,
       committed_offset bigint  NOT NULL,
       leader_epoch     integer NOT NULL,
       metadata         text,
       PRIMARY KEY (transactional_id, group_id, topic_id, partition)
     )`,
    `CREATE INDEX transaction_offsets_group_idx ON transaction_offsets (group_id)`,
    `ALTER TABLE batches ADD COLUMN txn_kind smallint NOT NULL DEFAULT 0`,
    `CREATE TABLE aborted_transactions (
       topic_id     uuid    NOT NULL,
       partition    integer NOT NULL,
       producer_id  bigint  NOT NULL,
       first_offset bigint  NOT NULL,
       last_offset  bigint  NOT NULL,
       PRIMARY KEY (topic_id, partition, last_offset)
     )`,
    `DROP FUNCTION floe_commit_object_notify(${OLD_ARGUMENTS})`,
    `DROP FUNCTION floe_commit_object_once(${OLD_ARGUMENTS})`,
    `DROP FUNCTION floe_commit_object(${OLD_ARGUMENTS})`,
    COMMIT_OBJECT_FUNCTION,
    COMMIT_OBJECT_ONCE_FUNCTION,
    COMMIT_OBJECT_NOTIFY_FUNCTION,
  ],
};
