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
 * Memory (PGlite's share of an idle embedded broker's RSS; PGlite touches all of `shared_buffers` at
 * start): `shared_buffers` is 16 MiB by default rather than initdb's 128 MiB (the coordinator's hot rows are
 * few; its files stay in the OS page cache), and a new data directory is created by initdb in a short-lived
 * child process, because PGlite's in-process initdb keeps its two helper instances' memory (~430 MB) for
 * the life of the process.
 *
 * Start-up: initdb and the migrations are most of a first start (seconds on an idle machine, tens of seconds
 * on a busy one), and their result depends only on the PGlite version and the migrations. So the first new
 * data directory is made, in the child process, as a template in node_modules/.cache/floe/pglite-<version>-
 * <hash of the migrations>, and every new data directory is a copy of that template (a fraction of a second;
 * the broker's own migration pass then finds everything applied). Nothing broker-specific is in it: the
 * cluster id and every id are made after start. The template is written under a temporary name and renamed
 * into place, so processes creating it at once never see half of one; templates of other versions are
 * removed then. Where node_modules cannot be written, each new data directory gets its own initdb.
 */
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { SqlCoordinator, type SqlConnection } from './sql-coordinator.ts';
import type { Migration } from './sql/migration.ts';
import { CREATE_MIGRATIONS_TABLE, MIGRATIONS, RECORD_MIGRATION } from './sql/migrations.ts';
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
 * (PGlite's in-process initdb would keep it), then applies `migrations` there as SqlCoordinator.init does
 * (each in its own transaction with its schema_migrations row). Plain JS, so it runs whether the broker runs
 * from TypeScript or compiled; the migrations go through a file (they exceed a command line's argument).
 */
async function initDataDirInChild(dataDir: string, migrations: readonly Migration[] = []): Promise<void> {
  const pgliteUrl = import.meta.resolve('@electric-sql/pglite');
  const migrationsFile = `${dataDir}.migrations.json`;
  await writeFile(migrationsFile, JSON.stringify(migrations.map((m) => ({ version: m.version, name: m.name, statements: m.statements }))));
  const script = `const { PGlite } = await import(${JSON.stringify(pgliteUrl)});
const { readFileSync } = await import('node:fs');
const db = await PGlite.create(${JSON.stringify(dataDir)});
for (const m of JSON.parse(readFileSync(${JSON.stringify(migrationsFile)}, 'utf8'))) {
  await db.transaction(async (tx) => {
    await tx.query(${JSON.stringify(CREATE_MIGRATIONS_TABLE)});
    for (const statement of m.statements) await tx.query(statement);
    await tx.query(${JSON.stringify(RECORD_MIGRATION)}, [m.version, m.name]);
  });
}
await db.close();`;
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 300_000 }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`initdb of the embedded coordinator in ${dataDir} failed: ${stderr.trim() || err.message}`));
        else resolve();
      });
    });
  } finally {
    await rm(migrationsFile, { force: true });
  }
}

/** The template's folder name: PGlite's version and a hash of the migrations (see the file header). */
function templateName(pgliteVersion: string): string {
  const hash = createHash('sha256').update(JSON.stringify(MIGRATIONS.map((m) => [m.version, m.name, m.statements]))).digest('hex').slice(0, 16);
  return `pglite-${pgliteVersion}-${hash}`;
}

/** Where the template is kept (see the file header); null: PGlite is not in a node_modules. */
function templateDir(): string | null {
  const entry = fileURLToPath(import.meta.resolve('@electric-sql/pglite'));
  const marker = `${sep}node_modules${sep}`;
  const at = entry.lastIndexOf(marker);
  if (at < 0) return null;
  const nodeModules = entry.slice(0, at + marker.length - 1);
  const { version } = JSON.parse(readFileSync(join(nodeModules, '@electric-sql', 'pglite', 'package.json'), 'utf8')) as { version: string };
  return join(nodeModules, '.cache', 'floe', templateName(version));
}

/** A new data directory: a copy of the template (made first if missing), else initdb and migrations of its own. */
async function createDataDir(dataDir: string): Promise<void> {
  let template: string | null = null;
  try {
    template = templateDir();
    if (template && !existsSync(join(template, 'PG_VERSION'))) {
      log.info({ template }, 'first start with this PGlite and schema: creating the embedded coordinator\'s database, kept as a template for the next ones');
      const staging = `${template}.${randomUUID()}`;
      await mkdir(staging, { recursive: true });
      try {
        await initDataDirInChild(staging, MIGRATIONS);
        await rename(staging, template).catch((err: unknown) => {
          if (!existsSync(join(template!, 'PG_VERSION'))) throw err; // else another process's template is in place: use it
        });
      } finally {
        // Failed, or another process put its template in place meanwhile: this one is dropped.
        await rm(staging, { recursive: true, force: true });
      }
      await removeOtherTemplates(template);
    }
    if (template && existsSync(join(template, 'PG_VERSION'))) {
      await cp(template, dataDir, { recursive: true });
      return;
    }
  } catch (err) {
    log.warn({ err: (err as Error).message, template }, 'cannot use a template for the embedded coordinator\'s database: creating this one on its own');
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
  }
  await initDataDirInChild(dataDir);
}

/** Templates of other PGlite versions or schemas (not those being made: their names end in a UUID). */
async function removeOtherTemplates(template: string): Promise<void> {
  const folder = dirname(template);
  for (const name of await readdir(folder)) {
    if (/^pglite-.+-[0-9a-f]{16}$/.test(name) && join(folder, name) !== template) {
      await rm(join(folder, name), { recursive: true, force: true });
    }
  }
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
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await createDataDir(dataDir);
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
