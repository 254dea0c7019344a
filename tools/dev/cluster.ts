/**
 * `npm run dev:cluster`: a cluster of N brokers (default 3) on this machine, sharing one throwaway
 * PostgreSQL cluster (Debian's postgresql package; `apt-get install -y postgresql`) and one s3rver (npm
 * devDependency), both on free loopback ports. Broker i (1..N) runs as its own `floe start` process with
 * node.id=i, broker.rack=az-a, az-b, az-c, … and listens on localhost:9092, 9093, … . Prints each broker's
 * configuration, prefixes each broker's log lines with its id, and on Ctrl-C stops the brokers cleanly and
 * removes both servers and all data.
 *
 *   npm run dev:cluster                                  # 3 brokers on localhost:9092-9094
 *   npm run dev:cluster -- --brokers 5 --port 19092      # 5 brokers on localhost:19092-19096
 *   npm run dev:cluster -- --override diskless.object.store.latency.profile=s3-standard
 *   npm run dev:cluster -- --config secure.properties --sasl-ssl-port 9192   # also SASL_SSL on 9192-9194
 *
 * `--config FILE` is a server.properties every broker starts with (TLS key stores, SASL users, the
 * authorizer, …: README "Security"); its `listeners` are replaced, as each broker needs its own ports. The
 * brokers run in the folder npm was started from (INIT_CWD), so the file and the paths in it mean what they
 * mean to `floe start` there.
 * `--sasl-ssl-port P` gives broker i a SASL_SSL listener on localhost:P+i-1 beside its PLAINTEXT one.
 *
 * While it runs, lines typed on its standard input control the brokers: `kill N` (SIGKILL), `stop N`
 * (clean shutdown), `start N` (starts broker N again, same port, data and node id), `status`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { startPostgres, startS3rver } from './local-servers.ts';

const ROOT = resolve(import.meta.dirname, '../..');
/** Where the user ran npm (npm runs scripts in the package's folder and says where it started in INIT_CWD). */
const USER_CWD = process.env.INIT_CWD ?? process.cwd();
const usage = 'usage: npm run dev:cluster [-- --brokers N] [--port FIRST_PORT] [--config FILE] [--sasl-ssl-port FIRST_PORT] [--override key=value ...]\n';

let count = 3;
let firstPort = 9092;
let configFile: string | null = null;
let saslSslPort: number | null = null;
const userOverrides: string[] = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const value = (name: string) => (a.startsWith(`${name}=`) ? a.slice(name.length + 1) : args[++i]);
  if (a === '--brokers' || a.startsWith('--brokers=')) count = Number(value('--brokers'));
  else if (a === '--port' || a.startsWith('--port=')) firstPort = Number(value('--port'));
  else if (a === '--override' || a.startsWith('--override=')) userOverrides.push(value('--override') ?? '');
  else if (a === '--config' || a.startsWith('--config=')) configFile = resolve(USER_CWD, value('--config') ?? '');
  else if (a === '--sasl-ssl-port' || a.startsWith('--sasl-ssl-port=')) saslSslPort = Number(value('--sasl-ssl-port'));
  else {
    process.stderr.write(usage);
    process.exit(2);
  }
}
if (!Number.isInteger(count) || count < 1 || count > 26 || !Number.isInteger(firstPort) || firstPort < 1 || firstPort + count > 65536 ||
    (saslSslPort !== null && (!Number.isInteger(saslSslPort) || saslSslPort < 1 || saslSslPort + count > 65536)) || userOverrides.some((o) => !o.includes('='))) {
  process.stderr.write(usage);
  process.exit(2);
}

interface DevBroker {
  nodeId: number;
  rack: string;
  port: number;
  dataDir: string;
  child: ChildProcess | null;
}

process.stderr.write('starting PostgreSQL and s3rver ...\n');
const [pg, s3] = await Promise.all([startPostgres(), startS3rver()]);
const root = await mkdtemp(join(tmpdir(), 'floe-dev-cluster-'));
const brokers: DevBroker[] = Array.from({ length: count }, (_, i) => ({
  nodeId: i + 1,
  rack: `az-${String.fromCharCode(97 + i)}`,
  port: firstPort + i,
  dataDir: join(root, `broker-${i + 1}`),
  child: null,
}));

let stopping = false;
const stopAll = async (code: number) => {
  if (stopping) process.exit(code);
  stopping = true;
  process.stderr.write('stopping the brokers ...\n');
  await Promise.all(brokers.map((b) => stopBroker(b, 'SIGTERM')));
  await Promise.all([pg.destroy(), s3.destroy(), rm(root, { recursive: true, force: true })]);
  process.exit(code);
};
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

const common: Record<string, string> = {
  'diskless.coordinator.url': pg.url(),
  'diskless.object.store.url': 's3://floe/wal-objects',
  'diskless.s3.endpoint': s3.endpoint,
  'diskless.s3.region': 'us-east-1',
  'diskless.s3.path.style.access': 'true',
  'diskless.s3.access.key.id': s3.accessKeyId,
  'diskless.s3.secret.access.key': s3.secretAccessKey,
};

function settingsOf(b: DevBroker): Record<string, string> {
  return {
    'node.id': String(b.nodeId),
    'broker.rack': b.rack,
    listeners: saslSslPort === null
      ? `PLAINTEXT://localhost:${b.port}`
      : `PLAINTEXT://localhost:${b.port},SASL_SSL://localhost:${saslSslPort + b.nodeId - 1}`,
    ...(saslSslPort === null ? {} : { 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL' }),
    'data.dir': b.dataDir,
    ...common,
  };
}

/** Starts `floe start` for b; resolves once it listens (rejects if it exits first). */
async function startBroker(b: DevBroker): Promise<void> {
  if (b.child) throw new Error(`broker ${b.nodeId} is running`);
  await mkdir(b.dataDir, { recursive: true });
  const argv = ['--require', join(import.meta.dirname, 'exit-when-orphaned.cjs'), join(ROOT, 'bin/floe.js'), 'start', ...(configFile ? ['--config', configFile] : [])];
  for (const [k, v] of Object.entries(settingsOf(b))) argv.push('--override', `${k}=${v}`);
  for (const o of userOverrides) argv.push('--override', o);
  // Its own process group, so that the terminal's Ctrl-C reaches only this process, which then stops the
  // brokers cleanly; exit-when-orphaned.cjs ends it if this process dies without doing so.
  const child = spawn(process.execPath, argv, { cwd: USER_CWD, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  b.child = child;
  const prefix = `b${b.nodeId} | `;
  let pending = '';
  let started: () => void;
  let failed: (err: Error) => void;
  const listening = new Promise<void>((res, rej) => {
    started = res;
    failed = rej;
  });
  const onData = (chunk: Buffer) => {
    pending += chunk.toString();
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      process.stderr.write(`${prefix}${line}\n`);
      if (line.includes('Floe broker started')) started();
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.on('exit', (code, signal) => {
    if (b.child === child) b.child = null;
    failed(new Error(`broker ${b.nodeId} exited (${code ?? signal}) before listening`));
    if (!stopping) process.stderr.write(`broker ${b.nodeId} exited (${code ?? signal}); \`start ${b.nodeId}\` starts it again\n`);
  });
  await listening;
}

async function stopBroker(b: DevBroker, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const child = b.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

try {
  await s3.createBucket('floe');
  process.stderr.write(`\n# Shared by every broker (server.properties form):\n${Object.entries(common).map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
  for (const b of brokers) {
    const own = settingsOf(b);
    process.stderr.write(`\n# Broker ${b.nodeId}:\n${['node.id', 'broker.rack', 'listeners', 'data.dir'].map((k) => `${k}=${own[k]}`).join('\n')}\n`);
  }
  if (userOverrides.length > 0) process.stderr.write(`\n# Every broker, from --override:\n${userOverrides.join('\n')}\n`);
  process.stderr.write('\n');
  // Together: the first to get the coordinator's advisory lock creates the schema, the others wait for it.
  await Promise.all(brokers.map(startBroker));
  const bootstrap = brokers.map((b) => `localhost:${b.port}`).join(',');
  process.stderr.write(`\nFloe cluster is up: ${bootstrap} (racks ${brokers.map((b) => b.rack).join(', ')}).\n` +
    `PostgreSQL ${pg.url()}, S3 ${s3.endpoint}/floe. A client picks its zone with diskless_az=<rack> in client.id, e.g.\n` +
    `  kcat -b ${bootstrap} -X client.id=demo,diskless_az=${brokers[0]!.rack} -L\n` +
    'Type `kill N`, `stop N`, `start N` or `status` here; Ctrl-C stops everything.\n');
} catch (err) {
  if (!stopping) {
    process.stderr.write(`dev:cluster failed: ${(err as Error).stack ?? err}\n`);
    await stopAll(1);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (!cmd) return;
  if (cmd === 'status') {
    for (const b of brokers) process.stderr.write(`broker ${b.nodeId} (${b.rack}) localhost:${b.port}: ${b.child ? `running, pid ${b.child.pid}` : 'down'}\n`);
    return;
  }
  const b = brokers.find((x) => x.nodeId === Number(arg));
  if (!b || !['kill', 'stop', 'start'].includes(cmd)) {
    process.stderr.write(`commands: kill N, stop N, start N (N = 1..${count}), status\n`);
    return;
  }
  if (cmd === 'start') {
    startBroker(b).then(() => process.stderr.write(`broker ${b.nodeId} is up\n`), (err: Error) => process.stderr.write(`${err.message}\n`));
  } else {
    void stopBroker(b, cmd === 'kill' ? 'SIGKILL' : 'SIGTERM').then(() => process.stderr.write(`broker ${b.nodeId} ${cmd === 'kill' ? 'killed' : 'stopped'}\n`));
  }
});
// Without a terminal (stdin closed at once, e.g. `npm run dev:cluster < /dev/null &`), keep running.
rl.on('close', () => undefined);
