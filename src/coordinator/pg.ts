/**
 * The production coordinator: PostgreSQL through a `pg` Pool behind `SqlConnection`. Same schema and
 * SQL as PGlite; only the connection differs. Commits run concurrently on the pool's connections; the
 * row locks taken by `floe_commit_object` order them.
 */
import pg from 'pg';
import { SqlCoordinator, type SqlConnection } from './sql-coordinator.ts';

class PgClientConnection implements SqlConnection {
  constructor(private readonly client: pg.PoolClient) {}

  async query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    const res = await this.client.query(sql, params);
    return { rows: res.rows as T[] };
  }

  /** Nested transactions run inside the enclosing one. */
  transaction<T>(fn: (tx: SqlConnection) => Promise<T>): Promise<T> {
    return fn(this);
  }

  close(): Promise<void> {
    return Promise.reject(new Error('close() called on a transaction'));
  }
}

export class PgConnection implements SqlConnection {
  constructor(readonly pool: pg.Pool) {}

  async query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    const res = await this.pool.query(sql, params);
    return { rows: res.rows as T[] };
  }

  async transaction<T>(fn: (tx: SqlConnection) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const result = await fn(new PgClientConnection(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr; // the connection is unusable: do not return it to the pool
      }
      throw err;
    } finally {
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export interface PostgresCoordinatorOptions {
  /** Pool size (default 10). */
  maxConnections?: number;
}

/** Connects to PostgreSQL (`postgres://user@host:port/db`) and applies the migrations. */
export async function openPostgresCoordinator(
  url: string,
  options: PostgresCoordinatorOptions = {},
): Promise<SqlCoordinator> {
  const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10 });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const coordinator = new SqlCoordinator(new PgConnection(pool));
  try {
    await coordinator.init();
  } catch (err) {
    await coordinator.close().catch(() => undefined);
    throw err;
  }
  return coordinator;
}
