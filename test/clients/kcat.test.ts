/**
 * kcat (librdkafka 2.0.2): the round trip — 100,000 messages with keys, values and headers per
 * compression type, produced with `kcat -P` and read back with `kcat -C -e`, for diskless topics and, in
 * the same broker, classic ones. Diskless bytes must live in objects under data.dir, classic bytes in the
 * partition logs under log.dirs, and neither anywhere else. FLOE_KCAT_MESSAGES overrides the count for
 * quick local runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestBroker } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { withClient } from '../helpers/raw-client.ts';
import { CLASSIC, createTopics } from '../helpers/topics.ts';

const COUNT = Number(process.env.FLOE_KCAT_MESSAGES ?? 100_000);

async function filesUnder(dir: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath ?? (entry as any).path, entry.name);
    out.push({ path, size: (await stat(path)).size });
  }
  return out;
}

test(`kcat: -P then -C -e round-trips ${COUNT} messages with keys and headers, for each compression type`, async () => {
  const broker = await startTestBroker({ 'num.partitions': 3 });
  const lines: string[] = [];
  for (let i = 0; i < COUNT; i++) lines.push(`key-${i % 1000}:value-${i}-${'x'.repeat(i % 50)}`);

  const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
  await withClient(broker.port, (admin) => createTopics(admin, codecs.map((codec) => ({ name: `kcat-classic-${codec}`, partitions: 3, configs: CLASSIC }))));

  for (const [codec, topic, header] of codecs.flatMap((c) => [[c, `kcat-${c}`, `codec=${c}`], [c, `kcat-classic-${c}`, `codec=${c}-classic`]])) {
    await kcatProduce(broker.bootstrap, topic!, lines, ['-H', header!, '-z', codec!]);
    const rows = (await kcatConsume(broker.bootstrap, topic!, '%p\t%o\t%k\t%s\t%h\n')).map((l) => l.split('\t'));
    assert.equal(rows.length, COUNT, `${codec}: every message comes back`);
    const lastOffset = new Map<string, number>();
    const lastIndex = new Map<string, number>();
    const seen = new Set<number>();
    for (const [p, o, k, v, h] of rows) {
      const i = Number(v!.split('-')[1]);
      assert.equal(v, `value-${i}-${'x'.repeat(i % 50)}`);
      assert.equal(k, `key-${i % 1000}`);
      assert.equal(h, header);
      assert.equal(Number(o), (lastOffset.get(p!) ?? -1) + 1, `${codec}: partition ${p} offsets contiguous from 0`);
      assert.ok(i > (lastIndex.get(p!) ?? -1), `${codec}: partition ${p} keeps produced order`);
      lastOffset.set(p!, Number(o));
      lastIndex.set(p!, i);
      seen.add(i);
    }
    assert.equal(seen.size, COUNT);
  }

  // Diskless data lives in objects, classic data in the classic topics' partition logs, and nothing else
  // holds partition data anywhere under data.dir.
  const objects = await filesUnder(join(broker.dataDir, 'objects'));
  const objectBytes = objects.reduce((s, f) => s + f.size, 0);
  assert.ok(objects.length > 0 && objectBytes > COUNT * 5, `objects hold the data (${objects.length} objects, ${objectBytes} bytes)`);
  const logs = (await filesUnder(join(broker.dataDir, 'logs'))).filter((f) => f.path.endsWith('.log'));
  const logBytes = logs.reduce((s, f) => s + f.size, 0);
  assert.ok(logBytes > COUNT * 5, `the classic logs hold the classic data (${logBytes} bytes)`);
  for (const f of logs) assert.match(f.path, /\/logs\/kcat-classic-[a-z0-9]+-\d\/\d{20}\.log$/, 'only classic topics have logs');
  // Uncompressed records show their header values: classic ones never reach an object, diskless ones never a log.
  const objectText = (await Promise.all(objects.map((f) => readFile(f.path, 'latin1')))).join('');
  assert.ok(!objectText.includes('none-classic'), 'no classic record in any object');
  const logText = (await Promise.all(logs.map((f) => readFile(f.path, 'latin1')))).join('');
  assert.ok(logText.includes('none-classic') && !/codec\x08none(?!-)/.test(logText), 'no diskless record in any log');
  const elsewhere = (await filesUnder(broker.dataDir)).filter((f) => !['objects', 'coordinator', 'logs'].some((d) => f.path.startsWith(join(broker.dataDir, d))));
  assert.ok(elsewhere.every((f) => !/\.log$|\.index$/.test(f.path)), `no partition data elsewhere: ${elsewhere.map((f) => f.path).join(', ')}`);
});
