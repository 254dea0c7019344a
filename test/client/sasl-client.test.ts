/**
 * The tools' SASL client (src/client/sasl-client.ts) against the broker's own SASL servers, and Kafka client
 * properties read by client-security.ts: a SCRAM exchange completes for both mechanisms, a wrong password is
 * refused by the server, and the client refuses a server that does not know the credential (bad signature),
 * does not extend its nonce or asks for too few iterations.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { clientSecurity, loadClientSecurity, parseJaasLogin } from '../../src/client/client-security.ts';
import { saslClient } from '../../src/client/sasl-client.ts';
import { PlainServer, ScramServer, scramCredential, scramMechanism } from '../../src/security/sasl-server.ts';
import { tempDir } from '../helpers/cleanup.ts';

async function exchange(mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', password: string, tamper: (serverToken: Buffer, step: number) => Buffer = (t) => t): Promise<string | null> {
  const m = scramMechanism(mechanism)!;
  const credential = scramCredential(m, 'alice', 'alice-secret', 4096);
  const server = new ScramServer(m, async (user, code) => (user === 'alice' && code === m.code ? credential : null));
  const client = saslClient({ mechanism, username: 'alice', password });
  let token = client.step(Buffer.alloc(0));
  let step = 0;
  while (token !== null) {
    const { challenge } = await server.evaluate(token);
    token = client.step(tamper(challenge, step++));
  }
  return server.user;
}

test('SCRAM-SHA-256 and SCRAM-SHA-512 exchanges complete against the broker\'s server; a wrong password is refused', async () => {
  assert.equal(await exchange('SCRAM-SHA-256', 'alice-secret'), 'alice');
  assert.equal(await exchange('SCRAM-SHA-512', 'alice-secret'), 'alice');
  await assert.rejects(exchange('SCRAM-SHA-512', 'wrong'), /invalid credentials/);
});

test('the client refuses a bad server signature, a nonce it did not start, and fewer than 4096 iterations', async () => {
  await assert.rejects(exchange('SCRAM-SHA-256', 'alice-secret', (t, step) => (step === 1 ? Buffer.from(`v=${Buffer.alloc(32, 7).toString('base64')}`) : t)), /invalid SCRAM server signature/);
  await assert.rejects(exchange('SCRAM-SHA-256', 'alice-secret', (t, step) => (step === 0 ? Buffer.from(t.toString().replace(/^r=/, 'r=x')) : t)), /does not extend the client nonce/);
  await assert.rejects(exchange('SCRAM-SHA-256', 'alice-secret', (t, step) => (step === 0 ? Buffer.from(t.toString().replace(/i=\d+/, 'i=1000')) : t)), /iterations 1000 below the minimum 4096/);
  await assert.rejects(exchange('SCRAM-SHA-256', 'alice-secret', (t, step) => (step === 1 ? Buffer.from('e=other-error') : t)), /SCRAM server error: other-error/);
});

test('PLAIN: the token the broker reads', async () => {
  const server = new PlainServer(new Map([['admin', 'admin-secret']]));
  const token = saslClient({ mechanism: 'PLAIN', username: 'admin', password: 'admin-secret' }).step(Buffer.alloc(0))!;
  assert.deepEqual(await server.evaluate(token), { challenge: Buffer.alloc(0), complete: true });
  assert.equal(server.user, 'admin');
});

test('Kafka client properties: JAAS or librdkafka names, PEM trust, refusals naming the key', async () => {
  const dir = await tempDir('floe-client-props-');
  await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const file = join(dir, 'client.properties');
  await writeFile(file, [
    'security.protocol=SASL_SSL',
    'sasl.mechanism=SCRAM-SHA-512',
    'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\',
    '    username="alice" password="a \\\\"quoted\\\\" secret";',
    `ssl.truststore.location=${join(dir, 'ca.pem')}`,
    'ssl.endpoint.identification.algorithm=',
    'client.id=ignored',
  ].join('\n'));
  const s = loadClientSecurity(file);
  assert.equal(s.protocol, 'SASL_SSL');
  assert.deepEqual(s.sasl, { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'a "quoted" secret' });
  assert.match(s.tls!.ca!, /BEGIN CERTIFICATE/);
  assert.equal(s.tls!.checkHostname, false);
  assert.deepEqual(clientSecurity(new Map([['security.protocol', 'sasl_plaintext'], ['sasl.mechanism', 'PLAIN'], ['sasl.username', 'u'], ['sasl.password', 'p']])), { protocol: 'SASL_PLAINTEXT', tls: null, sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } });
  assert.equal(clientSecurity(new Map([['security.protocol', 'SSL']])).tls!.checkHostname, true);
  assert.throws(() => clientSecurity(new Map([['security.protocol', 'SASL_SSL'], ['sasl.mechanism', 'PLAIN'], ['sasl.jaas.config', 'org.apache.kafka.common.security.scram.ScramLoginModule required username="a" password="b";']])), /needs org\.apache\.kafka\.common\.security\.plain\.PlainLoginModule/);
  assert.throws(() => clientSecurity(new Map([['security.protocol', 'SASL_PLAINTEXT'], ['sasl.mechanism', 'PLAIN']])), /needs a user and password/);
  assert.throws(() => clientSecurity(new Map([['security.protocol', 'TLS']])), /security\.protocol=TLS/);
  assert.throws(() => parseJaasLogin('no module here'), /expected/);
});
