/**
 * The load generator (bench/loadgen.py, confluent-kafka on Debian's /usr/bin/python3) as child processes:
 * produce runs, consumers (started before a producer for tail reads, or after it for catch-up reads), and
 * topic creation. Every run has a deadline; a run that fails or whose records do not add up throws.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './procs.ts';

export const PYTHON = process.env.FLOE_BENCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = join(ROOT, 'bench/loadgen.py');

export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  'p99.9': number;
  max: number;
  mean: number;
}

export interface ProduceResult {
  sent: number;
  /** Records produced before the measurement (in the topic too). */
  warmUp: number;
  failed: number;
  bytes: number;
  seconds: number;
  produceCallSeconds: number;
  recordsPerSec: number;
  MBps: number;
  offeredRate: number;
  latencyMs: LatencySummary | null;
  /** The producer process's CPU time over `seconds` (librdkafka's threads included). */
  cpuSeconds?: number;
  clientErrors: string[];
  error?: string;
  /** Transactional runs (`transactionRecords`): committed transactions, their size, and latencies. */
  transactions?: number;
  recordsPerTransaction?: number;
  commitMs?: LatencySummary | null;
  transactionMs?: LatencySummary | null;
}

export interface ConsumeResult {
  records: number;
  expected: number;
  bytes: number;
  seconds: number;
  recordsPerSec: number | null;
  MBps: number | null;
  perPartition: number[];
  e2eMs: LatencySummary | null;
  /** The consumer process's CPU time over `seconds`. */
  cpuSeconds?: number | null;
  problems: string[];
  clientErrors: string[];
}

/** Checks that the client is there; throws with how to install it. */
export async function checkClient(): Promise<string> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: apt-get install -y python3-confluent-kafka`);
  const r = await runPython(['-c', 'import confluent_kafka as c; print("confluent-kafka %s, librdkafka %s" % (c.version()[0], c.libversion()[0]))'], 30);
  if (r.code !== 0) throw new Error(`confluent-kafka is not importable from ${PYTHON} (apt-get install -y python3-confluent-kafka):\n${r.stderr}`);
  return r.stdout.trim();
}

interface PyRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runPython(args: string[], timeoutSeconds: number, onChild?: (c: ChildProcess) => void): Promise<PyRun> {
  return new Promise((res, rej) => {
    const child = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    onChild?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`loadgen ${args.slice(0, 4).join(' ')} … did not finish in ${timeoutSeconds} s:\n${stderr.slice(-2000)}`));
    }, timeoutSeconds * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      rej(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

function lastJson<T>(run: PyRun, what: string): T {
  const line = run.stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (!line) throw new Error(`${what}: no result (exit ${run.code}):\n${run.stderr.slice(-3000)}`);
  return JSON.parse(line) as T;
}

function configArgs(config: Record<string, string | number> = {}): string[] {
  return Object.entries(config).flatMap(([k, v]) => ['--config', `${k}=${v}`]);
}

export interface ProduceOptions {
  bootstrap?: string;
  mock?: boolean;
  topic: string;
  seconds?: number;
  count?: number;
  size: number;
  /** Records/s; 0 = as fast as possible. */
  rate?: number;
  /** Before measuring, one record into each of partitions 0..prefill-1 (none is empty while measuring). */
  prefill?: number;
  config?: Record<string, string | number>;
  /** Keyed records, key i % keys (compacted topics refuse records without a key). */
  keys?: number;
  /** A transactional producer writing whole transactions of this many records (needs `seconds`). */
  transactionRecords?: number;
  timeoutSeconds?: number;
  /** Called when the measured run starts (after the warm-up record) and when the last record was handed to the client. */
  onMarker?: (marker: 'measuring' | 'produced') => void;
}

export async function produce(opts: ProduceOptions): Promise<ProduceResult> {
  const args = [SCRIPT, 'produce', '--topic', opts.topic, '--size', String(opts.size), '--rate', String(opts.rate ?? 0)];
  if (opts.prefill) args.push('--prefill', String(opts.prefill));
  if (opts.mock) args.push('--mock');
  else args.push('--bootstrap', opts.bootstrap!);
  if (opts.transactionRecords) args.push('--transaction-records', String(opts.transactionRecords));
  if (opts.keys) args.push('--keys', String(opts.keys));
  if (opts.count) args.push('--count', String(opts.count));
  else args.push('--seconds', String(opts.seconds ?? 10));
  args.push(...configArgs(opts.config));
  const run = await runPython(args, opts.timeoutSeconds ?? (opts.seconds ?? 10) + 180, (child) => {
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const lines = err.split('\n');
      err = lines.pop()!;
      for (const line of lines) if (line === 'measuring' || line === 'produced') opts.onMarker?.(line);
    });
  });
  const result = lastJson<ProduceResult>(run, `produce to ${opts.topic}`);
  if (result.error) throw new Error(`produce to ${opts.topic}: ${result.error} ${result.clientErrors.join('; ')}`);
  if (run.code !== 0 || result.failed > 0) {
    throw new Error(`produce to ${opts.topic}: ${result.failed} of ${result.sent} records not delivered: ${result.clientErrors.join('; ')}`);
  }
  return result;
}

export interface ConsumeOptions {
  bootstrap: string;
  topic: string;
  partitions: number;
  /** Records to read; omit to give the count later (`finish`). */
  expect?: number;
  e2e?: boolean;
  timeoutSeconds?: number;
  config?: Record<string, string | number>;
}

export interface RunningConsumer {
  /** Resolves once the consumer's first fetch round returned (tail consumers start before producers). */
  ready: Promise<void>;
  /** Tells a consumer started without `expect` how many records to read, then waits for its result. */
  finish(expect: number): Promise<ConsumeResult>;
  result: Promise<ConsumeResult>;
}

export function consume(opts: ConsumeOptions): RunningConsumer {
  const args = [SCRIPT, 'consume', '--bootstrap', opts.bootstrap, '--topic', opts.topic, '--partitions', String(opts.partitions),
    '--expect', String(opts.expect ?? -1), '--timeout', String(opts.timeoutSeconds ?? 300), '--ready', ...configArgs(opts.config)];
  if (opts.e2e) args.push('--e2e');
  let child: ChildProcess | null = null;
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  const run = runPython(args, (opts.timeoutSeconds ?? 300) + 60, (c) => {
    child = c;
    let err = '';
    c.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (/^ready$/m.test(err)) readyResolve();
      if (err.length > 100_000) err = err.slice(-1000);
    });
  });
  const result = run.then((r) => {
    readyReject(new Error(`consumer of ${opts.topic} exited before it was ready:\n${r.stderr.slice(-2000)}`));
    const out = lastJson<ConsumeResult>(r, `consume ${opts.topic}`);
    if (r.code !== 0 || out.problems.length > 0) {
      throw new Error(`consume ${opts.topic}: the records do not add up: ${out.problems.join('; ')} (read ${out.records} of ${out.expected}) ${out.clientErrors.join('; ')}`);
    }
    return out;
  });
  ready.catch(() => undefined);
  result.catch(() => undefined);
  return {
    ready,
    result,
    finish(expect: number) {
      (child as ChildProcess | null)?.stdin!.end(`${expect}\n`);
      return result;
    },
  };
}

export interface TopicSpec {
  name: string;
  partitions: number;
  config?: Record<string, string>;
}

export async function createTopics(bootstrap: string, topics: TopicSpec[]): Promise<void> {
  const args = [SCRIPT, 'admin', '--bootstrap', bootstrap];
  for (const t of topics) {
    const conf = Object.entries(t.config ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    args.push('--topic', `${t.name}:${t.partitions}${conf ? `:${conf}` : ''}`);
  }
  const run = await runPython(args, 180);
  if (run.code !== 0) throw new Error(`create topics ${topics.map((t) => t.name).join(', ')} failed:\n${run.stderr.slice(-3000)}`);
}
