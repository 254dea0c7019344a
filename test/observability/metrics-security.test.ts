/**
 * The /metrics endpoint over https (metrics.ssl.* PEM keys) behind HTTP basic authentication
 * (metrics.basic.auth.users), scraped with node's https client: the right user gets the metrics; no
 * credentials or a wrong password get 401 with a Basic challenge; a client that does not trust the CA, or
 * speaks plain http, gets nothing; an https listener without a key stops the broker from starting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { makeCerts, type TestCerts } from '../helpers/certs.ts';

let certs: TestCerts;
let broker: TestBroker;

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

async function scrape(opts: { ca: string; auth?: string; path?: string }): Promise<Answer> {
  const ca = await readFile(opts.ca);
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port: broker.metricsPort!, path: opts.path ?? '/metrics', method: 'GET', ca,
      headers: opts.auth ? { authorization: `Basic ${Buffer.from(opts.auth).toString('base64')}` } : {},
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

test('setup: a broker with an https metrics listener and basic authentication', async () => {
  certs = await makeCerts();
  broker = await startTestBroker({
    'metrics.listener': 'https://127.0.0.1:0',
    'metrics.ssl.keystore.location': certs.brokerPem,
    'metrics.basic.auth.users': 'prometheus:scrape-secret,ops:ops-secret',
  });
  assert.ok(broker.metricsPort);
});

test('the right user and password get the metrics over TLS', async () => {
  const r = await scrape({ ca: certs.ca, auth: 'prometheus:scrape-secret' });
  assert.equal(r.status, 200);
  assert.match(r.body, /^kafka_server_socketservermetrics_connection_count /m);
  assert.equal((await scrape({ ca: certs.ca, auth: 'ops:ops-secret' })).status, 200);
});

test('no credentials, a wrong password or an unknown user: 401 with a Basic challenge', async () => {
  for (const auth of [undefined, 'prometheus:wrong', 'nobody:scrape-secret', 'prometheus']) {
    const r = await scrape({ ca: certs.ca, ...(auth ? { auth } : {}) });
    assert.equal(r.status, 401, `auth ${auth}`);
    assert.match(String(r.headers['www-authenticate']), /^Basic realm="floe metrics"/);
    assert.doesNotMatch(r.body, /kafka_/);
  }
});

test('a client that does not trust the CA, or speaks plain http, gets nothing', async () => {
  await assert.rejects(scrape({ ca: certs.otherCa, auth: 'prometheus:scrape-secret' }), /certificate/i);
  const plain = await new Promise<string>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port: broker.metricsPort!, path: '/metrics' }, (res) => resolve(`status ${res.statusCode}`));
    req.on('error', (err) => resolve(`error ${err.message}`));
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
  assert.doesNotMatch(plain, /status 200/);
});

test('an https metrics listener without a key stops the broker from starting, naming the keys', async () => {
  await assert.rejects(startTestBroker({ 'metrics.listener': 'https://127.0.0.1:0' }), /metrics\.ssl\.keystore\.location/);
  await assert.rejects(startTestBroker({ 'metrics.listener': 'http://127.0.0.1:0', 'metrics.basic.auth.users': 'nopassword' }), /metrics\.basic\.auth\.users/);
});
