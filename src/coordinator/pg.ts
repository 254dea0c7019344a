/**
 * The production coordinator: PostgreSQL through a `pg` Pool behind `SqlConnection` (STYLE.md's
 * `postgres.ts`; named after the driver, beside `pglite.ts`). Same schema and
 * SQL as PGlite; only the connection differs. Commits run concurrently on the pool's connections; the
 * row locks taken by `floe_commit_object` order them.
 *
 * Failure behaviour (a broker must outlive its database):
 * - Every client gets a permanent 'error' listener when it connects. pg-pool only listens on *idle*
 *   clients; a checked-out client whose server goes away emits 'error', and with no listener that
 *   would be an uncaught exception that kills the broker. The pool's own 'error' event is handled too.
 * - A query that fails with a connection error (no SQLSTATE) throws it to the caller, and its client is
 *   destroyed rather than returned to the pool; the next query opens a new connection, so the broker
 *   reconnects by itself once the server is back (after a restart, a failover, …).
 * - Timeouts: `statement_timeout` (server side) and a client-side limit 2 s longer, so a server or network
 *   that stops answering fails the query instead of hanging it; `connectionTimeoutMillis` for new
 *   connections; TCP keepalive; `idle_in_transaction_session_timeout` so a broker that vanished inside a
 *   transaction does not hold row locks.
 * - Notifications (LISTEN) use one more connection, outside the pool, opened on the first subscription
 *   and replaced whenever it fails (pg-listener.ts).
 * - TLS: libpq's sslmode semantics (see config/backend-config.ts); `prefer` asks the server once
 *   (SSLRequest) at open and then uses TLS or not for every connection.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { SqlCoordinator, type SqlConnection } from './sql-coordinator.ts';
import { PgListener } from './pg-listener.ts';
import { childLogger } from '../observability/log.ts';

const log = childLogger('coordinator-pg');

/** A failure of the connection itself (not an SQL error): the client must not be reused. */
function isConnectionError(err: unknown): boolean {
  return !(err instanceof pg.DatabaseError);
}

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
  constructor(readonly pool: pg.Pool, readonly listener: PgListener | null = null) {}

  listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>> {
    if (this.listener === null) return Promise.resolve(async () => {});
    return this.listener.listen(channel, onPayload, onResync);
  }

  holdSessionLock(key1: number, key2: number): Promise<void> {
    if (this.listener === null) return Promise.resolve();
    return this.listener.holdLock(key1, key2);
  }

  async query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    const res = await this.pool.query(sql, params);
    return { rows: res.rows as T[] };
  }

  async transaction<T>(fn: (tx: SqlConnection) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(new PgClientConnection(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (isConnectionError(err)) {
        broken = err instanceof Error ? err : new Error(String(err)); // no ROLLBACK on a dead connection
      } else {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
      }
      throw err;
    } finally {
      client.release(broken); // with an error: destroyed, not returned to the pool
    }
  }

  async close(): Promise<void> {
    await this.listener?.close();
    await this.pool.end();
  }
}

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

export interface PostgresCoordinatorOptions {
  /** Pool size (default 10). */
  maxConnections?: number;
  /** Server-side statement_timeout in ms (default 30000; 0 = none). */
  statementTimeoutMs?: number;
  /** Limit for opening a connection (default 10000; 0 = none). */
  connectTimeoutMs?: number;
  /** Overrides the password of the URL. */
  password?: string | null;
  /** libpq sslmode; default: the URL's sslmode, else PGSSLMODE, else prefer. */
  sslMode?: SslMode | null;
  /** PEM file paths (libpq sslrootcert, sslcert, sslkey); default: the URL's. */
  sslRootCert?: string | null;
  sslCert?: string | null;
  sslKey?: string | null;
  /** application_name (default floe). */
  applicationName?: string;
}

const SSL_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl', 'sslcompression', 'uselibpqcompat'];

export interface ResolvedPgConfig {
  config: pg.PoolConfig;
  /** The URL without its password (for logs). */
  redactedUrl: string;
  sslMode: SslMode;
}

/** Builds the pg.Pool configuration (TLS decided, except `prefer`, which needs the server: see resolveSsl). */
export function pgPoolConfig(url: string, options: PostgresCoordinatorOptions = {}): ResolvedPgConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('diskless.coordinator.url is not a valid postgres:// URL');
  }
  const fromUrl = (k: string) => parsed.searchParams.get(k);
  const mode = (options.sslMode ?? fromUrl('sslmode') ?? process.env.PGSSLMODE ?? 'prefer') as string;
  if (mode === 'allow') throw new Error("sslmode 'allow' is not supported: use disable, prefer, require, verify-ca or verify-full");
  if (!['disable', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(mode)) throw new Error(`unknown sslmode '${mode}'`);
  const rootCert = options.sslRootCert ?? fromUrl('sslrootcert');
  const cert = options.sslCert ?? fromUrl('sslcert');
  const key = options.sslKey ?? fromUrl('sslkey');
  for (const k of SSL_PARAMS) parsed.searchParams.delete(k);
  if (options.password) parsed.password = encodeURIComponent(options.password);
  const redacted = new URL(parsed.href);
  if (redacted.password !== '') redacted.password = '***';

  const statementTimeout = options.statementTimeoutMs ?? 30_000;
  const config: pg.PoolConfig = {
    connectionString: parsed.href,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    keepAlive: true,
    application_name: options.applicationName ?? 'floe',
    ...(statementTimeout > 0
      ? { statement_timeout: statementTimeout, query_timeout: statementTimeout + 2_000, idle_in_transaction_session_timeout: statementTimeout }
      : {}),
  };
  let ssl: ConnectionOptions | false = false;
  if (mode !== 'disable') {
    const tls: ConnectionOptions = {};
    if (rootCert) tls.ca = readFileSync(rootCert, 'utf8');
    if (cert) tls.cert = readFileSync(cert, 'utf8');
    if (key) tls.key = readFileSync(key, 'utf8');
    if (mode === 'prefer' || (mode === 'require' && !rootCert)) tls.rejectUnauthorized = false;
    else if (mode === 'require' || mode === 'verify-ca') tls.checkServerIdentity = () => undefined; // chain only
    ssl = tls;
  }
  config.ssl = ssl;
  return { config, redactedUrl: redacted.href, sslMode: mode as SslMode };
}

/**
 * Asks the server whether it speaks TLS (the SSLRequest packet libpq sends first): 'S' yes, 'N' no.
 * Unix sockets never use TLS.
 */
export function serverOffersTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const done = (fn: () => void) => {
      socket.destroy();
      fn();
    };
    socket.setTimeout(timeoutMs || 10_000, () => done(() => reject(new Error(`no answer from ${host}:${port} to SSLRequest`))));
    socket.once('error', (err) => done(() => reject(err)));
    socket.once('connect', () => socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    socket.once('data', (chunk: Buffer) => done(() => resolve(chunk[0] === 0x53)));
  });
}

/** For `prefer`: TLS (unverified) if the server offers it, else plain. Other modes are already decided. */
async function resolveSsl(resolved: ResolvedPgConfig, timeoutMs: number): Promise<void> {
  if (resolved.sslMode !== 'prefer') return;
  const u = new URL(resolved.config.connectionString!);
  const hostParam = u.searchParams.get('host');
  const host = hostParam ?? (u.hostname.replace(/^\[|\]$/g, '') || 'localhost');
  if (host.startsWith('/')) {
    resolved.config.ssl = false;
    return;
  }
  const port = Number(u.port || u.searchParams.get('port') || 5432);
  if (!(await serverOffersTls(host, port, timeoutMs))) resolved.config.ssl = false;
}

/** Connects to PostgreSQL (`postgres://user@host:port/db`) and applies the migrations. */
export async function openPostgresCoordinator(url: string, options: PostgresCoordinatorOptions = {}): Promise<SqlCoordinator> {
  const resolved = pgPoolConfig(url, options);
  await resolveSsl(resolved, options.connectTimeoutMs ?? 10_000);
  const pool = new pg.Pool(resolved.config);
  // Idle clients that lose their server are reported here (and removed by the pool).
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle coordinator connection lost'));
  // Checked-out clients have no listener of the pool's: without this one, a server that goes away during a
  // transaction would crash the process. The query in progress fails with the same error.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const listener = new PgListener({ ...resolved.config, application_name: `${resolved.config.application_name ?? 'floe'}-listener` });
  const coordinator = new SqlCoordinator(new PgConnection(pool, listener));
  try {
    await coordinator.init();
  } catch (err) {
    await coordinator.close().catch(() => undefined);
    throw err;
  }
  log.info({ url: resolved.redactedUrl, pool: resolved.config.max, tls: resolved.config.ssl !== false }, 'coordinator: PostgreSQL');
  return coordinator;
}
