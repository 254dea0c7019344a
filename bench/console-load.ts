/**
 * The console's Topics page load time with N topics (default 1,000): starts a broker with console.listener,
 * creates the topics with one CreateTopics request, then loads #/topics in headless Chromium until the table
 * has every row, 5 times; prints the times. A figure, never asserted.
 *
 *   npx tsx bench/console-load.ts [N]
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { AdminClient } from '../src/client/admin-client.ts';
import { startBroker } from '../src/broker/broker.ts';
import { loadBrokerConfig } from '../src/config/broker-config.ts';

const n = Number(process.argv[2] ?? 1000);
const dir = await mkdtemp(join(tmpdir(), 'floe-console-load-'));
const loaded = loadBrokerConfig({ overrides: ['listeners=PLAINTEXT://127.0.0.1:0', `data.dir=${dir}`, 'console.listener=http://127.0.0.1:0'], env: {} });
const running = await startBroker(loaded.config, { loaded });
const admin = await AdminClient.connect(`127.0.0.1:${running.port}`, { timeoutMs: 300_000 });
const t0 = Date.now();
await Promise.all(Array.from({ length: n }, (_, i) => admin.createTopic(`load-${String(i).padStart(4, '0')}`, 1, -1, {})));
console.log(`created ${n} topics in ${Date.now() - t0} ms`);
admin.close();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
const page = await browser.newPage();
const times: number[] = [];
for (let i = 0; i < 5; i++) {
  const start = Date.now();
  await page.goto(`http://127.0.0.1:${running.consolePort}/#/topics`);
  await page.waitForFunction((count) => document.querySelectorAll('[data-testid=topics] tbody tr').length === count, n, { timeout: 120_000 });
  times.push(Date.now() - start);
  await page.goto('about:blank');
}
console.log(`Topics page with ${n} topics: ${times.join(', ')} ms (median ${[...times].sort((a, b) => a - b)[2]} ms)`);
await browser.close();
await running.close();
