/**
 * Certificates for TLS tests, made with openssl at test time: a CA, a broker certificate for localhost and
 * 127.0.0.1 (signed by the CA), a client certificate (CN=alice,O=floe-test) for mTLS, and a second, untrusted
 * CA. PEM files in a temporary folder; `broker.pem` holds the broker's key and chain in one file, as Kafka's
 * `ssl.keystore.type=PEM` with `ssl.keystore.location` expects.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './cleanup.ts';

const run = promisify(execFile);

export interface TestCerts {
  dir: string;
  /** CA certificate (trust store of clients and of the broker for mTLS). */
  ca: string;
  /** Broker key + certificate in one PEM file. */
  brokerPem: string;
  brokerKey: string;
  brokerCert: string;
  clientKey: string;
  clientCert: string;
  /** A CA that signed nothing the broker uses. */
  otherCa: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd, timeout: 60_000 });
}

async function signed(dir: string, name: string, subject: string, ext: string | null): Promise<void> {
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2'];
  if (ext) {
    await writeFile(join(dir, `${name}.ext`), ext);
    args.push('-extfile', `${name}.ext`);
  }
  await openssl(args, dir);
}

export async function makeCerts(): Promise<TestCerts> {
  const dir = await tempDir('floe-certs-');
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=floe-test-ca'], dir);
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', '2', '-subj', '/CN=other-ca'], dir);
  await signed(dir, 'broker', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await signed(dir, 'client', '/O=floe-test/CN=alice', null);
  const key = await readFile(join(dir, 'broker.key'), 'utf8');
  const crt = await readFile(join(dir, 'broker.crt'), 'utf8');
  await writeFile(join(dir, 'broker.pem'), key + crt);
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    brokerPem: join(dir, 'broker.pem'),
    brokerKey: join(dir, 'broker.key'),
    brokerCert: join(dir, 'broker.crt'),
    clientKey: join(dir, 'client.key'),
    clientCert: join(dir, 'client.crt'),
    otherCa: join(dir, 'other-ca.pem'),
  };
}
