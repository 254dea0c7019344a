/**
 * The benchmark's results: their shape (results.json), the printed table, the targets of issue 8 with
 * whether this run met them, and a hand-written SVG chart.
 */
import type { LatencySummary } from './loadgen.ts';
import type { ConsumeFigures, CpuFigures, ProduceFigures, RequestFigures } from './figures.ts';
import type { ProfileSummary } from './profile.ts';

/** AWS S3 Standard list prices, us-east-1 (2025). Storage ($0.023/GB-month) and transfer are not included. */
export const S3_PRICES = {
  putPer1000: 0.005,
  getPer1000: 0.0004,
  note: 'AWS S3 Standard us-east-1 list prices: PUT $0.005 per 1,000 requests, GET $0.0004 per 1,000; storage ($0.023/GB-month) and data transfer not included',
};

export interface LatencyRow extends CpuFigures {
  load: number;
  offeredRecordsPerSec: number;
  achievedRecordsPerSec: number;
  MBps: number | null;
  bytes: number;
  produceMs: LatencySummary | null;
  e2eMs: LatencySummary | null;
  requests: RequestFigures;
  /** CPU cores the load generator's producer and tail consumer used (CPU time over their run). */
  clientCoresUsed: number | null;
}

export interface PartitionResult extends RequestFigures, CpuFigures {
  partitions: number;
  recordsPerSec: number;
  MBps: number | null;
  bytes: number;
  seconds: number;
  putsPerCommitInterval: number | null;
  produceMs: LatencySummary | null;
  e2eMs: LatencySummary | null;
}

/** Produce as fast as one producer goes: idempotent, or transactional with N records per transaction. */
export interface TransactionRow extends CpuFigures {
  mode: 'idempotent' | 'transactional';
  /** null for the idempotent run. */
  recordsPerTransaction: number | null;
  records: number;
  recordsPerSec: number;
  MBps: number | null;
  transactions: number | null;
  /** commit_transaction once the records are delivered (EndTxn and the markers). */
  commitMs: LatencySummary | null;
  /** begin_transaction to commit_transaction returned. */
  transactionMs: LatencySummary | null;
  produceMs: LatencySummary | null;
}

export interface BackendResult {
  id: 'folder' | 'pg-s3' | 'classic';
  diskless: boolean;
  brokerStartSeconds: number;
  produce: (ProduceFigures & CpuFigures & { requests: RequestFigures }) | null;
  tailRead: (ConsumeFigures & CpuFigures & { requests: RequestFigures }) | null;
  coldRead: (ConsumeFigures & CpuFigures & { requests: RequestFigures }) | null;
  latency: LatencyRow[];
  partitions: PartitionResult[];
  transactions: TransactionRow[];
  /** (6) compaction of a keyed topic: input bytes over the time until every partition was clean. */
  compaction: (CpuFigures & { done: boolean; inputBytes: number; records: number; seconds: number; MBps: number | null; bytesRead: number; bytesWritten: number; recordsRemoved: number }) | null;
  /** (7) merging of the small objects (diskless). */
  merge: (CpuFigures & { done: boolean; objectsMerged: number; objectsWritten: number; bytesRead: number; bytesWritten: number; seconds: number; MBps: number | null; requests: RequestFigures }) | null;
  /** (8) the cold read again, after merging. */
  coldReadMerged: (ConsumeFigures & CpuFigures & { requests: RequestFigures }) | null;
  /** Diskless: the cold read of the lowest load's latency topic (small objects), before and after merging. */
  coldReadSmall: (ConsumeFigures & CpuFigures & { requests: RequestFigures }) | null;
  coldReadSmallMerged: (ConsumeFigures & CpuFigures & { requests: RequestFigures }) | null;
}

export interface Target {
  target: string;
  scope: string;
  measured: string;
  met: boolean;
}

export interface SecurityRow {
  listener: string;
  produce: ProduceFigures & CpuFigures;
  consume: ConsumeFigures & CpuFigures;
}

export interface BenchResults {
  version: 1;
  startedAt: string;
  machine: { cpus: number; cpuModel: string; loadavgStart: number[]; loadavgEnd: number[]; node: string; client: string };
  settings: {
    quick: boolean;
    recordBytes: number;
    topicPartitions: number;
    produceSeconds: number;
    latencySeconds: number;
    loads: number[];
    partitionCounts: number[];
    partitionSeconds: number;
    partitionRate: number;
    transactionSeconds: number;
    transactionSizes: number[];
    compactionSeconds: number;
    compactionKeys: number;
    commitIntervalMs: number;
    cacheMaxBytes: number;
    latencyProfile: string;
    faultSeed: number;
  };
  mock: ProduceFigures | null;
  backends: BackendResult[];
  /** The security scenario: the same broker's PLAINTEXT and SASL_SSL listeners (absent in older results). */
  security?: SecurityRow[] | null;
  failures: { scenario: string; error: string }[];
  targets: Target[];
  costs: { prices: typeof S3_PRICES; rows: { backend: string; what: string; kind: 'write' | 'read'; requestsPerGiB: number; dollarsPerGiB: number }[] } | null;
  /** With --profile: the broker's CPU profile file, the phase's window in it (CLOCK_MONOTONIC µs) and its summary. */
  profiles: { broker: string; phase: string; file: string; window: { fromUs: number; toUs: number }; summary: ProfileSummary }[];
  durationSeconds: number;
  /** RSS of every broker process once started and at its peak (VmHWM), in MiB (absent in older results). */
  memory?: { broker: string; startRssMiB: number | null; peakRssMiB: number | null }[];
  /** Ingress with the broker pinned to 1 and 2 cores (`cores` scenario). */
  cores?: { backend: string; cpus: string; networkThreads: number; MBps: number | null; brokerCpuSecondsPerGiB: number | null; MiBpsPerBrokerCore: number | null; mainThreadCpuSecondsPerGiB: number | null; MiBpsPerMainThreadCore: number | null; putsPerCommitInterval: number | null; defaultObjectCache?: boolean }[];
}

export const LABELS: Record<string, string> = {
  mock: 'librdkafka mock broker',
  folder: 'diskless, folder + PGlite',
  'pg-s3': 'diskless, PG + S3 (s3-standard)',
  classic: 'classic (local log)',
};

const fmt = (v: number | null | undefined, d = 1): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));
const pct = (load: number) => `${Math.round(load * 100)}%`;

// ---------------------------------------------------------------- targets

/** The cores scenario's rows at the defaults (every core, no network threads, the default object cache). */
function steadyIngress(r: BenchResults): NonNullable<BenchResults['cores']> {
  const all = Math.max(0, ...(r.cores ?? []).map((c) => c.cpus.split(',').length));
  return (r.cores ?? []).filter((c) => c.defaultObjectCache === true && c.networkThreads === 0 && c.cpus.split(',').length === all && c.MiBpsPerBrokerCore !== null);
}

/** The table issue 19 opened with (`npm run bench` then), each beside the same figure of this run. */
function startingFigures(r: BenchResults): string[][] {
  const rows: string[][] = [];
  const backend = (id: string) => r.backends.find((b) => b.id === id);
  const latencyAt = (id: string, load: number) => backend(id)?.latency.find((l) => Math.abs(l.load - load) < 1e-9);
  if (r.mock) rows.push(['librdkafka mock broker, produce MB/s', '734', fmt(r.mock.MBps)]);
  for (const [id, mibps, cpu] of [['folder', '102.6', '9.98'], ['pg-s3', '160.0', '6.40']] as const) {
    const p = backend(id)?.produce;
    if (p) rows.push([`ingress MiB/s per broker core, ${LABELS[id]}`, `${mibps} (${cpu} CPU-s/GiB)`, `${fmt(p.MiBpsPerBrokerCore)} (${fmt(p.brokerCpuSecondsPerGiB, 2)} CPU-s/GiB)`]);
    const steady = steadyIngress(r).find((c) => c.backend === id);
    if (steady) rows.push(['  the same at the default object cache (cores scenario)', '–', `${fmt(steady.MiBpsPerBrokerCore)} (${fmt(steady.brokerCpuSecondsPerGiB, 2)} CPU-s/GiB)`]);
  }
  const tails = r.backends.filter((b) => b.diskless && b.tailRead).map((b) => b.tailRead!.MiBpsPerBrokerCore ?? 0);
  if (tails.length > 0) rows.push(['diskless tail egress MiB/s per broker core (best backend)', '2,259', fmt(Math.max(...tails))]);
  const cold = backend('pg-s3')?.coldRead;
  if (cold) rows.push([`cold read MB/s, ${LABELS['pg-s3']}`, '60.3', fmt(cold.MBps)]);
  const f80 = latencyAt('folder', 0.8);
  if (f80) rows.push([`produce p99 ms at 80% load, ${LABELS.folder} (bound)`, '1,977 (658)', `${fmt(f80.produceMs?.p99, 0)} (${r.settings.commitIntervalMs}+${fmt(f80.requests.putP99Ms, 0)}+20)`]);
  const p50 = latencyAt('pg-s3', 0.5);
  if (p50) rows.push([`end-to-end p99 ms at 50% load, ${LABELS['pg-s3']}`, '1,515', fmt(p50.e2eMs?.p99, 0)]);
  const c10 = latencyAt('classic', 0.1);
  if (c10) rows.push([`classic end-to-end p99 ms at 10% load (produce p99)`, '227 (33)', `${fmt(c10.e2eMs?.p99, 0)} (${fmt(c10.produceMs?.p99, 0)})`]);
  return rows;
}

export function evaluateTargets(r: BenchResults): Target[] {
  const out: Target[] = [];
  const diskless = r.backends.filter((b) => b.diskless);
  const interval = r.settings.commitIntervalMs;
  // 1. Ingress per core.
  for (const b of diskless) {
    if (!b.produce || b.produce.MiBpsPerBrokerCore === null) continue;
    out.push({ target: `diskless ingress ≥ 300 MiB/s per broker CPU core, object cache growing to ${fmt(r.settings.cacheMaxBytes / 2 ** 30, 0)} GiB (produce phase)`, scope: LABELS[b.id]!, measured: `${fmt(b.produce.MiBpsPerBrokerCore)} MiB/s per core (${fmt(b.produce.brokerCpuSecondsPerGiB, 2)} CPU-s/GiB)`, met: b.produce.MiBpsPerBrokerCore >= 300 });
  }
  // The same at the broker's default object cache, full and evicting (a user's broker after its first 256 MiB):
  // the cores scenario's row with every core and no network threads (the defaults).
  for (const c of steadyIngress(r)) {
    out.push({ target: "diskless ingress ≥ 300 MiB/s per broker CPU core, at the broker's default object cache (cores scenario, all cores)", scope: LABELS[c.backend]!, measured: `${fmt(c.MiBpsPerBrokerCore)} MiB/s per core (${fmt(c.brokerCpuSecondsPerGiB, 2)} CPU-s/GiB)`, met: c.MiBpsPerBrokerCore! >= 300 });
  }
  // 2. Half of the mock broker.
  if (r.mock?.MBps) {
    for (const b of diskless) {
      if (!b.produce?.MBps) continue;
      out.push({ target: '≥ ½ the mock broker\'s produce throughput (same client, same run)', scope: LABELS[b.id]!, measured: `${fmt(b.produce.MBps)} MB/s vs mock ${fmt(r.mock.MBps)} MB/s (${fmt((b.produce.MBps / r.mock.MBps) * 100, 0)}%)`, met: b.produce.MBps >= r.mock.MBps / 2 });
    }
  }
  // 3. Tail egress per core.
  for (const b of diskless) {
    if (!b.tailRead || b.tailRead.MiBpsPerBrokerCore === null) continue;
    out.push({ target: 'tail egress ≥ 500 MiB/s per broker CPU core', scope: LABELS[b.id]!, measured: `${fmt(b.tailRead.MiBpsPerBrokerCore)} MiB/s per core`, met: b.tailRead.MiBpsPerBrokerCore >= 500 });
  }
  // 4. Produce p99 at 80% load (the highest load measured in --quick).
  for (const b of diskless) {
    const row = [...b.latency].sort((x, y) => y.load - x.load)[0];
    if (!row?.produceMs || row.requests.putP99Ms === null) continue;
    const bound = interval + row.requests.putP99Ms + 20;
    out.push({ target: `produce p99 ≤ commit interval + PUT p99 + 20 ms at ${pct(row.load)} load`, scope: LABELS[b.id]!, measured: `p99 ${fmt(row.produceMs.p99, 0)} ms vs ${interval} + ${fmt(row.requests.putP99Ms, 0)} + 20 = ${fmt(bound, 0)} ms`, met: row.produceMs.p99 <= bound });
  }
  // 5. One producer connection.
  for (const b of diskless) {
    if (!b.produce?.MiBps) continue;
    out.push({ target: 'one producer connection (client defaults, 250 ms interval) ≥ 20 MiB/s', scope: LABELS[b.id]!, measured: `${fmt(b.produce.MiBps)} MiB/s`, met: b.produce.MiBps >= 20 });
  }
  // 6. One PUT per commit interval.
  for (const b of diskless) {
    if (b.partitions.length === 0) continue;
    const per = b.partitions.map((p) => p.putsPerCommitInterval ?? 0);
    out.push({ target: `exactly 1 PUT per commit interval, ${b.partitions.map((p) => p.partitions).join(' / ')} partitions`, scope: LABELS[b.id]!, measured: `${per.map((x) => fmt(x, 2)).join(' / ')} PUTs per interval`, met: per.every((x) => Math.abs(x - 1) <= 0.05) });
  }
  // 7. GETs per object for tail consumers; 8. no coordinator queries for tail fetches.
  for (const b of diskless) {
    const tailRows = [...b.latency.map((l) => ({ what: `${pct(l.load)} load`, req: l.requests })), ...b.partitions.map((p) => ({ what: `${p.partitions} partitions`, req: p as RequestFigures }))];
    if (tailRows.length === 0) continue;
    const gpo = tailRows.map((t) => (t.req.puts > 0 ? t.req.gets / t.req.puts : 0));
    out.push({ target: '≤ 1.05 GETs per object for tail consumers', scope: LABELS[b.id]!, measured: `max ${fmt(Math.max(...gpo), 3)} GETs/object over ${tailRows.map((t) => t.what).join(', ')}`, met: gpo.every((x) => x <= 1.05) });
    const queries = tailRows.reduce((n, t) => n + t.req.fetchCoordinatorQueries, 0);
    const fetches = tailRows.reduce((n, t) => n + t.req.fetchRequests, 0);
    out.push({ target: 'tail fetches answered from the batch index cache (no coordinator query)', scope: LABELS[b.id]!, measured: `${queries} coordinator queries in ${fetches} fetches`, met: queries === 0 });
  }
  return out;
}

// ---------------------------------------------------------------- table

function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const p50p99 = (l: LatencySummary | null | undefined) => (l ? `${fmt(l.p50, 0)} / ${fmt(l.p99, 0)}` : '–');
const lat = (l: LatencySummary | null | undefined) => (l ? `${fmt(l.p50, 0)} / ${fmt(l.p99, 0)} / ${fmt(l['p99.9'], 0)}` : '–');

export function formatReport(r: BenchResults): string {
  const s = r.settings;
  const out: string[] = [];
  out.push(`\nFloe benchmark, ${r.startedAt} (${r.durationSeconds} s${s.quick ? ', --quick' : ''})`);
  out.push(`machine: ${r.machine.cpus} × ${r.machine.cpuModel}; load average ${r.machine.loadavgStart.join(' ')} at start, ${r.machine.loadavgEnd.join(' ')} at end; Node ${r.machine.node}; ${r.machine.client}`);
  out.push(`${s.recordBytes} B records, acks=all, ${s.topicPartitions} partitions, one producer (one connection, client defaults), ${s.commitIntervalMs} ms commit interval; MB = 10^6 B, MiB = 2^20 B`);

  out.push(`\nProduce, as fast as one producer goes (${s.produceSeconds} s)`);
  const prodRows: (string | number)[][] = [];
  if (r.mock) prodRows.push([LABELS.mock!, fmt(r.mock.MBps), fmt(r.mock.MiBps), r.mock.recordsPerSec, '–', '–', '–', '–', '–', '–', '–', lat(r.mock.latencyMs)]);
  for (const b of r.backends) {
    const p = b.produce;
    if (!p) continue;
    prodRows.push([LABELS[b.id]!, fmt(p.MBps), fmt(p.MiBps), p.recordsPerSec, fmt(p.brokerCpuSecondsPerGiB, 2), fmt(p.brokerSystemCpuPercent, 0), fmt(p.brokerKiloFaultsPerGiB), fmt(p.MiBpsPerBrokerCore), fmt(p.brokerCoresUsed, 2),
      fmt(p.serverCpuSecondsPerGiB, 2), b.diskless ? fmt(p.requests.putsPerSec) : '–', b.diskless && p.requests.bytesPerPut ? fmt(p.requests.bytesPerPut / 1048576, 2) : '–', lat(p.latencyMs)]);
  }
  out.push(table(['backend', 'MB/s', 'MiB/s', 'records/s', 'broker CPU-s/GiB', 'sys %', 'k faults/GiB', 'MiB/s per core', 'cores used', 'PG+S3 CPU-s/GiB', 'PUT/s', 'MiB/PUT', 'p50/p99/p99.9 ms'], prodRows));

  if (r.security && r.security.length > 0) {
    out.push(`\nPLAINTEXT beside SASL_SSL (TLS + SASL/PLAIN), one folder-backend broker: produce as fast as one producer goes (${Math.min(s.produceSeconds, 6)} s), then read it all back`);
    out.push(table(['listener', 'produce MB/s', 'broker CPU-s/GiB', 'p50/p99/p99.9 ms', 'consume MB/s', 'broker CPU-s/GiB'], r.security.map((row) => [
      row.listener, fmt(row.produce.MBps), fmt(row.produce.brokerCpuSecondsPerGiB, 2), lat(row.produce.latencyMs), fmt(row.consume.MBps), fmt(row.consume.brokerCpuSecondsPerGiB, 2),
    ])));
  }

  out.push('\nConsume, all of it from offset 0: tail = the broker that wrote it (cache); cold = after a restart');
  const consRows: (string | number)[][] = [];
  for (const b of r.backends) {
    const small = `${pct(s.loads[0]!)}-load topic`;
    for (const [what, c] of [['tail', b.tailRead], ['cold', b.coldRead], ['cold, after merging', b.coldReadMerged],
      [`cold, ${small}`, b.coldReadSmall], [`cold, ${small}, after merging`, b.coldReadSmallMerged]] as const) {
      if (!c) continue;
      consRows.push([`${LABELS[b.id]!}, ${what}`, fmt(c.MBps), c.recordsPerSec ?? '–', fmt(c.brokerCpuSecondsPerGiB, 2), fmt(c.brokerSystemCpuPercent, 0), fmt(c.brokerKiloFaultsPerGiB), fmt(c.MiBpsPerBrokerCore), fmt(c.brokerCoresUsed, 2),
        b.diskless ? fmt(c.requests.getsPerSec) : '–', b.diskless && c.requests.bytesPerGet ? fmt(c.requests.bytesPerGet / 1024, 0) : '–', b.diskless ? fmt(c.requests.getsPerMB, 2) : '–',
        b.diskless ? `${c.requests.objectCacheHits}/${c.requests.objectCacheMisses}` : '–', b.diskless ? fmt(c.requests.queriesPerFetch, 3) : '–',
        fmt(c.clientCpuSecondsPerGiB, 2), fmt(c.serverCpuSecondsPerGiB, 2)]);
    }
  }
  out.push(table(['backend', 'MB/s', 'records/s', 'broker CPU-s/GiB', 'sys %', 'k faults/GiB', 'MiB/s per core', 'cores used', 'GET/s', 'KiB/GET', 'GET/MB', 'cache hit/miss', 'queries/fetch', 'consumer CPU-s/GiB', 'PG+S3 CPU-s/GiB'], consRows));
  // On a machine this small the consumer and the stand-in S3 server share the broker's cores: their CPU per GiB,
  // added to the broker's, caps MB/s at cores / sum, whatever the broker does.
  for (const b of r.backends) {
    const c = b.coldRead;
    if (!c || c.brokerCpuSecondsPerGiB === null || c.clientCpuSecondsPerGiB === null) continue;
    const sum = c.brokerCpuSecondsPerGiB + c.clientCpuSecondsPerGiB + (c.serverCpuSecondsPerGiB ?? 0);
    out.push(`  ${LABELS[b.id]!}, cold: broker + consumer${c.serverCpuSecondsPerGiB !== null ? ' + PG + S3' : ''} = ${sum.toFixed(2)} CPU-s/GiB, so ${r.machine.cpus} cores read at most ${fmt((r.machine.cpus / sum) * 2 ** 30 / 1e6)} MB/s; the broker alone, ${fmt(2 ** 30 / 1e6 / c.brokerCpuSecondsPerGiB)} MB/s per core`);
  }

  const merges = r.backends.filter((b) => b.merge);
  if (merges.length > 0) {
    out.push('\nMerging (diskless): the small objects of the runs above merged by one broker (diskless.merge.min.age.ms=0, io bound 1 GiB/s); MB/s of input');
    out.push(table(['backend', 'objects in', 'objects out', 'MB in', 'MB out', 'seconds', 'MB/s', 'MiB/s per core', 'GET', 'PUT', 'finished'],
      merges.map((b) => {
        const m = b.merge!;
        return [LABELS[b.id]!, m.objectsMerged, m.objectsWritten, fmt(m.bytesRead / 1e6), fmt(m.bytesWritten / 1e6), fmt(m.seconds, 2), fmt(m.MBps), fmt(m.MiBpsPerBrokerCore), m.requests.gets, m.requests.puts, m.done ? 'yes' : 'NO'];
      })));
  }
  const compactions = r.backends.filter((b) => b.compaction);
  if (compactions.length > 0) {
    out.push(`\nCompaction: ${s.compactionSeconds} s of keyed records (${s.compactionKeys} keys) compacted by a broker started with the cleaner on, until every partition is clean; MB/s of input`);
    out.push(table(['backend', 'MB in', 'records', 'seconds', 'MB/s', 'MiB/s per core', 'cores used', 'MB read', 'MB written', 'records removed', 'finished'],
      compactions.map((b) => {
        const c = b.compaction!;
        return [LABELS[b.id]!, fmt(c.inputBytes / 1e6), c.records, fmt(c.seconds, 2), fmt(c.MBps), fmt(c.MiBpsPerBrokerCore), fmt(c.brokerCoresUsed, 2), fmt(c.bytesRead / 1e6), fmt(c.bytesWritten / 1e6), c.recordsRemoved, c.done ? 'yes' : 'NO'];
      })));
  }

  out.push(`\nLatency at fixed offered loads (% of the max above, ${s.latencySeconds} s each), ms p50 / p99 / p99.9; end-to-end = send to a tail consumer's receipt`);
  const latRows: (string | number)[][] = [];
  for (const b of r.backends) {
    for (const l of b.latency) {
      const bound = b.diskless && l.requests.putP99Ms !== null ? `${s.commitIntervalMs}+${fmt(l.requests.putP99Ms, 0)}+20` : '–';
      latRows.push([LABELS[b.id]!, pct(l.load), l.offeredRecordsPerSec, fmt(l.MBps), lat(l.produceMs), lat(l.e2eMs), b.diskless ? fmt(l.requests.putP50Ms, 0) + ' / ' + fmt(l.requests.putP99Ms, 0) : '–', bound,
        b.diskless ? fmt(l.requests.putsPerSec, 2) : '–', fmt(l.requests.produceRequestsPerSec, 0),
        `${fmt(l.requests.brokerProduceP50Ms, 0)} / ${fmt(l.requests.brokerProduceP99Ms, 0)}`, fmt(l.brokerCoresUsed, 2), fmt(l.clientCoresUsed, 2)]);
    }
  }
  out.push(table(['backend', 'load', 'records/s', 'MB/s', 'produce', 'end-to-end', 'PUT p50/p99', 'p99 bound', 'PUT/s', 'Produce req/s', 'in broker p50/p99', 'broker cores', 'client cores'], latRows));
  out.push('  in broker: a Produce request from read off the socket to its response ready (histogram buckets, interpolated); client cores: the load generator\'s producer and tail consumer (on the same machine as the broker).');
  const stageRows: (string | number)[][] = [];
  for (const b of r.backends) {
    if (!b.diskless) continue;
    for (const l of b.latency) {
      const st = l.requests.stages;
      const f = (k: string) => (st?.[k] ? `${fmt(st[k]![0], 0)} / ${fmt(st[k]![1], 0)}` : '–');
      stageRows.push([LABELS[b.id]!, pct(l.load), f('open'), f('upload'), f('ordering'), f('commit'), f('total'), `${l.requests.sealedBySize ?? '–'} / ${l.requests.sealedByInterval ?? '–'} / ${l.requests.sealedIdle ?? '–'}`, l.requests.hedgedPuts ?? '–',
        `${fmt(l.requests.eventLoopLagP99Ms, 0)} / ${fmt(l.requests.eventLoopLagMaxMs, 0)}`, fmt(l.requests.pendingPeakMiB, 1), l.requests.backPressureEvents ?? '–']);
    }
  }
  if (stageRows.length > 0) {
    out.push('\nDiskless write path by stage (per object, ms p50 / p99): open = first append to seal, upload = seal to PUT done, ordering = waiting for earlier objects\' commits, commit = coordinator commit, total = first append to answer; objects sealed by size / by interval / idle (diskless.buffer.idle.ms); hedged PUTs (diskless.upload.hedge.percentile); broker event-loop delay p99 / max; peak pending = the most MiB open, uploading or waiting for a commit at once (the write path\'s queue, bounded by diskless.buffer.max.pending.bytes, 64 MiB by default), and the times that bound stopped the broker reading requests');
    out.push(table(['backend', 'load', 'open', 'upload', 'ordering', 'commit', 'total', 'sealed size/interval/idle', 'hedged PUTs', 'event-loop delay', 'peak pending MiB', 'back-pressure'], stageRows));
  }

  const classicRows: (string | number)[][] = [];
  for (const b of r.backends) {
    if (b.diskless) continue;
    for (const l of b.latency) {
      const st = l.requests.classicStages;
      const f = (k: string) => (st?.[k] ? `${fmt(st[k]![0], 1)} / ${fmt(st[k]![1], 1)}` : '–');
      classicRows.push([LABELS[b.id]!, pct(l.load), f('queued'), f('write'), f('sync'), f('total'), `${fmt(l.requests.eventLoopLagP99Ms, 0)} / ${fmt(l.requests.eventLoopLagMaxMs, 0)}`]);
    }
  }
  if (classicRows.length > 0) {
    out.push('\nClassic write path by stage (per round: the batches of one partition written together; ms p50 / p99): queued = oldest append to its write, write = writev, sync = the fdatasync covering it, total = oldest append to visible and answered; broker event-loop delay p99 / max');
    out.push(table(['backend', 'load', 'queued', 'write', 'sync', 'total', 'event-loop delay'], classicRows));
  }

  const txns = r.backends.flatMap((b) => b.transactions.map((t) => ({ b, t })));
  if (txns.length > 0) {
    out.push(`\nTransactions: as fast as one producer goes (${s.transactionSeconds} s each), idempotent vs transactional with N records per transaction (begin, produce N, commit; records counted once committed); commit = commit_transaction once the records are delivered (EndTxn and markers), ms p50 / p99`);
    out.push(table(['backend', 'producer', 'records/s', 'MB/s', 'transactions/s', 'commit p50/p99', 'transaction p50/p99', 'record p50/p99', 'broker CPU-s/GiB', 'broker cores'],
      txns.map(({ b, t }) => {
        const seconds = t.recordsPerSec > 0 ? t.records / t.recordsPerSec : 0;
        return [LABELS[b.id]!, t.mode === 'idempotent' ? 'idempotent' : `transactional, ${t.recordsPerTransaction}/txn`, t.recordsPerSec, fmt(t.MBps),
          t.transactions !== null && seconds > 0 ? fmt(t.transactions / seconds, 1) : '–', p50p99(t.commitMs), p50p99(t.transactionMs), p50p99(t.produceMs),
          fmt(t.brokerCpuSecondsPerGiB, 2), fmt(t.brokerCoresUsed, 2)];
      })));
  }

  const parts = r.backends.flatMap((b) => b.partitions.map((p) => ({ b, p })));
  if (parts.length > 0) {
    out.push(`\nObject store and coordinator requests by partition count (${parts[0]!.p.recordsPerSec} records/s offered, every partition holding data first, one tail consumer; rates over the ${s.partitionSeconds} s of offered load)`);
    out.push(table(['backend', 'partitions', 'MB/s', 'PUT/s', 'PUTs/interval', 'KiB/PUT', 'GET/s', 'GETs/object', 'commits/s', 'commit p50/p99', 'coord. tx/s', 'Produce req/s', 'fetches/s', 'queries/fetch', 'produce p99', 'e2e p99'],
      parts.map(({ b, p }) => [LABELS[b.id]!, p.partitions, fmt(p.MBps), fmt(p.putsPerSec, 2), fmt(p.putsPerCommitInterval, 2), p.bytesPerPut ? fmt(p.bytesPerPut / 1024, 0) : '–', fmt(p.getsPerSec, 2),
        fmt(p.getsPerObject, 3), fmt(p.commitsPerSec, 2), `${fmt(p.commitP50Ms, 0)} / ${fmt(p.commitP99Ms, 0)}`, fmt(p.coordinatorOpsPerSec, 2), fmt(p.produceRequestsPerSec, 0), fmt(p.fetchRequests / p.seconds, 1), fmt(p.queriesPerFetch, 4), fmt(p.produceMs?.p99, 0), fmt(p.e2eMs?.p99, 0)])));
  }

  const single = r.backends.filter((b) => b.diskless && b.produce);
  if (single.length > 0) {
    out.push(`\nOne producer connection, client defaults (acks=all, linger.ms=5), ${s.commitIntervalMs} ms interval: ${single.map((b) => `${fmt(b.produce!.MiBps)} MiB/s (${LABELS[b.id]})`).join('; ')}`);
  }

  if (r.memory && r.memory.length > 0) {
    out.push(`\nMemory: RSS of each broker process once started and at its peak (MiB; bounded by queued.max.request.bytes, diskless.cache.max.bytes = ${fmt(s.cacheMaxBytes / 1048576, 0)} MiB here, diskless.buffer.max.bytes)`);
    out.push(table(['broker', 'RSS at start', 'peak RSS'], r.memory.map((m) => [m.broker, fmt(m.startRssMiB, 0), fmt(m.peakRssMiB, 0)])));
  }

  if (r.costs && r.costs.rows.length > 0) {
    out.push(`\nRequest cost per GiB at S3 list prices (${r.costs.prices.note})`);
    out.push(table(['backend', 'traffic', 'requests/GiB', '$/GiB'], r.costs.rows.map((c) => [LABELS[c.backend] ?? c.backend, c.what, fmt(c.requestsPerGiB, 1), `$${c.dollarsPerGiB.toFixed(5)}`])));
  }

  const then = startingFigures(r);
  if (then.length > 0) {
    out.push('\nIssue 19\'s starting figures (its first run, load 0.3-2.6) beside this run; the mock broker row shows how fast the machine and client were each time');
    out.push(table(['figure', 'issue 19', 'this run'], then));
  }

  if (r.targets.length > 0) {
    out.push('\nTargets (issue 8; reported, not asserted)');
    for (const t of r.targets) out.push(`  ${t.met ? '[met]    ' : '[NOT MET]'} ${t.target} — ${t.scope}: ${t.measured}`);
  }
  if (r.failures.length > 0) {
    out.push('\nFAILED scenarios:');
    for (const f of r.failures) out.push(`  ${f.scenario}: ${f.error.split('\n')[0]}`);
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------- chart

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Bar {
  label: string;
  value: number | null;
  color: string;
}

/** One panel of grouped vertical bars. */
function barPanel(x0: number, y0: number, w: number, h: number, title: string, unit: string, groups: { name: string; bars: Bar[] }[], log = false,
  format: (v: number) => string = (v) => String(v >= 100 ? Math.round(v) : +v.toFixed(1))): string {
  const parts: string[] = [];
  const all = groups.flatMap((g) => g.bars.map((b) => b.value ?? 0)).filter((v) => v > 0);
  const max = all.length > 0 ? Math.max(...all) : 1;
  const min = log ? Math.max(1, Math.min(...all)) : 0;
  const top = log ? 10 ** Math.ceil(Math.log10(max)) : niceCeil(max);
  const bottom = log ? 10 ** Math.floor(Math.log10(min)) : 0;
  const ticks = log ? range(Math.log10(bottom), Math.log10(top)).map((e) => 10 ** e) : [0, 0.25, 0.5, 0.75, 1].map((f) => f * top);
  const tickText = (t: number) => (t >= 1000 ? `${t / 1000}k` : format(t));
  const plotLeft = x0 + 26 + Math.max(...ticks.map((t) => tickText(t).length)) * 6;
  const plotW = x0 + w - 15 - plotLeft;
  const gw = plotW / Math.max(1, groups.length);
  const labelLines = groups.map((g) => wrap(g.name, Math.max(8, Math.floor(gw / 6))));
  const maxLines = Math.max(1, ...labelLines.map((l) => l.length));
  // Legend rows (laid out below the group labels).
  const legend = groups.flatMap((g) => g.bars).filter((b, i, a) => a.findIndex((x) => x.label === b.label) === i);
  const legendPos: { b: Bar; x: number; row: number }[] = [];
  let lx = plotLeft;
  let row = 0;
  for (const b of legend) {
    const width = b.label.length * 6 + 26;
    if (lx + width > x0 + w && lx > plotLeft) {
      lx = plotLeft;
      row++;
    }
    legendPos.push({ b, x: lx, row });
    lx += width;
  }
  const plotTop = y0 + 30;
  const plotH = h - 30 - (maxLines * 12 + 10) - ((row + 1) * 14 + 10);
  const yOf = (v: number) => {
    if (log) {
      const f = (Math.log10(Math.max(v, bottom)) - Math.log10(bottom)) / (Math.log10(top) - Math.log10(bottom) || 1);
      return plotTop + plotH * (1 - f);
    }
    return plotTop + plotH * (1 - v / top);
  };
  parts.push(`<text x="${x0 + w / 2}" y="${y0 + 16}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (const t of ticks) {
    const y = yOf(t);
    parts.push(`<line x1="${plotLeft}" y1="${y}" x2="${plotLeft + plotW}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${plotLeft - 5}" y="${y + 4}" text-anchor="end" font-size="10">${esc(tickText(t))}</text>`);
  }
  parts.push(`<text x="${x0 + 12}" y="${plotTop + plotH / 2}" font-size="11" transform="rotate(-90 ${x0 + 12} ${plotTop + plotH / 2})" text-anchor="middle">${esc(unit)}</text>`);
  groups.forEach((g, gi) => {
    const n = Math.max(1, g.bars.length);
    const bw = Math.min(28, (gw - 14) / n);
    const gx = plotLeft + gi * gw + (gw - bw * n) / 2;
    g.bars.forEach((b, bi) => {
      if (b.value === null) return;
      if (b.value <= 0) {
        parts.push(`<text x="${gx + bi * bw + bw / 2 - 1}" y="${plotTop + plotH - 3}" text-anchor="middle" font-size="9">0</text>`);
        return;
      }
      const y = yOf(b.value);
      parts.push(`<rect x="${gx + bi * bw}" y="${y}" width="${bw - 2}" height="${plotTop + plotH - y}" fill="${b.color}"><title>${esc(`${g.name}: ${b.label} ${b.value}`)}</title></rect>`);
      parts.push(`<text x="${gx + bi * bw + bw / 2 - 1}" y="${y - 3}" text-anchor="middle" font-size="9">${esc(format(b.value))}</text>`);
    });
    labelLines[gi]!.forEach((line, li) => parts.push(`<text x="${plotLeft + gi * gw + gw / 2}" y="${plotTop + plotH + 14 + li * 12}" text-anchor="middle" font-size="10">${esc(line)}</text>`));
  });
  parts.push(`<line x1="${plotLeft}" y1="${plotTop + plotH}" x2="${plotLeft + plotW}" y2="${plotTop + plotH}" stroke="#333"/>`);
  const legendTop = plotTop + plotH + maxLines * 12 + 14;
  for (const { b, x, row: r } of legendPos) {
    const y = legendTop + r * 14;
    parts.push(`<rect x="${x}" y="${y}" width="10" height="10" fill="${b.color}"/><text x="${x + 14}" y="${y + 9}" font-size="10">${esc(b.label)}</text>`);
  }
  return parts.join('\n');
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function wrap(s: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of s.split(' ')) {
    if ((line + ' ' + word).trim().length > width && line) {
      out.push(line);
      line = word;
    } else line = (line + ' ' + word).trim();
  }
  if (line) out.push(line);
  return out;
}

export function renderSvg(r: BenchResults): string {
  const W = 1200;
  const H = 420;
  const throughput: { name: string; bars: Bar[] }[] = [];
  if (r.mock) throughput.push({ name: LABELS.mock!, bars: [{ label: 'produce', value: r.mock.MBps, color: '#4e79a7' }] });
  for (const b of r.backends) {
    if (!b.produce && !b.tailRead) continue;
    throughput.push({ name: LABELS[b.id]!, bars: [
      { label: 'produce', value: b.produce?.MBps ?? null, color: '#4e79a7' },
      { label: 'tail read', value: b.tailRead?.MBps ?? null, color: '#59a14f' },
      { label: 'cold read', value: b.coldRead?.MBps ?? null, color: '#f28e2b' },
    ] });
  }
  const perCore = r.backends.filter((b) => b.produce).map((b) => ({ name: LABELS[b.id]!, bars: [
    { label: 'ingress MiB/s/core', value: b.produce?.MiBpsPerBrokerCore ?? null, color: '#4e79a7' },
    { label: 'tail egress MiB/s/core', value: b.tailRead?.MiBpsPerBrokerCore ?? null, color: '#59a14f' },
  ] }));
  const latency = r.backends.flatMap((b) => b.latency.map((l) => ({ name: `${LABELS[b.id]!.replace('diskless, ', '')} @${pct(l.load)}`, bars: [
    { label: 'produce p50', value: l.produceMs?.p50 ?? null, color: '#76b7b2' },
    { label: 'produce p99', value: l.produceMs?.p99 ?? null, color: '#4e79a7' },
    { label: 'produce p99.9', value: l.produceMs?.['p99.9'] ?? null, color: '#2a4a6b' },
    { label: 'e2e p99', value: l.e2eMs?.p99 ?? null, color: '#e15759' },
  ] })));
  // Rows: throughput and per-core figures; latency (full width); request counts and cost.
  const panels: string[] = [];
  let y = 0;
  panels.push(barPanel(0, y, W * 0.6, H, 'Throughput, 1 KiB records, acks=all', 'MB/s', throughput));
  panels.push(barPanel(W * 0.6, y, W * 0.4, H, 'Per broker CPU core', 'MiB/s per core', perCore));
  y += H;
  if (latency.length > 0) {
    panels.push(barPanel(0, y, W, H, 'Latency at fixed offered load (% of the max)', 'ms (log scale)', latency, true));
    y += H;
  }
  const parts = r.backends.flatMap((b) => b.partitions);
  const costs = r.costs?.rows.filter((c) => c.backend === 'pg-s3' || !r.costs!.rows.some((x) => x.backend === 'pg-s3')) ?? [];
  if (parts.length > 0) {
    panels.push(barPanel(0, y, costs.length > 0 ? W * 0.5 : W, H, 'Object store and coordinator requests by partition count', 'per second', parts.map((p) => ({ name: `${p.partitions} partition(s)`, bars: [
      { label: 'PUT/s', value: p.putsPerSec, color: '#4e79a7' },
      { label: 'GET/s', value: p.getsPerSec, color: '#f28e2b' },
      { label: 'commits/s', value: p.commitsPerSec, color: '#59a14f' },
      { label: 'fetches/s', value: p.fetchRequests / p.seconds, color: '#b07aa1' },
    ] }))));
  }
  if (costs.length > 0) {
    const x = parts.length > 0 ? W * 0.5 : 0;
    panels.push(barPanel(x, y, W - x, H, `S3 request cost per GiB (${LABELS[costs[0]!.backend]})`, '$ per GiB', costs.map((c) => ({ name: c.what.replace(/ \(.*\)$/, ''), bars: [
      { label: c.kind === 'write' ? 'PUTs, written' : 'GETs, read', value: c.dollarsPerGiB, color: c.kind === 'write' ? '#4e79a7' : '#f28e2b' },
    ] })), false, (v) => (v === 0 ? '0' : `$${v.toFixed(5)}`)));
  }
  if (parts.length > 0 || costs.length > 0) y += H;
  const height = y + 30;
  const caption = `Floe benchmark ${r.startedAt}, ${r.machine.cpus} CPUs, load average ${r.machine.loadavgStart.join(' ')}${r.settings.quick ? ' (--quick)' : ''}; ${r.machine.client}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="Helvetica, Arial, sans-serif">
<rect width="100%" height="100%" fill="white"/>
${panels.join('\n')}
<text x="10" y="${height - 8}" font-size="10" fill="#555">${esc(caption)}</text>
</svg>
`;
}
