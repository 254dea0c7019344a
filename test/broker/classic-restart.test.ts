/**
 * Classic topics across a crash: kill -9 during heavy produce (six connections, acks=all), then a torn batch
 * added to the end of a partition's active segment, then a restart: every acknowledged record is at its
 * acknowledged offset, the torn tail is cut, offsets continue without a gap; a clean stop leaves nothing to
 * recover. (The unit test in test/storage/classic-log.test.ts cuts a segment mid-batch directly.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnBroker } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { fetchAll } from '../helpers/fetch.ts';
import { produce } from '../helpers/produce.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { buildRecordBatch } from '../helpers/record-batch.ts';
import { CLASSIC, createTopic } from '../helpers/topics.ts';
import { sleep } from '../helpers/wait.ts';

test('classic: after kill -9 during heavy produce, every acknowledged record is there, the torn tail is cut, offsets continue without a gap', async () => {
  const dir = await tempDir();
  const first = await spawnBroker(dir);
  const admin = await RawClient.connect(first.port);
  await createTopic(admin, 'crash-classic', 2, CLASSIC);
  admin.close();

  const acked = new Map<string, number>(); // partition/value → offset of the batch's first record
  let stop = false;
  const filler = 'f'.repeat(200);
  const producers = [0, 1, 2, 3, 4, 5].map(async (id) => {
    const c = await RawClient.connect(first.port);
    for (let i = 0; !stop; i++) {
      const partition = i % 2;
      const value = `p${id}-m${i}`;
      // 20 records per batch, each with a filler: heavy enough that writes are in flight when the kill lands.
      const values = Array.from({ length: 20 }, (_, k) => (k === 0 ? value : `${value}-${k}-${filler}`));
      try {
        const pr = await produce(c, 'crash-classic', partition, values, { timeoutMs: 5000 });
        if (pr.errorCode === 0) acked.set(`${partition}/${value}`, Number(pr.baseOffset));
      } catch {
        return; // the broker died under us
      }
    }
  });
  await sleep(1500);
  first.child.kill('SIGKILL');
  stop = true;
  await first.exited;
  await Promise.all(producers);
  assert.ok(acked.size > 20, `enough acknowledged writes before the crash (${acked.size})`);

  // Whatever the crash left, make sure partition 0 ends with a torn batch: the first 100 bytes of a valid one.
  const logDir = join(dir, 'logs', 'crash-classic-0');
  const segment = join(logDir, (await readdir(logDir)).filter((f) => f.endsWith('.log')).sort().at(-1)!);
  const torn = await buildRecordBatch({ baseOffset: 999_999n, records: [{ value: Buffer.from('torn'.repeat(100)) }] });
  await appendFile(segment, torn.subarray(0, 100));
  const tornSize = (await stat(segment)).size;

  const second = await spawnBroker(dir);
  assert.match(second.output(), /recovered a torn log tail/);
  assert.ok((await stat(segment)).size <= tornSize - 100, 'the torn tail was cut');
  const reader = await RawClient.connect(second.port);
  const stored = [await fetchAll(reader, 'crash-classic', 0), await fetchAll(reader, 'crash-classic', 1)];
  for (const [key, offset] of acked) {
    const [partition, value] = key.split('/') as [string, string];
    assert.equal(stored[Number(partition)]!.get(offset), value, `acknowledged ${value} at ${partition}@${offset}`);
  }
  for (const [p, partition] of stored.entries()) {
    const offsets = [...partition.keys()].sort((a, b) => a - b);
    assert.deepEqual(offsets, offsets.map((_, i) => i), 'offsets contiguous from 0 after restart');
    // The next append continues right after the last record kept.
    const r = await produce(reader, 'crash-classic', p, 'after-restart', { timeoutMs: 5000 });
    assert.equal(Number(r.baseOffset), offsets.length, `partition ${p}: no gap after the restart`);
  }
  reader.close();
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
});
