/**
 * Produce latency, acks=all, of a classic topic next to a diskless one, in one broker run on the embedded
 * defaults (PGlite + folder object store, diskless.commit.interval.ms 250, classic flush.messages 1: every
 * acknowledged classic write is fsynced first). librdkafka (bench/latency_probe.py) sends one 100-byte message
 * every --interval-ms for --seconds to each topic in turn, linger.ms 0, and measures send → delivery report.
 *
 *   npx tsx bench/classic-vs-diskless.ts [--seconds 10] [--interval-ms 20] [--override key=value ...]
 *
 * Prints a table and one JSON line. Figures are for reading, not for asserting: the machine is shared.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    'interval-ms': { type: 'string', default: '20' },
    override: { type: 'string', multiple: true, default: [] },
  },
});

async function startBroker(dataDir: string): Promise<{ bootstrap: string; stop: () => Promise<void> }> {
  const args = [join(ROOT, 'bin/floe.js'), 'start', '--override', 'listeners=PLAINTEXT://127.0.0.1:0', '--override', `data.dir=${dataDir}`];
  for (const o of values.override!) args.push('--override', o);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const port = await new Promise<number>((res, rej) => {
    const on = (c: Buffer) => {
      text += c.toString();
      const m = /"port":(\d+)[^\n]*Floe broker started/.exec(text);
      if (m) res(Number(m[1]));
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', () => rej(new Error(text)));
  });
  return {
    bootstrap: `127.0.0.1:${port}`,
    stop: () => new Promise((res) => { child.on('exit', () => res()); child.kill('SIGTERM'); }),
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const dataDir = await mkdtemp(join(tmpdir(), 'floe-bench-'));
const broker = await startBroker(dataDir);
try {
  const admin = `from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": "${broker.bootstrap}"})
[f.result(30) for f in a.create_topics([
  NewTopic("lat-diskless", num_partitions=1, replication_factor=1, config={"diskless.enable": "true"}),
  NewTopic("lat-classic", num_partitions=1, replication_factor=1, config={"diskless.enable": "false"}),
]).values()]`;
  await run('/usr/bin/python3', ['-c', admin]);

  const rows: { topic: string; n: number; p50: number; p99: number; p999: number; mean: number; max: number }[] = [];
  for (const topic of ['lat-classic', 'lat-diskless']) {
    const { stdout } = await run('/usr/bin/python3', [join(ROOT, 'bench/latency_probe.py'), broker.bootstrap, topic, values.seconds!, values['interval-ms']!], { maxBuffer: 1 << 24 });
    const l = (JSON.parse(stdout) as number[]).sort((a, b) => a - b);
    rows.push({
      topic, n: l.length, p50: percentile(l, 50), p99: percentile(l, 99), p999: percentile(l, 99.9),
      mean: l.reduce((s, x) => s + x, 0) / l.length, max: l[l.length - 1]!,
    });
  }
  const f = (x: number) => x.toFixed(2).padStart(9);
  console.log(`produce latency, acks=all, one 100-byte message every ${values['interval-ms']} ms for ${values.seconds} s per topic (ms)`);
  console.log('topic          samples       p50       p99     p99.9      mean       max');
  for (const r of rows) console.log(`${r.topic.padEnd(14)} ${String(r.n).padStart(7)} ${f(r.p50)} ${f(r.p99)} ${f(r.p999)} ${f(r.mean)} ${f(r.max)}`);
  console.log(JSON.stringify({ bench: 'classic-vs-diskless', seconds: Number(values.seconds), intervalMs: Number(values['interval-ms']), overrides: values.override, results: rows }));
} finally {
  await broker.stop();
  await rm(dataDir, { recursive: true, force: true });
}
