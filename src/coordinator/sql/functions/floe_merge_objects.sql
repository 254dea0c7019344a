-- floe_merge_objects: created by migration 15; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_merge_objects: moves every batch of some small objects into one new (uploaded) object in one
-- transaction, or changes nothing when their batches changed since the merger read them (see migration 15).

CREATE OR REPLACE FUNCTION floe_merge_objects(
  p_object_key       text,
  p_object_size      bigint,
  p_broker_id        integer,
  p_old_keys         text[],
  p_topic_ids        uuid[],
  p_partitions       integer[],
  p_base_offsets     bigint[],
  p_old_byte_offsets bigint[],
  p_new_byte_offsets bigint[]
) RETURNS TABLE (o_ok boolean, o_reason text, o_released integer) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_n         integer := coalesce(cardinality(p_base_offsets), 0);
  v_old_ids   bigint[];
  v_current   bigint;
  v_matching  bigint;
  v_object_id bigint;
  v_released  integer;
BEGIN
  PERFORM 1
    FROM partitions p
   WHERE (p.topic_id, p.partition) IN (SELECT r.topic_id, r.partition
                                         FROM unnest(p_topic_ids, p_partitions) AS r(topic_id, partition))
   ORDER BY p.topic_id, p.partition
     FOR UPDATE;

  SELECT coalesce(array_agg(o.object_id ORDER BY o.object_id), '{}') INTO v_old_ids
    FROM objects o
   WHERE o.object_key = ANY (p_old_keys) AND o.state = 'uploaded';
  IF cardinality(v_old_ids) <> coalesce(cardinality(p_old_keys), 0) THEN
    RETURN QUERY SELECT false, 'an object to merge lost its batches meanwhile'::text, 0;
    RETURN;
  END IF;
  SELECT count(*) INTO v_current FROM batches b WHERE b.object_id = ANY (v_old_ids);
  SELECT count(*) INTO v_matching
    FROM unnest(p_topic_ids, p_partitions, p_base_offsets, p_old_byte_offsets) AS r(topic_id, partition, base_offset, byte_offset)
    JOIN batches b ON b.topic_id = r.topic_id AND b.partition = r.partition AND b.base_offset = r.base_offset
                  AND b.byte_offset = r.byte_offset AND b.object_id = ANY (v_old_ids);
  IF v_current <> v_n OR v_matching <> v_n THEN
    RETURN QUERY SELECT false, 'retention, DeleteRecords, compaction or topic deletion changed the batches meanwhile'::text, 0;
    RETURN;
  END IF;

  INSERT INTO objects (object_key, size, state, broker_id)
  VALUES (p_object_key, p_object_size, 'uploaded', p_broker_id)
  RETURNING object_id INTO v_object_id;
  DELETE FROM pending_objects po WHERE po.object_key = p_object_key;

  UPDATE batches b
     SET object_id = v_object_id, byte_offset = r.new_byte_offset
    FROM unnest(p_topic_ids, p_partitions, p_base_offsets, p_new_byte_offsets) AS r(topic_id, partition, base_offset, new_byte_offset)
   WHERE b.topic_id = r.topic_id AND b.partition = r.partition AND b.base_offset = r.base_offset;

  v_released := floe_release_objects(v_old_ids);

  UPDATE partitions p
     SET merge_epoch = p.merge_epoch + 1
   WHERE (p.topic_id, p.partition) IN (SELECT r.topic_id, r.partition
                                         FROM unnest(p_topic_ids, p_partitions) AS r(topic_id, partition));
  PERFORM pg_notify('floe_compactions', t.topic_id::text || ',' || t.partition)
     FROM (SELECT DISTINCT r.topic_id, r.partition FROM unnest(p_topic_ids, p_partitions) AS r(topic_id, partition)) t;
  RETURN QUERY SELECT true, NULL::text, v_released;
END
$fn$;
