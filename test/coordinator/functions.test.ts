/**
 * src/coordinator/sql/functions/<name>.sql hold the current definition of every function the coordinator's
 * migrations leave in the database, for reading; the migrations alone create them. These tests fail when
 * the files drift from what the migrations build, on a fresh database migrated by SqlCoordinator.init
 * (PGlite, and a real PostgreSQL server started by this file):
 * - the functions in the schema are exactly the files (a migration that adds a function needs its file);
 * - each file, run in an empty schema, creates exactly the function it is named after, and
 *   pg_get_functiondef renders the two alike: PostgreSQL prints the header (arguments, result, language,
 *   volatility, settings) its own way, so layout does not count, and the body byte for byte;
 * - the file's first line names the migrations that define the function (the last one holds its text).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';
import { openPostgresCoordinator } from '../../src/coordinator/pg.ts';
import type { SqlConnection, SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import { MIGRATIONS } from '../../src/coordinator/sql/migrations.ts';
import { freshDatabase } from '../helpers/postgres.ts';

const FUNCTIONS_DIR = join(import.meta.dirname, '../../src/coordinator/sql/functions');
/** Where the files' functions are created, beside the migrated ones in `public`. */
const CHECK_SCHEMA = 'floe_functions_check';

interface Routine {
  name: string;
  definition: string;
}

/** The routines of a schema, with pg_get_functiondef's rendering, the schema qualifier left out. */
async function routines(db: SqlConnection, schema: string): Promise<Routine[]> {
  const res = await db.query<{ name: string; definition: string }>(
    `SELECT p.proname AS name, pg_get_functiondef(p.oid) AS definition
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1
      ORDER BY p.proname, p.oid`,
    [schema],
  );
  return res.rows.map((r) => ({ name: r.name, definition: r.definition.replace(`${schema}.${r.name}(`, `${r.name}(`) }));
}

/** Function name → versions of the migrations that create or replace it, in order. */
function definingMigrations(): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const create = /\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+(?:\w+\.)?(\w+)\s*\(/gi;
  for (const m of MIGRATIONS) {
    for (const statement of m.statements) {
      for (const [, name] of statement.matchAll(create)) out.set(name!, [...(out.get(name!) ?? []), m.version]);
    }
  }
  return out;
}

function expectedFirstLine(name: string, versions: readonly number[]): string {
  const [first, ...replaced] = versions;
  return replaced.length === 0
    ? `-- ${name}: created by migration ${first}; this is its text.`
    : `-- ${name}: created by migration ${first}, replaced by ${replaced.join(', ')}; this is migration ${replaced.at(-1)}'s text.`;
}

async function checkFunctionFiles(coordinator: SqlCoordinator): Promise<void> {
  const files = (await readdir(FUNCTIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
  const migrated = await routines(coordinator.connection, 'public');
  const names = migrated.map((r) => r.name);
  assert.equal(new Set(names).size, names.length, `overloaded functions (one file per name cannot hold them): ${names}`);
  assert.deepEqual(
    files.map((f) => f.slice(0, -'.sql'.length)),
    names,
    `functions/*.sql must be exactly the functions the migrations leave in the database`,
  );

  const history = definingMigrations();
  // One transaction: SET LOCAL holds for every statement (a pool would otherwise spread them over
  // connections). check_function_bodies stays on, so each file is also parsed and validated.
  await coordinator.connection.transaction(async (tx) => {
    await tx.query(`CREATE SCHEMA ${CHECK_SCHEMA}`);
    await tx.query(`SET LOCAL search_path = ${CHECK_SCHEMA}, public`);
    for (const file of files) {
      const name = file.slice(0, -'.sql'.length);
      const text = await readFile(join(FUNCTIONS_DIR, file), 'utf8');
      assert.equal(text.split('\n')[0], expectedFirstLine(name, history.get(name) ?? []), `${file}: first line`);
      const before = (await routines(tx, CHECK_SCHEMA)).map((r) => r.name);
      await tx.query(text);
      const added = (await routines(tx, CHECK_SCHEMA)).filter((r) => !before.includes(r.name));
      assert.deepEqual(added.map((r) => r.name), [name], `${file} must create exactly ${name}`);
      assert.equal(
        added[0]!.definition,
        migrated.find((r) => r.name === name)!.definition,
        `${file} differs from the ${name} the migrations create (its text is in migration ${history.get(name)?.at(-1)})`,
      );
    }
  });
}

test('PGlite: functions/*.sql are the functions the migrations create', async () => {
  const coordinator = await openPGliteCoordinator(null);
  try {
    await checkFunctionFiles(coordinator);
  } finally {
    await coordinator.close();
  }
});

test('PostgreSQL: functions/*.sql are the functions the migrations create', async () => {
  const coordinator = await openPostgresCoordinator(await freshDatabase(), { maxConnections: 1 });
  try {
    await checkFunctionFiles(coordinator);
  } finally {
    await coordinator.close();
  }
});
