/**
 * Classic storage as the broker sees it: the local logs of the classic partitions this broker leads, under
 * `log.dirs`, laid out as Kafka lays them out (so `kafka-dump-log.sh` reads them):
 *
 *   <log dir>/<topic>-<partition>/00000000000000000000.log|.index|.timeindex   segments
 *   <log dir>/<topic>-<partition>/partition.metadata                          version + topic id (Kafka's format)
 *   <log dir>/<topic>-<partition>/log-start-offset                            written by DeleteRecords
 *   <log dir>/<topic>-<partition>/<offset>.producers                          idempotent-producer state (JSON)
 *   <log dir>/.floe_cleanshutdown                                             all logs of this dir closed cleanly
 *
 * Start: every classic partition led by this broker is opened (created when missing). Without the
 * clean-shutdown marker of its log dir, a log's active segment is recovered (CRC of every batch, torn tail
 * truncated); the marker is removed once everything is open and written again by a clean close. A partition
 * folder whose partition.metadata names another topic id is a leftover of a deleted topic and is removed;
 * folders of topics this broker does not know are left alone (the log dir may be shared with other data).
 * Deleting a topic renames its folders `<topic>-<partition>.<id>-delete` and removes them; leftovers of a
 * crash in between are removed at the next start.
 *
 * New partitions go to the log dir holding the fewest partitions (Kafka's rule). Retention runs every
 * log.retention.check.interval.ms over every log; the log cleaner (log-cleaner.ts) compacts the logs of
 * compacted topics. Appends count as pending bytes until answered; past
 * `maxPendingBytes` the broker stops reading from producer sockets (dispatch's back-pressure), as for diskless.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { TopicInfo } from '../../coordinator/coordinator.ts';
import type { TopicConfig } from '../../config/topic-config.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { childLogger } from '../../observability/log.ts';
import { IndexCache } from './index-cache.ts';
import { partitionKey } from '../partition-log.ts';
import { ClassicLog, fsyncDir, type ClassicWriteStage } from './classic-log.ts';
import { fileExists } from './segment.ts';
import { LogCleaner, type LogCleanerOptions } from './log-cleaner.ts';

const log = childLogger('classic-storage');

export const CLEAN_SHUTDOWN_FILE = '.floe_cleanshutdown';
export const PARTITION_METADATA_FILE = 'partition.metadata';
const DELETE_DIR_RE = /\.[0-9a-f]{32}-delete$/;
const PARTITION_DIR_RE = /^(.+)-(\d+)$/;
const OPEN_CONCURRENCY = 8;

export interface ClassicStorageOptions {
  brokerId: number;
  logDirs: readonly string[];
  retentionCheckIntervalMs: number;
  /** The topic's current configuration; undefined once the topic is gone. */
  topicConfig: (topicId: string) => TopicConfig | undefined;
  /** New data became visible in a partition (`topicId:partition`): wake long polls. */
  onVisible: (key: string) => void;
  /** Back-pressure bound on bytes appended but not yet answered (default 64 MiB). */
  maxPendingBytes?: number;
  /** Memory for the indexes of inactive segments (default 64 MiB). */
  indexCacheBytes?: number;
  /** producer.id.expiration.ms: idle idempotent producers are forgotten after this long (default one day). */
  producerIdExpirationMs?: number;
  /** The log cleaner (log.cleaner.*); Kafka's defaults when absent. */
  cleaner?: LogCleanerOptions;
}

export interface ClassicStats {
  partitions: number;
  pendingBytes: number;
  segmentsDeleted: number;
  recoveredPartitions: number;
}

export class ClassicStorage {
  private readonly logs = new Map<string, ClassicLog>();
  /** Partition folders found at start, by folder name. */
  private readonly found = new Map<string, string>();
  /** Log dirs whose clean-shutdown marker was present at start. */
  private readonly cleanDirs = new Set<string>();
  private readonly indexCache: IndexCache;
  private readonly maxPendingBytes: number;
  private pendingBytes = 0;
  private resumeWaiters: (() => void)[] = [];
  private retentionTimer: NodeJS.Timeout | null = null;
  private retentionRunning: Promise<void> | null = null;
  private closed = false;
  readonly stats: ClassicStats = { partitions: 0, pendingBytes: 0, segmentsDeleted: 0, recoveredPartitions: 0 };
  /** Compaction of the logs of compacted topics (log-cleaner.ts). */
  readonly cleaner: LogCleaner;
  /** Write-path timings of every log (the broker's histogram). */
  onStage: ((stage: ClassicWriteStage, seconds: number) => void) | null = null;

  constructor(private readonly options: ClassicStorageOptions) {
    this.indexCache = new IndexCache(options.indexCacheBytes ?? 64 << 20);
    this.maxPendingBytes = options.maxPendingBytes ?? 64 << 20;
    this.cleaner = new LogCleaner(options.cleaner ?? { enabled: true, threads: 1, dedupeBufferBytes: 134_217_728, backoffMs: 15_000 }, () => [...this.logs.values()]);
  }

  /** Opens (or creates) the logs of `topics` (the classic topics this broker leads) and starts retention. */
  async start(topics: readonly TopicInfo[]): Promise<void> {
    for (const dir of this.options.logDirs) {
      await mkdir(dir, { recursive: true });
      if (await fileExists(join(dir, CLEAN_SHUTDOWN_FILE))) this.cleanDirs.add(dir);
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        const path = join(dir, entry.name);
        if (DELETE_DIR_RE.test(entry.name)) await rm(path, { recursive: true, force: true });
        else if (PARTITION_DIR_RE.test(entry.name) && !this.found.has(entry.name)) this.found.set(entry.name, path);
      }
    }
    const work: (() => Promise<void>)[] = [];
    for (const topic of topics) for (let p = 0; p < topic.partitionCount; p++) work.push(() => this.openPartition(topic, p));
    await runLimited(work, OPEN_CONCURRENCY);
    // Everything is open: from now on a crash must recover.
    for (const dir of this.options.logDirs) {
      if (!this.cleanDirs.has(dir)) continue;
      await unlink(join(dir, CLEAN_SHUTDOWN_FILE)).catch(() => {});
      await fsyncDir(dir);
    }
    this.retentionTimer = setInterval(() => void this.runRetention(), Math.min(this.options.retentionCheckIntervalMs, 2 ** 31 - 1));
    this.retentionTimer.unref();
    this.cleaner.start();
    if (this.logs.size > 0) log.info({ partitions: this.logs.size, logDirs: this.options.logDirs, recovered: this.stats.recoveredPartitions }, 'classic logs loaded');
  }

  /**
   * Creates the logs of a classic topic's partitions that are not open yet: for a new topic, and after
   * CreatePartitions. `config` is the topic's configuration when the registry does not know it yet.
   */
  async createTopic(topic: TopicInfo, config?: TopicConfig): Promise<void> {
    const work: (() => Promise<void>)[] = [];
    for (let p = 0; p < topic.partitionCount; p++) {
      if (!this.logs.has(partitionKey(topic.topicId, p))) work.push(() => this.openPartition(topic, p, config));
    }
    await runLimited(work, OPEN_CONCURRENCY);
  }

  /** Closes and removes the logs of a deleted topic. Waiting appends are answered UNKNOWN_TOPIC_OR_PARTITION. */
  async dropTopic(topic: Pick<TopicInfo, 'topicId' | 'name' | 'partitionCount'>): Promise<void> {
    for (let p = 0; p < topic.partitionCount; p++) {
      const key = partitionKey(topic.topicId, p);
      const plog = this.logs.get(key);
      this.found.delete(`${topic.name}-${p}`);
      if (!plog) continue;
      this.logs.delete(key);
      this.stats.partitions = this.logs.size;
      await plog.abandon(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      await removeDir(plog.dir);
    }
  }

  /** Every log open here. */
  openLogs(): IterableIterator<ClassicLog> {
    return this.logs.values();
  }

  log(topicId: string, partition: number): ClassicLog | undefined {
    return this.logs.get(partitionKey(topicId, partition));
  }

  /** Bytes of the partition's log on disk, or null (DescribeLogDirs). */
  size(topicId: string, partition: number): number | null {
    return this.logs.get(partitionKey(topicId, partition))?.size ?? null;
  }

  /** The log dir holding the partition, or null (DescribeLogDirs). */
  logDirOf(topicId: string, partition: number): string | null {
    const plog = this.logs.get(partitionKey(topicId, partition));
    return plog ? dirname(plog.dir) : null;
  }

  /** One retention pass over every log (also run by the timer). Returns the number of segments deleted. */
  async runRetention(now = Date.now()): Promise<number> {
    if (this.closed) return 0;
    while (this.retentionRunning) await this.retentionRunning;
    let deleted = 0;
    const run = (async () => {
      for (const plog of [...this.logs.values()]) {
        try {
          deleted += await plog.applyRetention(now);
        } catch (err) {
          log.warn({ err, partition: plog.key }, 'retention pass failed');
        }
      }
    })();
    this.retentionRunning = run;
    try {
      await run;
    } finally {
      this.retentionRunning = null;
    }
    this.stats.segmentsDeleted += deleted;
    return deleted;
  }

  get paused(): boolean {
    return this.pendingBytes >= this.maxPendingBytes;
  }

  whenResumed(): Promise<void> {
    if (!this.paused) return Promise.resolve();
    return new Promise((resolve) => this.resumeWaiters.push(resolve));
  }

  /** Writes what is queued, seals every log and writes the clean-shutdown markers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.retentionRunning) await this.retentionRunning.catch(() => {});
    await this.cleaner.close();
    const logs = [...this.logs.values()];
    const results = await Promise.allSettled(logs.map((l) => l.close()));
    const dirty = new Set<string>();
    results.forEach((r, i) => {
      const plog = logs[i]!;
      if (r.status === 'rejected' || plog.failure) {
        dirty.add(dirname(plog.dir));
        log.warn({ err: r.status === 'rejected' ? r.reason : plog.failure, partition: plog.key }, 'classic log did not close cleanly');
      }
    });
    for (const dir of this.options.logDirs) {
      if (dirty.has(dir)) continue;
      await writeFile(join(dir, CLEAN_SHUTDOWN_FILE), '');
      await fsyncDir(dir);
    }
    this.logs.clear();
  }

  private onPendingBytes(delta: number): void {
    this.pendingBytes += delta;
    this.stats.pendingBytes = this.pendingBytes;
    if (delta < 0 && !this.paused && this.resumeWaiters.length > 0) {
      const waiters = this.resumeWaiters;
      this.resumeWaiters = [];
      for (const resume of waiters) resume();
    }
  }

  private async openPartition(topic: TopicInfo, partition: number, initialConfig?: TopicConfig): Promise<void> {
    const key = partitionKey(topic.topicId, partition);
    if (this.logs.has(key)) return;
    const name = `${topic.name}-${partition}`;
    let dir = this.found.get(name);
    let created = false;
    if (dir !== undefined) {
      const owner = await readTopicId(dir);
      if (owner !== null && owner !== topic.topicId) {
        log.warn({ dir, topicId: topic.topicId, found: owner }, 'removing the partition folder of an earlier topic with the same name');
        await removeDir(dir);
        this.found.delete(name);
        dir = undefined;
      } else if (owner === null) {
        await writePartitionMetadata(dir, topic.topicId);
      }
    }
    if (dir === undefined) {
      dir = join(this.pickLogDir(), name);
      this.found.set(name, dir); // before any await: partitions opened in parallel count it when picking
      await mkdir(dir, { recursive: true });
      await writePartitionMetadata(dir, topic.topicId);
      await fsyncDir(dirname(dir));
      created = true;
    }
    let lastConfig = this.options.topicConfig(topic.topicId) ?? initialConfig;
    if (!lastConfig) throw new Error(`no configuration for topic ${topic.name}`);
    const recover = !created && !this.cleanDirs.has(dirname(dir));
    const plog = await ClassicLog.open({
      topicId: topic.topicId,
      topicName: topic.name,
      partition,
      dir,
      config: () => (lastConfig = this.options.topicConfig(topic.topicId) ?? lastConfig!),
      onVisible: this.options.onVisible,
      onPendingBytes: (delta) => this.onPendingBytes(delta),
      indexCache: this.indexCache,
      onStage: (stage, seconds) => this.onStage?.(stage, seconds),
      producerIdExpirationMs: this.options.producerIdExpirationMs,
    }, recover);
    if (recover) this.stats.recoveredPartitions++;
    this.logs.set(key, plog);
    this.stats.partitions = this.logs.size;
  }

  /** The log dir holding the fewest partition folders. */
  private pickLogDir(): string {
    const counts = new Map<string, number>(this.options.logDirs.map((d) => [d, 0]));
    for (const path of this.found.values()) {
      const parent = dirname(path);
      counts.set(parent, (counts.get(parent) ?? 0) + 1);
    }
    let best = this.options.logDirs[0]!;
    for (const d of this.options.logDirs) if (counts.get(d)! < counts.get(best)!) best = d;
    return best;
  }
}

/** Kafka's partition.metadata: the topic id as Kafka prints it (base64url of the 16 bytes). */
async function writePartitionMetadata(dir: string, topicId: string): Promise<void> {
  const id = Buffer.from(topicId.replace(/-/g, ''), 'hex').toString('base64url');
  const path = join(dir, PARTITION_METADATA_FILE);
  await writeFile(`${path}.tmp`, `version: 0\ntopic_id: ${id}\n`);
  await rename(`${path}.tmp`, path);
}

/** The topic id (canonical UUID text) in a partition folder's partition.metadata, or null when there is none. */
async function readTopicId(dir: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(join(dir, PARTITION_METADATA_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const m = /^topic_id:\s*(\S+)\s*$/m.exec(text);
  if (!m) return null;
  const hex = Buffer.from(m[1]!, 'base64url').toString('hex');
  if (hex.length !== 32) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Renames a partition folder `<name>.<id>-delete` (atomic, durable), then removes it. */
async function removeDir(dir: string): Promise<void> {
  const doomed = join(dirname(dir), `${basename(dir)}.${randomUUID().replace(/-/g, '')}-delete`);
  try {
    await rename(dir, doomed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await fsyncDir(dirname(dir));
  await rm(doomed, { recursive: true, force: true });
}

async function runLimited(work: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < work.length) await work[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, work.length) }, worker));
}
