/**
 * The benchmark works end to end: `bench/run.ts --quick --scenarios folder` (the quick mode's smallest
 * scenario: one embedded broker, confluent-kafka as the client) runs, reads back everything it wrote,
 * measures idempotent and transactional produce and merging (reading everything again from the merged
 * objects), and writes its results. No figure is asserted: the machine
 * is shared and figures are for reading.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import type { BenchResults } from '../../bench/lib/report.ts';
import { tempDir } from '../helpers/cleanup.ts';

const ROOT = resolve(import.meta.dirname, '../..');

test('npm run bench -- --quick --scenarios folder runs end to end and checks what it read', { timeout: 300_000 }, async () => {
  const out = await tempDir('floe-bench-test-');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/run.ts'), '--quick', '--scenarios', 'folder', '--compaction-seconds', '0', '--out', out], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  assert.equal(code, 0, `bench failed:\n${output.slice(-5000)}`);

  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as BenchResults;
  assert.deepEqual(results.failures, []);
  const folder = results.backends.find((b) => b.id === 'folder');
  assert.ok(folder?.produce && folder.tailRead && folder.coldRead, 'every phase of the folder scenario ran');
  assert.ok(folder.produce.records > 0);
  // The broker's minor page faults per GiB, from /proc (a count: zero or more, never missing).
  assert.ok(typeof folder.produce.brokerKiloFaultsPerGiB === 'number' && folder.produce.brokerKiloFaultsPerGiB >= 0, 'page faults per GiB reported');
  assert.match(output, /k faults\/GiB/);
  // Every acknowledged record (plus the warm-up record) was read back, from the cache and after a restart.
  assert.equal(folder.tailRead.records, folder.produce.records + 1);
  assert.equal(folder.coldRead.records, folder.produce.records + 1);
  assert.ok(folder.latency.length > 0 && folder.latency.every((l) => l.produceMs !== null && l.e2eMs !== null));
  // Figures come from the broker's /metrics: its object store and coordinator counted the writes.
  assert.ok(folder.produce.requests.puts > 0 && folder.produce.requests.commits > 0);
  // Transactional produce beside idempotent: records/s at 10 and 1,000 records per transaction, commit latency.
  assert.deepEqual(folder.transactions.map((t) => [t.mode, t.recordsPerTransaction]), [['idempotent', null], ['transactional', 10], ['transactional', 1000]]);
  for (const t of folder.transactions) assert.ok(t.records > 0 && t.recordsPerSec > 0, `${t.mode} ${t.recordsPerTransaction}: records were produced`);
  for (const t of folder.transactions.filter((x) => x.mode === 'transactional')) {
    assert.ok(t.transactions! > 0 && t.records === t.transactions! * t.recordsPerTransaction!, 'whole transactions were committed');
    assert.ok(t.commitMs && t.commitMs.p50 > 0 && t.commitMs.p99 >= t.commitMs.p50, 'commit latency measured');
  }
  // Merging of the small objects, and the cold read again from the merged objects (the compaction phase is
  // left out here, for time: --compaction-seconds 0).
  assert.equal(folder.compaction, null);
  assert.ok(folder.merge?.done && folder.merge.objectsMerged > folder.merge.objectsWritten, 'small objects were merged into fewer');
  assert.equal(folder.coldReadMerged?.records, folder.produce.records + 1);
  assert.match(output, /Merging \(diskless\)/);
  assert.match(output, /Transactions: as fast as one producer goes[\s\S]*transactional, 10\/txn[\s\S]*transactional, 1000\/txn/);
  assert.ok(results.targets.length > 0);
  assert.match(readFileSync(join(out, 'chart.svg'), 'utf8'), /^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\s*$/);
  assert.ok(existsSync(join(out, 'logs', 'broker-folder.log')));
  assert.match(output, /Targets \(issue 8/);
});
