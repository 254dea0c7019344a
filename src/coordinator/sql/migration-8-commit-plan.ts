/**
 * Migration 8: floe_commit_object answers in linear time.
 *
 * Migration 3's final SELECT joined each batch to "the batch of this object it duplicates" with
 * `LEFT JOIN acc d ON q.dup_of > 0 AND d.i = q.dup_of`. The planner estimates a few rows for the
 * unnest-fed CTEs and so runs that join as a nested loop: every batch scanned the whole object's batches,
 * ~95 of the ~105 ms of a 1,000-batch commit on PostgreSQL. The duplicate's offset is now looked up only
 * for batches that are duplicates within the object (a producer's retry that arrived while its first copy
 * was still in the open object), which are rare; everything else is unchanged, so the function text is
 * migration 3's with that one join replaced.
 */
import type { Migration } from './migration.ts';
import { COMMIT_OBJECT_FUNCTION as MIGRATION_3_COMMIT_OBJECT } from './migration-3-producers-retention.ts';

const REPLACED = [
  ['CASE WHEN q.verdict = 46 THEN coalesce(d.base_offset, q.dup_offset)',
    'CASE WHEN q.verdict = 46 THEN coalesce(CASE WHEN q.dup_of > 0 THEN (SELECT d.base_offset FROM acc d WHERE d.i = q.dup_of) END, q.dup_offset)'],
  ['    LEFT JOIN acc d ON q.dup_of > 0 AND d.i = q.dup_of\n', ''],
] as const;

function linearCommitObject(): string {
  let text = MIGRATION_3_COMMIT_OBJECT;
  for (const [from, to] of REPLACED) {
    if (text.split(from).length !== 2) throw new Error(`migration 8: expected exactly one "${from.trim()}" in migration 3's floe_commit_object`);
    text = text.replace(from, to);
  }
  return text;
}

export const MIGRATION_8: Migration = {
  version: 8,
  name: 'floe_commit_object: duplicates within an object looked up per duplicate, not by a nested-loop join',
  statements: [linearCommitObject()],
};
