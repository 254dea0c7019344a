/**
 * Child processes of the benchmark: Floe brokers (`node bin/floe.js start --override …`, port 0, or the
 * bundle dist/cli/floe.js), their CPU time from /proc, and the CPU time of the backend servers (PostgreSQL,
 * s3rver) they use.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, readdirSync, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { scrape, type Sample } from './prom.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

/** package.json's `start` script: `… GLIBC_TUNABLES=${GLIBC_TUNABLES-T} node FLAGS dist/cli/floe.js start`. */
function npmStartScript(root: string): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? '';
}

/** The Node flags `npm start` runs the broker with (under `root`). */
export function npmStartNodeArgs(root = ROOT): string[] {
  const m = /node((?:\s+--\S+)*)\s+dist\/cli\/floe\.js start/.exec(npmStartScript(root));
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

/**
 * glibc's malloc tunables for brokers, as `npm start` sets them (README "Performance"): transparent huge pages for
 * the malloc heap, so a broker whose object cache is still growing faults once per 2 MiB of frame memory instead
 * of once per 4 KiB page. GLIBC_TUNABLES in the bench's environment wins (empty: glibc's defaults, for A/B runs).
 */
export const BROKER_GLIBC_TUNABLES = /GLIBC_TUNABLES=\$\{GLIBC_TUNABLES-([^}]*)\}/.exec(npmStartScript(ROOT))?.[1] ?? '';

/**
 * Node flags for brokers, those `npm start` passes (README "Performance"): V8 starts with room for 128 MiB of old
 * generation, so the first seconds of ingress do not run a mark-compact every few hundred milliseconds (fewer
 * full GCs per GiB afterwards too), and one V8 worker thread (less memory glibc keeps for threads). Flags given
 * with `--node-args` come after these and win (for A/B runs, `--node-args=--initial-old-space-size=0` is V8's
 * default).
 */
export const BROKER_NODE_ARGS: readonly string[] = npmStartNodeArgs();

/** Broker settings given as `key=value` items of a command-line flag (`flag` names it in the error). */
export function brokerSettings(items: readonly string[], flag: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`${flag} ${item}: expected key=value`);
    settings[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return settings;
}

let clockTicks = 0;
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User and system CPU seconds of one process (0 once it is gone), from /proc/<pid>/stat. */
export function processCpuTimes(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / ticksPerSecond(), system: Number(fields[12]) / ticksPerSecond() };
  } catch {
    return { user: 0, system: 0 };
  }
}

/** Minor page faults of one process so far (0 once it is gone), from /proc/<pid>/stat. */
export function processMinorFaults(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
  } catch {
    return 0;
  }
}

/** User + system CPU seconds of a process's main thread (its JavaScript event loop), from /proc/<pid>/task/<pid>/stat. */
export function mainThreadCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return 0;
  }
}

/** User + system CPU seconds of one process (0 once it is gone). */
export function processCpuSeconds(pid: number): number {
  const t = processCpuTimes(pid);
  return t.user + t.system;
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

function allPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/** A process and its descendants (processes that already exited are not counted). */
export function treeCpuSeconds(root: number): number {
  const pids = allPids();
  const children = new Map<number, number[]>();
  for (const pid of pids) {
    const ppid = parentOf(pid);
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += processCpuSeconds(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** Pids whose command line contains every one of `needles`. */
export function findPids(...needles: string[]): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (needles.every((n) => cmd.includes(n))) out.push(pid);
    } catch {
      // gone
    }
  }
  return out;
}

/** The postmaster of a PostgreSQL data folder (first line of postmaster.pid). */
export function postmasterPid(dataDir: string): number | null {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isFinite(pid) && pid > 0 ? pid : null;
}

/** A memory figure of /proc/<pid>/status in MiB (VmRSS now, VmHWM the peak so far); null once gone. */
export function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

export interface BrokerOptions {
  name: string;
  dataDir: string;
  overrides: Record<string, string | number | boolean>;
  /** Write the broker's logs here. */
  logFile: string;
  /** Run the broker under `node --cpu-prof`, writing the profile into this folder on exit. */
  profileDir?: string;
  /** More node options (e.g. --trace-gc), before the script. */
  nodeArgs?: string[];
  /** The Floe checkout whose bin/floe.js runs (default this one; A/B runs point at another). */
  root?: string;
  /** The script under root that runs the CLI: bin/floe.js (the sources through tsx, the default) or
   *  dist/cli/floe.js (the bundle `npm start` runs; build it first). */
  script?: string;
  /** Seconds to wait for "Floe broker started" (default 120). */
  startTimeoutSeconds?: number;
  /** Pin the broker to these CPUs (`taskset -c LIST`, which execs node: the pid stays the broker's). */
  cpus?: string;
}

export interface BrokerProcess {
  name: string;
  pid: number;
  port: number;
  metricsPort: number;
  bootstrap: string;
  dataDir: string;
  child: ChildProcess;
  /** Seconds the broker took from spawn to "Floe broker started". */
  startSeconds: number;
  /** Wall time (ms since the epoch) at which the process exited (set by stop()). */
  exitedAt: number | null;
  /** RSS in MiB once started (before any load). */
  startRssMiB: number | null;
  /** Peak RSS over the process's life in MiB (VmHWM), read by stop() just before it signals the broker. */
  peakRssMiB: number | null;
  cpuSeconds(): number;
  /** Kernel-mode part of cpuSeconds(). */
  systemCpuSeconds(): number;
  /** Minor page faults so far (a fresh page touched: the kernel's share of sys % on ingress). */
  minorFaults(): number;
  metrics(): Promise<Map<string, Sample>>;
  /** SIGTERM (the broker seals and commits the open object), SIGKILL after 60 s. */
  stop(): Promise<void>;
  /** Text of the last lines of the log, for error messages. */
  tail(): string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export async function startBroker(opts: BrokerOptions): Promise<BrokerProcess> {
  const overrides: Record<string, string | number | boolean> = {
    listeners: 'PLAINTEXT://127.0.0.1:0',
    'data.dir': opts.dataDir,
    'metrics.listener': 'http://127.0.0.1:0',
    ...opts.overrides,
  };
  const args: string[] = [...BROKER_NODE_ARGS, ...(opts.nodeArgs ?? [])];
  if (opts.profileDir) {
    await mkdir(opts.profileDir, { recursive: true });
    args.push('--cpu-prof', '--cpu-prof-dir', opts.profileDir);
  }
  // Not tools/dev/exit-with-parent.cjs: with that preload (stdin a pipe, read) the broker did not finish
  // starting in 40 s on this machine; brokers are killed by the exit handler below instead.
  const root = opts.root ?? ROOT;
  args.push(join(root, opts.script ?? 'bin/floe.js'), 'start');
  for (const [k, v] of Object.entries(overrides)) args.push('--override', `${k}=${v}`);
  const t0 = performance.now();
  const [command, commandArgs] = opts.cpus ? ['taskset', ['-c', opts.cpus, process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(command, commandArgs, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? BROKER_GLIBC_TUNABLES, FLOE_LOG_LEVEL: process.env.FLOE_BENCH_LOG_LEVEL ?? 'info' },
  });
  live.add(child);
  const log: WriteStream = createWriteStream(opts.logFile, { flags: 'a' });
  let recent = '';
  const exited = new Promise<void>((res) => child.once('exit', () => {
    live.delete(child);
    res();
  }));
  const started = await new Promise<{ port: number; metricsPort: number }>((res, rej) => {
    let text = '';
    let found = false;
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      recent = (recent + chunk.toString()).slice(-8000);
      if (found) return;
      text += chunk.toString();
      for (const line of text.split('\n')) {
        if (!line.includes('Floe broker started')) continue;
        found = true;
        const m = /"port":(\d+)/.exec(line);
        const mp = /"metricsPort":(\d+)/.exec(line);
        if (m && mp) res({ port: Number(m[1]), metricsPort: Number(mp[1]) });
        else rej(new Error(`broker ${opts.name}: the start line names no metrics port (is metrics.listener set?): ${line}`));
        return;
      }
      text = text.slice(text.lastIndexOf('\n') + 1);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => rej(new Error(`broker ${opts.name} exited (${child.exitCode ?? child.signalCode}) before it started:\n${recent}`)));
    setTimeout(() => rej(new Error(`broker ${opts.name} did not start in ${opts.startTimeoutSeconds ?? 120} s:\n${recent}`)), (opts.startTimeoutSeconds ?? 120) * 1000).unref();
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  const startSeconds = (performance.now() - t0) / 1000;
  const pid = child.pid!;
  const handle: BrokerProcess = {
    name: opts.name,
    pid,
    port: started.port,
    metricsPort: started.metricsPort,
    bootstrap: `127.0.0.1:${started.port}`,
    dataDir: opts.dataDir,
    child,
    startSeconds,
    exitedAt: null,
    startRssMiB: statusMiB(pid, 'VmRSS'),
    peakRssMiB: null,
    cpuSeconds: () => processCpuSeconds(pid),
    systemCpuSeconds: () => processCpuTimes(pid).system,
    minorFaults: () => processMinorFaults(pid),
    metrics: () => scrape(`http://127.0.0.1:${started.metricsPort}/metrics`),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        handle.peakRssMiB = statusMiB(pid, 'VmHWM');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        await exited;
        clearTimeout(timer);
      }
      handle.exitedAt ??= Date.now();
      await new Promise<void>((res) => log.end(() => res()));
    },
    tail: () => recent.split('\n').slice(-20).join('\n'),
  };
  void exited.then(() => {
    handle.exitedAt ??= Date.now();
  });
  return handle;
}
