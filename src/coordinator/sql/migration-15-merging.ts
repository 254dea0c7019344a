/**
 * Migration 15: merging of small objects (issue 14, part 2).
 *
 * - `partitions.merge_epoch`: how many times merging moved the partition's batches into another object
 *   (brokers drop their cached batch locations of a partition whose merge or compaction epoch moved, so a
 *   missed notification costs at most one log-start refresh period, well inside the deletion grace).
 *   Kept apart from compaction_epoch so a merge does not make a running compaction's swap fail.
 * - `objects_uploaded_idx`: the merger walks the live objects oldest first.
 * - floe_merge_objects: ONE transaction moves every batch of some objects into one new object (already
 *   uploaded) at new byte offsets, or changes nothing when retention, DeleteRecords, compaction or topic
 *   deletion changed those objects' batches since the merger read them.
 */
import type { Migration } from './migration.ts';

/**
 * floe_merge_objects(object key, object size, broker id, old object keys, <per batch: topic id, partition,
 * base offset, byte offset in its old object, byte offset in the new object>) → (o_ok, o_reason, o_released).
 *
 * The touched partitions' rows are locked first, in (topic id, partition) order as commits lock them, so
 * retention, DeleteRecords, compaction and commits of those partitions wait or have finished. Then the old
 * objects must all still be 'uploaded' and hold exactly the batches given (same partition, base offset and
 * byte offset), else nothing changes and o_reason says why. Then: the new object row is inserted and its
 * pending registration removed, every batch row moves to it (object id and byte offset only: offsets,
 * timestamps, producer fields and txn_kind stay as they are), the old objects become 'deleting'
 * (floe_release_objects; the cleaner deletes them after the grace period), each touched partition's
 * merge_epoch grows and floe_compactions is notified with `<topic id>,<partition>` (its batches moved).
 */
const MERGE_OBJECTS_FUNCTION = `
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
$fn$`;

export const MIGRATION_15: Migration = {
  version: 15,
  name: 'merging of small objects: merge epoch, live-object index, merge function',
  statements: [
    `ALTER TABLE partitions ADD COLUMN IF NOT EXISTS merge_epoch bigint NOT NULL DEFAULT 0`,
    `CREATE INDEX IF NOT EXISTS objects_uploaded_idx ON objects (object_id) WHERE state = 'uploaded'`,
    MERGE_OBJECTS_FUNCTION,
  ],
};
