/**
 * New embedded coordinator databases are copies of one template (node_modules/.cache/floe/pglite-<version>-
 * <hash>), made once by initdb and the migrations: each copy is a whole, migrated database of its own, and
 * nothing broker-specific is shared between copies.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';
import { MIGRATIONS } from '../../src/coordinator/sql/migrations.ts';
import { tempDir } from '../helpers/cleanup.ts';

const CACHE = resolve(import.meta.dirname, '../../node_modules/.cache/floe');

test('two new embedded coordinators: both migrated, from the template, each its own database and cluster id', { timeout: 300_000 }, async () => {
  const dir = await tempDir();
  const a = await openPGliteCoordinator(join(dir, 'a'));
  const b = await openPGliteCoordinator(join(dir, 'b'));
  try {
    const templates = (await readdir(CACHE)).filter((n) => /^pglite-.+-[0-9a-f]{16}$/.test(n));
    assert.equal(templates.length, 1, `one template for this PGlite and schema: ${templates.join(', ')}`);
    assert.ok(existsSync(join(CACHE, templates[0]!, 'PG_VERSION')));
    for (const c of [a, b]) {
      const versions = await (c as unknown as { db: { query<T>(sql: string): Promise<{ rows: T[] }> } }).db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(versions.rows.map((r) => Number(r.version)), MIGRATIONS.map((m) => m.version), 'every migration recorded');
    }
    await a.createTopic({ name: 'only-in-a', partitionCount: 2, diskless: true, configs: {} });
    assert.deepEqual((await a.listTopics()).map((t) => t.name), ['only-in-a']);
    assert.deepEqual(await b.listTopics(), [], 'a copy shares nothing with another');
    const [idA, idB] = [await a.clusterId('cluster-a'), await b.clusterId('cluster-b')];
    assert.deepEqual([idA, idB], ['cluster-a', 'cluster-b'], 'each database takes the cluster id it is first given');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  // Reopened: the same database, migrations found applied.
  const again = await openPGliteCoordinator(join(dir, 'a'));
  try {
    assert.deepEqual((await again.listTopics()).map((t) => t.name), ['only-in-a']);
    assert.equal(await again.clusterId('other'), 'cluster-a');
  } finally {
    await again.close();
  }
});
