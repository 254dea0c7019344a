-- floe_init_producer_id: created by migration 3; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_init_producer_id(producer_id, producer_epoch) → (o_producer_id, o_producer_epoch). With the current
-- (id, epoch) of a known producer: the same id, epoch + 1 (a new id once the epoch is exhausted). Otherwise
-- (-1/-1, an unknown id, or a stale epoch): a new id from the sequence, epoch 0.

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
$fn$;
