/**
 * A cluster of N brokers for tests (issue 7): child processes (`floe start`, test/helpers/broker.ts
 * spawnBroker) on fixed loopback ports, sharing one PostgreSQL database (test/helpers/postgres.ts, a fresh
 * database on the file's server) and one S3 bucket (test/helpers/s3.ts, a fresh bucket on the file's
 * s3rver), each broker with its own node.id (1..N), rack (az-a, az-b, …) and data dir. Brokers can be
 * killed (SIGKILL) and restarted as the same broker (same port, data dir and node id), PostgreSQL restarted,
 * and, with `objectStoreProxy`, the object store made unreachable for a while (the brokers reach s3rver
 * through a TCP proxy that then cuts and refuses connections).
 *
 *   const cluster = await startCluster({ brokers: 3, topics: [{ name: 't', partitions: 6 }] });
 *   cluster.bootstrap;                        // '127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3'
 *   await cluster.kill(1); await cluster.restart(1);
 *   await cluster.restartPostgres(); await cluster.objectStoreOutage(3000);
 *   await cluster.bucketKeys(); await cluster.coordinatorKeys();
 *
 * Everything (brokers, proxy, database server, bucket server) is stopped when the test file ends (onCleanup),
 * and the brokers are killed if the test process exits without running its cleanups. `restartPostgres`
 * restarts the file's shared PostgreSQL server, so other tests of the same file see it restart too.
 */
import { rmSync } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, type PostgresServer, type S3Server } from '../../tools/dev/local-servers.ts';
import { spawnBroker, type BrokerProcess } from './broker.ts';
import { onCleanup, tempDir } from './cleanup.ts';
import { freshDatabase, sharedPostgres } from './postgres.ts';
import { freshBucket, s3Store, sharedS3 } from './s3.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';
import { sleep } from './wait.ts';

type Overrides = Record<string, string | number>;

export interface ClusterOptions {
  /** Number of brokers (default 3). */
  brokers?: number;
  /** broker.rack of broker i (default az-a, az-b, az-c, …). */
  racks?: string[];
  /** Broker config for every broker (after the cluster's own keys, so they can be overridden). */
  overrides?: Overrides;
  /** Broker config for broker i only (applied last). */
  brokerOverrides?: (index: number) => Overrides;
  /** Brokers reach s3rver through a TCP proxy, so the object store can be made to fail (default false). */
  objectStoreProxy?: boolean;
  /** Topics created through the first broker once every broker is up. */
  topics?: { name: string; partitions: number; configs?: Record<string, string> }[];
}

export interface ClusterBroker {
  /** 0-based position in the cluster. */
  readonly index: number;
  readonly nodeId: number;
  readonly rack: string;
  readonly port: number;
  readonly dataDir: string;
  readonly bootstrap: string;
  /** The running process, or null while killed or stopped. */
  process: BrokerProcess | null;
  /** How many times it was started. */
  starts: number;
}

export interface Cluster {
  readonly brokers: readonly ClusterBroker[];
  /** Every broker's host:port, comma-separated. */
  readonly bootstrap: string;
  readonly postgres: PostgresServer;
  /** The coordinator database's URL. */
  readonly databaseUrl: string;
  readonly s3: S3Server;
  readonly bucket: string;
  /** Key prefix of the brokers' objects in the bucket (object keys are `<prefix>/wal/<uuid>`). */
  readonly prefix: string;
  readonly proxy: TcpProxy | null;
  /** The full config (overrides) broker i is started with. */
  config(index: number): Overrides;
  /** SIGKILL; resolves once the process has exited. */
  kill(index: number): Promise<void>;
  /** SIGTERM (clean shutdown); resolves with the exit code. */
  stop(index: number): Promise<number | string>;
  /** Starts a killed or stopped broker again: same port, data dir and node id. Waits until it listens. */
  restart(index: number): Promise<void>;
  /**
   * Stops PostgreSQL (fast: connections are cut), waits `downMs`, runs `whileDown` if given, and starts it
   * again on the same port.
   */
  restartPostgres(downMs?: number, whileDown?: () => Promise<unknown>): Promise<void>;
  /** The object store (through the proxy) refuses and cuts connections until healObjectStore(). */
  failObjectStore(): void;
  healObjectStore(): void;
  /** failObjectStore, wait `ms`, healObjectStore. */
  objectStoreOutage(ms: number): Promise<void>;
  /** Keys of the objects in the bucket, relative to `prefix` (`wal/<uuid>`), sorted. */
  bucketKeys(): Promise<string[]>;
  /**
   * The coordinator's object keys, sorted: committed objects (`objects`, state 'uploaded'), objects
   * waiting for deletion (state 'deleting') and registered keys not committed yet (`pending_objects`).
   */
  coordinatorKeys(): Promise<{ objects: string[]; deleting: string[]; pending: string[] }>;
  /** Runs a query on the coordinator database (a new connection each time). */
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Everything broker i wrote on stdout and stderr, over all its starts. */
  logs(index: number): string;
  /** Writes each broker's logs to `<dir>/broker-<nodeId>.log`; returns the paths. */
  writeLogs(dir: string): Promise<string[]>;
}

function exitOnSignal(): void {
  process.exit(143);
}

const DEFAULT_RACKS = (n: number) => Array.from({ length: n }, (_, i) => `az-${String.fromCharCode(97 + (i % 26))}${i >= 26 ? Math.floor(i / 26) : ''}`);

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const n = options.brokers ?? 3;
  const racks = options.racks ?? DEFAULT_RACKS(n);
  if (racks.length < n) throw new Error(`startCluster: ${n} brokers but only ${racks.length} racks`);

  const [postgres, s3] = await Promise.all([sharedPostgres(), sharedS3()]);
  const [databaseUrl, bucket] = await Promise.all([freshDatabase(), freshBucket()]);
  const prefix = 'floe';
  const proxy = options.objectStoreProxy ? await startTcpProxy('127.0.0.1', s3.port) : null;
  const endpoint = proxy ? `http://127.0.0.1:${proxy.port}` : s3.endpoint;
  const store = s3Store(s3, bucket, prefix);

  const common: Overrides = {
    'diskless.coordinator.url': databaseUrl,
    'diskless.object.store.url': `s3://${bucket}/${prefix}`,
    'diskless.s3.endpoint': endpoint,
    'diskless.s3.path.style.access': 'true',
    'diskless.s3.region': 'us-east-1',
    'diskless.s3.access.key.id': s3.accessKeyId,
    'diskless.s3.secret.access.key': s3.secretAccessKey,
    'diskless.commit.interval.ms': 50,
    // A killed broker leaves Metadata within about two seconds.
    'broker.heartbeat.interval.ms': 250,
    'broker.session.timeout.ms': 2000,
    'group.initial.rebalance.delay.ms': 0,
    'diskless.retention.check.interval.ms': 3_600_000,
    ...options.overrides,
  };

  const brokers: ClusterBroker[] = [];
  const logs: string[][] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    brokers.push({ index: i, nodeId: i + 1, rack: racks[i]!, port, dataDir: await tempDir(`floe-cluster-b${i + 1}-`), bootstrap: `127.0.0.1:${port}`, process: null, starts: 0 });
    logs.push([]);
  }
  const config = (i: number): Overrides => ({ ...common, 'node.id': brokers[i]!.nodeId, 'broker.rack': brokers[i]!.rack, ...options.brokerOverrides?.(i) });

  // Kill the brokers even if the test process exits without running its cleanups (uncaught error, exit()).
  // The test runner stops a file that runs past --test-timeout with SIGTERM, which by default ends the
  // process without 'exit' handlers: exit instead, so that they run (here, and PostgreSQL's in local-servers.ts).
  const killAll = () => {
    for (const b of brokers) {
      const child = b.process?.child;
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(b.dataDir, { recursive: true, force: true });
    }
    // PostgreSQL was stopped by its own exit handler (registered first), s3rver exits with this process.
    for (const dir of [postgres.dataDir, s3.dir]) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killAll);
  if (process.listenerCount('SIGTERM') === 0) process.once('SIGTERM', exitOnSignal);
  onCleanup(async () => {
    process.removeListener('exit', killAll);
    process.removeListener('SIGTERM', exitOnSignal);
    await Promise.all(brokers.map(async (b) => {
      const p = b.process;
      if (p && p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
    }));
  });

  const logsOf = (i: number): string => [...logs[i]!, ...(brokers[i]!.process ? [brokers[i]!.process!.output()] : [])].join('');
  const start = async (i: number): Promise<void> => {
    const b = brokers[i]!;
    if (b.process) throw new Error(`broker ${b.nodeId} is running`);
    const p = await spawnBroker(b.dataDir, config(i), b.port);
    b.process = p;
    b.starts++;
    void p.exited.then(() => {
      // Keep the logs of each run; the process slot is cleared by kill/stop.
      logs[i]!.push(p.output(), `\n--- broker ${b.nodeId} exited (${p.child.exitCode ?? p.child.signalCode}) ---\n`);
      if (b.process === p) b.process = null;
    });
  };

  // Together: the schema is created under an advisory lock, so brokers may start at once.
  await Promise.all(brokers.map((_, i) => start(i)));
  if (options.topics?.length) await createTopics(brokers[0]!.bootstrap, options.topics);

  const exited = async (i: number): Promise<number | string> => {
    const p = brokers[i]!.process;
    if (!p) return 'not running';
    const code = await p.exited;
    // Let the exit handler above record the logs before returning.
    await new Promise((r) => setImmediate(r));
    return code;
  };

  const query = async <R extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> => {
    const client = new pg.Client({ connectionString: databaseUrl });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  const cluster: Cluster = {
    brokers,
    bootstrap: brokers.map((b) => b.bootstrap).join(','),
    postgres,
    databaseUrl,
    s3,
    bucket,
    prefix,
    proxy,
    config,
    async kill(i) {
      const p = brokers[i]!.process;
      if (!p) return;
      p.child.kill('SIGKILL');
      await exited(i);
    },
    async stop(i) {
      const p = brokers[i]!.process;
      if (!p) return 'not running';
      p.child.kill('SIGTERM');
      return exited(i);
    },
    restart: start,
    async restartPostgres(downMs = 0, whileDown) {
      await postgres.stop();
      try {
        if (downMs > 0) await sleep(downMs);
        await whileDown?.();
      } finally {
        await postgres.start();
      }
    },
    failObjectStore() {
      if (!proxy) throw new Error('startCluster({ objectStoreProxy: true }) is needed to fail the object store');
      proxy.refuse(true);
      proxy.cutAll();
    },
    healObjectStore() {
      proxy?.refuse(false);
    },
    async objectStoreOutage(ms) {
      cluster.failObjectStore();
      try {
        await sleep(ms);
      } finally {
        cluster.healObjectStore();
      }
    },
    async bucketKeys() {
      const keys: string[] = [];
      for await (const o of store.list('')) keys.push(o.key);
      return keys.sort();
    },
    async coordinatorKeys() {
      const objects = await query<{ object_key: string; state: string }>('SELECT object_key, state FROM objects');
      const pending = await query<{ object_key: string }>('SELECT object_key FROM pending_objects');
      return {
        objects: objects.filter((r) => r.state === 'uploaded').map((r) => r.object_key).sort(),
        deleting: objects.filter((r) => r.state !== 'uploaded').map((r) => r.object_key).sort(),
        pending: pending.map((r) => r.object_key).sort(),
      };
    },
    query,
    logs: logsOf,
    async writeLogs(dir) {
      await mkdir(dir, { recursive: true });
      return Promise.all(brokers.map(async (b, i) => {
        const path = join(dir, `broker-${b.nodeId}.log`);
        await writeFile(path, logsOf(i));
        return path;
      }));
    },
  };
  return cluster;
}

/** CreateTopics through `bootstrap` (kafkajs's admin client). */
async function createTopics(bootstrap: string, topics: NonNullable<ClusterOptions['topics']>): Promise<void> {
  const { kafkajs } = await import('./kafkajs.ts');
  const kafka = kafkajs(bootstrap, 'floe-cluster-harness', { retries: 5 });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: false,
      topics: topics.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  } finally {
    await admin.disconnect();
  }
}
