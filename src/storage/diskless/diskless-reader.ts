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

export class DisklessReader {
  coordinatorQueries = 0;
  bytesRead = 0;
  /** The index cache misses of one request's partitions, found with one coordinator query. */
  private readonly misses = new CallBatcher<DisklessRead, Planned>((reads) => this.findBatches(reads));

  constructor(
    private readonly coordinator: Coordinator,
    private readonly objects: ObjectCache,
    private readonly index: BatchIndexCache,
    private readonly txns: TxnViews,
  ) {}

  /** Plans one partition's read: from the index cache, else (batched with the request's other misses) the coordinator. */
  async plan(read: DisklessRead, isolation: IsolationLevel): Promise<ReadPlan> {
    const cached = this.index.read(partitionKey(read.topicId, read.partition), read.offset, read.maxBytes);
    const planned: Planned = cached ? { errorCode: 0, ...cached, recent: true } : await this.misses.call(read);
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

  private async findBatches(reads: DisklessRead[]): Promise<Planned[]> {
    this.coordinatorQueries++;
    const mark = this.index.mark();
    let found: FindBatchesResult[];
    try {
      found = await this.coordinator.findBatches(reads);
    } catch (err) {
      // The coordinator is unreachable: a retriable error for these partitions; cached ones are still served.
      log.warn({ err: (err as Error).message }, 'find batches: coordinator query failed');
      const { errorCode } = toKafkaError('coordinator', err);
      return reads.map(() => ({ errorCode, highWatermark: -1, logStartOffset: -1, batches: [], recent: false }));
    }
    return found.map((result, i) => {
      const r = reads[i]!;
      this.index.seed(partitionKey(r.topicId, r.partition), result, r.offset, mark);
      return { ...result, recent: false };
    });
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

  async load(plan: Planned): Promise<ReadResult> {
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
    try {
      // Runs of a partition spread over many small objects are read in parallel (a lagging reader would
      // otherwise wait for one GET after another), and kept in offset order.
      const runs = batchRuns(plan.batches);
      const runSlices = await mapLimit(runs, LOAD_CONCURRENCY, async (run) => {
        const range = { start: run.start, end: run.end };
        // Merged objects are old and large: read by range even when the index cache located them.
        const recent = plan.recent && !isMergedObjectKey(run.objectKey);
        const slices = recent ? await this.objects.getRecent(run.objectKey, range) : await this.objects.getRange(run.objectKey, range);
        return patchRun(slices, run.batches);
      });
      for (const slices of runSlices) {
        for (const bytes of slices) {
          result.records.push(bytes);
          result.bytes += bytes.length;
          this.bytesRead += bytes.length;
        }
      }
    } catch (err) {
      log.warn({ err }, 'reading batches failed');
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
    return this.reader.load(this.planned);
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
