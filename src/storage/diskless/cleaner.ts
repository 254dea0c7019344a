/**
 * The object cleaner: the end of an object's life (DESIGN.md, "Coordinator contract").
 *
 * Per pass:
 * 1. Orphans registered: key registrations older than `orphanMinAgeMs` (their broker died or gave up
 *    between registering and committing) become 'deleting' objects.
 * 2. Deletion: 'deleting' objects marked at least `deletionGraceMs` ago and holding no batch are deleted
 *    from the store in bulk (`deleteMany`, up to 1,000 keys a call), then forgotten by the coordinator. The
 *    grace period lets fetches that located a batch just before its removal still read it; it must exceed
 *    the time a broker may serve batch locations from its index cache after a log start moved (see
 *    DisklessStorage.refreshLogStarts). A failed store delete leaves the rows for the next pass.
 * 3. Orphans unregistered (at most every `orphanScanIntervalMs`): the store is listed under the WAL prefix,
 *    and objects older than `orphanMinAgeMs` that the coordinator knows neither as an object nor as a
 *    registration are deleted (uploads from before key registration, or by a broker without it).
 *
 * Safe when several brokers clean at once (normally one holds the cleaner lease): an object is deleted
 * from the store only once 'deleting' (a final state) and past the grace, so deleting it twice is harmless.
 */
import type { Coordinator } from '../../coordinator/coordinator.ts';
import type { ObjectStore } from '../../objectstore/object-store.ts';
import { childLogger } from '../../observability/log.ts';

const log = childLogger('object-cleaner');

const DELETE_BATCH = 1_000;

export interface CleanerOptions {
  keyPrefix: string;
  deletionGraceMs: number;
  orphanMinAgeMs: number;
  /** Listing the store for unregistered orphans happens at most this often (default orphanMinAgeMs / 4). */
  orphanScanIntervalMs?: number;
  /** Keys deleted from the store (to drop them from caches). */
  onDeleted?: (keys: readonly string[]) => void;
  /** A pass stops starting deletions after this long (default 30 s). */
  maxPassMs?: number;
  /** True once the broker shuts down: the pass stops between deletions and skips the listing. */
  stopping?: () => boolean;
  now?: () => number;
}

export interface CleanerPassStats {
  orphansRegistered: number;
  objectsDeleted: number;
  orphansUnregistered: number;
  scanned: boolean;
  ms: number;
}

export class ObjectCleaner {
  /** The first listing comes one scan interval after start, not in the start-up burst. */
  private lastScan: number;
  private readonly now: () => number;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly store: ObjectStore,
    private readonly options: CleanerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.lastScan = this.now();
  }

  async runPass(): Promise<CleanerPassStats> {
    const start = performance.now();
    const maxPassMs = this.options.maxPassMs ?? 30_000;
    const stats: CleanerPassStats = { orphansRegistered: 0, objectsDeleted: 0, orphansUnregistered: 0, scanned: false, ms: 0 };

    stats.orphansRegistered = await this.coordinator.reapPendingObjects(this.options.orphanMinAgeMs);
    if (stats.orphansRegistered > 0) log.warn({ count: stats.orphansRegistered }, 'orphan objects (registered, never committed) marked for deletion');

    for (;;) {
      const keys = await this.coordinator.objectsToDelete(this.options.deletionGraceMs, DELETE_BATCH);
      if (keys.length === 0) break;
      await this.store.deleteMany(keys);
      stats.objectsDeleted += await this.coordinator.markObjectsDeleted(keys);
      this.options.onDeleted?.(keys);
      if (keys.length < DELETE_BATCH || performance.now() - start > maxPassMs || this.options.stopping?.()) break;
    }

    const scanInterval = this.options.orphanScanIntervalMs ?? this.options.orphanMinAgeMs / 4;
    if (this.now() - this.lastScan >= scanInterval && !this.options.stopping?.()) {
      this.lastScan = this.now();
      stats.scanned = true;
      stats.orphansUnregistered = await this.deleteUnregisteredOrphans();
    }
    stats.ms = performance.now() - start;
    if (stats.objectsDeleted > 0 || stats.orphansUnregistered > 0) log.info(stats, 'object cleaner pass');
    return stats;
  }

  /** Lists the WAL prefix; deletes old objects the coordinator does not know. */
  private async deleteUnregisteredOrphans(): Promise<number> {
    const cutoff = this.now() - this.options.orphanMinAgeMs;
    let deleted = 0;
    let candidates: string[] = [];
    const flush = async (): Promise<void> => {
      const unknown = await this.coordinator.unknownObjectKeys(candidates);
      candidates = [];
      if (unknown.length === 0) return;
      log.warn({ count: unknown.length, sample: unknown.slice(0, 3) }, 'deleting orphan objects the coordinator does not know');
      await this.store.deleteMany(unknown);
      this.options.onDeleted?.(unknown);
      deleted += unknown.length;
    };
    for await (const o of this.store.list(this.options.keyPrefix)) {
      if (o.lastModified.getTime() > cutoff) continue;
      candidates.push(o.key);
      if (candidates.length >= DELETE_BATCH) await flush();
    }
    if (candidates.length > 0) await flush();
    return deleted;
  }
}
