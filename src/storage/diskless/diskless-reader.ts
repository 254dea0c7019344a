/**
 * The diskless read path (DESIGN.md "Fetch path"): find the batches covering each partition's fetch
 * offset (batch index cache first; the misses of one request's partitions go to the coordinator in one
 * query, gathered by a CallBatcher), apply the partition and request
 * byte limits (the first non-empty partition always gets at least one batch, as in Kafka), read the
 * bytes through the object cache, and patch each batch header on the way out.
 *
 * Patching happens in place: a batch's assigned offset and append time never change once committed, so
 * rewriting them in a shared cached object is idempotent and saves a copy per fetch.
 *
 * Named after the class it defines (STYLE.md's `fetch-planner.ts`): planning is one of its three steps.
 * The long poll is not here but in ../storage.ts, which serves both kinds of partition.
 */
import type { BatchLocation, Coordinator, FindBatchesResult } from '../../coordinator/coordinator.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { patchBaseOffset, patchLogAppendTime, patchPartitionLeaderEpoch } from '../../protocol/record-batch.ts';
import { partitionKey, READ_COMMITTED, STORED_LEADER_EPOCH, type AbortedTransaction, type FetchBudget, type IsolationLevel, type ReadPlan, type ReadResult } from '../partition-log.ts';
import { toKafkaError } from '../storage-error.ts';
import type { BatchIndexCache } from './batch-index-cache.ts';
import { CallBatcher } from './call-batcher.ts';
import type { LaggingReadCache } from './lagging-read-cache.ts';
import type { ObjectCache } from './object-cache.ts';
import { isMergedObjectKey } from './merger.ts';
import type { TxnViews } from './txn-views.ts';
import { childLogger } from '../../observability/log.ts';

const log = childLogger('diskless-reader');

export interface DisklessRead {
  topicId: string;
  partition: number;
  offset: number;
  maxBytes: number;
}

/** A partition's batches found for a fetch, before and after the byte limits. */
interface Planned {
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  batches: BatchLocation[];
  /** True when the batches came from the index cache (recent data: read whole objects and cache them). */
  recent: boolean;
  lastStableOffset?: number;
  /** Set for read_committed reads. */
  aborted?: AbortedTransaction[];
}

/**
 * A lagging partition's batch locations beyond its last fetch, from the coordinator answer that planned
 * it: the partition's next fetches are planned from it (no coordinator query) and read ahead along it.
 */
interface Cursor {
  logStartOffset: number;
  highWatermark: number;
  batches: BatchLocation[];
  at: number;
  /** Per object, the span of this partition's batches in it (they are contiguous in an object). */
  spans: Map<string, { start: number; end: number }>;
}

/** Cursors looked through to widen a read-ahead to the other partitions' spans of the same objects. */
const MAX_WIDEN_CURSORS = 256;

/** How long a cursor is trusted (well below diskless.object.deletion.grace.ms's default of 120 s). */
const CURSOR_TTL_MS = 30_000;
/** Lagging partitions remembered at once, and batch locations in all their cursors (the oldest cursor goes first). */
const MAX_CURSORS = 10_000;
const MAX_CURSOR_BATCHES = 200_000;

export interface DisklessReaderOptions {
  /** Per lagging partition, bytes read ahead of its fetches (and located with the fetch's query); 0: none. */
  readAheadBytes: number;
}

export class DisklessReader {
  coordinatorQueries = 0;
  bytesRead = 0;
  /** The index cache misses of one request's partitions, found with one coordinator query. */
  private readonly misses = new CallBatcher<DisklessRead, Planned>((reads) => this.findBatches(reads));
  private readonly cursors = new Map<string, Cursor>();
  private cursorBatches = 0;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly objects: ObjectCache,
    private readonly index: BatchIndexCache,
    private readonly txns: TxnViews,
    private readonly lagging: LaggingReadCache,
    private readonly options: DisklessReaderOptions = { readAheadBytes: 0 },
  ) {}

  /**
   * Plans one partition's read: from the index cache (the tail), else from the partition's cursor (a
   * lagging consumer reading on), else (batched with the request's other misses) the coordinator.
   */
  async plan(read: DisklessRead, isolation: IsolationLevel): Promise<ReadPlan> {
    const key = partitionKey(read.topicId, read.partition);
    const cached = this.index.read(key, read.offset, read.maxBytes);
    const planned: Planned = cached ? { errorCode: 0, ...cached, recent: true } : this.fromCursor(key, read) ?? (await this.misses.call(read));
    if (planned.errorCode === 0 && (read.offset < planned.logStartOffset || read.offset > planned.highWatermark)) {
      planned.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
      planned.batches = [];
    }
    if (planned.errorCode === 0 && isolation === READ_COMMITTED) {
      // Most partitions never see a transaction: no await for them on the tail-read path.
      if (this.txns.isFree(read.topicId, read.partition)) planned.aborted = [];
      else await this.stopAtStable(read, planned);
    }
    return new DisklessReadPlan(this, read, planned);
  }

  /** read_committed: only batches below the last stable offset, with the aborted transactions among them. */
  private async stopAtStable(read: DisklessRead, planned: Planned): Promise<void> {
    let view;
    try {
      view = await this.txns.view({ topicId: read.topicId, partition: read.partition, fromOffset: read.offset, highWatermark: planned.highWatermark });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'transaction view: coordinator query failed');
      planned.errorCode = toKafkaError('coordinator', err).errorCode;
      planned.batches = [];
      return;
    }
    planned.lastStableOffset = view.lastStableOffset;
    planned.aborted = view.aborted;
    let n = 0;
    while (n < planned.batches.length && planned.batches[n]!.baseOffset < view.lastStableOffset) n++;
    planned.batches.length = n;
  }

  /**
   * A lagging read planned from the partition's cursor, when the cursor holds the fetch offset and at least
   * half the read-ahead beyond this fetch (else the coordinator is asked again, for a window as long as the
   * first, before the read-ahead runs dry).
   */
  private fromCursor(key: string, read: DisklessRead): Planned | undefined {
    const cursor = this.cursors.get(key);
    if (!cursor) return undefined;
    if (Date.now() - cursor.at > CURSOR_TTL_MS) {
      this.forget(key);
      return undefined;
    }
    const { batches } = cursor;
    let i = 0;
    while (i < batches.length && batches[i]!.lastOffset < read.offset) i++;
    if (i === batches.length || batches[i]!.baseOffset > read.offset) return undefined;
    let bytes = 0;
    let n = i;
    for (; n < batches.length; n++) {
      if (n > i && bytes + batches[n]!.byteSize > read.maxBytes) break;
      bytes += batches[n]!.byteSize;
    }
    let beyond = 0;
    for (let j = n; j < batches.length; j++) beyond += batches[j]!.byteSize;
    const reachesEnd = batches[batches.length - 1]!.lastOffset + 1 >= cursor.highWatermark;
    if (!reachesEnd && (n === batches.length || beyond < this.options.readAheadBytes / 2)) return undefined;
    // Batches before the fetch offset are read: forget them.
    if (i > 0) {
      cursor.batches = batches.slice(i);
      this.cursorBatches -= i;
    }
    const known = this.index.offsets(key);
    return {
      errorCode: 0,
      logStartOffset: Math.max(cursor.logStartOffset, known?.logStartOffset ?? -1),
      highWatermark: Math.max(cursor.highWatermark, known?.highWatermark ?? -1),
      batches: cursor.batches.slice(0, n - i),
      recent: false,
    };
  }

  private async findBatches(reads: DisklessRead[]): Promise<Planned[]> {
    this.coordinatorQueries++;
    const mark = this.index.mark();
    let found: FindBatchesResult[];
    const ahead = this.options.readAheadBytes;
    try {
      // Lagging reads locate their read-ahead too, in the same query.
      found = await this.coordinator.findBatches(ahead > 0 ? reads.map((r) => ({ ...r, maxBytes: r.maxBytes + ahead })) : reads);
    } catch (err) {
      // The coordinator is unreachable: a retriable error for these partitions; cached ones are still served.
      log.warn({ err: (err as Error).message }, 'find batches: coordinator query failed');
      const { errorCode } = toKafkaError('coordinator', err);
      return reads.map(() => ({ errorCode, highWatermark: -1, logStartOffset: -1, batches: [], recent: false }));
    }
    return found.map((result, i) => {
      const r = reads[i]!;
      const key = partitionKey(r.topicId, r.partition);
      const asked = { ...result, batches: firstBytes(result.batches, r.maxBytes) };
      // Seeded only when the fetch itself reaches the tail: a consumer further behind is served from its
      // cursor (ranged reads, read ahead), not as a tail consumer (whole objects into the object cache).
      this.index.seed(key, asked, r.offset, mark);
      if (ahead > 0 && result.errorCode === 0 && result.batches.length > asked.batches.length) {
        this.remember(key, { logStartOffset: result.logStartOffset, highWatermark: result.highWatermark, batches: result.batches, at: Date.now(), spans: spansOf(result.batches) });
      }
      return { ...asked, recent: false };
    });
  }

  /** The partition's batches changed (log start moved, compaction, merging): its next fetch asks the coordinator. */
  forget(key: string): void {
    const cursor = this.cursors.get(key);
    if (!cursor) return;
    this.cursorBatches -= cursor.batches.length;
    this.cursors.delete(key);
  }

  forgetTopic(topicId: string): void {
    const prefix = `${topicId}:`;
    for (const key of [...this.cursors.keys()]) if (key.startsWith(prefix)) this.forget(key);
  }

  forgetAll(): void {
    this.cursors.clear();
    this.cursorBatches = 0;
  }

  private remember(key: string, cursor: Cursor): void {
    this.forget(key);
    this.cursors.set(key, cursor);
    this.cursorBatches += cursor.batches.length;
    while (this.cursors.size > MAX_CURSORS || (this.cursorBatches > MAX_CURSOR_BATCHES && this.cursors.size > 1)) this.forget(this.cursors.keys().next().value!);
  }

  /** Reads ahead of a lagging fetch: the cursor's batches after `last`, up to the read-ahead's bytes. */
  private readAhead(key: string, last: BatchLocation): void {
    const cursor = this.cursors.get(key);
    if (!cursor || this.options.readAheadBytes <= 0) return;
    const { batches } = cursor;
    let i = 0;
    while (i < batches.length && batches[i]!.baseOffset <= last.baseOffset) i++;
    let bytes = 0;
    let n = i;
    for (; n < batches.length && bytes < this.options.readAheadBytes; n++) bytes += batches[n]!.byteSize;
    const objects = new Set<string>();
    for (const run of batchRuns(batches.slice(i, n))) {
      this.lagging.prefetch(run.objectKey, { start: run.start, end: run.end });
      objects.add(run.objectKey);
    }
    // The same objects' spans of the topic's other lagging partitions, which their consumers read soon:
    // asked for in this turn, they join this partition's GET of each object instead of one GET each later.
    if (this.cursors.size > MAX_WIDEN_CURSORS) return;
    const topic = key.slice(0, key.lastIndexOf(':') + 1);
    for (const [other, c] of this.cursors) {
      if (other === key || !other.startsWith(topic)) continue;
      for (const object of objects) {
        const span = c.spans.get(object);
        if (span) this.lagging.prefetch(object, span);
      }
    }
  }

  /** Applies the partition limit and the request's budget (the first partition with data gets one batch). */
  limit(read: DisklessRead, plan: Planned, budget: FetchBudget): void {
    const limit = Math.min(read.maxBytes, budget.remaining);
    let bytes = 0;
    let n = 0;
    for (const batch of plan.batches) {
      if (bytes + batch.byteSize > limit && !(budget.minOneBatch && n === 0)) break;
      bytes += batch.byteSize;
      n++;
    }
    plan.batches.length = n;
    if (n > 0) budget.minOneBatch = false;
    budget.remaining = Math.max(0, budget.remaining - bytes);
  }

  /** Reads a planned partition's batches; `key` names the partition (for its read-ahead). */
  async load(plan: Planned, key: string): Promise<ReadResult> {
    const result: ReadResult = {
      errorCode: plan.errorCode,
      highWatermark: plan.highWatermark,
      lastStableOffset: plan.lastStableOffset ?? plan.highWatermark,
      abortedTransactions: plan.aborted ?? null,
      logStartOffset: plan.logStartOffset,
      records: [],
      bytes: 0,
    };
    if (plan.batches.length === 0) return result;
    const runs = batchRuns(plan.batches);
    // Merged objects are old and large: read by range even when the index cache located them.
    const recent = plan.recent && !runs.some((run) => isMergedObjectKey(run.objectKey));
    try {
      let runSlices: Buffer[][];
      if (recent) {
        // Runs of a partition spread over many small objects are read in parallel, and kept in offset order.
        runSlices = await mapLimit(runs, LOAD_CONCURRENCY, async (run) => patchRun(await this.objects.getRecent(run.objectKey, run), run.batches));
      } else {
        // Lagging: every run asked for in this turn, with the read-ahead beyond them, so the lagging cache
        // reads them together with the request's other partitions (coalesced GETs, all in flight at once).
        const reads = runs.map((run) => this.objects.cached(run.objectKey, run) ?? this.lagging.read(run.objectKey, run));
        this.readAhead(key, plan.batches[plan.batches.length - 1]!);
        runSlices = await Promise.all(reads.map(async (slices, i) => patchRun(await slices, runs[i]!.batches)));
      }
      for (const slices of runSlices) {
        for (const bytes of slices) {
          result.records.push(bytes);
          result.bytes += bytes.length;
          this.bytesRead += bytes.length;
        }
      }
    } catch (err) {
      log.warn({ err }, 'reading batches failed');
      this.forget(key); // an object gone: locate the batches afresh
      return { ...result, errorCode: toKafkaError('object-store', err).errorCode, records: [], bytes: 0 };
    }
    return result;
  }

  /** The bytes of one batch (for record-granular timestamp lookups). */
  async readBatch(batch: BatchLocation): Promise<Buffer> {
    const slices = await this.objects.getRange(batch.objectKey, { start: batch.byteOffset, end: batch.byteOffset + batch.byteSize });
    return slices.length === 1 ? slices[0]! : Buffer.concat(slices);
  }
}

/** One diskless partition's read, as the partition seam hands it out. */
class DisklessReadPlan implements ReadPlan {
  constructor(private readonly reader: DisklessReader, private readonly read: DisklessRead, private readonly planned: Planned) {}

  get errorCode(): number {
    return this.planned.errorCode;
  }

  limit(budget: FetchBudget): void {
    this.reader.limit(this.read, this.planned, budget);
  }

  load(): Promise<ReadResult> {
    return this.reader.load(this.planned, partitionKey(this.read.topicId, this.read.partition));
  }
}

/** Object reads one partition of one fetch may have in flight. */
const LOAD_CONCURRENCY = 8;

interface BatchRun {
  objectKey: string;
  start: number;
  end: number;
  batches: BatchLocation[];
}

/** Runs of batches that sit back to back in one object: each is read (and sent) as one slice. */
function batchRuns(batches: readonly BatchLocation[]): BatchRun[] {
  const runs: BatchRun[] = [];
  for (const batch of batches) {
    const last = runs[runs.length - 1];
    if (last && last.objectKey === batch.objectKey && last.end === batch.byteOffset) {
      last.end += batch.byteSize;
      last.batches.push(batch);
    } else {
      runs.push({ objectKey: batch.objectKey, start: batch.byteOffset, end: batch.byteOffset + batch.byteSize, batches: [batch] });
    }
  }
  return runs;
}

function spansOf(batches: readonly BatchLocation[]): Map<string, { start: number; end: number }> {
  const spans = new Map<string, { start: number; end: number }>();
  for (const b of batches) {
    const span = spans.get(b.objectKey);
    if (span) span.end = Math.max(span.end, b.byteOffset + b.byteSize);
    else spans.set(b.objectKey, { start: b.byteOffset, end: b.byteOffset + b.byteSize });
  }
  return spans;
}

/** The first batches up to `maxBytes` (at least one). */
function firstBytes(batches: BatchLocation[], maxBytes: number): BatchLocation[] {
  let bytes = 0;
  let n = 0;
  while (n < batches.length && (n === 0 || bytes + batches[n]!.byteSize <= maxBytes)) bytes += batches[n++]!.byteSize;
  return n === batches.length ? batches : batches.slice(0, n);
}

/** `fn` over `items` with at most `limit` calls pending; results in item order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  if (items.length === 1) return [await fn(items[0]!)];
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Patches each batch of a run in place and returns the run's bytes. Cached parts hold whole batches, so a
 * batch lies within one slice; should one ever straddle two, the run is joined into one buffer first.
 */
function patchRun(slices: Buffer[], batches: readonly BatchLocation[]): Buffer[] {
  let s = 0;
  let at = 0;
  for (const batch of batches) {
    if (at === slices[s]!.length) {
      s++;
      at = 0;
    }
    const slice = slices[s]!;
    if (at + batch.byteSize > slice.length) return patchRun([Buffer.concat(slices)], batches);
    patchBatch(slice.subarray(at, at + batch.byteSize), batch);
    at += batch.byteSize;
  }
  return slices;
}

function patchBatch(bytes: Buffer, batch: BatchLocation): void {
  patchBaseOffset(bytes, BigInt(batch.baseOffset));
  patchPartitionLeaderEpoch(bytes, STORED_LEADER_EPOCH);
  if (batch.timestampType === 1) patchLogAppendTime(bytes, BigInt(batch.logAppendTime));
}
