/**
 * What a schema migration of the batch coordinator is (DESIGN.md, "Coordinator contract"). Each
 * `migration-N-*.ts` exports one and imports nothing but this file; `migrations.ts` lists them in order.
 *
 * PostgreSQL-compatible SQL only: every statement must run unchanged on PostgreSQL 15+ and on PGlite.
 * A migration is a list of single statements (drivers' extended protocol takes one statement per call,
 * and plpgsql bodies contain semicolons, so statements are never split by text).
 *
 * A migration is frozen once released: databases that applied it never run it again, so a change to its
 * text would only make fresh databases differ from existing ones. Append a new migration instead, and
 * give it the complete text of whatever it creates or replaces: a migration never builds its SQL from
 * another migration's text, so editing one can never change another. Since migrations are history, the
 * current definition of each function is kept readable in `functions/<name>.sql`: for reading only,
 * never run; test/coordinator/functions.test.ts fails when a file differs from what the migrations build,
 * so a migration that creates or replaces a function updates its file too.
 *
 * Conventions: offsets, sizes and timestamps (ms since the epoch) are bigint; -1 means "none".
 * The "effective timestamp" of a batch is its log_append_time when timestamp_type = 1 (LogAppendTime),
 * else its max_timestamp (CreateTime).
 */

export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}
