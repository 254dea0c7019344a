-- floe_release_objects: created by migration 3; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_release_objects(object_ids) → how many became 'deleting'. Called by a transaction that just deleted
-- batches of these objects. The rows are locked (in id order) before looking for remaining batches: a
-- concurrent transaction that removed other batches of the same object holds that lock until it commits, so
-- the check, a new statement and hence a new snapshot under READ COMMITTED, sees its deletions. Without the
-- lock, two transactions each deleting half of an object's batches could both see the other half and leave
-- the object 'uploaded' with no batch: a leak.

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
$fn$;
