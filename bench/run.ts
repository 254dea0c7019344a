/**
 * `npm run bench`: Floe's benchmark suite, driven the way users measure brokers — a real third-party client
 * (confluent-kafka / librdkafka, bench/loadgen.py) against brokers started as child processes
 * (`node bin/floe.js start --override …`), with the broker's CPU time read from /proc and its request
 * counts from its own /metrics.
 *
 *   npm run bench                          full suite (≈ 5 minutes on a busy 2-core machine)
 *   npm run bench -- --quick               every scenario, short (≈ 2 minutes)
 *   npm run bench -- --scenarios folder    only some: mock, folder, pg-s3, classic, partitions, security
 *   npm run bench -- --profile             also run each broker under `node --cpu-prof` and print where
 *                                          its time went in each phase (CPU figures then include the
 *                                          profiler's overhead)
 *   npm run bench -- --out DIR             where results go (default bench/results/<date>)
 *   npm run bench -- --node-args='--trace-gc'  Node flags for every broker process (output in its log)
 *   npm run bench -- --broker-config num.network.threads=1   broker settings for every scenario's brokers
 *   npm run bench -- --broker-root /work/main  brokers from another checkout, measured by this one (A/B runs)
 *   npm run bench -- --phases latency      only some phases of the diskless and classic scenarios (below): produce,
 *                                          tail, latency, cold, transactions, compaction, merge; (1) always runs
 *   npm run bench -- --loads 0.5,0.8       the offered loads of phase (3), as fractions of (1)'s rate
 *   npm run bench -- --load-base pg-s3=30000,folder=40000
 *                                          the loads of (3) as fractions of these records/s instead of (1)'s
 *                                          rate (A/B runs at equal offered loads on a machine whose speed varies)
 *   more: --cache-max-bytes (diskless.cache.max.bytes; default 4 GiB, holding all of (1)), --produce-seconds, --latency-seconds, --partition-seconds, --partition-rate (records/s),
 *         --transaction-seconds (0: no transaction runs), --compaction-seconds (0: no compaction run),
 *         --size (record bytes), --partitions (of the throughput topics), --keep-data
 *
 * Scenarios:
 * - mock: librdkafka's in-memory mock broker (test.mock.num.brokers=1), same client, same run: the
 *   reference for what the client and this machine can do without a broker process.
 * - folder: diskless topics on the embedded backends (PGlite coordinator, folder object store).
 * - pg-s3: diskless topics on PostgreSQL (throwaway cluster, fsync on) and s3rver, with the
 *   `s3-standard` latency profile injected into every object-store request.
 * - classic: classic topics (diskless.enable=false, local log).
 * - partitions: object-store and coordinator request counts with 1, 100 and 1,000 partitions at a fixed
 *   load below one full object per commit interval, on the pg-s3 backend.
 * - cores: ingress on each diskless backend with the broker pinned to 1 core (`taskset -c 0`) and to 2 cores,
 *   with num.network.threads 0 (the default) and 1 on 1 core, 0, 1 and 3 (Kafka's default) on 2: MB/s, CPU-s/GiB, PUTs per
 *   commit interval (the load generator is not pinned; on a 2-core machine it shares the cores). At the broker's
 *   default diskless.cache.max.bytes (256 MiB, full and evicting within seconds: the steady state a user's
 *   broker runs in), not (1)'s 4 GiB, unless --cache-max-bytes or --broker-config sets it.
 * - security: one folder-backend broker with a PLAINTEXT and a SASL_SSL listener (TLS from an openssl CA,
 *   SASL/PLAIN): produce as fast as one producer goes, then read it all back, over each listener in turn;
 *   throughput and broker CPU-s/GiB side by side (what TLS and SASL cost).
 *
 * Per backend: (1) produce as fast as one producer can for N s (1 KiB records, acks=all, client defaults
 * otherwise: one connection); (2) read it all back from the broker that wrote it (tail: served by its
 * write-through object cache, sized here to hold it all); (3) at 10%, 50% and 80% of (1)'s rate, produce
 * for N s to a fresh topic with a tail consumer measuring end-to-end latency; (4) restart the broker and
 * read everything again (lagging consumer, cold caches: ranged, coalesced GETs read ahead through the lagging read cache); (5) on a
 * fresh topic, as fast as one producer goes for N s each: an idempotent producer, then transactional
 * producers writing 10 and 1,000 records per transaction (throughput, commit and transaction latency; each
 * commit must succeed and every record be delivered); (6) compaction: keyed records (10,000 keys) to a
 * compacted topic for N s with the cleaner off, then a broker with the cleaner on, timed until every
 * partition is clean (MB/s of input, and per broker core); (7) diskless: a broker with merging on
 * (diskless.merge.min.age.ms=0) merges the small objects, timed until no two candidates are left, then
 * (8) the lagging consumer of (4) reads everything again, cold, from the merged objects. Diskless: the
 * lagging consumer also reads the lowest load's topic of (3) (objects sealed by the commit interval, a few
 * KB per partition each) in (4) and in (8) (not with --quick). Every read
 * checks that every partition's offsets run 0, 1, 2, … with no gap or duplicate and that the count matches
 * what was acknowledged; a mismatch fails the run (exit 1). Figures are printed and written, never asserted.
 *
 * Every broker process's RSS once started and at its peak (VmHWM, read just before it is stopped) is
 * reported per broker (`<backend>-a`: phases 1-3 and 5; `-b`: 4; `-c`: 6; `-d`: 7 and 8).
 *
 * Runs at a fixed load first put one record into every partition (librdkafka's sticky partitioner reaches
 * 1,000 partitions only after seconds) and are measured from then on: a tail fetch of a partition that has
 * never held data is not answered from the batch index cache, which would otherwise dominate the counts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, postgresBinDir, startPostgres, startS3rver, type PostgresServer, type S3Server } from '../tools/dev/local-servers.ts';
import { makeBenchCerts } from './lib/certs.ts';
import { checkClient, consume, createTopics, produce, PYTHON, type ConsumeResult, type ProduceResult } from './lib/loadgen.ts';
import { brokerSettings, findPids, mainThreadCpuSeconds, postmasterPid, processCpuSeconds, ROOT, startBroker, treeCpuSeconds, type BrokerProcess } from './lib/procs.ts';
import { formatProfile, monoMicros, summarizeProfile, type ProfileSummary } from './lib/profile.ts';
import { MetricsDelta } from './lib/prom.ts';
import { consumeFigures, cpuFigures, produceFigures, requestFigures, requestFiguresWithPeaks, round, type PhaseStats } from './lib/figures.ts';
import { evaluateTargets, formatReport, renderSvg, S3_PRICES, type BenchResults, type BackendResult, type PartitionResult, type SecurityRow, type TransactionRow } from './lib/report.ts';

const SCENARIOS = ['mock', 'folder', 'pg-s3', 'classic', 'partitions', 'security', 'cores'] as const;
type Scenario = (typeof SCENARIOS)[number];
type BackendId = 'folder' | 'pg-s3' | 'classic';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    out: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'node-args': { type: 'string' },
    'broker-config': { type: 'string', multiple: true },
    'broker-root': { type: 'string' },
    'cache-max-bytes': { type: 'string' },
    size: { type: 'string', default: '1024' },
    partitions: { type: 'string', default: '8' },
    'produce-seconds': { type: 'string' },
    'latency-seconds': { type: 'string' },
    'partition-seconds': { type: 'string' },
    'partition-rate': { type: 'string', default: '5000' },
    'transaction-seconds': { type: 'string' },
    'compaction-seconds': { type: 'string' },
    'keep-data': { type: 'boolean', default: false },
    phases: { type: 'string' },
    loads: { type: 'string' },
    'load-base': { type: 'string' },
  },
});

const QUICK = values.quick!;
const PHASES = ['produce', 'tail', 'latency', 'cold', 'transactions', 'compaction', 'merge'] as const;
type Phase = (typeof PHASES)[number];
const phases = new Set((values.phases ?? PHASES.join(',')).split(',').map((s) => s.trim()).filter(Boolean) as Phase[]);
for (const p of phases) if (!PHASES.includes(p)) throw new Error(`unknown phase ${p} (known: ${PHASES.join(', ')})`);
const scenarios = new Set(values.scenarios!.split(',').map((s) => s.trim()).filter(Boolean) as Scenario[]);
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s} (known: ${SCENARIOS.join(', ')})`);
const settings = {
  quick: QUICK,
  recordBytes: Number(values.size),
  topicPartitions: Number(values.partitions),
  produceSeconds: Number(values['produce-seconds'] ?? (QUICK ? 3 : 12)),
  latencySeconds: Number(values['latency-seconds'] ?? (QUICK ? 2 : 8)),
  loads: values.loads ? values.loads.split(',').map(Number) : QUICK ? [0.5] : [0.1, 0.5, 0.8],
  partitionCounts: QUICK ? [1, 100] : [1, 100, 1000],
  partitionSeconds: Number(values['partition-seconds'] ?? (QUICK ? 3 : 10)),
  partitionRate: Number(values['partition-rate']),
  transactionSeconds: Number(values['transaction-seconds'] ?? (QUICK ? 2 : 3)),
  transactionSizes: [10, 1000],
  compactionSeconds: Number(values['compaction-seconds'] ?? (QUICK ? 2 : 4)),
  compactionKeys: 10_000,
  commitIntervalMs: 250,
  /**
   * Large enough to hold everything phase (1) writes, so phase (2) is a read from the cache; smaller
   * (`--cache-max-bytes`) to measure ingress once the cache is full and evicting (steady state).
   */
  cacheMaxBytes: Number(values['cache-max-bytes'] ?? 4 * 1024 ** 3),
  latencyProfile: 's3-standard',
  faultSeed: 1,
  prices: S3_PRICES,
};

/** --load-base: records/s that the loads of phase (3) are fractions of, by backend. */
const loadBase = new Map((values['load-base'] ?? '').split(',').filter(Boolean).map((kv) => {
  const [k, v] = kv.split('=');
  if (!k || !Number(v)) throw new Error(`--load-base: expected backend=records/s, got ${kv}`);
  return [k.trim(), Number(v)] as const;
}));

const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const outDir = values.out ?? join(ROOT, 'bench', 'results', stamp);
await mkdir(join(outDir, 'logs'), { recursive: true });
const workDir = await mkdtemp(join(tmpdir(), 'floe-bench-'));
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

const say = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

// ---------------------------------------------------------------- servers and brokers

let pg: PostgresServer | null = null;
let s3: S3Server | null = null;
const brokers = new Set<BrokerProcess>();
const profiles: { broker: string; pid: number; phase: string; window: { fromUs: number; toUs: number }; dir: string }[] = [];

async function cleanup(): Promise<void> {
  for (const b of brokers) {
    await b.stop().catch(() => undefined);
    noteMemory(b);
  }
  brokers.clear();
  await Promise.all([pg?.destroy().catch(() => undefined), s3?.destroy().catch(() => undefined)]);
  if (!values['keep-data']) await rm(workDir, { recursive: true, force: true });
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    say(`${sig}: stopping brokers and servers`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function pgS3Servers(): Promise<{ pg: PostgresServer; s3: S3Server }> {
  if (!pg || !s3) {
    say('starting PostgreSQL (fsync on) and s3rver');
    [pg, s3] = await Promise.all([pg ?? startPostgres({ durable: true }), s3 ?? startS3rver()]);
    await s3.createBucket('floe-bench');
  }
  return { pg, s3 };
}

/** CPU seconds of the backend servers (PostgreSQL and its backends, s3rver) so far. */
function serverCpuSeconds(): number {
  let total = 0;
  if (pg) {
    const pid = postmasterPid(pg.dataDir);
    if (pid) total += treeCpuSeconds(pid);
  }
  if (s3) for (const pid of findPids('s3rver.js', s3.dir)) total += processCpuSeconds(pid);
  return total;
}

let dbSeq = 0;
/** `--broker-config key=value` (repeatable, or comma-separated): set on every scenario's brokers after the bench's own. */
const extraBrokerConfig = brokerSettings((values['broker-config'] ?? []).flatMap((s) => s.split(',')).filter(Boolean), '--broker-config');

async function brokerOverrides(id: BackendId): Promise<Record<string, string | number>> {
  // Merging and compaction run only in their own phases (7) and (6).
  const common = { 'diskless.cache.max.bytes': settings.cacheMaxBytes, 'diskless.commit.interval.ms': settings.commitIntervalMs, 'diskless.merge.enable': 'false', 'log.cleaner.enable': 'false', ...extraBrokerConfig };
  if (id !== 'pg-s3') return common;
  const { pg, s3 } = await pgS3Servers();
  const db = await pg.createDatabase(`bench_${++dbSeq}`);
  return {
    ...common,
    'diskless.coordinator.url': db,
    'diskless.object.store.url': `s3://floe-bench/run-${dbSeq}`,
    'diskless.s3.endpoint': s3.endpoint,
    'diskless.s3.region': 'us-east-1',
    'diskless.s3.path.style.access': 'true',
    'diskless.s3.access.key.id': s3.accessKeyId,
    'diskless.s3.secret.access.key': s3.secretAccessKey,
    'diskless.object.store.latency.profile': settings.latencyProfile,
    'diskless.object.store.fault.seed': settings.faultSeed,
  };
}

async function launch(id: BackendId, dataDir: string, overrides: Record<string, string | number>, tag: string, cpus?: string): Promise<BrokerProcess> {
  const b = await startBroker({
    ...(cpus ? { cpus } : {}),
    name: `${id}-${tag}`,
    dataDir,
    overrides,
    logFile: join(outDir, 'logs', `broker-${id}.log`),
    ...(values.profile ? { profileDir: join(outDir, 'profiles', `${id}-${tag}`) } : {}),
    ...(values['node-args'] ? { nodeArgs: values['node-args'].split(/\s+/).filter(Boolean) } : {}),
    ...(values['broker-root'] ? { root: values['broker-root'] } : {}),
  });
  brokers.add(b);
  say(`broker ${b.name} up on ${b.bootstrap} (metrics :${b.metricsPort}) in ${b.startSeconds.toFixed(1)} s`);
  return b;
}

async function stopBroker(b: BrokerProcess): Promise<void> {
  await b.stop();
  brokers.delete(b);
  noteMemory(b);
}

/** The broker's RSS at start and at its peak, for the report (after stop(), which reads the peak). */
function noteMemory(b: BrokerProcess): void {
  results.memory!.push({ broker: b.name, startRssMiB: b.startRssMiB, peakRssMiB: b.peakRssMiB });
}

// ---------------------------------------------------------------- measuring a phase

interface Meter {
  /** The phase so far (may be called more than once). */
  read(): Promise<PhaseStats>;
}

/** Broker CPU, server CPU, wall time and a /metrics difference over one phase. */
async function meter(b: BrokerProcess, serversToo: boolean): Promise<Meter> {
  const before = await b.metrics();
  const cpu0 = b.cpuSeconds();
  const sys0 = b.systemCpuSeconds();
  const faults0 = b.minorFaults();
  const srv0 = serversToo ? serverCpuSeconds() : 0;
  const t0 = performance.now();
  const mono0 = monoMicros();
  return {
    async read() {
      const seconds = (performance.now() - t0) / 1000;
      const cpu = b.cpuSeconds() - cpu0;
      const sys = b.systemCpuSeconds() - sys0;
      const faults = b.minorFaults() - faults0;
      const srv = serversToo ? serverCpuSeconds() - srv0 : null;
      const toUs = monoMicros();
      const after = await b.metrics();
      return { seconds, brokerCpuSeconds: cpu, brokerSystemCpuSeconds: sys, brokerMinorFaults: faults, serverCpuSeconds: srv, metrics: new MetricsDelta(before, after), window: { fromUs: mono0, toUs } };
    },
  };
}

/**
 * A produce run metered from its "measuring" marker (after the warm-up record): `whole` to the end of the
 * run (the client's final flush included), `steady` to its "produced" marker (load still offered: the
 * window for request rates).
 */
async function meteredProduce(b: BrokerProcess, serversToo: boolean, opts: Parameters<typeof produce>[0]): Promise<{ r: ProduceResult; whole: PhaseStats; steady: PhaseStats }> {
  let started: Promise<Meter> | null = null;
  let steady: Promise<PhaseStats> | null = null;
  const r = await produce({
    ...opts,
    onMarker: (marker) => {
      if (marker === 'measuring') started = meter(b, serversToo);
      else if (started) steady = started.then((m) => m.read());
    },
  });
  if (!started || !steady) throw new Error(`produce to ${opts.topic}: the load generator printed no measuring/produced markers`);
  const whole = await (await (started as Promise<Meter>)).read();
  return { r, whole, steady: await (steady as Promise<PhaseStats>) };
}

/** Polls the broker's /metrics until `ready` holds (true) or `timeoutSeconds` pass (false). */
async function waitForMetrics(b: BrokerProcess, timeoutSeconds: number, ready: (now: Map<string, { name: string; value: number }>) => boolean): Promise<boolean> {
  const deadline = performance.now() + timeoutSeconds * 1000;
  while (performance.now() < deadline) {
    if (ready(await b.metrics())) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

// ---------------------------------------------------------------- scenarios

async function runMock(): Promise<BenchResults['mock']> {
  say(`mock broker: producing for ${settings.produceSeconds} s`);
  const r = await produce({ mock: true, topic: 'bench', seconds: settings.produceSeconds, size: settings.recordBytes });
  return produceFigures(r);
}

const TOPIC = 'throughput';

/** Cores the producer and the consumer processes used over their own runs (null if either did not say). */
function clientCores(r: ProduceResult, c: ConsumeResult): number | null {
  if (r.cpuSeconds === undefined || !(r.seconds > 0) || c.cpuSeconds === undefined || c.cpuSeconds === null || !(c.seconds > 0)) return null;
  return round(r.cpuSeconds / r.seconds + c.cpuSeconds / c.seconds, 2);
}

/** PLAINTEXT beside SASL_SSL (SASL/PLAIN over TLS) on one folder-backend broker: produce, then read back. */
async function runSecurity(): Promise<SecurityRow[]> {
  const dir = join(workDir, 'security');
  await mkdir(join(dir, 'certs'), { recursive: true });
  const certs = makeBenchCerts(join(dir, 'certs'));
  const saslPort = await freePort();
  const broker = await launch('folder', join(dir, 'data'), {
    ...(await brokerOverrides('folder')),
    listeners: `PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:${saslPort}`,
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.brokerPem,
    'sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.sasl_ssl.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_bench="bench-secret";',
  }, 'security');
  const rows: SecurityRow[] = [];
  try {
    const listeners: { listener: string; bootstrap: string; config: Record<string, string> }[] = [
      { listener: 'PLAINTEXT', bootstrap: broker.bootstrap, config: {} },
      { listener: 'SASL_SSL (PLAIN)', bootstrap: `127.0.0.1:${saslPort}`, config: {
        'security.protocol': 'sasl_ssl', 'ssl.ca.location': certs.ca, 'sasl.mechanisms': 'PLAIN', 'sasl.username': 'bench', 'sasl.password': 'bench-secret',
      } },
    ];
    for (const [i, l] of listeners.entries()) {
      const topic = `security-${i}`;
      await createTopics(broker.bootstrap, [{ name: topic, partitions: settings.topicPartitions }]);
      // At most 6 s per listener, so the default suite stays short.
      const seconds = Math.min(settings.produceSeconds, 6);
      say(`security: producing over ${l.listener} as fast as possible for ${seconds} s`);
      const run = await meteredProduce(broker, false, { bootstrap: l.bootstrap, topic, seconds, size: settings.recordBytes, config: l.config });
      const m = await meter(broker, false);
      const read = await consume({ bootstrap: l.bootstrap, topic, partitions: settings.topicPartitions, expect: run.r.sent + run.r.warmUp, config: l.config }).result;
      const p = await m.read();
      const row: SecurityRow = {
        listener: l.listener,
        produce: { ...produceFigures(run.r), ...cpuFigures(run.whole, run.r.bytes) },
        consume: { ...consumeFigures(read), ...cpuFigures(p, read.bytes) },
      };
      rows.push(row);
      say(`security: ${l.listener}: produce ${row.produce.MBps} MB/s (${row.produce.brokerCpuSecondsPerGiB} broker CPU-s/GiB), consume ${row.consume.MBps} MB/s (${row.consume.brokerCpuSecondsPerGiB} CPU-s/GiB)`);
    }
  } finally {
    await stopBroker(broker);
  }
  return rows;
}

interface CoresRow { backend: BackendId; cpus: string; networkThreads: number; MBps: number | null; brokerCpuSecondsPerGiB: number | null; MiBpsPerBrokerCore: number | null; mainThreadCpuSecondsPerGiB: number | null; MiBpsPerMainThreadCore: number | null; putsPerCommitInterval: number | null; defaultObjectCache: boolean }

/** Ingress with the broker pinned to 1 and 2 cores, without network threads (the default) and with 1, and 3 (Kafka's) on 2. */
async function runCores(): Promise<CoresRow[]> {
  const rows: CoresRow[] = [];
  const defaultObjectCache = values['cache-max-bytes'] === undefined && !('diskless.cache.max.bytes' in extraBrokerConfig);
  const seconds = Math.min(settings.produceSeconds, 8);
  for (const id of ['folder', 'pg-s3'] as const) {
    for (const [cpus, threads] of [['0', 0], ['0', 1], ['0,1', 0], ['0,1', 1], ['0,1', 3]] as const) {
      const tag = `cores-${cpus.replace(',', '')}-t${threads}`;
      const overrides = await brokerOverrides(id);
      if (defaultObjectCache) delete overrides['diskless.cache.max.bytes'];
      const broker = await launch(id, join(workDir, `${id}-${tag}`), { ...overrides, 'num.network.threads': threads }, tag, cpus);
      try {
        const topic = 'cores';
        await createTopics(broker.bootstrap, [{ name: topic, partitions: settings.topicPartitions }]);
        say(`cores: ${id}, cpus ${cpus}, num.network.threads=${threads}: producing for ${seconds} s`);
        const main0 = mainThreadCpuSeconds(broker.pid);
        const run = await meteredProduce(broker, false, { bootstrap: broker.bootstrap, topic, seconds, size: settings.recordBytes });
        // The main thread (handlers, writer, coordinator) is what stays serial: its CPU per GiB bounds a broker's ingress.
        const mainCpu = mainThreadCpuSeconds(broker.pid) - main0;
        if (values.profile) profiles.push({ broker: broker.name, pid: broker.pid, phase: 'produce', window: run.whole.window, dir: join(outDir, 'profiles', broker.name) });
        const gib = run.r.bytes / GIB;
        const cpu = cpuFigures(run.whole, run.r.bytes);
        const req = requestFigures(run.steady);
        const row: CoresRow = {
          backend: id, cpus, networkThreads: threads, MBps: produceFigures(run.r).MBps,
          brokerCpuSecondsPerGiB: cpu.brokerCpuSecondsPerGiB, MiBpsPerBrokerCore: cpu.MiBpsPerBrokerCore,
          mainThreadCpuSecondsPerGiB: gib > 0 ? round(mainCpu / gib, 2) : null,
          MiBpsPerMainThreadCore: mainCpu > 0 ? round(run.r.bytes / MIB / mainCpu, 1) : null,
          putsPerCommitInterval: round(req.puts / run.steady.seconds * settings.commitIntervalMs / 1000, 2),
          defaultObjectCache,
        };
        rows.push(row);
        say(`cores: ${id}, cpus ${cpus}, threads ${threads}: ${row.MBps} MB/s, ${row.brokerCpuSecondsPerGiB} CPU-s/GiB (main thread ${row.mainThreadCpuSecondsPerGiB}), ${row.putsPerCommitInterval} PUTs per interval`);
      } finally {
        await stopBroker(broker);
      }
    }
  }
  return rows;
}

function formatCores(rows: NonNullable<BenchResults['cores']>): string {
  const lines = [
    `Ingress by cores (broker pinned with taskset; one producer, 1 KiB records, acks=all; object cache ${rows.every((r) => r.defaultObjectCache) ? "at the broker's default, full and evicting" : 'as set'}; main thread: the serial part)`,
    '  backend  cpus  network threads   MB/s  CPU-s/GiB  MiB/s per core  main-thread CPU-s/GiB  MiB/s per main-thread core  PUTs/interval',
  ];
  for (const r of rows) lines.push(`  ${r.backend.padEnd(7)}  ${r.cpus.padEnd(4)}  ${String(r.networkThreads).padStart(15)}  ${String(r.MBps).padStart(5)}  ${String(r.brokerCpuSecondsPerGiB).padStart(9)}  ${String(r.MiBpsPerBrokerCore).padStart(14)}  ${String(r.mainThreadCpuSecondsPerGiB).padStart(21)}  ${String(r.MiBpsPerMainThreadCore).padStart(26)}  ${String(r.putsPerCommitInterval).padStart(13)}`);
  return lines.join('\n');
}

const phaseOn = (p: Phase): boolean => phases.has(p);

async function runBackend(id: BackendId, phases: { main: boolean; partitions: boolean }): Promise<BackendResult> {
  const diskless = id !== 'classic';
  const topicConfig: Record<string, string> = diskless ? {} : { 'diskless.enable': 'false' };
  const serversToo = id === 'pg-s3';
  const dataDir = join(workDir, id);
  const overrides = await brokerOverrides(id);
  let broker = await launch(id, dataDir, overrides, 'a');
  const result: BackendResult = { id, diskless, brokerStartSeconds: round(broker.startSeconds, 1)!, produce: null, tailRead: null, coldRead: null, latency: [], partitions: [], transactions: [], compaction: null, merge: null, coldReadMerged: null, coldReadSmall: null, coldReadSmallMerged: null };
  try {
    const bootstrap = () => broker.bootstrap;
    let produced: ProduceResult | null = null;
    /** Records in each latency topic (the lowest load's topic is read cold too: objects sealed by the interval, small). */
    const latencyCounts = new Map<string, number>();
    const smallTopic = `latency-${Math.round(settings.loads[0]! * 100)}`;
    /** A lagging consumer reads all of `topic` (cold caches: just after a restart). */
    const coldRead = async (topic: string, expect: number, phase: string) => {
      const m = await meter(broker, serversToo);
      const cold = await consume({ bootstrap: bootstrap(), topic, partitions: settings.topicPartitions, expect }).result;
      const p = await m.read();
      if (values.profile) profiles.push({ broker: broker.name, pid: broker.pid, phase, window: p.window, dir: join(outDir, 'profiles', broker.name) });
      return { ...consumeFigures(cold), ...cpuFigures(p, cold.bytes), requests: requestFigures(p) };
    };
    if (phases.main) {
      await createTopics(bootstrap(), [
        { name: TOPIC, partitions: settings.topicPartitions, config: topicConfig },
        ...settings.loads.map((l) => ({ name: `latency-${Math.round(l * 100)}`, partitions: settings.topicPartitions, config: topicConfig })),
      ]);

      // (1) produce as fast as one producer connection can.
      say(`${id}: producing as fast as possible for ${settings.produceSeconds} s`);
      const run = await meteredProduce(broker, serversToo, { bootstrap: bootstrap(), topic: TOPIC, seconds: settings.produceSeconds, size: settings.recordBytes });
      produced = run.r;
      if (values.profile) profiles.push({ broker: broker.name, pid: broker.pid, phase: 'produce', window: run.whole.window, dir: join(outDir, 'profiles', broker.name) });
      result.produce = { ...produceFigures(produced), ...cpuFigures(run.whole, produced.bytes), requests: requestFigures(run.whole) };
      say(`${id}: ${result.produce.MBps} MB/s, ${result.produce.recordsPerSec} records/s, ${result.produce.brokerCpuSecondsPerGiB} broker CPU-s/GiB`);

      // (2) read it back from the broker that wrote it (tail / cache).
      if (phaseOn('tail')) {
      say(`${id}: reading ${produced.sent + produced.warmUp} records back (tail, from cache)`);
      const m = await meter(broker, serversToo);
      const tail = await consume({ bootstrap: bootstrap(), topic: TOPIC, partitions: settings.topicPartitions, expect: produced.sent + produced.warmUp }).result;
      const p = await m.read();
      if (values.profile) profiles.push({ broker: broker.name, pid: broker.pid, phase: 'tail-read', window: p.window, dir: join(outDir, 'profiles', broker.name) });
      result.tailRead = { ...consumeFigures(tail), ...cpuFigures(p, tail.bytes), requests: requestFigures(p) };
      say(`${id}: tail read ${result.tailRead.MBps} MB/s`);
      }

      // (3) latency at fixed offered loads, with a tail consumer.
      for (const load of phaseOn('latency') ? settings.loads : []) {
        const rate = Math.max(1, Math.round((loadBase.get(id) ?? produced.sent / produced.seconds) * load));
        const topic = `latency-${Math.round(load * 100)}`;
        say(`${id}: ${Math.round(load * 100)}% load = ${rate} records/s for ${settings.latencySeconds} s, tail consumer measuring end-to-end latency`);
        const consumer = consume({ bootstrap: bootstrap(), topic, partitions: settings.topicPartitions, e2e: true, timeoutSeconds: settings.latencySeconds + 240 });
        await consumer.ready;
        const { r, whole, steady } = await meteredProduce(broker, serversToo, { bootstrap: bootstrap(), topic, seconds: settings.latencySeconds, size: settings.recordBytes, rate, prefill: settings.topicPartitions });
        const c = await consumer.finish(r.sent + r.warmUp);
        latencyCounts.set(topic, r.sent + r.warmUp);
        const p = whole;
        result.latency.push({
          load,
          offeredRecordsPerSec: rate,
          achievedRecordsPerSec: Math.round(r.sent / r.produceCallSeconds),
          MBps: round(r.bytes / r.seconds / 1e6, 1),
          bytes: r.bytes,
          produceMs: r.latencyMs,
          e2eMs: c.e2eMs,
          ...cpuFigures(p, r.bytes),
          requests: requestFiguresWithPeaks(p, steady),
          clientCoresUsed: clientCores(r, c),
        });
        if (values.profile) profiles.push({ broker: broker.name, pid: broker.pid, phase: `latency ${Math.round(load * 100)}%`, window: whole.window, dir: join(outDir, 'profiles', broker.name) });
      }
    }

    // (5) transactions: an idempotent producer, then transactional ones, as fast as one producer goes.
    if (phases.main && phaseOn('transactions') && settings.transactionSeconds > 0) {
      const topic = 'transactions';
      await createTopics(bootstrap(), [{ name: topic, partitions: settings.topicPartitions, config: topicConfig }]);
      for (const perTxn of [0, ...settings.transactionSizes]) {
        say(`${id}: ${perTxn === 0 ? 'idempotent producer' : `transactional producer, ${perTxn} records per transaction`}, ${settings.transactionSeconds} s`);
        const { r, whole } = await meteredProduce(broker, serversToo, {
          bootstrap: bootstrap(), topic, seconds: settings.transactionSeconds, size: settings.recordBytes,
          ...(perTxn === 0 ? { config: { 'enable.idempotence': 'true' } } : { transactionRecords: perTxn }),
        });
        const row: TransactionRow = {
          mode: perTxn === 0 ? 'idempotent' : 'transactional',
          recordsPerTransaction: perTxn === 0 ? null : perTxn,
          records: r.sent,
          recordsPerSec: Math.round(r.sent / r.seconds),
          MBps: round(r.bytes / r.seconds / 1e6, 1),
          transactions: r.transactions ?? null,
          commitMs: r.commitMs ?? null,
          transactionMs: r.transactionMs ?? null,
          produceMs: r.latencyMs,
          ...cpuFigures(whole, r.bytes),
        };
        result.transactions.push(row);
        say(`${id}: ${row.recordsPerSec} records/s${row.commitMs ? `, commit p50 ${row.commitMs.p50} ms, p99 ${row.commitMs.p99} ms` : ''}`);
      }
    }

    // (partitions) request counts by partition count, at a fixed load, with tail consumers.
    if (phases.partitions) {
      const maxRate = produced ? produced.sent / produced.seconds : Infinity;
      const rate = Math.round(Math.min(settings.partitionRate, maxRate * 0.5));
      for (const n of settings.partitionCounts) {
        const topic = `partitions-${n}`;
        await createTopics(bootstrap(), [{ name: topic, partitions: n, config: topicConfig }]);
        say(`${id}: ${n} partition(s), ${rate} records/s for ${settings.partitionSeconds} s with a tail consumer`);
        const consumer = consume({ bootstrap: bootstrap(), topic, partitions: n, e2e: true, timeoutSeconds: settings.partitionSeconds + 240 });
        await consumer.ready;
        const { r, steady: p } = await meteredProduce(broker, serversToo, { bootstrap: bootstrap(), topic, seconds: settings.partitionSeconds, size: settings.recordBytes, rate, prefill: n });
        const c = await consumer.finish(r.sent + r.warmUp);
        const req = requestFigures(p);
        // Bytes offered during the steady window (the figures below are rates over that window).
        const bytes = Math.round((r.sent / r.produceCallSeconds) * p.seconds * settings.recordBytes);
        const row: PartitionResult = {
          partitions: n,
          recordsPerSec: Math.round(r.sent / r.produceCallSeconds),
          MBps: round(bytes / p.seconds / 1e6, 1),
          bytes,
          seconds: round(p.seconds, 2)!,
          putsPerCommitInterval: round(req.puts / p.seconds * settings.commitIntervalMs / 1000, 3),
          ...req,
          produceMs: r.latencyMs,
          e2eMs: c.e2eMs,
          ...cpuFigures(p, bytes),
        };
        result.partitions.push(row);
        say(`${id}: ${n} partition(s): ${row.putsPerSec} PUT/s, ${row.getsPerSec} GET/s, ${row.commitsPerSec} commits/s, ${row.queriesPerFetch} queries/fetch`);
      }
    }

    // (4) restart: a lagging consumer reads everything with cold caches.
    if (phases.main && phaseOn('cold') && produced) {
      say(`${id}: restarting the broker, then reading everything again (cold)`);
      await stopBroker(broker);
      broker = await launch(id, dataDir, overrides, 'b');
      result.coldRead = await coldRead(TOPIC, produced.sent + produced.warmUp, 'cold-read');
      say(`${id}: cold read ${result.coldRead.MBps} MB/s, ${result.coldRead.requests.getsPerMB} GET/MB`);
      if (diskless && !QUICK && latencyCounts.has(smallTopic)) {
        result.coldReadSmall = await coldRead(smallTopic, latencyCounts.get(smallTopic)!, 'cold-read-small');
        say(`${id}: cold read of ${smallTopic} (small objects) ${result.coldReadSmall.MBps} MB/s, ${result.coldReadSmall.requests.getsPerMB} GET/MB`);
      }
    }

    // (6) compaction throughput.
    if (phases.main && phaseOn('compaction') && settings.compactionSeconds > 0) {
      const topic = 'compacted';
      await createTopics(bootstrap(), [{ name: topic, partitions: settings.topicPartitions, config: { ...topicConfig, 'cleanup.policy': 'compact', 'segment.ms': '1000' } }]);
      say(`${id}: keyed records (${settings.compactionKeys} keys) to a compacted topic for ${settings.compactionSeconds} s, cleaner off`);
      const keyed = await produce({ bootstrap: bootstrap(), topic, seconds: settings.compactionSeconds, size: settings.recordBytes, keys: settings.compactionKeys });
      await new Promise((r) => setTimeout(r, 1500)); // past segment.ms: nothing is in the active segment
      await stopBroker(broker);
      broker = await launch(id, dataDir, { ...overrides, 'log.cleaner.enable': 'true', 'log.cleaner.backoff.ms': 200 }, 'c');
      const m = await meter(broker, serversToo);
      const done = await waitForMetrics(broker, 300, (now) => {
        const ratios = [...now.values()].filter((x) => x.name === (diskless ? 'floe_diskless_compaction_dirty_ratio' : 'floe_log_cleaner_dirty_ratio'));
        const runs = now.get(diskless ? 'floe_diskless_compaction_runs_total' : 'floe_log_cleaner_runs_total')?.value ?? 0;
        return runs >= settings.topicPartitions && ratios.length === settings.topicPartitions && ratios.every((x) => x.value === 0);
      });
      const p = await m.read();
      const prefix = diskless ? 'floe_diskless_compaction' : 'floe_log_cleaner';
      result.compaction = {
        done,
        inputBytes: keyed.bytes,
        records: keyed.sent,
        seconds: round(p.seconds, 2)!,
        MBps: round(keyed.bytes / p.seconds / 1e6, 1),
        ...cpuFigures(p, keyed.bytes),
        bytesRead: p.metrics.get(`${prefix}_bytes_total`, { direction: 'read' }),
        bytesWritten: p.metrics.get(`${prefix}_bytes_total`, { direction: 'written' }),
        recordsRemoved: p.metrics.get(`${prefix}_records_removed_total`),
      };
      say(`${id}: compaction ${done ? '' : '(NOT FINISHED) '}${result.compaction.MBps} MB/s of input, ${result.compaction.MiBpsPerBrokerCore} MiB/s per broker core`);
    }

    // (7) merging of the small objects, then (8) the lagging consumer again.
    if (phases.main && phaseOn('merge') && produced && diskless) {
      await stopBroker(broker);
      broker = await launch(id, dataDir, { ...overrides, 'diskless.merge.enable': 'true', 'diskless.merge.min.age.ms': 0, 'diskless.merge.interval.ms': 200, 'diskless.merge.io.max.bytes.per.second': GIB }, 'd');
      say(`${id}: merging the small objects`);
      const m = await meter(broker, serversToo);
      const done = await waitForMetrics(broker, 300, (now) => (now.get('floe_diskless_merge_passes_total')?.value ?? 0) >= 1 && (now.get('floe_diskless_merge_pending_objects')?.value ?? 0) <= 1);
      const p = await m.read();
      const bytesRead = p.metrics.get('floe_diskless_merge_bytes_total', { direction: 'read' });
      result.merge = {
        done,
        objectsMerged: p.metrics.get('floe_diskless_merge_objects_total', { kind: 'merged' }),
        objectsWritten: p.metrics.get('floe_diskless_merge_objects_total', { kind: 'written' }),
        bytesRead,
        bytesWritten: p.metrics.get('floe_diskless_merge_bytes_total', { direction: 'written' }),
        seconds: round(p.seconds, 2)!,
        MBps: round(bytesRead / p.seconds / 1e6, 1),
        ...cpuFigures(p, bytesRead),
        requests: requestFigures(p),
      };
      say(`${id}: merged ${result.merge.objectsMerged} objects into ${result.merge.objectsWritten} (${result.merge.MBps} MB/s of input)`);
      // Still cold on this broker: the merger reads and writes the store directly (nothing enters the object
      // cache) and drops the index cache entries of the partitions it moved; no consumer read here yet.
      result.coldReadMerged = await coldRead(TOPIC, produced.sent + produced.warmUp, 'cold-read-merged');
      say(`${id}: cold read after merging ${result.coldReadMerged.MBps} MB/s, ${result.coldReadMerged.requests.getsPerMB} GET/MB`);
      if (!QUICK && latencyCounts.has(smallTopic)) {
        result.coldReadSmallMerged = await coldRead(smallTopic, latencyCounts.get(smallTopic)!, 'cold-read-small-merged');
        say(`${id}: cold read of ${smallTopic} after merging ${result.coldReadSmallMerged.MBps} MB/s, ${result.coldReadSmallMerged.requests.getsPerMB} GET/MB`);
      }
    }
  } finally {
    await stopBroker(broker);
  }
  return result;
}

// ---------------------------------------------------------------- main

const started = performance.now();
const results: BenchResults = {
  version: 1,
  startedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', loadavgStart: loadavg().map((n) => round(n, 2)!), loadavgEnd: [], node: process.version, client: '' },
  settings,
  mock: null,
  backends: [],
  security: null,
  failures: [],
  targets: [],
  costs: null,
  profiles: [],
  durationSeconds: 0,
  memory: [],
  cores: [],
};
let exitCode = 0;
try {
  await ensurePrerequisites();
  results.machine.client = await checkClient();
  say(`client: ${results.machine.client}; load average ${results.machine.loadavgStart.join(' ')}; results in ${outDir}`);
  if (scenarios.has('mock')) {
    try {
      results.mock = await runMock();
    } catch (err) {
      results.failures.push({ scenario: 'mock', error: (err as Error).message });
    }
  }
  if (scenarios.has('security')) {
    try {
      results.security = await runSecurity();
    } catch (err) {
      say(`security FAILED: ${(err as Error).message}`);
      results.failures.push({ scenario: 'security', error: (err as Error).stack ?? String(err) });
    }
  }
  if (scenarios.has('cores')) {
    try {
      results.cores = await runCores();
    } catch (err) {
      say(`cores FAILED: ${(err as Error).message}`);
      results.failures.push({ scenario: 'cores', error: (err as Error).stack ?? String(err) });
    }
  }
  const order: BackendId[] = ['folder', 'pg-s3', 'classic'];
  for (const id of order) {
    const main = scenarios.has(id);
    const partitions = id === 'pg-s3' && scenarios.has('partitions');
    if (!main && !partitions) continue;
    try {
      results.backends.push(await runBackend(id, { main, partitions }));
    } catch (err) {
      say(`${id} FAILED: ${(err as Error).message}`);
      results.failures.push({ scenario: id, error: (err as Error).stack ?? String(err) });
    }
  }
} catch (err) {
  results.failures.push({ scenario: 'setup', error: (err as Error).stack ?? String(err) });
} finally {
  await cleanup();
}

// Profiles: self time during the phases recorded above (the produce phase first).
if (values.profile) {
  for (const prof of profiles) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: the broker's main thread is thread 0.
    const files = (await readdir(prof.dir).catch(() => [])).filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${prof.pid}.0.`));
    for (const f of files) {
      const summary: ProfileSummary = summarizeProfile(join(prof.dir, f), prof.window);
      results.profiles.push({ broker: prof.broker, phase: prof.phase, file: join(prof.dir, f), window: prof.window, summary });
    }
  }
}

results.machine.loadavgEnd = loadavg().map((n) => round(n, 2)!);
results.durationSeconds = round((performance.now() - started) / 1000, 1)!;
results.costs = computeCosts(results);
results.targets = evaluateTargets(results);
await writeFile(join(outDir, 'results.json'), JSON.stringify(results, (k, v) => (k === 'metrics' ? undefined : v), 2));
await writeFile(join(outDir, 'chart.svg'), renderSvg(results));
process.stdout.write(formatReport(results));
if (results.cores?.length) process.stdout.write(`\n${formatCores(results.cores)}\n`);
for (const p of results.profiles) process.stdout.write(`\n${formatProfile(p.summary, `CPU profile of broker ${p.broker}, ${p.phase} phase`)}\n`);
process.stdout.write(`\nResults: ${join(outDir, 'results.json')}, chart: ${join(outDir, 'chart.svg')}, broker logs: ${join(outDir, 'logs')}\n`);
if (results.failures.length > 0) {
  exitCode = 1;
  process.stderr.write(`\n*** BENCHMARK FAILED: ${results.failures.length} scenario(s) did not complete or did not read back what was written:\n`);
  for (const f of results.failures) process.stderr.write(`*** ${f.scenario}: ${f.error.split('\n').slice(0, 6).join('\n    ')}\n`);
}
process.exit(exitCode);

/**
 * What the suite needs beyond node_modules: Debian's python3-confluent-kafka (the client) and, for the
 * pg-s3 scenarios, postgresql. Installed with apt-get when missing and we are root (as `npm test` does);
 * otherwise the run says what to install.
 */
async function ensurePrerequisites(): Promise<void> {
  const missing: string[] = [];
  const hasClient = () => {
    try {
      execFileSync(PYTHON, ['-c', 'import confluent_kafka'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!hasClient()) missing.push('python3-confluent-kafka');
  if ((scenarios.has('pg-s3') || scenarios.has('partitions')) && (await postgresBinDir()) === null) missing.push('postgresql');
  if ((scenarios.has('pg-s3') || scenarios.has('partitions')) && !existsSync(join(ROOT, 'node_modules/s3rver'))) {
    throw new Error('s3rver is missing from node_modules: run npm install');
  }
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    throw new Error(`missing: ${missing.join(', ')} (apt-get install -y ${missing.join(' ')})`);
  }
  say(`installing ${missing.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '-q', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
  } catch {
    execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    execFileSync('apt-get', ['install', '-y', '-q', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
  }
}

/** Request cost per GiB at S3 list prices, from the request counts of the diskless runs. */
function computeCosts(r: BenchResults): BenchResults['costs'] {
  const perGiB = (requests: number, bytes: number) => (bytes > 0 ? requests / (bytes / GIB) : null);
  const rows: NonNullable<BenchResults['costs']>['rows'] = [];
  for (const b of r.backends) {
    if (!b.diskless) continue;
    const add = (what: string, kind: 'write' | 'read', requests: number, bytes: number, price: number) => {
      const n = perGiB(requests, bytes);
      if (n === null) return;
      rows.push({ backend: b.id, what, kind, requestsPerGiB: round(n, 1)!, dollarsPerGiB: round((n * price) / 1000, 6)! });
    };
    if (b.produce) add('write, max throughput (objects sealed by size)', 'write', b.produce.requests.puts, b.produce.bytes, S3_PRICES.putPer1000);
    for (const row of b.partitions) add(`write, ${row.MBps} MB/s over ${row.partitions} partition(s) (sealed by interval)`, 'write', row.puts, row.bytes, S3_PRICES.putPer1000);
    if (b.tailRead) add('read, tail consumers (cache)', 'read', b.tailRead.requests.gets, b.tailRead.bytes, S3_PRICES.getPer1000);
    for (const row of b.latency) add(`read, tail consumer at ${Math.round(row.load * 100)}% load`, 'read', row.requests.gets, row.bytes, S3_PRICES.getPer1000);
    if (b.coldRead) add('read, lagging consumer (cold, ranged GETs)', 'read', b.coldRead.requests.gets, b.coldRead.bytes, S3_PRICES.getPer1000);
  }
  return { prices: S3_PRICES, rows };
}
