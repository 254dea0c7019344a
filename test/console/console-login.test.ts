/**
 * The console of a secured broker (issue 18 with issue 16's security): an authorizer, a SASL_SSL listener
 * (TLS with a CA made by openssl) with PLAIN for admin (a super user), a SCRAM user alice created with
 * AlterUserScramCredentials. Driven in Debian's headless Chromium (playwright-core) and over its JSON API:
 * nothing without a login, a wrong password refused, alice without ACLs gets Kafka's authorization errors
 * (and a write she may read but not delete refused), admin deletes records and browses by timestamp.
 * Screenshots go to test-output/console/ (FLOE_CONSOLE_DOCS=1: also docs/console/).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AdminClient } from '../../src/client/admin-client.ts';
import { AclOperation, PatternType, PermissionType, ResourceType } from '../../src/security/authorizer.ts';
import { saltPassword, scramMechanism } from '../../src/security/sasl-server.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { makeCerts, type TestCerts } from '../helpers/certs.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const OUT = resolve(ROOT, 'test-output/console');
const DOCS = process.env.FLOE_CONSOLE_DOCS === '1' ? resolve(ROOT, 'docs/console') : null;
const BASE_TS = Date.UTC(2026, 0, 1, 12, 0, 0);

let certs: TestCerts;
let broker: TestBroker;
let browser: Browser;
let page: Page;
let base: string;
let admin: AdminClient;

before(async () => {
  certs = await makeCerts();
  broker = await startTestBroker({
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.brokerPem,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': certs.ca,
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-512',
    'listener.name.sasl_ssl.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";',
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:admin',
    'allow.everyone.if.no.acl.found': 'false',
    'console.listener': 'http://127.0.0.1:0',
    'console.write.enable': true,
  });
  base = `http://127.0.0.1:${broker.consolePort}`;
  admin = await AdminClient.connect(`127.0.0.1:${broker.ports.SASL_SSL}`, {
    security: { protocol: 'SASL_SSL', tls: { ca: await readFile(certs.ca, 'utf8'), checkHostname: true }, sasl: { mechanism: 'PLAIN', username: 'admin', password: 'admin-secret' } },
  });
  const m = scramMechanism('SCRAM-SHA-512')!;
  const salt = Buffer.from('alice-salt');
  await admin.alterScramCredentials([{ user: 'alice', mechanism: m.code, iterations: 4096, salt, saltedPassword: saltPassword(m, 'alice-secret', salt, 4096) }], []);
  await admin.createTopic('orders', 1, -1, {});
  // ten records one second apart, from a real client (kafkajs over SASL_SSL as admin)
  const kafka = new Kafka({ clientId: 'console-login-test', brokers: [`127.0.0.1:${broker.ports.SASL_SSL}`], logLevel: logLevel.NOTHING,
    ssl: { ca: [await readFile(certs.ca, 'utf8')] }, sasl: { mechanism: 'plain', username: 'admin', password: 'admin-secret' } });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'orders', acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: `order-${i}`, value: `{"id":${i}}`, timestamp: String(BASE_TS + i * 1000) })) });
  await producer.disconnect();

  await mkdir(OUT, { recursive: true });
  if (DOCS) await mkdir(DOCS, { recursive: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.on('dialog', (d) => void d.accept());
});

after(async () => {
  admin?.close();
  await browser?.close();
});

/** Opens a view (the same URL again: a reload, since an unchanged hash draws nothing) and waits for `text`. */
async function open(hash: string, text: string | RegExp): Promise<void> {
  const url = `${base}/#${hash}`;
  if (page.url().startsWith(base)) await page.evaluate(() => { document.body.dataset.loaded = ''; });
  if (page.url() === url) await page.reload();
  else await page.goto(url);
  await page.waitForFunction((h) => document.body.dataset.loaded === h, `#${hash}`, { timeout: 30_000 });
  await page.getByText(text).first().waitFor({ timeout: 30_000 });
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: resolve(OUT, `${name}.png`), fullPage: true });
  if (DOCS) await page.screenshot({ path: resolve(DOCS, `${name}.png`), fullPage: true });
}

async function login(user: string, password: string): Promise<void> {
  await page.locator('#login input[name=user]').fill(user);
  await page.locator('#login input[name=password]').fill(password);
  await page.locator('#login button').click();
}

/** The API with a session cookie: logs in and returns a fetch that sends it. */
async function apiAs(user: string, password: string): Promise<(path: string, init?: RequestInit) => Promise<Response>> {
  const res = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
  assert.equal(res.status, 200, await res.clone().text());
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  return (path, init = {}) => fetch(`${base}/api/${path}`, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), cookie, 'content-type': 'application/json' } });
}

test('the API answers 401 without a session; a wrong password or an unknown user is refused; the cookie is HttpOnly and SameSite=Strict', async () => {
  assert.deepEqual(await (await fetch(`${base}/api/session`)).json(), { authRequired: true, user: null, canLogin: true });
  for (const path of ['cluster', 'topics', 'topics/orders/messages?partition=0', 'objects']) assert.equal((await fetch(`${base}/api/${path}`)).status, 401, path);
  assert.equal((await fetch(`${base}/api/topics`, { method: 'POST', body: '{"name":"x"}' })).status, 401);
  for (const [user, password] of [['alice', 'wrong'], ['admin', 'wrong'], ['nobody', 'x']]) {
    const r = await fetch(`${base}/api/login`, { method: 'POST', body: JSON.stringify({ user, password }) });
    assert.equal(r.status, 401, `${user}`);
    assert.equal(((await r.json()) as { error: string }).error, 'Authentication failed: Invalid username or password');
    assert.equal(r.headers.get('set-cookie'), null);
  }
  // password guessing in parallel: at most 4 logins run at once, the rest answer 429
  const burst = await Promise.all(Array.from({ length: 16 }, (_, i) => fetch(`${base}/api/login`, { method: 'POST', body: JSON.stringify({ user: 'admin', password: `guess-${i}` }) })));
  const statuses = burst.map((r) => r.status);
  assert.ok(statuses.every((s) => s === 401 || s === 429), String(statuses));
  assert.ok(statuses.filter((s) => s === 429).length >= 1 && statuses.filter((s) => s === 401).length >= 1, String(statuses));
  const ok = await fetch(`${base}/api/login`, { method: 'POST', body: JSON.stringify({ user: 'alice', password: 'alice-secret' }) });
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get('set-cookie')!, /^floe_console_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/$/);
  const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
  assert.deepEqual(await (await fetch(`${base}/api/session`, { headers: { cookie } })).json(), { authRequired: true, user: 'alice', canLogin: true });
  await fetch(`${base}/api/logout`, { method: 'POST', headers: { cookie } });
  assert.equal((await fetch(`${base}/api/topics`, { headers: { cookie } })).status, 401, 'logged out');
});

test('in Chromium: the login form, a wrong password refused, alice without ACLs sees authorization errors', async () => {
  await open('/topics', 'Log in');
  await shot('login');
  await login('alice', 'not-her-password');
  await page.locator('[data-testid=login-error]').waitFor({ timeout: 30_000 });
  assert.match(await page.locator('[data-testid=login-error]').innerText(), /Invalid username or password/);

  await login('alice', 'alice-secret');
  await page.locator('[data-testid=user]').waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('[data-testid=user]').innerText(), 'alice');
  // Metadata hides the topics alice may not describe: an empty list, not an error (as Kafka)
  await open('/topics', 'Topics (0)');
  await open('/topics/orders', /TOPIC_AUTHORIZATION_FAILED/);
  await shot('authorization-error');
  await open('/objects', /CLUSTER_AUTHORIZATION_FAILED/);
  await open('/topics/orders/messages?partition=0&offset=0', /TOPIC_AUTHORIZATION_FAILED/);
});

test('alice with READ on the topic browses messages but cannot delete records (DeleteRecords needs DELETE)', async () => {
  await admin.createAcls([AclOperation.READ].map((operation) => ({ resourceType: ResourceType.TOPIC, resourceName: 'orders', patternType: PatternType.LITERAL, principal: 'User:alice', host: '*', operation, permissionType: PermissionType.ALLOW })));
  const alice = await apiAs('alice', 'alice-secret');
  const messages = (await (await alice('topics/orders/messages?partition=0&offset=0')).json()) as { records: { offset: number }[] };
  assert.equal(messages.records.length, 10);
  const del = await alice('topics/orders/delete-records', { method: 'POST', body: JSON.stringify({ partition: 0, offset: 3 }) });
  assert.equal(del.status, 403);
  assert.match(((await del.json()) as { error: string }).error, /TOPIC_AUTHORIZATION_FAILED/);
  const create = await alice('topics', { method: 'POST', body: JSON.stringify({ name: 'alice-topic', partitions: 1 }) });
  assert.equal(create.status, 403);
  assert.match(((await create.json()) as { error: string }).error, /TOPIC_AUTHORIZATION_FAILED/);
  assert.equal((await alice('cost')).status, 403);
});

test('admin (a super user) browses by timestamp and deletes records in the browser', async () => {
  await page.locator('#logout').click();
  await page.locator('#login').waitFor({ timeout: 30_000 });
  await login('admin', 'admin-secret');
  await page.locator('[data-testid=user]', { hasText: 'admin' }).waitFor({ timeout: 30_000 });

  // ListOffsets by timestamp: the first record at or after BASE_TS + 4.5 s is offset 5
  await open(`/topics/orders/messages?partition=0&timestamp=${BASE_TS + 4500}&as=json`, 'Messages of orders');
  const rows = page.locator('[data-testid=messages] tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 5);
  assert.match(await rows.first().innerText(), /^5\s+2026-01-01T12:00:05\.000Z\s+order-5/);
  assert.match(await page.locator('main p').first().innerText(), /showing 5 from 5 \(the first at or after 2026-01-01T12:00:04\.500Z\)/);
  await shot('messages-by-time');
  // the form's time field sends the same query
  await page.locator('#browse input[name=offset]').fill('');
  await page.locator('#browse input[name=timestamp]').fill(await page.evaluate((ms) => { const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000); return d.toISOString().slice(0, 19); }, BASE_TS + 8000));
  await page.evaluate(() => { document.body.dataset.loaded = ''; });
  await page.locator('#browse button').click();
  await page.waitForFunction(() => document.body.dataset.loaded?.includes('timestamp='), undefined, { timeout: 30_000 });
  assert.match(await page.locator('[data-testid=messages] tbody tr').first().innerText(), /^8\s/);
  // past the last record: nothing to show
  const admin2 = await apiAs('admin', 'admin-secret');
  const late = (await (await admin2(`topics/orders/messages?partition=0&timestamp=${new Date(BASE_TS + 60_000).toISOString()}`)).json()) as { from: number; records: unknown[] };
  assert.deepEqual([late.from, late.records.length], [10, 0]);

  // delete records before offset 4 with the topic page's form
  await open('/topics/orders', 'Delete records');
  await page.locator('#delete-records input[name=offset]').fill('4');
  await page.locator('#delete-records button').click();
  await page.locator('[data-testid=action-result]', { hasText: 'now starts at offset 4' }).waitFor({ timeout: 30_000 });
  assert.match(await page.locator('[data-testid=partitions] tbody tr').first().innerText(), /^0\s+\d+\s+\d+\s+\d+\s+4\s+10\s+6$/);
  await shot('delete-records');
  const low = await admin.listOffsets(await admin.topic('orders'), -2n);
  assert.equal(low.get(0), 4n, 'ListOffsets earliest after DeleteRecords');
  const bad = await admin2('topics/orders/delete-records', { method: 'POST', body: JSON.stringify({ partition: 0, offset: 99 }) });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /OFFSET_OUT_OF_RANGE/);
});
