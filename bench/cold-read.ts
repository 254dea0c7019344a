/**
 * Cold reads A/B: one topic written once to PostgreSQL + s3rver (`s3-standard` latency profile), then read
 * from offset 0 by a lagging consumer (confluent-kafka, bench/loadgen.py) through a freshly started broker
 * (empty caches), alternately by two Floe checkouts, so both see the same data and the same machine load.
 *
 *   npx tsx bench/cold-read.ts --base /path/to/other/checkout [--rounds 3] [--seconds 8] [--partitions 8]
 *
 * Per read: MB/s, GETs, GETs per MB, $/GiB of GETs (S3 Standard GET $0.0004 per 1,000), fetches and
 * coordinator queries per fetch, broker CPU-s per GiB; then the median of each checkout. Without --base only this checkout runs.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startPostgres, startS3rver } from '../tools/dev/local-servers.ts';
import { consume, createTopics, produce } from './lib/loadgen.ts';
import { ROOT, startBroker } from './lib/procs.ts';
import { MetricsDelta } from './lib/prom.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    partitions: { type: 'string', default: '8' },
    size: { type: 'string', default: '1024' },
  },
});
const GET_PRICE_PER_1000 = 0.0004;
const partitions = Number(values.partitions);
const say = (s: string) => process.stderr.write(`[cold ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const work = await mkdtemp(join(tmpdir(), 'floe-cold-'));
const [pg, s3] = await Promise.all([startPostgres({ durable: true }), startS3rver()]);
await s3.createBucket('floe-cold');
const db = await pg.createDatabase('cold');
const overrides = {
  'diskless.coordinator.url': db,
  'diskless.object.store.url': 's3://floe-cold/run',
  'diskless.s3.endpoint': s3.endpoint,
  'diskless.s3.region': 'us-east-1',
  'diskless.s3.path.style.access': 'true',
  'diskless.s3.access.key.id': s3.accessKeyId,
  'diskless.s3.secret.access.key': s3.secretAccessKey,
  'diskless.object.store.latency.profile': 's3-standard',
  'diskless.object.store.fault.seed': 1,
  'diskless.merge.enable': 'false',
};

try {
  say('writing the topic');
  const writer = await startBroker({ name: 'writer', dataDir: join(work, 'w'), overrides, logFile: join(work, 'writer.log') });
  await createTopics(writer.bootstrap, [{ name: 'cold', partitions }]);
  const produced = await produce({ bootstrap: writer.bootstrap, topic: 'cold', seconds: Number(values.seconds), size: Number(values.size) });
  await writer.stop();
  const expect = produced.sent + produced.warmUp;
  say(`${expect} records written`);

  const variants = [{ name: 'this', root: ROOT }, ...(values.base ? [{ name: 'base', root: values.base }] : [])];
  const rows: Record<string, number[][]> = {};
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      const b = await startBroker({ name: `${v.name}-${round}`, root: v.root, dataDir: join(work, `${v.name}-${round}`), overrides, logFile: join(work, `${v.name}.log`) });
      const before = await b.metrics();
      const cpu0 = b.cpuSeconds();
      const r = await consume({ bootstrap: b.bootstrap, topic: 'cold', partitions, expect }).result;
      const m = new MetricsDelta(before, await b.metrics());
      const cpuPerGiB = (b.cpuSeconds() - cpu0) / (r.bytes / 2 ** 30);
      await b.stop();
      const gets = m.get('floe_objectstore_requests_total', { op: 'get' });
      const fetches = m.sum('kafka_network_requestmetrics_requests_total', { request: 'Fetch' });
      const queries = m.get('floe_fetch_coordinator_queries_total');
      const mb = r.bytes / 1e6;
      const row = [r.MBps ?? 0, gets, gets / mb, ((gets / (r.bytes / 2 ** 30)) * GET_PRICE_PER_1000) / 1000, fetches, queries / Math.max(1, fetches), cpuPerGiB];
      (rows[v.name] ??= []).push(row);
      const ahead = ['issued', 'skipped', 'wasted', 'promoted'].map((o) => `${o} ${m.get('floe_read_ahead_total', { outcome: o })}`).join(', ');
      const lagging = ['hit', 'miss'].map((o) => `${o} ${m.get('floe_lagging_reads_total', { outcome: o })}`).join(', ');
      if (v.root === ROOT) say(`${v.name}: read-ahead ${ahead}; lagging reads ${lagging}`);
      say(`${v.name}: ${row[0]!.toFixed(1)} MB/s, ${gets} GETs, ${row[2]!.toFixed(3)} GET/MB, $${row[3]!.toFixed(6)}/GiB, ${fetches} fetches, ${row[5]!.toFixed(3)} queries/fetch, ${cpuPerGiB.toFixed(2)} broker CPU-s/GiB`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write('checkout  MB/s (median)  GET/MB  $/GiB (GETs)  queries/fetch  broker CPU-s/GiB  runs MB/s\n');
  for (const [name, rs] of Object.entries(rows)) {
    const col = (i: number) => median(rs.map((r) => r[i]!));
    process.stdout.write(`${name.padEnd(8)}  ${col(0).toFixed(1).padStart(12)}  ${col(2).toFixed(3).padStart(6)}  ${col(3).toFixed(6).padStart(12)}  ${col(5).toFixed(3).padStart(13)}  ${col(6).toFixed(2).padStart(16)}  ${rs.map((r) => r[0]!.toFixed(1)).join(' / ')}\n`);
  }
} finally {
  await Promise.all([pg.destroy(), s3.destroy()]);
}
