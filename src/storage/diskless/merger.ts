/**
 * Merging of small objects (DESIGN.md "Parts": the merger). The write path makes one object per broker per
 * commit interval holding many partitions' batches, so a lagging consumer of one partition reads a few KB
 * from each of many objects: one GET each. The merger rewrites old small objects into larger ones whose
 * batches are sorted by (topic id, partition, offset), so the same read becomes one GET per fetch.
 *
 * A cluster job (maintenance.ts: one broker at a time, holding the `merge` lease), every
 * diskless.merge.interval.ms. One pass:
 * 1. Candidates: live objects smaller than half of diskless.merge.target.bytes (an object at least that large
 *    is left alone, so merged objects are not rewritten over and over) committed at least
 *    diskless.merge.min.age.ms ago (fresh data is read from the object cache by tail consumers and may still
 *    be compacted or deleted soon), oldest first.
 * 2. They are taken in that order into groups of at most the target size; a group of two or more objects is
 *    merged: every input object is read whole (one GET each), its batches are copied byte for byte, sorted by
 *    partition and offset, into one new object, which is uploaded first (its key registered as pending, so a
 *    crash leaves no orphan for long), then ONE coordinator transaction (floe_merge_objects) moves the batch
 *    rows into it. Only the object id and byte offset of a row change: offsets, timestamps, producer fields
 *    and what the batch is to transactions (data or marker) stay, so Fetch, ListOffsets, read_committed reads
 *    and idempotent producers see nothing change. When retention, DeleteRecords, compaction or topic deletion
 *    changed the inputs' batches meanwhile, the swap changes nothing and the new object is deleted at once.
 * 3. The old objects become 'deleting' in the swap and the object cleaner deletes them after
 *    diskless.object.deletion.grace.ms: a fetch that located a batch in an old object just before the swap
 *    still reads it. Brokers drop their cached batch locations of the touched partitions on the
 *    floe_compactions notification, or at the latest at their next log-start refresh (the partitions'
 *    merge_epoch moved), well inside the grace period. The object cache needs nothing: keys are never reused.
 *
 * Rate: the bytes read and written are throttled to diskless.merge.io.max.bytes.per.second together (as
 * Kafka's log.cleaner.io.max.bytes.per.second throttles its cleaner), so merging never takes the object
 * store or the broker's CPU from produce and fetch for long.
 */
import { randomUUID } from 'node:crypto';
import type { Coordinator, MergeCandidate, MergeInput, PartitionKey } from '../../coordinator/coordinator.ts';
import type { ObjectStore } from '../../objectstore/object-store.ts';
import { childLogger } from '../../observability/log.ts';

const log = childLogger('diskless-merger');

/** Merged objects are named `<prefix>merged-<uuid>`, so readers can tell them from fresh WAL objects. */
const MERGED_MARK = 'merged-';

/**
 * Whether an object key names a merged object. Readers never fetch and cache a merged object whole (it is
 * large and old: only lagging consumers read it), even when its batch locations sit in the index cache.
 */
export function isMergedObjectKey(key: string): boolean {
  return key.startsWith(MERGED_MARK, key.lastIndexOf('/') + 1);
}

/** Candidates asked of the coordinator at once. */
const CANDIDATE_LIMIT = 2_000;
/** Input objects read at once. */
const READ_CONCURRENCY = 4;

export interface DisklessMergerOptions {
  brokerId: number;
  keyPrefix: string;
  /** diskless.merge.target.bytes: merged objects are at most this large; inputs are below half of it. */
  targetBytes: number;
  /** diskless.merge.min.age.ms */
  minAgeMs: number;
  /** diskless.merge.io.max.bytes.per.second (reads and writes together). */
  maxBytesPerSecond: number;
  /** The batches of these partitions moved (this broker's cached locations are stale; the notification does the same elsewhere). */
  onSwapped: (keys: PartitionKey[]) => void;
  /** Register object keys as pending before upload (orphan reaping), as the writer does with diskless.orphan.min.age.ms. */
  registerKeys?: boolean;
  /**
   * diskless.orphan.min.age.ms: a registered key older than this is reaped, so a merge whose upload took
   * more than half of it is not swapped (as the writer never commits such a key); default 1 hour.
   */
  orphanMinAgeMs?: number;
  stopping?: () => boolean;
  /** Renews the job's lease before each merge; false: another broker holds it now, the pass stops. */
  renewLease?: () => Promise<boolean>;
}

export interface DisklessMergerStats {
  /** Passes completed. */
  passes: number;
  /** Merges done (one swap each). */
  merges: number;
  /** Input objects merged (now 'deleting'). */
  objectsMerged: number;
  objectsWritten: number;
  bytesRead: number;
  bytesWritten: number;
  /** Swaps refused because the inputs' batches changed meanwhile. */
  conflicts: number;
  failures: number;
  /** How long the oldest candidate has waited past diskless.merge.min.age.ms, as of the last look (0: none waits). */
  lagMs: number;
  /** Candidates seen at the last look (at most the coordinator query's limit). */
  pendingObjects: number;
  /** Seconds spent throttled. */
  throttledSeconds: number;
}

export class DisklessMerger {
  readonly stats: DisklessMergerStats = { passes: 0, merges: 0, objectsMerged: 0, objectsWritten: 0, bytesRead: 0, bytesWritten: 0, conflicts: 0, failures: 0, lagMs: 0, pendingObjects: 0, throttledSeconds: 0 };
  private ioStart = 0;
  private ioBytes = 0;

  constructor(private readonly coordinator: Coordinator, private readonly store: ObjectStore, private readonly options: DisklessMergerOptions) {}

  /** Objects below this size are merge inputs. */
  get inputMaxBytes(): number {
    return Math.max(1, Math.floor(this.options.targetBytes / 2));
  }

  /** Merges candidates until none is left (the maintenance job calls it while holding the lease). */
  async runPass(): Promise<void> {
    try {
      await this.mergeUntilDone();
    } finally {
      this.stats.passes++;
    }
  }

  private async mergeUntilDone(): Promise<void> {
    this.ioStart = performance.now();
    this.ioBytes = 0;
    // Groups refused or failed in this pass are not tried again before the next one.
    const skip = new Set<string>();
    for (;;) {
      if (this.options.stopping?.()) return;
      const candidates = (await this.candidates()).filter((c) => !skip.has(c.objectKey));
      const group = nextGroup(candidates, this.options.targetBytes);
      if (group.length < 2) return;
      // A long pass outlives the lease it started with: renewed before each merge (two brokers merging the
      // same objects would be safe, the second swap is refused, but wasteful).
      if (this.options.renewLease && !(await this.options.renewLease())) return;
      try {
        if (!(await this.mergeGroup(group))) for (const c of group) skip.add(c.objectKey);
      } catch (err) {
        this.stats.failures++;
        for (const c of group) skip.add(c.objectKey);
        log.warn({ err, objects: group.length }, 'merging objects failed; they are tried again next pass');
      }
    }
  }

  private async candidates(): Promise<MergeCandidate[]> {
    const found = await this.coordinator.mergeCandidates(this.inputMaxBytes, this.options.minAgeMs, CANDIDATE_LIMIT);
    this.stats.pendingObjects = found.length;
    this.stats.lagMs = found.length === 0 ? 0 : Math.max(0, found[0]!.ageMs - this.options.minAgeMs);
    return found;
  }

  /**
   * Merges one group of objects into one: upload, then swap. Returns false when the swap was refused (the
   * inputs changed meanwhile); throws when the store or the coordinator failed (nothing changed then, an
   * uploaded object is an orphan reaped later).
   */
  async mergeGroup(group: readonly MergeCandidate[]): Promise<boolean> {
    const keys = group.map((c) => c.objectKey);
    const inputs = await this.coordinator.mergeInputs(keys);
    // 1. Read every input whole (one GET each).
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < keys.length; i += READ_CONCURRENCY) {
      const chunk = keys.slice(i, i + READ_CONCURRENCY);
      const read = await Promise.all(chunk.map((k) => this.store.get(k)));
      for (let j = 0; j < chunk.length; j++) {
        bodies.set(chunk[j]!, read[j]!);
        this.stats.bytesRead += read[j]!.length;
        await this.throttle(read[j]!.length);
      }
    }
    // 2. The new object: the batches in (topic id, partition, offset) order, as mergeInputs returns them.
    const parts: Buffer[] = [];
    const moved: { topicId: string; partition: number; baseOffset: number; oldByteOffset: number; newByteOffset: number }[] = [];
    let size = 0;
    for (const b of inputs) {
      const body = bodies.get(b.objectKey)!;
      if (b.byteOffset + b.byteSize > body.length) throw new Error(`object ${b.objectKey} is ${body.length} bytes, shorter than its batch at ${b.byteOffset}+${b.byteSize}`);
      parts.push(body.subarray(b.byteOffset, b.byteOffset + b.byteSize));
      moved.push({ topicId: b.topicId, partition: b.partition, baseOffset: b.baseOffset, oldByteOffset: b.byteOffset, newByteOffset: size });
      size += b.byteSize;
    }
    // 3. Upload, then one transaction moves the rows. The key is registered just before the upload (after
    // the throttle's wait), and not swapped if the orphan reaper may already have taken it.
    const objectKey = `${this.options.keyPrefix}${MERGED_MARK}${randomUUID()}`;
    await this.throttle(size);
    const registeredAt = performance.now();
    if (this.options.registerKeys) await this.coordinator.registerPendingObjects(this.options.brokerId, [objectKey]);
    await this.store.put(objectKey, parts);
    if (this.options.registerKeys && performance.now() - registeredAt > (this.options.orphanMinAgeMs ?? 3_600_000) / 2) {
      throw new Error(`the upload of ${objectKey} took more than half of diskless.orphan.min.age.ms: not swapped (the orphan reaper deletes it)`);
    }
    const result = await this.coordinator.swapMerged({ objectKey, objectSize: size, brokerId: this.options.brokerId, oldObjectKeys: keys, batches: moved });
    if (!result.ok) {
      this.stats.conflicts++;
      log.info({ reason: result.reason, objects: keys.length }, 'merge swap refused: the objects changed meanwhile; trying again next pass');
      try {
        await this.store.deleteMany([objectKey]);
        if (this.options.registerKeys) await this.coordinator.forgetPendingObjects([objectKey]);
      } catch (err) {
        log.warn({ err, objectKey }, 'could not delete the unused merged object (the orphan reaper will)');
      }
      return false;
    }
    this.stats.merges++;
    this.stats.objectsMerged += result.objectsReleased;
    this.stats.objectsWritten++;
    this.stats.bytesWritten += size;
    this.options.onSwapped(distinctPartitions(inputs));
    log.debug({ objectKey, inputs: keys.length, batches: moved.length, bytes: size }, 'objects merged');
    return true;
  }

  /** Sleeps as long as the bytes moved this pass are ahead of the rate (Kafka's Throttler). */
  private async throttle(bytes: number): Promise<void> {
    this.ioBytes += bytes;
    const rate = this.options.maxBytesPerSecond;
    if (!(rate > 0) || !Number.isFinite(rate)) return;
    const aheadMs = (this.ioBytes / rate) * 1000 - (performance.now() - this.ioStart);
    if (aheadMs <= 5) return;
    this.stats.throttledSeconds += aheadMs / 1000;
    await new Promise((resolve) => setTimeout(resolve, aheadMs));
  }
}

/** The oldest candidates that fit in `targetBytes` together (the first always). */
export function nextGroup(candidates: readonly MergeCandidate[], targetBytes: number): MergeCandidate[] {
  const group: MergeCandidate[] = [];
  let bytes = 0;
  for (const c of candidates) {
    if (group.length > 0 && bytes + c.size > targetBytes) break;
    group.push(c);
    bytes += c.size;
  }
  return group;
}

function distinctPartitions(inputs: readonly MergeInput[]): PartitionKey[] {
  const out: PartitionKey[] = [];
  for (const b of inputs) {
    const last = out[out.length - 1];
    if (!last || last.topicId !== b.topicId || last.partition !== b.partition) out.push({ topicId: b.topicId, partition: b.partition });
  }
  return out;
}
