/**
 * The bundle `npm start` runs (tools/build/bundle.mjs → dist/cli/floe.js), built and started like a user
 * does. Its network threads run a program written into a string from the modules' own text (a class's
 * `toString()`), which differs between the sources under tsx and the bundle: only a run of the bundle shows
 * that program still starts and reads.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { spawnBroker } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';

const ROOT = resolve(import.meta.dirname, '../..');

test('the bundle starts with num.network.threads=1 and stores and serves records of every size, small to 300 kB', async () => {
  await promisify(execFile)(process.execPath, [resolve(ROOT, 'tools/build/bundle.mjs')], { cwd: ROOT, timeout: 120_000 });
  const broker = await spawnBroker(await tempDir(), { 'num.network.threads': 1 }, 0, {}, 'dist/cli/floe.js');
  // Small records share reads of the thread's scratch buffer; the large ones are read into frames of their own.
  const lines = Array.from({ length: 400 }, (_, i) => `k${i}:${String(i).padEnd(i % 100 === 99 ? 300_000 : (i * 37) % 2_000, 'v')}`);
  await kcatProduce(broker.bootstrap, 'bundled', lines);
  const read = await kcatConsume(broker.bootstrap, 'bundled', '%k:%s\\n');
  assert.equal(read.length, lines.length);
  assert.deepEqual(read.sort(), [...lines].sort(), 'every acknowledged record read back');
  assert.doesNotMatch(broker.output(), /network thread lost/);
  broker.child.kill('SIGTERM');
  assert.equal(await broker.exited, 0);
});
