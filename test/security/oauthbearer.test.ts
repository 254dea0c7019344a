/**
 * SASL/OAUTHBEARER (issue 16 item 3) with JWTs signed here with `jose` and a JWKS file
 * (sasl.oauthbearer.jwks.endpoint.url=file://…): kafkajs (oauthBearerProvider) and confluent-kafka
 * (oauth_cb, librdkafka 2.0.2) log in with a valid token and ACLs apply to its subject; raw SaslAuthenticate
 * shows Kafka's answers to an expired token, a wrong signature and a wrong audience (the RFC 7628 error JSON,
 * then SASL_AUTHENTICATION_FAILED), and the session lifetime bounded by the token's expiry (KIP-368).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Kafka, logLevel } from 'kafkajs';
import { startTestBroker, tempDir, type TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopic } from '../helpers/topics.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

const run = promisify(execFile);
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'floe';

let broker: TestBroker;
let signingKey: CryptoKey;
let otherKey: CryptoKey;

async function token(sub: string, opts: { expiresInS?: number; audience?: string; key?: CryptoKey } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: 'kafka' })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setSubject(sub)
    .setIssuer(ISSUER)
    .setAudience(opts.audience ?? AUDIENCE)
    .setIssuedAt(now - 5)
    .setExpirationTime(now + (opts.expiresInS ?? 600))
    .sign(opts.key ?? signingKey);
}

test('setup: a JWKS file and a broker offering OAUTHBEARER with ACLs', async () => {
  const dir = await tempDir('floe-oauth-');
  const good = await generateKeyPair('RS256', { extractable: true });
  const evil = await generateKeyPair('RS256', { extractable: true });
  signingKey = good.privateKey;
  otherKey = evil.privateKey;
  const jwks = join(dir, 'jwks.json');
  await writeFile(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(good.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] }));
  broker = await startTestBroker({
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'OAUTHBEARER',
    // Kafka's mechanism-prefixed per-listener form.
    'listener.name.sasl_plaintext.oauthbearer.sasl.oauthbearer.jwks.endpoint.url': `file://${jwks}`,
    'sasl.oauthbearer.expected.audience': AUDIENCE,
    'sasl.oauthbearer.expected.issuer': ISSUER,
    'sasl.oauthbearer.clock.skew.seconds': 0,
    'connections.max.reauth.ms': 600_000,
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    // The PLAINTEXT listener is the administrator's in this test.
    'super.users': 'User:ANONYMOUS',
  });
  const admin = await RawClient.connect(broker.port);
  await createTopic(admin, 'oauth-topic');
  admin.close();
});

function kafkajsAs(tokenOf: () => Promise<string>) {
  return new Kafka({
    clientId: 'oauth', brokers: [`127.0.0.1:${broker.ports.SASL_PLAINTEXT}`], logLevel: logLevel.NOTHING, retry: { retries: 0 },
    sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await tokenOf() }) },
  });
}

test('kafkajs with a valid token: the principal is User:<sub>; denied without an ACL, allowed after CreateAcls', async () => {
  const producer = kafkajsAs(() => token('alice')).producer();
  await producer.connect();
  await assert.rejects(producer.send({ topic: 'oauth-topic', messages: [{ value: 'denied' }] }), /authoriz/i);
  const admin = await RawClient.connect(broker.port);
  const created = await admin.request(ApiKey.CreateAcls, 3, { creations: [
    { resourceType: 2, resourceName: 'oauth-topic', resourcePatternType: 3, principal: 'User:alice', host: '*', operation: 4 /* WRITE */, permissionType: 3 },
    { resourceType: 2, resourceName: 'oauth-topic', resourcePatternType: 3, principal: 'User:alice', host: '*', operation: 8 /* DESCRIBE */, permissionType: 3 },
  ] });
  assert.deepEqual(created.results.map((r: any) => r.errorCode), [0, 0]);
  admin.close();
  const [sent] = await producer.send({ topic: 'oauth-topic', messages: [{ value: 'allowed' }] });
  assert.equal(sent!.errorCode, 0);
  await producer.disconnect();
});

test('kafkajs with an expired token gets nothing', async () => {
  // kafkajs takes the server's error challenge for success (Kafka answers the same way); its next request
  // then arrives before authentication and the broker closes the connection.
  const admin = kafkajsAs(() => token('alice', { expiresInS: -60 })).admin();
  await assert.rejects((async () => {
    await admin.connect();
    await admin.listTopics();
  })());
  await admin.disconnect();
});

test('confluent-kafka (librdkafka 2.0.2) with oauth_cb: a token for alice produces; a token for bob is denied by the ACLs', async () => {
  const script = `
import json, sys, time
from confluent_kafka import Producer
def produce(tok):
    result = {}
    p = Producer({'bootstrap.servers': sys.argv[1], 'security.protocol': 'sasl_plaintext', 'sasl.mechanisms': 'OAUTHBEARER',
                  'oauth_cb': lambda cfg: (tok, time.time() + 600), 'message.timeout.ms': 10000})
    p.produce('oauth-topic', b'from-python', on_delivery=lambda err, msg: result.update(err=str(err) if err else None, offset=msg.offset()))
    p.flush(30)
    return result
print(json.dumps({'alice': produce(sys.argv[2]), 'bob': produce(sys.argv[3])}))
`;
  const { stdout } = await run('/usr/bin/python3', ['-c', script, `127.0.0.1:${broker.ports.SASL_PLAINTEXT}`, await token('alice'), await token('bob')], { timeout: 120_000 });
  const out = JSON.parse(stdout.trim().split('\n').pop()!);
  assert.equal(out.alice.err, null);
  assert.ok(out.alice.offset >= 1, `alice's record has an offset after kafkajs's (got ${out.alice.offset})`);
  assert.match(out.bob.err, /AUTHORIZATION/i);
});

/** SaslHandshake + the client first message; the first SaslAuthenticate answer. */
async function firstMessage(c: RawClient, jwt: string): Promise<any> {
  assert.equal((await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'OAUTHBEARER' })).errorCode, 0);
  return c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from(`n,,\x01auth=Bearer ${jwt}\x01\x01`) });
}

for (const [label, make, reason] of [
  ['an expired token', () => token('alice', { expiresInS: -60 }), /exp/],
  ['a token signed by another key', () => token('alice', { key: otherKey }), /signature/],
  ['a token for another audience', () => token('alice', { audience: 'someone-else' }), /aud/],
] as const) {
  test(`raw SaslAuthenticate with ${label}: the RFC 7628 error JSON, then SASL_AUTHENTICATION_FAILED`, async () => {
    const c = await RawClient.connect(broker.ports.SASL_PLAINTEXT!);
    const first = await firstMessage(c, await make());
    assert.equal(first.errorCode, ErrorCode.NONE);
    assert.deepEqual(JSON.parse(first.authBytes.toString()), { status: 'invalid_token' });
    const second = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\x01') });
    assert.equal(second.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
    assert.match(second.errorMessage, reason);
    c.close();
  });
}

test('raw SaslAuthenticate with a valid token: the session lasts until the token expires (KIP-368), a bad message is refused', async () => {
  const c = await RawClient.connect(broker.ports.SASL_PLAINTEXT!);
  const r = await firstMessage(c, await token('alice', { expiresInS: 120 }));
  assert.equal(r.errorCode, ErrorCode.NONE);
  const lifetime = Number(r.sessionLifetimeMs);
  assert.ok(lifetime > 100_000 && lifetime <= 120_000, `session lifetime ${lifetime} ms is bounded by the token (120 s), not connections.max.reauth.ms`);
  const md = await c.request(ApiKey.Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  assert.deepEqual(md.topics.map((t: any) => t.name), ['oauth-topic'], 'alice sees the topic she may describe');
  c.close();
  const bad = await RawClient.connect(broker.ports.SASL_PLAINTEXT!);
  assert.equal((await bad.request(ApiKey.SaslHandshake, 1, { mechanism: 'OAUTHBEARER' })).errorCode, 0);
  const garbage = await bad.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('n,,auth=Bearer') });
  assert.equal(garbage.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
  bad.close();
});

test('fuzz: truncated, forged and absurd OAUTHBEARER messages never let a client in nor stop the broker', async () => {
  const valid = await token('alice');
  const [header, payload] = valid.split('.');
  const unsecured = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
  const forgedClaims = `${header}.${Buffer.from(JSON.stringify({ sub: 'admin', aud: AUDIENCE, iss: ISSUER, exp: 4102444800 })).toString('base64url')}.${valid.split('.')[2]}`;
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const messages = (): Buffer => {
    switch (rand(7)) {
      case 0: return Buffer.from(`n,,\x01auth=Bearer ${valid.slice(0, rand(valid.length))}\x01\x01`);
      case 1: return Buffer.from(`n,,\x01auth=Bearer ${unsecured}\x01\x01`);
      case 2: return Buffer.from(`n,,\x01auth=Bearer ${forgedClaims}\x01\x01`);
      case 3: return Buffer.from(`n,,\x01auth=Bearer ${valid}\x01\x01`).subarray(0, rand(valid.length + 18)); // strictly shorter than the whole message
      case 4: return Buffer.from(`n,a=admin,\x01auth=Bearer ${valid}\x01\x01`);
      case 5: return Buffer.from(`n,,\x01auth=Bearer ${'A'.repeat(rand(5000))}.${'B'.repeat(rand(50))}.c\x01\x01`);
      default: return Buffer.from(Array.from({ length: rand(300) }, () => rand(256)));
    }
  };
  for (let i = 0; i < 150; i++) {
    const c = await RawClient.connect(broker.ports.SASL_PLAINTEXT!);
    await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'OAUTHBEARER' });
    const message = messages();
    const r = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: message }).catch(() => null);
    if (r && r.errorCode === ErrorCode.NONE && r.authBytes.length > 0) {
      // The error challenge: acknowledging it ends the exchange in failure.
      const done = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\x01') }).catch(() => null);
      assert.notEqual(done?.errorCode, ErrorCode.NONE);
    } else if (r && r.errorCode === ErrorCode.NONE) {
      assert.fail(`message ${JSON.stringify(message.toString('latin1').slice(0, 120))} logged in`);
    }
    c.write(RawClient.frame(ApiKey.Metadata, 1, { topics: [] }, 99));
    const served = await c.readFrame(2000).then((f) => f.readInt32BE(0) === 99, () => false);
    assert.equal(served, false, `message ${JSON.stringify(message.toString('latin1').slice(0, 120))} let the client in`);
    c.close();
  }
  // Still serving valid logins.
  const ok = await RawClient.connect(broker.ports.SASL_PLAINTEXT!);
  assert.equal((await firstMessage(ok, await token('alice'))).errorCode, ErrorCode.NONE);
  ok.close();
});
