/**
 * Throwaway local servers for tests, benchmarks and `npm run dev:pg-s3`: a PostgreSQL cluster (Debian's
 * `postgresql` package: initdb into a temporary folder, pg_ctl on a free loopback port; as root through
 * `su postgres`, since PostgreSQL refuses to run as root) and s3rver (an S3-speaking server, npm devDependency,
 * run as a child process with NODE_OPTIONS=--openssl-legacy-provider, without which its paginated
 * ListObjectsV2 fails). Both can be stopped and started again on the same port and data (failure tests).
 * Nothing here registers cleanups: callers do (test/helpers/postgres.ts and s3.ts register them with node:test).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const isRoot = process.getuid?.() === 0;

/**
 * A free TCP port on 127.0.0.1 (released before returning: a tiny race, fine for tests), chosen below the
 * kernel's ephemeral range (Linux: net.ipv4.ip_local_port_range) where there is one: a server stopped and
 * started again on its port (a killed broker, a restarted PostgreSQL) would otherwise find it taken by an
 * outgoing connection that was given it as its local port meanwhile ("address already in use", seen in CI).
 * Any free port where the range is unknown or no port below it was free.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralPortsFrom();
  if (low !== null && low > FIXED_PORTS_FROM + 1000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = FIXED_PORTS_FROM + Math.floor(Math.random() * (low - FIXED_PORTS_FROM));
      if ((await listenOnce(port)) !== null) return port;
    }
  }
  const any = await listenOnce(0);
  if (any === null) throw new Error('no free port on 127.0.0.1');
  return any;
}

/** Below the ephemeral range, from here up (under it: well-known and commonly configured services' ports). */
const FIXED_PORTS_FROM = 10000;

/** The first port of the kernel's ephemeral range, or null where it cannot be read. */
function ephemeralPortsFrom(): number | null {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : null;
  } catch {
    return null;
  }
}

/** Listens on 127.0.0.1:port and closes again: the port listened on, or null if it could not. */
function listenOnce(port: number): Promise<number | null> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(null));
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as { port: number };
      srv.close(() => res(bound));
    });
  });
}

/** The bin folder of the newest installed PostgreSQL (Debian layout), or null. */
export async function postgresBinDir(): Promise<string | null> {
  const base = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = await readdir(base);
  } catch {
    return null;
  }
  versions = versions.filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(base, versions[0]!, 'bin') : null;
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs a PostgreSQL tool as the postgres user when we are root, else as ourselves. */
async function runPgTool(argv: string[], input?: string): Promise<string> {
  const cmd = argv.map(quote).join(' ');
  const pending = isRoot ? exec('su', ['postgres', '-c', cmd]) : exec(argv[0]!, argv.slice(1));
  if (input !== undefined) {
    pending.child.stdin!.end(input);
  }
  const { stdout } = await pending;
  return stdout;
}

export interface PostgresServer {
  port: number;
  dataDir: string;
  /** postgres://postgres@127.0.0.1:PORT/DB (default database `postgres`). */
  url(database?: string): string;
  /** Creates a database (a fresh, empty coordinator for one broker) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** pg_ctl stop -m fast: clients are disconnected. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it (immediate) and removes its folder. */
  destroy(): Promise<void>;
}

export interface PostgresOptions {
  /** fsync and synchronous commit (default false: tests; the benchmark turns them on). */
  durable?: boolean;
  port?: number;
  /** Serve TLS too, with this certificate and key (PEM text); clients may still connect without it. */
  tls?: { cert: string; key: string };
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = await postgresBinDir();
  if (bin === null) {
    throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install -y postgresql (npm test does it)');
  }
  // /tmp rather than $TMPDIR when root: the postgres user must be able to reach the folder.
  const dataDir = await mkdtemp(join(isRoot ? '/tmp' : tmpdir(), 'floe-pg-'));
  if (isRoot) {
    const { stdout } = await exec('id', ['-u', 'postgres']);
    const { stdout: gid } = await exec('id', ['-g', 'postgres']);
    await chown(dataDir, Number(stdout.trim()), Number(gid.trim()));
  }
  await runPgTool([join(bin, 'initdb'), '-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  const port = options.port ?? (await freePort());
  const tlsSettings: string[] = [];
  if (options.tls) {
    // Inside the data folder, owned by postgres (it refuses a key readable by others).
    await runPgTool(['sh', '-c', `umask 077 && cat > ${quote(join(dataDir, 'server.crt'))}`], options.tls.cert);
    await runPgTool(['sh', '-c', `umask 077 && cat > ${quote(join(dataDir, 'server.key'))}`], options.tls.key);
    tlsSettings.push('-c ssl=on', '-c ssl_cert_file=server.crt', '-c ssl_key_file=server.key');
  }
  const settings = [...tlsSettings,
    `-p ${port}`, `-k ${dataDir}`, '-c listen_addresses=127.0.0.1', '-c max_connections=200',
    ...(options.durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
  ].join(' ');
  const pgCtl = join(bin, 'pg_ctl');
  const start = async () => {
    await runPgTool([pgCtl, '-D', dataDir, '-o', settings, '-l', join(dataDir, 'log'), '-w', '-t', '60', 'start']);
  };
  const stop = async (mode = 'fast') => {
    await runPgTool([pgCtl, '-D', dataDir, '-m', mode, '-w', 'stop']).catch(() => undefined);
  };
  await start();
  // If this process exits without destroy() (a crash, an uncaught exception), stop the server anyway.
  const onExit = () => {
    try {
      const argv = [pgCtl, '-D', dataDir, '-m', 'immediate', 'stop'];
      if (isRoot) execFileSync('su', ['postgres', '-c', argv.map(quote).join(' ')], { stdio: 'ignore' });
      else execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    } catch {
      // already stopped
    }
  };
  process.once('exit', onExit);
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    dataDir,
    url,
    async createDatabase(name) {
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: url() });
      client.on('error', () => undefined);
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop: () => stop('fast'),
    start,
    async destroy() {
      process.removeListener('exit', onExit);
      await stop('immediate');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface S3Server {
  port: number;
  /** http://127.0.0.1:PORT */
  endpoint: string;
  dir: string;
  /** Credentials s3rver accepts. */
  accessKeyId: string;
  secretAccessKey: string;
  createBucket(name: string): Promise<void>;
  /** Kills the server (connections refused from then on). */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder. */
  start(): Promise<void>;
  /** Stops it and removes its folder (unless the folder was given). */
  destroy(): Promise<void>;
}

export async function startS3rver(options: { port?: number; dir?: string } = {}): Promise<S3Server> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'floe-s3-')));
  let port = options.port ?? 0;
  let child: ChildProcess | null = null;
  const script = join(ROOT, 'node_modules/s3rver/bin/s3rver.js');
  if (!existsSync(script)) throw new Error('s3rver is not installed (npm install: it is a devDependency)');

  const start = async (): Promise<void> => {
    const proc = spawn(process.execPath, ['--require', join(import.meta.dirname, 'exit-with-parent.cjs'), script, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent'], {
      env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    port = await new Promise<number>((res, rej) => {
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        const m = /S3rver listening on [^:\s]+:(\d+)/.exec(out);
        if (m) res(Number(m[1]));
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => rej(new Error(`s3rver exited (${code}) before listening: ${out}`)));
      setTimeout(() => rej(new Error(`s3rver did not start in 30 s: ${out}`)), 30_000).unref();
    });
    proc.stdout!.resume();
    proc.stderr!.resume();
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((res) => proc.once('exit', res));
    proc.kill('SIGKILL');
    await exited;
  };
  await start();
  const server: S3Server = {
    get port() {
      return port;
    },
    get endpoint() {
      return `http://127.0.0.1:${port}`;
    },
    dir,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    async createBucket(name) {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // see src/objectstore/s3.ts
      const client = new S3Client({
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      });
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
    },
    stop,
    start,
    async destroy() {
      await stop();
      if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}
