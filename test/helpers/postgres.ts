/**
 * A real PostgreSQL server for tests, started by the test itself (tools/dev/local-servers.ts: initdb into a
 * temporary folder, pg_ctl on a free loopback port, through `su postgres` when running as root). One server
 * per test file (`sharedPostgres()`), stopped and removed when the file ends; tests isolate themselves with
 * their own databases (`freshDatabase()`) or run-scoped names. Needs Debian's `postgresql` package, which
 * `npm test` (scripts/test.sh) installs when it is missing.
 */
import { randomUUID } from 'node:crypto';
import { startPostgres, type PostgresServer } from '../../tools/dev/local-servers.ts';
import { onCleanup } from './cleanup.ts';

let shared: Promise<PostgresServer> | null = null;

/** The test file's PostgreSQL server (started on first use). */
export function sharedPostgres(): Promise<PostgresServer> {
  shared ??= startPostgres().then((server) => {
    onCleanup(() => server.destroy());
    return server;
  });
  return shared;
}

/** A new, empty database on the file's server; returns its URL. */
export async function freshDatabase(): Promise<string> {
  const server = await sharedPostgres();
  return server.createDatabase(`floe_${randomUUID().replace(/-/g, '').slice(0, 12)}`);
}
