/**
 * The web console driven in Debian's headless Chromium (playwright-core, /usr/bin/chromium, installed by
 * scripts/test.sh): a broker with console.listener set, kcat producing JSON and headers, a kafkajs group
 * consuming; each view must show what the clients just did (the topic, its messages decoded, the group's
 * lag going to zero, the broker, objects, cost). Screenshots go to test-output/console/ (FLOE_CONSOLE_DOCS=1
 * also writes them to docs/console/). The read-only default refuses writes.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { kafkajs } from '../helpers/kafkajs.ts';
import { kcatProduce } from '../helpers/kcat.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const OUT = resolve(ROOT, 'test-output/console');
const DOCS = process.env.FLOE_CONSOLE_DOCS === '1' ? resolve(ROOT, 'docs/console') : null;

let broker: TestBroker;
let browser: Browser;
let page: Page;
let base: string;

before(async () => {
  broker = await startTestBroker({ 'console.listener': 'http://127.0.0.1:0' });
  assert.ok(broker.consolePort, 'the console listens');
  base = `http://127.0.0.1:${broker.consolePort}`;
  await mkdir(OUT, { recursive: true });
  if (DOCS) await mkdir(DOCS, { recursive: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
});

after(async () => {
  await browser?.close();
});

/** Opens a view and waits for it to be drawn (a hash change re-renders the same page) and to show `text`. */
async function open(hash: string, text: string | RegExp): Promise<void> {
  if (page.url().startsWith(base)) await page.evaluate(() => { document.body.dataset.loaded = ''; });
  await page.goto(`${base}/#${hash}`);
  await page.waitForFunction((h) => document.body.dataset.loaded === h, `#${hash}`, { timeout: 30_000 });
  await page.getByText(text).first().waitFor({ timeout: 30_000 });
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: resolve(OUT, `${name}.png`), fullPage: true });
  if (DOCS) await page.screenshot({ path: resolve(DOCS, `${name}.png`), fullPage: true });
}

test('each view shows what kcat produced and a kafkajs group consumed', async () => {
  const lines = Array.from({ length: 12 }, (_, i) => `order-${i}:{"id":${i},"item":"widget-${i}"}`);
  await kcatProduce(broker.bootstrap, 'orders', lines, ['-p', '0', '-H', 'source=console-test']);

  // brokers
  await open('/brokers', 'Brokers');
  await page.locator('[data-testid=brokers] tbody tr').first().waitFor();
  const brokerRow = await page.locator('[data-testid=brokers] tbody tr').first().innerText();
  assert.match(brokerRow, new RegExp(`\\b${broker.port}\\b`));
  await page.getByText('Bytes in:').waitFor({ timeout: 30_000 }); // the live chart after two samples
  await shot('brokers');

  // topics: the topic kcat created, diskless, 1 partition, a size
  await open('/topics', 'orders');
  const row = await page.locator('[data-testid=topics] tr', { hasText: 'orders' }).innerText();
  assert.match(row, /orders\s+diskless\s+1\s+[\d.]+ (B|KiB)/);
  await shot('topics');

  await open('/topics/orders', 'Configs');
  assert.match(await page.locator('[data-testid=partitions] tbody tr').first().innerText(), /^0\s+\d+\s+\d+\s+\d+\s+0\s+12\s+12$/);
  await shot('topic');

  // messages: JSON decoded, header shown, hex view
  await open('/topics/orders/messages?partition=0&offset=0&as=json', 'Messages of orders');
  const rows = page.locator('[data-testid=messages] tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 12);
  const first = await rows.first().innerText();
  assert.match(first, /order-0/);
  assert.match(first, /"item": "widget-0"/);
  assert.match(first, /source:\s+console-test/);
  await shot('messages');
  await open('/topics/orders/messages?partition=0&offset=5&as=hex', 'Messages of orders');
  assert.match(await page.locator('[data-testid=messages] tbody tr').first().innerText(), /^5\s[\s\S]*6f 72 64 65 72 2d 35/); // "order-5"

  // groups: a kafkajs group consumes; lag goes to zero on the page
  const consumer = kafkajs(broker.bootstrap, 'console-test-consumer').consumer({ groupId: 'console-group', sessionTimeout: 10_000, heartbeatInterval: 500 });
  let seen = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: 'orders', fromBeginning: true });
  await consumer.run({ autoCommitInterval: 100, eachMessage: async () => { seen++; } });
  try {
    await waitFor('12 consumed', () => seen >= 12, { timeoutMs: 60_000 });
    await open('/groups', 'console-group');
    assert.match(await page.locator('[data-testid=groups] tr', { hasText: 'console-group' }).innerText(), /Stable/);
    await shot('groups');
    await open('/groups/console-group', 'Total lag');
    await waitFor('lag 0 on the page', async () => (await page.locator('[data-testid=total-lag]').innerText()) === '0' &&
      /orders\s+0\s+12\s+12\s+0\s+console-test-consumer/.test(await page.locator('[data-testid=group-partitions] tbody').innerText()), { timeoutMs: 60_000, intervalMs: 500 });
    assert.match(await page.locator('[data-testid=members]').innerText(), /orders: 0/);
    await shot('group');
  } finally {
    await consumer.disconnect();
  }

  // objects: the upload(s) of the produce, with a histogram
  await open('/objects', 'Size histogram');
  const objects = Number(await page.locator('[data-testid=object-count]').innerText());
  assert.ok(objects >= 1);
  assert.equal(await page.locator('[data-testid=objects] tbody tr').count(), objects);
  await shot('objects');

  // cost: at least one PUT counted
  await open('/cost', 'PUT and LIST requests');
  const puts = Number((await page.locator('[data-testid=cost] tr', { hasText: 'PUT and LIST' }).innerText()).split(/\s+/).find((x) => /^\d+$/.test(x)));
  assert.ok(puts >= 1, `PUTs: ${puts}`);
  await shot('cost');
});

test('read-only by default: writes answer 403, reads of unknown things 4xx with Kafka error names', async () => {
  const create = await fetch(`${base}/api/topics`, { method: 'POST', body: JSON.stringify({ name: 'nope', partitions: 1 }) });
  assert.equal(create.status, 403);
  assert.match(((await create.json()) as { error: string }).error, /console\.write\.enable/);
  assert.equal((await fetch(`${base}/api/topics/orders`, { method: 'DELETE' })).status, 403);
  const unknown = await fetch(`${base}/api/topics/no-such-topic`);
  assert.equal(unknown.status, 400);
  assert.match(((await unknown.json()) as { error: string }).error, /UNKNOWN_TOPIC_OR_PARTITION/);
  assert.equal((await fetch(`${base}/api/nothing`)).status, 404);
  await open('/topics', 'Topics');
  assert.equal(await page.locator('#create').count(), 0, 'no create form when read-only');
});

test('with console.write.enable the API creates, alters and deletes a topic and resets a group\'s offsets', async () => {
  const rw = await startTestBroker({ 'console.listener': 'http://127.0.0.1:0', 'console.write.enable': true });
  const url = `http://127.0.0.1:${rw.consolePort}/api`;
  const post = (path: string, body: unknown) => fetch(`${url}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const created = await post('topics', { name: 'rw-topic', partitions: 2, configs: { 'retention.ms': '3600000' } });
  assert.equal(created.status, 200, await created.clone().text());
  const topic = (await (await fetch(`${url}/topics/rw-topic`)).json()) as { partitions: unknown[]; configs: { name: string; value: string }[] };
  assert.equal(topic.partitions.length, 2);
  assert.equal(topic.configs.find((c) => c.name === 'retention.ms')?.value, '3600000');
  const dup = await post('topics', { name: 'rw-topic', partitions: 2 });
  assert.equal(dup.status, 400);
  assert.match(((await dup.json()) as { error: string }).error, /TOPIC_ALREADY_EXISTS/);

  assert.equal((await post('topics/rw-topic/configs', { set: { 'retention.ms': '7200000' } })).status, 200);
  const altered = (await (await fetch(`${url}/topics/rw-topic`)).json()) as { configs: { name: string; value: string }[] };
  assert.equal(altered.configs.find((c) => c.name === 'retention.ms')?.value, '7200000');

  await kcatProduce(rw.bootstrap, 'rw-topic', ['a:1', 'b:2', 'c:3'], ['-p', '1']);
  const reset = await post('groups/rw-group/reset-offsets', { topic: 'rw-topic', to: 'latest' });
  assert.equal(reset.status, 200, await reset.clone().text());
  const group = (await (await fetch(`${url}/groups/rw-group`)).json()) as { partitions: { partition: number; currentOffset: number; lag: number }[] };
  assert.deepEqual(group.partitions.map((p) => [p.partition, p.currentOffset, p.lag]), [[0, 0, 0], [1, 3, 0]]);

  assert.equal((await fetch(`${url}/topics/rw-topic`, { method: 'DELETE' })).status, 200);
  assert.equal((await fetch(`${url}/topics/rw-topic`)).status, 400);
});
