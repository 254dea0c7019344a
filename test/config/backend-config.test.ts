/**
 * The backend keys: defaults, validation (a bad URL stops the broker like any bad value), the typed view,
 * and what the factories build from them (pg pool settings with libpq sslmode semantics, the object store).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, defaultBrokerConfig, loadBrokerConfig } from '../../src/config/broker-config.ts';
import { backendConfig } from '../../src/config/backend-config.ts';
import { pgPoolConfig } from '../../src/coordinator/pg.ts';
import { openObjectStore } from '../../src/objectstore/open.ts';
import { FsObjectStore } from '../../src/objectstore/fs.ts';
import { S3ObjectStore } from '../../src/objectstore/s3.ts';
import { FaultyObjectStore } from '../../src/objectstore/faulty.ts';

test('defaults: embedded PGlite and a folder under data.dir, no faults', async () => {
  const b = backendConfig(defaultBrokerConfig());
  assert.equal(b.coordinator.url, '');
  assert.equal(b.coordinator.poolSize, 10);
  assert.equal(b.coordinator.statementTimeoutMs, 30_000);
  assert.equal(b.coordinator.sslMode, null);
  assert.equal(b.coordinator.commitRetryTimeoutMs, 10_000);
  assert.equal(b.objectStore.url, '');
  assert.equal(b.objectStore.s3.maxAttempts, 3);
  assert.deepEqual(b.objectStore.faults, { latencyProfile: 'none', errorRate: 0, burstRate: 0, burstMs: 1000, hangRate: 0, operations: ['put', 'get', 'delete', 'list'], seed: null });
  const store = await openObjectStore(defaultBrokerConfig({ 'data.dir': '/var/lib/floe' }));
  assert.ok(store instanceof FsObjectStore);
  assert.equal((store as FsObjectStore).root, '/var/lib/floe/objects');
});

test('bad values are refused with the key named', () => {
  const bad: [string, string][] = [
    ['diskless.coordinator.url', 'mysql://x'],
    ['diskless.object.store.url', 'gs://bucket'],
    ['diskless.object.store.url', 's3://B_ad'],
    ['diskless.object.store.url', 'file://relative/path'],
    ['diskless.coordinator.ssl.mode', 'allow'],
    ['diskless.coordinator.pool.size', '0'],
    ['diskless.object.store.fault.error.rate', '1.5'],
    ['diskless.object.store.fault.operations', 'put,copy'],
    ['diskless.object.store.latency.profile', 's3-glacier'],
  ];
  for (const [key, value] of bad) {
    assert.throws(() => loadBrokerConfig({ overrides: [`${key}=${value}`], env: {} }), (err: unknown) => err instanceof ConfigError && err.key === key, `${key}=${value}`);
  }
  assert.throws(() => backendConfig(defaultBrokerConfig({ 'diskless.s3.access.key.id': 'AKIA' })), /must be set together/);
});

test('env vars work for the backend keys (FLOE_DISKLESS_COORDINATOR_URL, …)', () => {
  const { config } = loadBrokerConfig({ env: { FLOE_DISKLESS_COORDINATOR_URL: 'postgres://u@h/db', FLOE_DISKLESS_S3_SECRET_ACCESS_KEY: 's', FLOE_DISKLESS_S3_ACCESS_KEY_ID: 'a' } });
  const b = backendConfig(config);
  assert.equal(b.coordinator.url, 'postgres://u@h/db');
  assert.deepEqual([b.objectStore.s3.accessKeyId, b.objectStore.s3.secretAccessKey], ['a', 's']);
});

test('object store URL: s3://bucket/prefix with the s3 keys; file:///path; faults wrap the store', async () => {
  const s3 = await openObjectStore(defaultBrokerConfig({
    'diskless.object.store.url': 's3://my-bucket/some/prefix', 'diskless.s3.endpoint': 'http://127.0.0.1:9', 'diskless.s3.path.style.access': 'true',
  }));
  assert.ok(s3 instanceof S3ObjectStore);
  assert.equal((s3 as S3ObjectStore).bucket, 'my-bucket');
  assert.equal((s3 as S3ObjectStore).prefix, 'some/prefix/');
  await s3.close();
  const bare = (await openObjectStore(defaultBrokerConfig({ 'diskless.object.store.url': 's3://my-bucket' }))) as S3ObjectStore;
  assert.equal(bare.prefix, '');
  await bare.close();
  const file = await openObjectStore(defaultBrokerConfig({ 'diskless.object.store.url': 'file:///srv/floe%20objects' }));
  assert.equal((file as FsObjectStore).root, '/srv/floe objects');
  const faulty = await openObjectStore(defaultBrokerConfig({ 'diskless.object.store.latency.profile': 's3-standard', 'diskless.object.store.fault.seed': '3' }));
  assert.ok(faulty instanceof FaultyObjectStore);
  assert.ok((faulty as FaultyObjectStore).inner instanceof FsObjectStore);
});

test('pg pool settings: timeouts, pool size, password override (redacted in logs)', () => {
  const r = pgPoolConfig('postgresql://floe:inurl@db:5433/floe?application_name=x', { maxConnections: 4, statementTimeoutMs: 5000, connectTimeoutMs: 700, password: 'p@ss/word', sslMode: 'disable' });
  assert.equal(r.config.max, 4);
  assert.equal(r.config.statement_timeout, 5000);
  assert.equal(r.config.query_timeout, 7000);
  assert.equal(r.config.idle_in_transaction_session_timeout, 5000);
  assert.equal(r.config.connectionTimeoutMillis, 700);
  assert.equal(r.config.ssl, false);
  assert.equal(decodeURIComponent(new URL(r.config.connectionString!).password), 'p@ss/word');
  assert.ok(!r.redactedUrl.includes('p%40ss') && !r.redactedUrl.includes('inurl') && r.redactedUrl.includes('***'));
  const none = pgPoolConfig('postgres://u@h/db', { statementTimeoutMs: 0, sslMode: 'disable' });
  assert.equal(none.config.statement_timeout, undefined);
  assert.equal(none.config.query_timeout, undefined);
});

test('pg TLS follows libpq sslmode: the key, else the URL, else prefer', () => {
  const ssl = (url: string, sslMode?: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full') => {
    const r = pgPoolConfig(url, { sslMode: sslMode ?? null });
    return { mode: r.sslMode, ssl: r.config.ssl, url: r.config.connectionString };
  };
  assert.deepEqual(ssl('postgres://h/db', 'disable').ssl, false);
  const req = ssl('postgres://h/db', 'require').ssl as { rejectUnauthorized?: boolean };
  assert.equal(req.rejectUnauthorized, false, 'require without a root cert does not verify (libpq)');
  const ca = ssl('postgres://h/db', 'verify-ca').ssl as { rejectUnauthorized?: boolean; checkServerIdentity?: unknown };
  assert.equal(ca.rejectUnauthorized, undefined, 'the chain is verified');
  assert.equal(typeof ca.checkServerIdentity, 'function', 'the host name is not');
  const full = ssl('postgres://h/db', 'verify-full').ssl as { rejectUnauthorized?: boolean; checkServerIdentity?: unknown };
  assert.equal(full.rejectUnauthorized, undefined);
  assert.equal(full.checkServerIdentity, undefined, 'Node checks the host name');
  assert.equal(ssl('postgres://h/db?sslmode=verify-full').mode, 'verify-full');
  assert.ok(!ssl('postgres://h/db?sslmode=require&application_name=a').url!.includes('sslmode'), 'ssl parameters are taken out of the URL');
  assert.equal(ssl('postgres://h/db?sslmode=require', 'disable').mode, 'disable', 'the key wins over the URL');
  assert.equal(ssl('postgres://h/db').mode, process.env.PGSSLMODE ?? 'prefer');
  assert.throws(() => pgPoolConfig('postgres://h/db?sslmode=allow'), /allow/);
});
