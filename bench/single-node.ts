/**
 * Single-node figures with kcat and librdkafka, on the embedded defaults (PGlite + folder, 250 ms commit
 * interval): produce and consume throughput, produce latency percentiles, objects written per second.
 *
 *   npx tsx bench/single-node.ts [--messages 1000000] [--size 100] [--latency-seconds 10]
 *
 * Prints a table and one JSON line. Figures are for reading, not for asserting: the machine is shared.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    size: { type: 'string', default: '100' },
    'latency-seconds': { type: 'string', default: '10' },
    partitions: { type: 'string', default: '6' },
  },
});
const MESSAGES = Number(values.messages);
const SIZE = Number(values.size);
const LATENCY_SECONDS = Number(values['latency-seconds']);

async function startBroker(dataDir: string): Promise<{ bootstrap: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/floe.js'), 'start', '--override', 'listeners=PLAINTEXT://127.0.0.1:0', '--override', `data.dir=${dataDir}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
const countObjects = async (dir: string) =>
  (await readdir(join(dir, 'objects'), { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) => e.isFile()).length;

const dataDir = await mkdtemp(join(tmpdir(), 'floe-bench-'));
const broker = await startBroker(dataDir);
try {
  const input = join(dataDir, 'input.txt');
  const value = 'v'.repeat(SIZE);
  await writeFile(input, Array.from({ length: MESSAGES }, (_, i) => `k${i % 1000}:${value}`).join('\n') + '\n');
  const admin = `from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": "${broker.bootstrap}"})
[f.result(30) for f in a.create_topics([NewTopic("bench", num_partitions=${values.partitions}, replication_factor=1), NewTopic("latency", num_partitions=1, replication_factor=1)]).values()]`;
  await run('/usr/bin/python3', ['-c', admin]);

  const objectsBefore = await countObjects(dataDir);
  let t = performance.now();
  await run('kcat', ['-b', broker.bootstrap, '-t', 'bench', '-P', '-K:', '-X', 'acks=all', '-X', 'linger.ms=5', '-l', input], { maxBuffer: 1 << 26 });
  const produceSeconds = (performance.now() - t) / 1000;
  const objectsWritten = (await countObjects(dataDir)) - objectsBefore;

  t = performance.now();
  const { stdout } = await run('kcat', ['-b', broker.bootstrap, '-t', 'bench', '-C', '-e', '-o', 'beginning', '-q', '-f', '%o\n'], { maxBuffer: 1 << 30 });
  const consumeSeconds = (performance.now() - t) / 1000;
  const consumed = stdout.split('\n').filter(Boolean).length;
  if (consumed !== MESSAGES) throw new Error(`consumed ${consumed} of ${MESSAGES}`);

  const { stdout: lat } = await run('/usr/bin/python3', [join(ROOT, 'bench/latency_probe.py'), broker.bootstrap, 'latency', String(LATENCY_SECONDS), '20'], { maxBuffer: 1 << 24 });
  const latencies = (JSON.parse(lat) as number[]).sort((a, b) => a - b);

  const bytes = MESSAGES * SIZE;
  const figures = {
    messages: MESSAGES,
    valueBytes: SIZE,
    produceMsgPerSec: Math.round(MESSAGES / produceSeconds),
    produceMBPerSec: +(bytes / produceSeconds / 1e6).toFixed(1),
    consumeMsgPerSec: Math.round(MESSAGES / consumeSeconds),
    consumeMBPerSec: +(bytes / consumeSeconds / 1e6).toFixed(1),
    objectsPerSecondDuringProduce: +(objectsWritten / produceSeconds).toFixed(2),
    objectsWritten,
    produceLatencyMs: { samples: latencies.length, p50: +percentile(latencies, 50).toFixed(1), p99: +percentile(latencies, 99).toFixed(1), max: +latencies[latencies.length - 1]!.toFixed(1) },
  };
  console.log(`kcat -P ${MESSAGES} × ${SIZE} B (acks=all): ${figures.produceMsgPerSec} msg/s, ${figures.produceMBPerSec} MB/s, ${objectsWritten} objects (${figures.objectsPerSecondDuringProduce}/s)`);
  console.log(`kcat -C -e: ${figures.consumeMsgPerSec} msg/s, ${figures.consumeMBPerSec} MB/s`);
  console.log(`produce latency, 1 msg / 20 ms, acks=all, default 250 ms interval: p50 ${figures.produceLatencyMs.p50} ms, p99 ${figures.produceLatencyMs.p99} ms (${latencies.length} samples)`);
  console.log(JSON.stringify(figures));
} finally {
  await broker.stop();
  await rm(dataDir, { recursive: true, force: true });
}
