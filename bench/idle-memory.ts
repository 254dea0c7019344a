/**
 * The idle embedded broker's memory, as `npm start` runs it: the bundle (dist/cli/floe.js, built first, run
 * with the Node flags of package.json's start script) on the embedded defaults (PGlite coordinator, folder object store), started fresh N times, each in a data
 * directory of its own. Per run: RSS (VmRSS) and its peak (VmHWM) once it has settled after start, and again
 * after a short workload (records produced and read back with kcat, then idle), each broken down into
 *  - PGlite's WebAssembly.Memory: its size and the part resident (the anonymous read-write mapping between
 *    the large inaccessible guard reservations V8 puts around a wasm memory);
 *  - malloc: glibc's main heap and its thread arenas (the read-write part of an anonymous 64 MiB mapping at a
 *    64 MiB boundary);
 *  - files: mapped code and data (node itself, shared libraries, native addons);
 *  - other anonymous memory (V8's heap pages, large buffers, stacks);
 * and V8's own figures from the broker's /metrics (prom-client's default metrics): heap used and total, and
 * external memory (which counts the whole wasm memory, resident or not). Medians and maxima at the end.
 *
 *   npx tsx bench/idle-memory.ts                 5 runs, 10 s settle, 50,000 × 1 KiB records, 30 s idle after
 *   npx tsx bench/idle-memory.ts --runs 7 --settle 10 --records 50000 --after 30 --size 1024
 *   npx tsx bench/idle-memory.ts --root DIR      measure the checkout in DIR (A/B against another branch)
 *   npx tsx bench/idle-memory.ts --source        run bin/floe.js (the sources through tsx) instead of the bundle
 *   npx tsx bench/idle-memory.ts --no-build      run the bundle as it is (another run may be using it)
 *   npx tsx bench/idle-memory.ts --override k=v  broker config overrides (repeatable)
 *   npx tsx bench/idle-memory.ts --node-args='--v8-pool-size=4'  Node flags for the broker instead of npm start's
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { brokerSettings, npmStartNodeArgs, ROOT, startBroker, statusMiB, type BrokerProcess } from './lib/procs.ts';

const run = promisify(execFile);

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    settle: { type: 'string', default: '10' },
    records: { type: 'string', default: '50000' },
    size: { type: 'string', default: '1024' },
    after: { type: 'string', default: '30' },
    root: { type: 'string' },
    source: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    override: { type: 'string', multiple: true, default: [] },
    'node-args': { type: 'string' },
  },
});
const runs = Number(values.runs);
const settleSeconds = Number(values.settle);
const records = Number(values.records);
const recordBytes = Number(values.size);
const afterSeconds = Number(values.after);
const root = values.root ? resolve(values.root) : ROOT;
const script = values.source ? 'bin/floe.js' : 'dist/cli/floe.js';
const nodeArgs = values['node-args'] !== undefined ? values['node-args'].split(/\s+/).filter(Boolean) : values.source ? [] : npmStartNodeArgs(root);
const overrides = brokerSettings(values.override, '--override');

/** One reading of a broker's memory, in MiB. */
interface Reading {
  rss: number;
  hwm: number;
  wasmResident: number;
  wasmSize: number;
  malloc: number;
  files: number;
  otherAnon: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

interface Mapping {
  start: bigint;
  end: bigint;
  perm: string;
  name: string;
  rssKiB: number;
}

function mappings(pid: number): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | null = null;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (m) {
      cur = { start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perm: m[3]!, name: m[4]!.trim(), rssKiB: 0 };
      out.push(cur);
    } else if (cur && line.startsWith('Rss:')) {
      cur.rssKiB = Number(line.split(/\s+/)[1]);
    }
  }
  return out;
}

const GiB = 1n << 30n;
const ARENA_ALIGN = 64n << 20n;

/** The smaps breakdown described in the file header (MiB). */
function breakdown(pid: number): Pick<Reading, 'wasmResident' | 'wasmSize' | 'malloc' | 'files' | 'otherAnon'> {
  const maps = mappings(pid);
  let wasmResident = 0, wasmSize = 0, malloc = 0, files = 0, otherAnon = 0;
  const isGuard = (m: Mapping | undefined) => m !== undefined && m.perm === '---p' && m.name === '' && m.end - m.start >= GiB;
  maps.forEach((m, i) => {
    if (m.name !== '' && !m.name.startsWith('[')) files += m.rssKiB;
    else if (m.name === '[heap]') malloc += m.rssKiB;
    else if (m.name === '' && m.perm === 'rw-p' && isGuard(maps[i - 1]) && isGuard(maps[i + 1])) {
      wasmResident += m.rssKiB;
      wasmSize += Number((m.end - m.start) >> 10n);
    } else if (m.name === '' && m.perm === 'rw-p' && m.start % ARENA_ALIGN === 0n
      && (m.end - m.start === ARENA_ALIGN || (maps[i + 1]?.perm === '---p' && maps[i + 1]!.start === m.end && maps[i + 1]!.end - m.start === ARENA_ALIGN))) malloc += m.rssKiB;
    else otherAnon += m.rssKiB;
  });
  const mib = (kib: number) => Math.round(kib / 1024);
  return { wasmResident: mib(wasmResident), wasmSize: mib(wasmSize), malloc: mib(malloc), files: mib(files), otherAnon: mib(otherAnon) };
}

async function read(broker: BrokerProcess): Promise<Reading> {
  const metrics = await broker.metrics();
  const metric = (name: string) => Math.round((metrics.get(name)?.value ?? NaN) / 1048576);
  return {
    rss: statusMiB(broker.pid, 'VmRSS') ?? NaN,
    hwm: statusMiB(broker.pid, 'VmHWM') ?? NaN,
    ...breakdown(broker.pid),
    heapUsed: metric('nodejs_heap_size_used_bytes'),
    heapTotal: metric('nodejs_heap_size_total_bytes'),
    external: metric('nodejs_external_memory_bytes'),
  };
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** Produces `records` records of `recordBytes` (acks=all) with kcat, then reads them all back. */
async function workload(bootstrap: string, dir: string): Promise<void> {
  const input = join(dir, 'records.txt');
  const value = 'x'.repeat(recordBytes);
  await writeFile(input, Array.from({ length: records }, () => value).join('\n') + '\n');
  await run('kcat', ['-b', bootstrap, '-t', 'idle-memory', '-P', '-X', 'acks=all', '-l', input], { timeout: 600_000 });
  const { stdout } = await run('kcat', ['-b', bootstrap, '-t', 'idle-memory', '-C', '-e', '-o', 'beginning', '-q', '-f', '%o\n'],
    { timeout: 600_000, maxBuffer: 1 << 28 });
  const got = stdout.split('\n').filter((l) => l !== '').length;
  if (got !== records) throw new Error(`read back ${got} records of ${records}`);
}

const COLUMNS: [keyof Reading, string][] = [
  ['rss', 'RSS'], ['hwm', 'peak'], ['wasmResident', 'wasm res'], ['wasmSize', 'wasm size'], ['malloc', 'malloc'],
  ['files', 'files'], ['otherAnon', 'other anon'], ['heapUsed', 'heap used'], ['heapTotal', 'heap total'], ['external', 'external'],
];

function row(label: string, r: Reading): string {
  return [label.padEnd(16), ...COLUMNS.map(([k]) => String(r[k]).padStart(11))].join('');
}

function summary(label: string, readings: Reading[]): string[] {
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const of = (f: (xs: number[]) => number) => Object.fromEntries(COLUMNS.map(([k]) => [k, f(readings.map((r) => r[k]))])) as unknown as Reading;
  return [row(`${label} median`, of(median)), row(`${label} max`, of((xs) => Math.max(...xs)))];
}

async function main(): Promise<void> {
  if (!values.source && !values['no-build']) execFileSync(process.execPath, [join(root, 'tools/build/bundle.mjs')], { stdio: 'inherit' });
  const idle: Reading[] = [];
  const after: Reading[] = [];
  const header = ['MiB'.padEnd(16), ...COLUMNS.map(([, h]) => h.padStart(11))].join('');
  console.log(`${root}: node ${[...nodeArgs, script].join(' ')}; load: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  console.log(header);
  for (let i = 0; i < runs; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'floe-idle-memory-'));
    const broker = await startBroker({ name: `idle-${i}`, dataDir: join(dir, 'data'), overrides, logFile: join(dir, 'broker.log'), root, script, nodeArgs });
    try {
      await sleep(settleSeconds);
      const a = await read(broker);
      idle.push(a);
      console.log(`${row(`run ${i + 1} idle`, a)}   started in ${broker.startSeconds.toFixed(1)} s`);
      if (records > 0) {
        await workload(broker.bootstrap, dir);
        await sleep(afterSeconds);
        const b = await read(broker);
        after.push(b);
        console.log(row(`run ${i + 1} after`, b));
      }
    } finally {
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.log(`\n${header}`);
  for (const line of summary('idle', idle)) console.log(line);
  if (after.length > 0) for (const line of summary('after', after)) console.log(line);
  console.log(`load: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
}

await main();
