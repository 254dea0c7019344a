/** What the SQL coordinator needs of a database connection (pg.ts, pglite.ts), and how it reads number columns. */

/**
 * The smallest connection a backend must provide. `query` runs one statement (positional `$n`
 * parameters); outside `transaction` it is its own transaction. `transaction` runs `fn` in one
 * transaction (commit on success, rollback when it throws); calling `transaction` on a `tx` runs `fn`
 * inside the same transaction. Column values may come back as JS numbers, strings or bigints for
 * int8/numeric columns depending on the driver: the coordinator converts them.
 */
export interface SqlConnection {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  transaction<T>(fn: (tx: SqlConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** LISTEN (see Coordinator.listen); absent: notifications are never delivered. */
  listen?(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>>;
  /** Holds a session advisory lock for as long as this process runs (see Coordinator.holdLivenessLock); absent: never held. */
  holdSessionLock?(key1: number, key2: number): Promise<void>;
}

/** A bigint / numeric column as the drivers return it. */
export type SqlInt = number | string | bigint;

/** int8 / numeric column → JS number (drivers differ: `pg` gives strings, PGlite numbers); null → -1. */
export function num(v: SqlInt | null | undefined): number {
  if (v === null || v === undefined) return -1;
  return typeof v === 'number' ? v : Number(v);
}
