/**
 * The SASL exchange under abuse and over time (issue 16): truncated, garbled and absurd tokens (PLAIN and
 * SCRAM, through SaslAuthenticate and as raw v0 tokens) never crash the broker nor let a client in; the
 * SCRAM exchange itself against an independent client computation (RFC 5802/7677); re-authentication
 * (KIP-368): the session lifetime is announced, an expired session is closed at its next request, a
 * re-authentication keeps it, and a re-authentication as someone else is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { mulberry32 } from '../helpers/random.ts';
import { sleep } from '../helpers/wait.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { saltPassword, scramMechanism } from '../../src/security/sasl-server.ts';

let broker: TestBroker;
let port: number;

async function addUser(user: string, password: string, mech: 'SCRAM-SHA-256' | 'SCRAM-SHA-512'): Promise<void> {
  const m = scramMechanism(mech)!;
  const salt = randomBytes(16);
  const c = await RawClient.connect(broker.ports.PLAINTEXT!);
  const r = await c.request(ApiKey.AlterUserScramCredentials, 0, { deletions: [], upsertions: [{ name: user, mechanism: m.code, iterations: 4096, salt, saltedPassword: saltPassword(m, password, salt, 4096) }] });
  assert.equal(r.results[0].errorCode, 0);
  c.close();
}

/** A SCRAM client computed from RFC 5802 here (not the broker's code). */
async function scramLogin(c: RawClient, user: string, password: string, hash: 'sha256' | 'sha512'): Promise<any> {
  const mech = hash === 'sha256' ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512';
  assert.equal((await c.request(ApiKey.SaslHandshake, 1, { mechanism: mech })).errorCode, 0);
  const cnonce = randomBytes(18).toString('base64');
  const first = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${cnonce}`;
  const r1 = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from(`n,,${first}`) });
  if (r1.errorCode !== 0) return r1;
  const serverFirst = r1.authBytes.toString();
  const f = Object.fromEntries(serverFirst.split(',').map((kv: string) => [kv[0], kv.slice(2)]));
  assert.ok(f.r.startsWith(cnonce));
  const salted = pbkdf2Sync(password, Buffer.from(f.s, 'base64'), Number(f.i), hash === 'sha256' ? 32 : 64, hash);
  const clientKey = createHmac(hash, salted).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const finalNoProof = `c=biws,r=${f.r}`;
  const authMessage = `${first},${serverFirst},${finalNoProof}`;
  const sig = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
  const r2 = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from(`${finalNoProof},p=${proof.toString('base64')}`) });
  if (r2.errorCode === 0) {
    const serverKey = createHmac(hash, salted).update('Server Key').digest();
    assert.equal(r2.authBytes.toString(), `v=${createHmac(hash, serverKey).update(authMessage).digest('base64')}`, 'the server proves it knows the credential');
  }
  return r2;
}

test('setup', async () => {
  broker = await startTestBroker({
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";',
    'connection.failed.authentication.delay.ms': 0,
    'connections.max.reauth.ms': 2000,
  });
  port = broker.ports.SASL_PLAINTEXT!;
  await addUser('alice', 'alice-secret', 'SCRAM-SHA-256');
  await addUser('we,ird=name', 'pw', 'SCRAM-SHA-512');
});

test('SCRAM against an independent client: right password in (also an escaped user name), wrong one out', async () => {
  for (const [user, pw, hash] of [['alice', 'alice-secret', 'sha256'], ['we,ird=name', 'pw', 'sha512']] as const) {
    const c = await RawClient.connect(port);
    const ok = await scramLogin(c, user, pw, hash);
    assert.equal(ok.errorCode, 0, ok.errorMessage);
    assert.equal(ok.sessionLifetimeMs, 2000n);
    assert.equal((await c.request(ApiKey.Metadata, 1, { topics: [] })).brokers.length, 1);
    c.close();
  }
  const bad = await RawClient.connect(port);
  const r = await scramLogin(bad, 'alice', 'nope', 'sha256');
  assert.equal(r.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
  assert.equal(await bad.expectClosed(), true);
  const unknown = await RawClient.connect(port);
  assert.equal((await scramLogin(unknown, 'mallory', 'x', 'sha256')).errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
  assert.equal(await unknown.expectClosed(), true);
});

test('fuzz: 400 truncated, garbled and absurd tokens never crash the broker nor let a client in', async () => {
  const next = mulberry32(16);
  const rng = { int: (n: number) => Math.floor(next() * n) };
  const validFirst = Buffer.from('n,,n=alice,r=abcdefghijklmnop');
  const tokens = (): Buffer => {
    switch (rng.int(6)) {
      case 0: return randomBytes(rng.int(200));
      case 1: return validFirst.subarray(0, rng.int(validFirst.length));
      case 2: return Buffer.from(`\u0000admin\u0000${'x'.repeat(rng.int(50))}`);
      case 3: return Buffer.from(['', '\u0000', '\u0000\u0000', 'admin', '\u0000admin', 'a\u0000b\u0000c\u0000d'][rng.int(6)]!);
      case 4: return Buffer.from(`n,a=${'z'.repeat(rng.int(10))},n=alice,r=${'='.repeat(rng.int(5))},e=1`);
      default: return Buffer.from(`c=biws,r=${'q'.repeat(rng.int(30))},p=${randomBytes(rng.int(80)).toString('base64')}`);
    }
  };
  let answered = 0;
  for (let i = 0; i < 400; i++) {
    const c = await RawClient.connect(port);
    const mechanism = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'][rng.int(3)]!;
    const v0 = rng.int(2) === 0;
    await c.request(ApiKey.SaslHandshake, v0 ? 0 : 1, { mechanism });
    const token = tokens();
    if (v0) {
      const framed = Buffer.alloc(4 + token.length);
      framed.writeInt32BE(token.length, 0);
      token.copy(framed, 4);
      c.write(framed);
      try {
        const challenge = await c.readFrame(5000);
        if (challenge.length > 0) answered++;
      } catch { /* closed: refused */ }
    } else {
      const r = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: token }).catch(() => null);
      if (r && r.errorCode === 0) answered++;
    }
    // Whatever happened, a request now must not be served as an authenticated one.
    c.write(RawClient.frame(ApiKey.Metadata, 1, { topics: [] }, 99));
    const served = await c.readFrame(2000).then((f) => f.readInt32BE(0) === 99, () => false);
    assert.equal(served, false, `token ${JSON.stringify(token.toString('latin1'))} (${mechanism}, v${v0 ? 0 : 1}) let the client in`);
    c.close();
  }
  // A raw token larger than Kafka's 512 KiB cap closes the connection.
  const big = await RawClient.connect(port);
  await big.request(ApiKey.SaslHandshake, 0, { mechanism: 'PLAIN' });
  const head = Buffer.alloc(4);
  head.writeInt32BE(600 * 1024, 0);
  big.write(head);
  assert.equal(await big.expectClosed(), true);
  // Still alive and serving.
  const ok = await RawClient.connect(port);
  assert.equal((await ok.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' })).errorCode, 0);
  assert.equal((await ok.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\u0000admin\u0000admin-secret') })).errorCode, 0);
  ok.close();
  assert.ok(answered < 400);
});

test('re-authentication (KIP-368): an expired session is closed; a timely re-authentication keeps it; another principal is refused', async () => {
  const login = async (c: RawClient, user: string, pw: string) => {
    assert.equal((await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' })).errorCode, 0);
    return c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from(`\u0000${user}\u0000${pw}`) });
  };
  const expired = await RawClient.connect(port);
  assert.equal((await login(expired, 'admin', 'admin-secret')).sessionLifetimeMs, 2000n);
  await sleep(2500);
  expired.write(RawClient.frame(ApiKey.Metadata, 1, { topics: [] }, 5));
  assert.equal(await expired.expectClosed(), true);

  const kept = await RawClient.connect(port);
  await login(kept, 'admin', 'admin-secret');
  await sleep(1200);
  assert.equal((await login(kept, 'admin', 'admin-secret')).errorCode, 0);
  await sleep(1200);
  assert.equal((await kept.request(ApiKey.Metadata, 1, { topics: [] })).brokers.length, 1, 'served 2.4 s after the first login');
  kept.close();

  await addUser('bob', 'bob-secret', 'SCRAM-SHA-256');
  const other = await RawClient.connect(port);
  await login(other, 'admin', 'admin-secret');
  const r = await scramLogin(other, 'bob', 'bob-secret', 'sha256');
  assert.equal(r.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
  assert.match(r.errorMessage, /Cannot change principals during re-authentication/);
  assert.equal(await other.expectClosed(), true);
});
