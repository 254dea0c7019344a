-- floe_tail: created by migration 3; this is its text.
-- For reading only: the migrations create it (sql/migration.ts); test/coordinator/functions.test.ts checks
-- that this file matches what they build.
--
-- floe_tail(array, n) → the last n elements of the array (all of it when shorter).
-- Keeps producer_state's last 5 batches.

CREATE OR REPLACE FUNCTION floe_tail(p_array anyarray, p_n integer) RETURNS anyarray
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT p_array[greatest(coalesce(cardinality(p_array), 0) - p_n + 1, 1) : coalesce(cardinality(p_array), 0)]
$fn$;
