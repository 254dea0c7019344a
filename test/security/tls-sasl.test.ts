/**
 * Listeners with TLS and SASL (issue 16), with real clients over real sockets: kcat (librdkafka 2.0.2) over
 * SSL, SASL_SSL with PLAIN and SCRAM-SHA-512, and mTLS; kafkajs with PLAIN and SCRAM-SHA-256 over
 * SASL_PLAINTEXT; raw requests for Kafka's refusals (wrong password, requests before authentication,
 * plaintext on a TLS port). mTLS: test/security/mtls.test.ts. Metadata names, for every broker, the endpoint of the listener the client used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { makeCerts, type TestCerts } from '../helpers/certs.ts';
import { kcat, kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { RawClient, withClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { saltPassword, scramMechanism } from '../../src/security/sasl-server.ts';

const run = promisify(execFile);

let certs: TestCerts;
let broker: TestBroker;

async function start(extra: Record<string, string> = {}): Promise<TestBroker> {
  return startTestBroker({
    listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.brokerPem,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': certs.ca,
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    'listener.name.sasl_ssl.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_bob="bob \\"quoted\\" secret";',
    ...extra,
  });
}

/** AlterUserScramCredentials through the PLAINTEXT listener, salted here as a Kafka client does. */
async function addScramUser(port: number, user: string, password: string, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', iterations = 4096): Promise<any> {
  const m = scramMechanism(mechanism)!;
  const salt = Buffer.from(`salt-of-${user}-${mechanism}`);
  return withClient(port, (c) => c.request(ApiKey.AlterUserScramCredentials, 0, {
    deletions: [], upsertions: [{ name: user, mechanism: m.code, iterations, salt, saltedPassword: saltPassword(m, password, salt, iterations) }],
  }));
}

const sslArgs = () => ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${certs.ca}`];
const saslSslArgs = (mechanism: string, user: string, password: string) => [
  '-X', 'security.protocol=sasl_ssl', '-X', `ssl.ca.location=${certs.ca}`, '-X', `sasl.mechanisms=${mechanism}`, '-X', `sasl.username=${user}`, '-X', `sasl.password=${password}`,
];

test('setup: certificates and a broker with PLAINTEXT, SSL, SASL_SSL and SASL_PLAINTEXT listeners', async () => {
  certs = await makeCerts();
  broker = await start();
  assert.equal(Object.keys(broker.ports).length, 4);
});

test('kcat over SSL: produce and consume; Metadata advertises the SSL listener\'s port', async () => {
  const bootstrap = `127.0.0.1:${broker.ports.SSL}`;
  await kcatProduce(bootstrap, 'tls-topic', ['k1:v1', 'k2:v2'], sslArgs());
  const rows = await kcatConsume(bootstrap, 'tls-topic', '%k=%s\n', sslArgs());
  assert.deepEqual(rows, ['k1=v1', 'k2=v2']);
  const listing = await kcat(['-b', bootstrap, ...sslArgs(), '-L', '-J']);
  const meta = JSON.parse(listing);
  assert.deepEqual(meta.brokers.map((b: any) => b.name), [`127.0.0.1:${broker.ports.SSL}`]);
  const plain = await kcat(['-b', broker.bootstrap, '-L', '-J']);
  assert.deepEqual(JSON.parse(plain).brokers.map((b: any) => b.name), [`127.0.0.1:${broker.port}`]);
});

test('a plaintext client on the TLS port is closed, and the broker keeps serving', async () => {
  const c = await RawClient.connect(broker.ports.SSL!);
  c.write(RawClient.frame(ApiKey.ApiVersions, 0, {}, 1));
  assert.equal(await c.expectClosed(10_000), true);
  await withClient(broker.port, async (ok) => assert.equal((await ok.request(ApiKey.ApiVersions, 0, {})).errorCode, ErrorCode.NONE));
});

test('kcat over SASL_SSL with PLAIN (JAAS user) and SCRAM-SHA-512 (user created with AlterUserScramCredentials)', async () => {
  const bootstrap = `127.0.0.1:${broker.ports.SASL_SSL}`;
  await kcatProduce(bootstrap, 'sasl-topic', ['a:1'], saslSslArgs('PLAIN', 'admin', 'admin-secret'));
  const created = await addScramUser(broker.port, 'alice', 'alice-secret', 'SCRAM-SHA-512');
  assert.deepEqual(created.results, [{ user: 'alice', errorCode: ErrorCode.NONE, errorMessage: null }]);
  await kcatProduce(bootstrap, 'sasl-topic', ['b:2'], saslSslArgs('SCRAM-SHA-512', 'alice', 'alice-secret'));
  const rows = await kcatConsume(bootstrap, 'sasl-topic', '%k=%s\n', saslSslArgs('SCRAM-SHA-512', 'alice', 'alice-secret'));
  assert.deepEqual(rows, ['a=1', 'b=2']);
  const meta = JSON.parse(await kcat(['-b', bootstrap, ...saslSslArgs('PLAIN', 'admin', 'admin-secret'), '-L', '-J']));
  assert.deepEqual(meta.brokers.map((b: any) => b.name), [`127.0.0.1:${broker.ports.SASL_SSL}`]);
});

test('kcat with a wrong password fails with an authentication error', async () => {
  const bootstrap = `127.0.0.1:${broker.ports.SASL_SSL}`;
  for (const [mechanism, user] of [['PLAIN', 'admin'], ['SCRAM-SHA-512', 'alice']] as const) {
    const err = await run('kcat', ['-b', bootstrap, ...saslSslArgs(mechanism, user, 'wrong'), '-L', '-m', '10'], { timeout: 60_000 }).then(() => null, (e: any) => e);
    assert.ok(err, `${mechanism}: kcat must fail`);
    assert.match(String(err.stderr), /Authentication failed|SASL authentication error/i, `${mechanism}: ${err.stderr}`);
  }
});

test('raw SASL: wrong password → SASL_AUTHENTICATION_FAILED and the connection closed; requests before authentication close it', async () => {
  const port = broker.ports.SASL_PLAINTEXT!;
  const c = await RawClient.connect(port);
  const hs = await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
  assert.equal(hs.errorCode, ErrorCode.NONE);
  assert.deepEqual(hs.mechanisms, ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']);
  const auth = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\u0000admin\u0000nope') });
  assert.equal(auth.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
  assert.equal(auth.errorMessage, 'Authentication failed: Invalid username or password');
  assert.equal(await c.expectClosed(), true);

  const early = await RawClient.connect(port);
  early.write(RawClient.frame(ApiKey.Metadata, 1, { topics: null }, 7));
  assert.equal(await early.expectClosed(), true);

  const unsupported = await RawClient.connect(port);
  const bad = await unsupported.request(ApiKey.SaslHandshake, 1, { mechanism: 'GSSAPI' });
  assert.equal(bad.errorCode, ErrorCode.UNSUPPORTED_SASL_MECHANISM);
  assert.equal(await unsupported.expectClosed(), true);

  // v0 handshake: the raw token follows without a request header, and the empty answer means success.
  const v0 = await RawClient.connect(port);
  assert.equal((await v0.request(ApiKey.SaslHandshake, 0, { mechanism: 'PLAIN' })).errorCode, ErrorCode.NONE);
  const token = Buffer.from('\u0000bob\u0000bob "quoted" secret');
  const framed = Buffer.alloc(4 + token.length);
  framed.writeInt32BE(token.length, 0);
  token.copy(framed, 4);
  v0.write(framed);
  assert.equal((await v0.readFrame()).length, 0);
  const meta = await v0.request(ApiKey.Metadata, 1, { topics: null });
  assert.equal(meta.brokers[0].port, port);
  v0.close();
  c.close();
  early.close();
  unsupported.close();
});

test('kafkajs over SASL_PLAINTEXT with PLAIN and SCRAM-SHA-256', async () => {
  await addScramUser(broker.port, 'carol', 'carol-secret', 'SCRAM-SHA-256', 8192);
  const brokers = [`127.0.0.1:${broker.ports.SASL_PLAINTEXT}`];
  for (const sasl of [{ mechanism: 'plain', username: 'admin', password: 'admin-secret' }, { mechanism: 'scram-sha-256', username: 'carol', password: 'carol-secret' }] as const) {
    const kafka = new Kafka({ clientId: 'sasl-test', brokers, sasl, logLevel: logLevel.NOTHING, retry: { retries: 2 } });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'kafkajs-sasl', messages: [{ key: sasl.mechanism, value: sasl.username }] });
    await producer.disconnect();
  }
  const bad = new Kafka({ clientId: 'sasl-test', brokers, sasl: { mechanism: 'scram-sha-256', username: 'carol', password: 'wrong' }, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = bad.admin();
  await assert.rejects(admin.connect(), /SASL SCRAM SHA256 authentication failed|Authentication failed/i);
  const described = await withClient(broker.port, (c) => c.request(ApiKey.DescribeUserScramCredentials, 0, { users: null }));
  assert.deepEqual(described.results.map((r: any) => [r.user, r.credentialInfos]), [
    ['alice', [{ mechanism: 2, iterations: 4096 }]],
    ['carol', [{ mechanism: 1, iterations: 8192 }]],
  ]);
});
