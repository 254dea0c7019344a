/**
 * What keeps an idle embedded broker lean, asserted by mechanism rather than by an RSS bound (which a shared
 * machine makes flaky): a broker on PGlite and a folder does not load the S3 SDK, the PostgreSQL client or
 * the compression packages, not even once records went through it (the codecs load when the broker itself
 * has to compress or decompress a batch: test/protocol/compression.test.ts goes through that path for every
 * codec); and the embedded coordinator runs with the configured shared_buffers. bench/idle-memory.ts
 * measures the RSS itself.
 *
 * The check reads the CommonJS module cache, where Node also keeps CommonJS packages imported from ES
 * modules (all of these are, or reach CommonJS files).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { startTestBroker } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';

const require = createRequire(import.meta.url);

const LAZY_PACKAGES = ['@aws-sdk/client-s3', 'pg', 'snappy', 'lz4-napi', '@mongodb-js/zstd', 'fzstd'] as const;

function loaded(pkg: string): boolean {
  const marker = `/node_modules/${pkg}/`;
  return Object.keys(require.cache).some((path) => path.includes(marker));
}

test('an embedded broker loads neither the S3 SDK, pg nor the codecs, also after records went through it', { timeout: 300_000 }, async () => {
  const broker = await startTestBroker();
  const lines = Array.from({ length: 200 }, (_, i) => `k${i}:value-${i}`);
  await kcatProduce(broker.bootstrap, 'plain', lines);
  assert.deepEqual(await kcatConsume(broker.bootstrap, 'plain', '%k:%s\n'), lines);
  for (const pkg of LAZY_PACKAGES) assert.equal(loaded(pkg), false, `${pkg} loaded by an embedded broker that saw only uncompressed batches`);

  // Compressed batches are stored and served as the producer sent them.
  await kcatProduce(broker.bootstrap, 'lz4', lines, ['-z', 'lz4']);
  assert.deepEqual(await kcatConsume(broker.bootstrap, 'lz4', '%k:%s\n'), lines);
  assert.equal(loaded('@aws-sdk/client-s3'), false);
  assert.equal(loaded('pg'), false);
  // The check can see a package: the test loads one the broker does not.
  require('snappy');
  assert.equal(loaded('snappy'), true);
});

test('the embedded coordinator runs with diskless.coordinator.embedded.shared.buffers.bytes', { timeout: 300_000 }, async () => {
  const broker = await startTestBroker({ 'diskless.coordinator.embedded.shared.buffers.bytes': 8 << 20 });
  const db = (broker.broker as unknown as { coordinator: unknown }).coordinator;
  assert.ok(db, 'the broker exposes its coordinator');
  const show = await querySql(db, 'SHOW shared_buffers');
  assert.deepEqual(show, [{ shared_buffers: '8MB' }]);
});

/** Runs SQL on the coordinator's connection (through the metering proxy, which passes fields through). */
async function querySql(coordinator: unknown, sql: string): Promise<unknown[]> {
  const conn = (coordinator as { db: { query(sql: string): Promise<{ rows: unknown[] }> } }).db;
  return (await conn.query(sql)).rows;
}
