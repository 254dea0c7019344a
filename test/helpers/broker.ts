/**
 * Brokers for tests: in-process (fast, inspectable) or as a child process (for kill -9 and restarts).
 * Both listen on an ephemeral loopback port and keep their data in a fresh temporary folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { startBroker, type RunningBroker } from '../../src/broker/broker.ts';
import { onCleanup, tempDir } from './cleanup.ts';

// Also exported from here, where they used to live (new code imports them from cleanup.ts).
export { onCleanup, tempDir };

export interface TestBroker extends RunningBroker {
  dataDir: string;
  bootstrap: string;
}

/** Starts a broker in this process; it is closed when the test file ends. */
export async function startTestBroker(overrides: Record<string, string | number | boolean> = {}, dataDir?: string): Promise<TestBroker> {
  const dir = dataDir ?? (await tempDir());
  const all: Record<string, string | number | boolean> = {
    listeners: 'PLAINTEXT://127.0.0.1:0',
    'data.dir': dir,
    'diskless.commit.interval.ms': 50,
    // No retention pass unless a test asks for one: test batches often carry 2023 timestamps (record-batch.ts),
    // which the default 7-day retention.ms would delete a minute into a long test file.
    'diskless.retention.check.interval.ms': 3_600_000,
    ...overrides,
  };
  const loaded = loadBrokerConfig({ overrides: Object.entries(all).map(([k, v]) => `${k}=${v}`), env: {} });
  const running = await startBroker(loaded.config, { loaded });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await running.close();
  };
  onCleanup(close);
  return { ...running, close, dataDir: dir, bootstrap: `127.0.0.1:${running.port}` };
}

const ROOT = resolve(import.meta.dirname, '../..');

// Child-process brokers still running. Killed if the test process exits without its cleanups (an uncaught
// error, process.exit()), so that no broker outlives its test.
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface BrokerProcess {
  child: ChildProcess;
  port: number;
  bootstrap: string;
  output: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/**
 * Starts `floe start` as a child process (with `env` added to this process's environment) and waits until it
 * listens; `script` is the command's file under the root (the sources' bin/floe.js, or the bundle's dist/cli/floe.js).
 */
export async function spawnBroker(dataDir: string, overrides: Record<string, string | number> = {}, port = 0, env: Record<string, string> = {}, script = 'bin/floe.js'): Promise<BrokerProcess> {
  const args = [join(ROOT, script), 'start', '--override', `listeners=PLAINTEXT://127.0.0.1:${port}`, '--override', `data.dir=${dataDir}`];
  for (const [k, v] of Object.entries(overrides)) args.push('--override', `${k}=${v}`);
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLOE_LOG_LEVEL: 'info', ...env } });
  let text = '';
  children.add(child);
  const exited = new Promise<number | string>((res) => child.on('exit', (code, signal) => {
    children.delete(child);
    res(code ?? signal ?? -1);
  }));
  onCleanup(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const listening = await new Promise<number>((res, rej) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const m = /"port":(\d+)[^\n]*Floe broker started|Floe broker started[^\n]*"port":(\d+)/.exec(text);
      if (m) res(Number(m[1] ?? m[2]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => rej(new Error(`broker exited (${code}) before listening:\n${text}`)));
    setTimeout(() => rej(new Error(`broker did not start in 60 s:\n${text}`)), 60_000).unref();
  });
  return { child, port: listening, bootstrap: `127.0.0.1:${listening}`, output: () => text, exited };
}
