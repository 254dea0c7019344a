/**
 * TLS key stores change without a restart: a broker's PEM file rewritten in place is picked up by its
 * watcher (new connections present the new certificate), and a dynamic
 * `listener.name.<l>.ssl.keystore.location` (IncrementalAlterConfigs on the broker's id) switches the
 * listener to another file at once; a file that cannot be loaded is refused with INVALID_CONFIG and the
 * listener keeps its certificate. Clients are node:tls sockets that trust one CA or the other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { makeCerts, type TestCerts } from '../helpers/certs.ts';
import { withClient } from '../helpers/raw-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

const run = promisify(execFile);
let certs: TestCerts;
let broker: TestBroker;
let keystore: string;
/** A broker key and certificate signed by the other CA, in one PEM file. */
let otherPem: string;

/** Whether a TLS handshake with the SSL listener succeeds for a client trusting `ca`. */
async function handshake(ca: string): Promise<boolean> {
  const trusted = await readFile(ca);
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: broker.ports.SSL!, ca: trusted, servername: 'localhost' }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.setTimeout(10_000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

test('setup: a broker whose SSL listener reads a PEM file', async () => {
  certs = await makeCerts();
  const dir = certs.dir;
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other-broker.key', '-out', 'other-broker.csr', '-subj', '/CN=localhost'], { cwd: dir });
  await writeFile(join(dir, 'other-broker.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await run('openssl', ['x509', '-req', '-in', 'other-broker.csr', '-CA', 'other-ca.pem', '-CAkey', 'other-ca.key', '-CAcreateserial', '-out', 'other-broker.crt', '-days', '2', '-extfile', 'other-broker.ext'], { cwd: dir });
  otherPem = join(dir, 'other-broker.pem');
  await writeFile(otherPem, (await readFile(join(dir, 'other-broker.key'), 'utf8')) + (await readFile(join(dir, 'other-broker.crt'), 'utf8')));
  keystore = join(dir, 'keystore.pem');
  await copyFile(certs.brokerPem, keystore);
  broker = await startTestBroker({
    listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': keystore,
  });
  assert.equal(await handshake(certs.ca), true);
  assert.equal(await handshake(certs.otherCa), false);
});

test('the PEM file rewritten in place: new connections get the new certificate without a restart', async () => {
  await writeFile(keystore, await readFile(otherPem));
  await waitFor('the listener presents the certificate of the other CA', () => handshake(certs.otherCa), { timeoutMs: 30_000, intervalMs: 500 });
  assert.equal(await handshake(certs.ca), false);
});

test('a dynamic listener.name.ssl.ssl.keystore.location switches the listener at once; an unreadable one is refused', async () => {
  const alter = (value: string) => withClient(broker.port, (c) => c.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [{ resourceType: 4, resourceName: String(broker.broker.nodeId), configs: [{ name: 'listener.name.ssl.ssl.keystore.location', configOperation: 0, value }] }], validateOnly: false,
  }));
  const ok = await alter(certs.brokerPem);
  assert.equal(ok.responses[0].errorCode, ErrorCode.NONE, ok.responses[0].errorMessage);
  assert.equal(await handshake(certs.ca), true, 'the first handshake after the answer already uses the new key store');
  const bad = await alter(join(certs.dir, 'no-such-file.pem'));
  assert.equal(bad.responses[0].errorCode, ErrorCode.INVALID_CONFIG);
  assert.match(bad.responses[0].errorMessage, /no-such-file\.pem/);
  assert.equal(await handshake(certs.ca), true, 'the refused change left the listener as it was');
});
