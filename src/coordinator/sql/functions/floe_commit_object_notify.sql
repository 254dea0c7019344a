-- floe_commit_object_notify: created by migration 7, replaced by 9; this is migration 9's text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_commit_object_notify: same arguments and result as floe_commit_object_once, which it calls; then
-- announces the committed batches on floe_commits in the same transaction (payload format:
-- ../../notifications.ts), so a commit is announced if and only if it committed, in commit order. The batch
-- list is skipped past 200 batches or 7,900 bytes (`*`: listeners look the object up), and the key too when
-- even that does not fit (`?`).

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
$fn$;
