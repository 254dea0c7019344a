-- floe_compact_partition: created by migration 10, replaced by 16; this is migration 16's text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_compact_partition: swaps a compacted range of a partition's batches for the batches of one new object
-- in one transaction, or changes nothing when the partition moved since the compactor read it (see migration
-- 10); since migration 16 the new rows keep their txn_kind, and aborted transactions whose marker is gone lose
-- their aborted_transactions row.

CREATE OR REPLACE FUNCTION floe_compact_partition(
  p_topic_id            uuid,
  p_partition           integer,
  p_expected_epoch      bigint,
  p_expected_log_start  bigint,
  p_range_start         bigint,
  p_range_end           bigint,
  p_expected_bases      bigint[],
  p_object_key          text,
  p_object_size         bigint,
  p_broker_id           integer,
  p_checkpoint          bigint,
  p_next_delete_horizon bigint,
  p_base_offsets        bigint[],
  p_last_offsets        bigint[],
  p_byte_offsets        bigint[],
  p_byte_sizes          bigint[],
  p_record_counts       integer[],
  p_base_timestamps     bigint[],
  p_max_timestamps      bigint[],
  p_log_append_times    bigint[],
  p_timestamp_types     smallint[],
  p_producer_ids        bigint[],
  p_producer_epochs     smallint[],
  p_base_sequences      integer[],
  p_last_sequences      integer[],
  p_txn_kinds           smallint[]
) RETURNS TABLE (o_ok boolean, o_reason text, o_released integer) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_epoch     bigint;
  v_log_start bigint;
  v_bases     bigint[];
  v_object_id bigint;
  v_old_ids   bigint[];
  v_removed   bigint;
  v_added     bigint;
  v_prev_max  bigint;
  v_released  integer := 0;
BEGIN
  SELECT p.compaction_epoch, p.log_start_offset INTO v_epoch, v_log_start
    FROM partitions p
   WHERE p.topic_id = p_topic_id AND p.partition = p_partition
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT false, 'the partition no longer exists'::text, 0;
    RETURN;
  END IF;
  IF v_epoch <> p_expected_epoch THEN
    RETURN QUERY SELECT false, 'another compaction rewrote the partition meanwhile'::text, 0;
    RETURN;
  END IF;
  IF v_log_start <> p_expected_log_start THEN
    RETURN QUERY SELECT false, 'retention or DeleteRecords moved the log start meanwhile'::text, 0;
    RETURN;
  END IF;
  SELECT coalesce(array_agg(b.base_offset ORDER BY b.base_offset), '{}') INTO v_bases
    FROM batches b
   WHERE b.topic_id = p_topic_id AND b.partition = p_partition
     AND b.base_offset >= p_range_start AND b.base_offset < p_range_end;
  IF v_bases <> coalesce(p_expected_bases, '{}') THEN
    RETURN QUERY SELECT false, 'the batches of the range changed meanwhile'::text, 0;
    RETURN;
  END IF;

  IF p_object_key IS NOT NULL THEN
    INSERT INTO objects (object_key, size, state, broker_id)
    VALUES (p_object_key, p_object_size, 'uploaded', p_broker_id)
    RETURNING object_id INTO v_object_id;
    DELETE FROM pending_objects po WHERE po.object_key = p_object_key;

    WITH gone AS (
      DELETE FROM batches b
       WHERE b.topic_id = p_topic_id AND b.partition = p_partition
         AND b.base_offset >= p_range_start AND b.base_offset < p_range_end
      RETURNING b.object_id, b.byte_size
    )
    SELECT coalesce(array_agg(DISTINCT g.object_id), '{}'), coalesce(sum(g.byte_size), 0)::bigint
      INTO v_old_ids, v_removed
      FROM gone g;

    SELECT coalesce(max(b.max_timestamp_so_far), -1) INTO v_prev_max
      FROM batches b
     WHERE b.topic_id = p_topic_id AND b.partition = p_partition AND b.base_offset < p_range_start;

    INSERT INTO batches (topic_id, partition, base_offset, last_offset, object_id, byte_offset, byte_size,
                         record_count, base_timestamp, max_timestamp, log_append_time, timestamp_type,
                         max_timestamp_so_far, producer_id, producer_epoch, base_sequence, last_sequence, txn_kind)
    SELECT p_topic_id, p_partition, r.base_offset, r.last_offset, v_object_id, r.byte_offset, r.byte_size,
           r.record_count, r.base_timestamp, r.max_timestamp, r.log_append_time, r.timestamp_type,
           greatest(v_prev_max, max(CASE WHEN r.timestamp_type = 1 THEN r.log_append_time ELSE r.max_timestamp END)
                                  OVER (ORDER BY r.base_offset)),
           r.producer_id, r.producer_epoch, r.base_sequence, r.last_sequence, r.txn_kind
      FROM unnest(p_base_offsets, p_last_offsets, p_byte_offsets, p_byte_sizes, p_record_counts,
                  p_base_timestamps, p_max_timestamps, p_log_append_times, p_timestamp_types,
                  p_producer_ids, p_producer_epochs, p_base_sequences, p_last_sequences, p_txn_kinds)
             AS r(base_offset, last_offset, byte_offset, byte_size, record_count, base_timestamp, max_timestamp,
                  log_append_time, timestamp_type, producer_id, producer_epoch, base_sequence, last_sequence, txn_kind);

    -- An aborted transaction whose marker compaction removed has no data left (the marker goes only then):
    -- its range goes too, or read_committed readers would take the producer's later transactions for aborted.
    DELETE FROM aborted_transactions a
     WHERE a.topic_id = p_topic_id AND a.partition = p_partition
       AND a.last_offset >= p_range_start AND a.last_offset < p_range_end
       AND NOT EXISTS (SELECT 1 FROM batches b
                        WHERE b.topic_id = p_topic_id AND b.partition = p_partition AND b.base_offset = a.last_offset);
    SELECT coalesce(sum(s), 0)::bigint INTO v_added FROM unnest(p_byte_sizes) AS s;

    v_released := floe_release_objects(v_old_ids);
    IF coalesce(cardinality(p_base_offsets), 0) = 0 THEN
      UPDATE objects o SET state = 'deleting', marked_for_deletion_at = now() WHERE o.object_id = v_object_id;
    END IF;
  ELSE
    v_removed := 0;
    v_added := 0;
  END IF;

  UPDATE partitions p
     SET byte_size           = greatest(p.byte_size - v_removed + v_added, 0),
         cleaner_checkpoint  = greatest(p.cleaner_checkpoint, p_checkpoint),
         compaction_epoch    = p.compaction_epoch + CASE WHEN p_object_key IS NULL THEN 0 ELSE 1 END,
         next_delete_horizon = p_next_delete_horizon
   WHERE p.topic_id = p_topic_id AND p.partition = p_partition;
  IF p_object_key IS NOT NULL THEN
    PERFORM pg_notify('floe_compactions', p_topic_id::text || ',' || p_partition);
  END IF;
  RETURN QUERY SELECT true, NULL::text, v_released;
END
$fn$;
