/**
 * The figures of one benchmark phase: request counts from the broker's /metrics difference, CPU per GiB,
 * client-side throughput and latency.
 */
import type { ConsumeResult, ProduceResult } from './loadgen.ts';
import type { MetricsDelta } from './prom.ts';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

export const round = (n: number, d = 1): number | null => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : null);

export interface PhaseStats {
  seconds: number;
  brokerCpuSeconds: number;
  /** The kernel-mode part of brokerCpuSeconds (system calls, page faults). */
  brokerSystemCpuSeconds: number;
  /** Minor page faults of the broker process. */
  brokerMinorFaults: number;
  /** CPU of PostgreSQL and s3rver (pg-s3 only). */
  serverCpuSeconds: number | null;
  metrics: MetricsDelta;
  /** CLOCK_MONOTONIC microseconds (to select CPU profile samples). */
  window: { fromUs: number; toUs: number };
}

/** Object-store and coordinator figures of a phase, from the broker's /metrics. */
/**
 * requestFigures of a produce run's whole window, with the peaks (event-loop delay, pending bytes) of its
 * steady part too: those gauges reset at every scrape, and the scrape at the end of the steady part leaves
 * the whole window's last scrape only the final flush.
 */
export function requestFiguresWithPeaks(whole: PhaseStats, steady: PhaseStats) {
  const w = requestFigures(whole);
  const s = requestFigures(steady);
  const max = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
  return { ...w, eventLoopLagP99Ms: max(w.eventLoopLagP99Ms, s.eventLoopLagP99Ms), eventLoopLagMaxMs: max(w.eventLoopLagMaxMs, s.eventLoopLagMaxMs), pendingPeakMiB: max(w.pendingPeakMiB, s.pendingPeakMiB) };
}

export function requestFigures(p: PhaseStats) {
  const m = p.metrics;
  const puts = m.get('floe_objectstore_requests_total', { op: 'put' });
  const gets = m.get('floe_objectstore_requests_total', { op: 'get' });
  const putBytes = m.get('floe_objectstore_bytes_total', { op: 'put' });
  const getBytes = m.get('floe_objectstore_bytes_total', { op: 'get' });
  const commits = m.get('floe_coordinator_operations_total', { op: 'commitObject' });
  let coordinatorOps = 0;
  for (const [key, s] of m.after) if (s.name === 'floe_coordinator_operations_total') coordinatorOps += s.value - (m.before.get(key)?.value ?? 0);
  // Summed over the API versions (the series carry a version label).
  const fetches = m.sum('kafka_network_requestmetrics_requests_total', { request: 'Fetch' });
  const produces = m.sum('kafka_network_requestmetrics_requests_total', { request: 'Produce' });
  const fetchQueries = m.get('floe_fetch_coordinator_queries_total');
  const putP50 = m.histogramQuantile('floe_objectstore_request_duration_seconds', { op: 'put' }, 0.5);
  const putP99 = m.histogramQuantile('floe_objectstore_request_duration_seconds', { op: 'put' }, 0.99);
  const commitP50 = m.histogramQuantile('floe_coordinator_operation_duration_seconds', { op: 'commitObject' }, 0.5);
  const commitP99 = m.histogramQuantile('floe_coordinator_operation_duration_seconds', { op: 'commitObject' }, 0.99);
  // Inside the broker: from a Produce request read off the socket to its response ready (coarse buckets).
  const brokerProduceP50 = m.histogramQuantile('kafka_network_requestmetrics_totaltime_seconds', { request: 'Produce' }, 0.5);
  const brokerProduceP99 = m.histogramQuantile('kafka_network_requestmetrics_totaltime_seconds', { request: 'Produce' }, 0.99);
  const ms = (v: number | null) => (v === null ? null : round(v * 1000, 0));
  /** Diskless write path: per object, ms p50 / p99 of each stage (floe_diskless_write_stage_seconds). */
  const stages: Record<string, [number | null, number | null]> = {};
  for (const stage of ['open', 'upload', 'ordering', 'commit', 'total']) {
    stages[stage] = [ms(m.histogramQuantile('floe_diskless_write_stage_seconds', { stage }, 0.5)), ms(m.histogramQuantile('floe_diskless_write_stage_seconds', { stage }, 0.99))];
  }
  /** Classic write path: per round, ms p50 / p99 of each stage (floe_classic_write_stage_seconds), to 0.1 ms. */
  const classicStages: Record<string, [number | null, number | null]> = {};
  const ms1 = (v: number | null) => (v === null ? null : round(v * 1000, 1));
  for (const stage of ['queued', 'write', 'sync', 'total']) {
    classicStages[stage] = [ms1(m.histogramQuantile('floe_classic_write_stage_seconds', { stage }, 0.5)), ms1(m.histogramQuantile('floe_classic_write_stage_seconds', { stage }, 0.99))];
  }
  return {
    puts,
    gets,
    stages,
    classicStages,
    hedgedPuts: m.get('floe_diskless_upload_hedges_total', { result: 'sent' }),
    sealedBySize: m.get('floe_diskless_objects_sealed_total', { reason: 'size' }),
    sealedByInterval: m.get('floe_diskless_objects_sealed_total', { reason: 'interval' }),
    sealedIdle: m.get('floe_diskless_objects_sealed_total', { reason: 'idle' }),
    /** The broker's event-loop delay over the phase (prom-client's default metrics: reset at each scrape). */
    eventLoopLagP99Ms: ms(m.now('nodejs_eventloop_lag_p99_seconds')),
    eventLoopLagMaxMs: ms(m.now('nodejs_eventloop_lag_max_seconds')),
    /** The most bytes the diskless write path held at once over the phase (reset at each scrape), MiB. */
    pendingPeakMiB: m.has('floe_diskless_pending_bytes_max') ? round(m.now('floe_diskless_pending_bytes_max') / (1024 * 1024), 1) : null,
    putsPerSec: round(puts / p.seconds, 2),
    getsPerSec: round(gets / p.seconds, 2),
    bytesPerPut: puts > 0 ? Math.round(putBytes / puts) : null,
    bytesPerGet: gets > 0 ? Math.round(getBytes / gets) : null,
    /** GETs per MB (10^6 bytes) read from the store. */
    getsPerMB: getBytes > 0 ? round(gets / (getBytes / 1e6), 2) : null,
    getsPerObject: puts > 0 ? round(gets / puts, 3) : null,
    commits,
    commitsPerSec: round(commits / p.seconds, 2),
    coordinatorOpsPerSec: round(coordinatorOps / p.seconds, 2),
    produceRequests: produces,
    produceRequestsPerSec: round(produces / p.seconds, 1),
    fetchRequests: fetches,
    fetchCoordinatorQueries: fetchQueries,
    queriesPerFetch: fetches > 0 ? round(fetchQueries / fetches, 4) : null,
    objectCacheHits: m.get('floe_cache_hits_total', { cache: 'object' }),
    objectCacheMisses: m.get('floe_cache_misses_total', { cache: 'object' }),
    backPressureEvents: m.get('floe_diskless_backpressure_events_total'),
    putP50Ms: putP50 === null ? null : round(putP50 * 1000, 0),
    putP99Ms: putP99 === null ? null : round(putP99 * 1000, 0),
    commitP50Ms: commitP50 === null ? null : round(commitP50 * 1000, 0),
    commitP99Ms: commitP99 === null ? null : round(commitP99 * 1000, 0),
    brokerProduceP50Ms: brokerProduceP50 === null ? null : round(brokerProduceP50 * 1000, 0),
    brokerProduceP99Ms: brokerProduceP99 === null ? null : round(brokerProduceP99 * 1000, 0),
  };
}

export function cpuFigures(p: PhaseStats, bytes: number) {
  const gib = bytes / GIB;
  return {
    brokerCpuSeconds: round(p.brokerCpuSeconds, 2),
    brokerSystemCpuPercent: p.brokerCpuSeconds > 0 ? round((p.brokerSystemCpuSeconds / p.brokerCpuSeconds) * 100, 0) : null,
    brokerCpuSecondsPerGiB: gib > 0 ? round(p.brokerCpuSeconds / gib, 2) : null,
    /** Thousands of minor page faults per GiB moved. */
    brokerKiloFaultsPerGiB: gib > 0 ? round(p.brokerMinorFaults / gib / 1000, 1) : null,
    /** MiB/s one fully used core would move: MiB / broker CPU-seconds. */
    MiBpsPerBrokerCore: p.brokerCpuSeconds > 0 ? round(bytes / MIB / p.brokerCpuSeconds, 1) : null,
    brokerCoresUsed: round(p.brokerCpuSeconds / p.seconds, 2),
    serverCpuSecondsPerGiB: p.serverCpuSeconds !== null && gib > 0 ? round(p.serverCpuSeconds / gib, 2) : null,
  };
}

export function produceFigures(r: ProduceResult) {
  return {
    records: r.sent,
    bytes: r.bytes,
    seconds: r.seconds,
    MBps: round(r.bytes / r.seconds / 1e6, 1),
    MiBps: round(r.bytes / r.seconds / MIB, 1),
    recordsPerSec: Math.round(r.sent / r.seconds),
    latencyMs: r.latencyMs,
  };
}

export function consumeFigures(r: ConsumeResult) {
  return {
    records: r.records,
    bytes: r.bytes,
    seconds: r.seconds,
    MBps: r.seconds > 0 ? round(r.bytes / r.seconds / 1e6, 1) : null,
    MiBps: r.seconds > 0 ? round(r.bytes / r.seconds / MIB, 1) : null,
    recordsPerSec: r.seconds > 0 ? Math.round(r.records / r.seconds) : null,
    e2eMs: r.e2eMs,
    /** The consumer process's CPU (librdkafka's threads included) per GiB read: the harness's share. */
    clientCpuSecondsPerGiB: r.cpuSeconds != null && r.bytes > 0 ? round(r.cpuSeconds / (r.bytes / GIB), 2) : null,
  };
}

export type RequestFigures = ReturnType<typeof requestFigures>;
export type CpuFigures = ReturnType<typeof cpuFigures>;
export type ProduceFigures = ReturnType<typeof produceFigures>;
export type ConsumeFigures = ReturnType<typeof consumeFigures>;
