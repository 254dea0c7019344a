/**
 * The diskless background jobs of one broker, and their timers:
 * - retention (retention.ts) every `diskless.retention.check.interval.ms`, and
 * - the object cleaner (cleaner.ts) every `diskless.object.cleaner.interval.ms`, and
 * - compaction of compacted diskless topics (compactor.ts) every `log.cleaner.backoff.ms` (when
 *   log.cleaner.enable):
 *   all cluster-wide jobs, each run by the one broker holding its lease in the coordinator (renewed every pass,
 *   expiring after three intervals, at least 10 s, if that broker dies; held by node id, so the same broker
 *   restarted takes it back at once). Their operations are safe anyway if two brokers happen to run them at
 *   once (a lease that expired during a long pause, two brokers configured with one node id).
 * - merging of small objects (merger.ts) every `diskless.merge.interval.ms` (when diskless.merge.enable),
 * - the log-start refresh of the broker's own index cache (every broker), every
 *   min(retention interval, grace / 4), so no broker serves a batch location for longer than that after
 *   its log start moved: well inside the deletion grace period.
 * Each job runs again only after its previous pass finished (setTimeout chains, never overlapping); stop()
 * waits for running passes and releases the leases.
 */
import type { BrokerConfig } from '../../config/broker-config.ts';
import { resolveTopicConfig } from '../../config/topic-config.ts';
import type { Coordinator, RetentionTopic } from '../../coordinator/coordinator.ts';
import type { ObjectStore } from '../../objectstore/object-store.ts';
import { childLogger } from '../../observability/log.ts';
import { ObjectCleaner } from './cleaner.ts';
import { WAL_KEY_PREFIX, type DisklessStorage } from './diskless-storage.ts';
import { RetentionJob } from './retention.ts';
import { DisklessCompactor, type CompactedTopic } from './compactor.ts';
import { DisklessMerger } from './merger.ts';
import { offsetMapCapacity } from '../compaction.ts';

const log = childLogger('diskless-maintenance');

/** Defaults of the issue-5 keys, for hand-built configs (loadBrokerConfig always sets them). */
export function maintenanceSettings(config: BrokerConfig): {
  retentionCheckIntervalMs: number;
  cleanerIntervalMs: number;
  deletionGraceMs: number;
  orphanMinAgeMs: number;
  producerIdExpirationMs: number;
} {
  return {
    retentionCheckIntervalMs: config.disklessRetentionCheckIntervalMs ?? 60_000,
    cleanerIntervalMs: config.disklessObjectCleanerIntervalMs ?? 60_000,
    deletionGraceMs: config.disklessObjectDeletionGraceMs ?? 120_000,
    orphanMinAgeMs: config.disklessOrphanMinAgeMs ?? 3_600_000,
    producerIdExpirationMs: config.producerIdExpirationMs ?? 86_400_000,
  };
}

/** The diskless topics of the cluster with their effective retention (from the coordinator: every broker's topics, latest configs). */
export async function retentionTopics(coordinator: Coordinator, config: BrokerConfig): Promise<RetentionTopic[]> {
  const out: RetentionTopic[] = [];
  for (const t of await coordinator.listTopics()) {
    if (!t.diskless) continue;
    const c = resolveTopicConfig(t.configs, config);
    if (!c.cleanupPolicy.includes('delete')) continue;
    if (c.retentionMs < 0 && c.retentionBytes < 0) continue;
    out.push({ topicId: t.topicId, retentionMs: c.retentionMs, retentionBytes: c.retentionBytes });
  }
  return out;
}

/** The diskless topics whose cleanup.policy contains compact, with their effective configs. */
export async function compactedTopics(coordinator: Coordinator, config: BrokerConfig): Promise<CompactedTopic[]> {
  const out: CompactedTopic[] = [];
  for (const t of await coordinator.listTopics()) {
    if (!t.diskless) continue;
    const c = resolveTopicConfig(t.configs, config);
    if (c.cleanupPolicy.includes('compact')) out.push({ topicId: t.topicId, name: t.name, partitionCount: t.partitionCount, config: c });
  }
  return out;
}

/** A job's lease runs three intervals, at least 10 s. */
function leaseTtl(intervalMs: number): number {
  return Math.max(3 * intervalMs, 10_000);
}

class PeriodicJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  /** `intervalMs` may be a function: read before each wait (log.cleaner.backoff.ms is a dynamic broker config). */
  constructor(private readonly name: string, private readonly intervalMs: number | (() => number), private readonly run: () => Promise<unknown>) {}

  start(): void {
    this.schedule();
  }

  /** Runs a pass now (after the one in progress, if any). */
  async runNow(): Promise<void> {
    await this.running;
    await this.pass();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.pass().finally(() => this.schedule());
    }, typeof this.intervalMs === 'number' ? this.intervalMs : this.intervalMs());
    this.timer.unref();
  }

  private pass(): Promise<void> {
    const p = this.run().then(
      () => undefined,
      (err: unknown) => log.warn({ err, job: this.name }, 'background job failed; retrying next interval'),
    );
    this.running = p.finally(() => {
      if (this.running === p) this.running = null;
    });
    return p;
  }
}

export interface MaintenanceOptions {
  brokerId: number;
  config: BrokerConfig;
  /** Object-store request deadline and commit retry window, to check the orphan age against. */
  uploadAndCommitMs?: number;
}

/** What this broker's passes did since it started (metrics). */
export interface MaintenanceTotals {
  retentionPasses: number;
  batchesDeleted: number;
  objectsMarked: number;
  producersExpired: number;
  cleanerPasses: number;
  objectsDeleted: number;
  orphansReaped: number;
}

export class DisklessMaintenance {
  readonly totals: MaintenanceTotals = { retentionPasses: 0, batchesDeleted: 0, objectsMarked: 0, producersExpired: 0, cleanerPasses: 0, objectsDeleted: 0, orphansReaped: 0 };
  readonly retention: RetentionJob;
  readonly cleaner: ObjectCleaner;
  readonly compactor: DisklessCompactor;
  readonly merger: DisklessMerger;
  private readonly holder: string;
  private readonly jobs: PeriodicJob[];
  private readonly retentionJob: PeriodicJob;
  private readonly cleanerJob: PeriodicJob;
  private readonly compactionJob: PeriodicJob;
  private readonly mergeJob: PeriodicJob;
  private readonly settings: ReturnType<typeof maintenanceSettings>;
  private stopping = false;

  constructor(
    private readonly coordinator: Coordinator,
    store: ObjectStore,
    private readonly storage: DisklessStorage,
    private readonly options: MaintenanceOptions,
  ) {
    const s = (this.settings = maintenanceSettings(options.config));
    // By node id: a broker restarted after a crash takes its leases back at once.
    this.holder = `broker-${options.brokerId}`;
    this.retention = new RetentionJob(coordinator, {
      topics: () => retentionTopics(coordinator, options.config),
      onLogStarts: (moves) => storage.applyLogStarts(moves),
      producerIdExpirationMs: s.producerIdExpirationMs,
      stopping: () => this.stopping,
    });
    this.cleaner = new ObjectCleaner(coordinator, store, {
      keyPrefix: WAL_KEY_PREFIX,
      deletionGraceMs: s.deletionGraceMs,
      orphanMinAgeMs: s.orphanMinAgeMs,
      orphanScanIntervalMs: Math.max(s.cleanerIntervalMs, s.orphanMinAgeMs / 4),
      onDeleted: (keys) => storage.forgetObjects(keys),
      stopping: () => this.stopping,
    });
    const t = this.totals;
    this.retentionJob = new PeriodicJob('retention', s.retentionCheckIntervalMs, () => this.leased('retention', s.retentionCheckIntervalMs, async () => {
      const r = await this.retention.runPass();
      t.retentionPasses++;
      t.batchesDeleted += r.batchesDeleted;
      t.objectsMarked += r.objectsMarked;
      t.producersExpired += r.producersExpired;
    }));
    this.cleanerJob = new PeriodicJob('object-cleaner', s.cleanerIntervalMs, () => this.leased('object-cleaner', s.cleanerIntervalMs, async () => {
      const r = await this.cleaner.runPass();
      t.cleanerPasses++;
      t.objectsDeleted += r.objectsDeleted;
      t.orphansReaped += r.orphansRegistered + r.orphansUnregistered;
    }));
    const threads = options.config.logCleanerThreads ?? 1;
    this.compactor = new DisklessCompactor(coordinator, store, {
      brokerId: options.brokerId,
      keyPrefix: WAL_KEY_PREFIX,
      topics: () => compactedTopics(coordinator, options.config),
      mapCapacity: offsetMapCapacity(Math.floor((options.config.logCleanerDedupeBufferSize ?? 134_217_728) / threads)),
      readBatch: (b) => storage.reader.readBatch(b),
      onSwapped: (key) => storage.forgetCompacted(key),
      registerKeys: storage.keys !== null,
      stopping: () => this.stopping,
    });
    const backoffMs = () => Math.max(100, options.config.logCleanerBackoffMs ?? 15_000);
    this.compactionJob = new PeriodicJob('compaction', backoffMs, () => this.leased('compaction', backoffMs(), () => this.compactor.runPass()));
    const c = options.config;
    const mergeIntervalMs = Math.max(100, c.disklessMergeIntervalMs ?? 30_000);
    this.merger = new DisklessMerger(coordinator, store, {
      brokerId: options.brokerId,
      keyPrefix: WAL_KEY_PREFIX,
      targetBytes: c.disklessMergeTargetBytes ?? 67_108_864,
      minAgeMs: c.disklessMergeMinAgeMs ?? 300_000,
      maxBytesPerSecond: c.disklessMergeIoMaxBytesPerSecond ?? 33_554_432,
      orphanMinAgeMs: s.orphanMinAgeMs,
      renewLease: () => this.coordinator.tryAcquireLease('merge', this.holder, leaseTtl(mergeIntervalMs)),
      onSwapped: (keys) => {
        for (const key of keys) storage.forgetCompacted(key);
      },
      registerKeys: storage.keys !== null,
      stopping: () => this.stopping,
    });
    this.mergeJob = new PeriodicJob('merge', mergeIntervalMs, () => this.leased('merge', mergeIntervalMs, () => this.merger.runPass()));
    const refreshMs = Math.max(100, Math.min(s.retentionCheckIntervalMs, s.deletionGraceMs / 4));
    this.jobs = [this.retentionJob, this.cleanerJob, new PeriodicJob('log-start-refresh', refreshMs, () => storage.refreshLogStarts())];
    if (options.config.logCleanerEnable ?? true) this.jobs.push(this.compactionJob);
    if (c.disklessMergeEnable ?? true) this.jobs.push(this.mergeJob);
  }

  start(): void {
    const s = this.settings;
    const busy = this.options.uploadAndCommitMs ?? 0;
    if (s.orphanMinAgeMs / 2 < busy) {
      log.warn({ orphanMinAgeMs: s.orphanMinAgeMs, uploadAndCommitMs: busy },
        'diskless.orphan.min.age.ms is less than twice the object store request timeout plus the commit retry timeout: slow uploads will be refused rather than committed');
    }
    this.storage.keys?.start();
    for (const job of this.jobs) job.start();
  }

  /** Runs a retention pass now, if this broker gets the lease (tests, tools). */
  runRetention(): Promise<void> {
    return this.retentionJob.runNow();
  }

  /** Runs a cleaner pass now, if this broker gets the lease (tests, tools). */
  runCleaner(): Promise<void> {
    return this.cleanerJob.runNow();
  }

  /** Runs a compaction pass now, if this broker gets the lease (tests, tools). */
  runCompaction(): Promise<void> {
    return this.compactionJob.runNow();
  }

  /** Runs a merge pass now, if this broker gets the lease (tests, tools). */
  runMerge(): Promise<void> {
    return this.mergeJob.runNow();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.jobs, this.compactionJob, this.mergeJob].map((j) => j.stop()));
    await Promise.all(['retention', 'object-cleaner', 'compaction', 'merge'].map((name) =>
      this.coordinator.releaseLease(name, this.holder).catch((err: unknown) => log.debug({ err, name }, 'releasing the lease failed'))));
  }

  private async leased(name: string, intervalMs: number, run: () => Promise<unknown>): Promise<void> {
    if (!(await this.coordinator.tryAcquireLease(name, this.holder, leaseTtl(intervalMs)))) return;
    await run();
  }
}
