/**
 * TLS to PostgreSQL with libpq's sslmode semantics, against a real server that serves TLS with a
 * self-signed certificate made by this file (openssl): prefer and require encrypt without checking the
 * certificate; verify-ca and verify-full check it against diskless.coordinator.ssl.root.cert (and
 * verify-full the host name too), and refuse it without; disable stays in the clear.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import { openPostgresCoordinator, type SslMode } from '../../src/coordinator/pg.ts';
import type { SqlCoordinator } from '../../src/coordinator/sql-coordinator.ts';
import { startPostgres, type PostgresServer } from '../../tools/dev/local-servers.ts';
import { onCleanup, tempDir } from '../helpers/broker.ts';

const exec = promisify(execFile);
let server: PostgresServer;
let caFile: string;
let wrongCaFile: string;

async function selfSigned(dir: string, name: string, san: string): Promise<{ cert: string; key: string; certFile: string }> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-addext', `subjectAltName=${san}`, '-keyout', keyFile, '-out', certFile]);
  return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8'), certFile };
}

before(async () => {
  const dir = await tempDir('floe-pg-tls-');
  const good = await selfSigned(dir, 'floe-test-db', 'IP:127.0.0.1,DNS:localhost');
  const other = await selfSigned(dir, 'someone-else', 'DNS:elsewhere.example');
  caFile = good.certFile;
  wrongCaFile = other.certFile;
  server = await startPostgres({ tls: { cert: good.cert, key: good.key } });
  onCleanup(() => server.destroy());
});

async function usesTls(c: SqlCoordinator): Promise<boolean> {
  const r = await c.connection.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  return r.rows[0]!.ssl;
}

async function open(url: string, sslMode: SslMode | null, sslRootCert: string | null = null): Promise<SqlCoordinator> {
  return openPostgresCoordinator(url, { sslMode, sslRootCert, maxConnections: 2, connectTimeoutMs: 5000 });
}

test('prefer (the default) and require: TLS, certificate not checked', async () => {
  for (const mode of [null, 'prefer', 'require'] as const) {
    const c = await open(server.url(), mode);
    assert.equal(await usesTls(c), true, String(mode));
    await c.close();
  }
});

test('verify-ca and verify-full: TLS with the right root certificate; refused with none or the wrong one', async () => {
  for (const mode of ['verify-ca', 'verify-full'] as const) {
    const c = await open(server.url(), mode, caFile);
    assert.equal(await usesTls(c), true, mode);
    await c.close();
    await assert.rejects(() => open(server.url(), mode), /self[- ]signed|certificate/i, `${mode} without a root cert`);
    await assert.rejects(() => open(server.url(), mode, wrongCaFile), /certificate|signature/i, `${mode} with the wrong root cert`);
  }
  // verify-full also checks the host name; verify-ca does not.
  const byName = server.url().replace('127.0.0.1', 'localhost');
  const ok = await open(byName, 'verify-full', caFile);
  await ok.close();
});

test('disable: in the clear; sslmode in the URL applies when the key is unset', async () => {
  const clear = await open(server.url(), 'disable');
  assert.equal(await usesTls(clear), false);
  await clear.close();
  const viaUrl = await open(`${server.url()}?sslmode=disable`, null);
  assert.equal(await usesTls(viaUrl), false);
  await viaUrl.close();
  const tlsUrl = await open(`${server.url()}?sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`, null);
  assert.equal(await usesTls(tlsUrl), true);
  await tlsUrl.close();
});
