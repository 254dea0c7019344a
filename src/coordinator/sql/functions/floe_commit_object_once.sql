-- floe_commit_object_once: created by migration 4, replaced by 9; this is migration 9's text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_commit_object_once: same arguments and result as floe_commit_object, idempotent by object key, so a
-- commit whose outcome is unknown (the connection was lost) can be retried. A key already committed is
-- answered with the original result (base offsets, log-append time; the log start offset as it is now), batch
-- by batch (a batch is identified by its partition and byte offset in the object); a batch that is gone by
-- then (topic deleted, records deleted) → 3 UNKNOWN_TOPIC_OR_PARTITION. A retry that arrives while the first
-- attempt still runs waits in floe_commit_object (partition locks, objects key index); if that attempt
-- committed, the retry's unique_violation is caught (the commit ran in a subtransaction) and answered with its
-- result.

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
$fn$;
