/**
 * The embedded coordinator: PGlite (PostgreSQL compiled to WASM, in-process) behind `SqlConnection`.
 *
 * PGlite is one connection. Every top-level statement and transaction goes through one promise queue,
 * so a transaction's statements never interleave with anything else (statements inside a transaction
 * use the transaction handle and bypass the queue).
 *
 * Notifications: PGlite's own LISTEN/NOTIFY, in-process. One PGlite serves one broker, so a broker only
 * hears its own changes; nothing can be missed, so there is never a resync.
 *
 * Memory (an idle embedded broker's RSS is mostly PGlite's, and PGlite touches all of `shared_buffers` at
 * start): `shared_buffers` is 16 MiB by default rather than initdb's 128 MiB (the coordinator's hot rows are
 * few; its files stay in the OS page cache), and a new data directory is created by initdb in a short-lived
 * child process, because PGlite's in-process initdb keeps its two helper instances' memory (~430 MB) for
 * the life of the process.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { SqlCoordinator, type SqlConnection } from './sql-coordinator.ts';
import { childLogger } from '../observability/log.ts';

const log = childLogger('coordinator-pglite');

/** Runs tasks one at a time, in call order. A failed task does not stop the ones after it. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

class PGliteTxConnection implements SqlConnection {
  constructor(private readonly tx: Transaction) {}

  async query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    const res = await this.tx.query<T>(sql, params as unknown[] | undefined);
    return { rows: res.rows };
  }

  /** Nested transactions run inside the enclosing one. */
  transaction<T>(fn: (tx: SqlConnection) => Promise<T>): Promise<T> {
    return fn(this);
  }

  close(): Promise<void> {
    return Promise.reject(new Error('close() called on a transaction'));
  }
}

export class PGliteConnection implements SqlConnection {
  private readonly queue = new SerialQueue();
  private closed = false;

  constructor(readonly db: PGlite) {}

  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    return this.queue.run(async () => {
      this.checkOpen();
      const res = await this.db.query<T>(sql, params as unknown[] | undefined);
      return { rows: res.rows };
    });
  }

  transaction<T>(fn: (tx: SqlConnection) => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      this.checkOpen();
      return this.db.transaction((tx) => fn(new PGliteTxConnection(tx)));
    });
  }

  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    const deliver = (payload: string) => {
      try {
        onPayload(payload);
      } catch (err) {
        log.error({ err, channel }, 'notification handler failed');
      }
    };
    const unlisten = await this.queue.run(async () => {
      this.checkOpen();
      return this.db.listen(channel, deliver);
    });
    return () => this.queue.run(async () => {
      if (!this.closed) await unlisten();
    });
  }

  close(): Promise<void> {
    return this.queue.run(async () => {
      if (this.closed) return;
      this.closed = true;
      await this.db.close();
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('coordinator connection is closed');
  }
}

export interface PGliteOptions {
  /** shared_buffers in bytes (diskless.coordinator.embedded.shared.buffers.bytes); default 16 MiB. */
  sharedBuffersBytes?: number;
}

/** PostgreSQL settings on top of PGlite's own start parameters (see the file header). */
function startParams(options: PGliteOptions): string[] {
  const kib = Math.max(128, Math.floor((options.sharedBuffersBytes ?? 16 << 20) / 1024));
  return [...PGlite.defaultStartParams, '-c', `shared_buffers=${kib}kB`];
}

/**
 * Runs initdb for a new data directory in a child process, whose memory all goes back when it exits
 * (PGlite's in-process initdb would keep it). Plain JS, so it runs whether the broker runs from TypeScript or
 * compiled.
 */
async function initDataDirInChild(dataDir: string): Promise<void> {
  const pgliteUrl = import.meta.resolve('@electric-sql/pglite');
  const script = `const { PGlite } = await import(${JSON.stringify(pgliteUrl)});
const db = await PGlite.create(${JSON.stringify(dataDir)});
await db.close();`;
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 300_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`initdb of the embedded coordinator in ${dataDir} failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

/**
 * Opens (creating if needed) a PGlite database persisted in `dataDir` (e.g. `<data.dir>/coordinator`),
 * or in memory when `dataDir` is null, and applies the migrations.
 */
export async function openPGliteCoordinator(dataDir: string | null, options: PGliteOptions = {}): Promise<SqlCoordinator> {
  let db: PGlite;
  if (dataDir === null) {
    db = await PGlite.create({ startParams: startParams(options) });
  } else {
    await mkdir(dataDir, { recursive: true });
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await initDataDirInChild(dataDir);
    db = await PGlite.create(dataDir, { startParams: startParams(options) });
  }
  const coordinator = new SqlCoordinator(new PGliteConnection(db));
  try {
    await coordinator.init();
  } catch (err) {
    await coordinator.close().catch(() => undefined);
    throw err;
  }
  return coordinator;
}
