/**
 * Kafka's log compaction rules for one partition, independent of where the batches live (Kafka's
 * `LogCleaner.Cleaner` + `MemoryRecords.filterTo`): the classic cleaner (classic/log-cleaner.ts) drives them
 * over local segments, the diskless compactor (diskless/compactor.ts) over objects. Both build the key map
 * over the dirty part and then filter every batch from the log start up to where the map ends.
 *
 * - `OffsetMap`: key → latest offset over the dirty part of the log, bounded like Kafka's SkimpyOffsetMap
 *   (entries of 24 bytes: a 16-byte MD5 of the key plus an 8-byte offset; a share `LOAD_FACTOR` of the slots
 *   used), so `log.cleaner.dedupe.buffer.size` bounds it. A key collision (two keys with one MD5) would
 *   merge them, a risk Kafka accepts as well.
 * - `filterBatch`: what survives of one stored batch:
 *   - a record is kept when its offset is past the map's last offset, or it is the latest of its key and
 *     either has a value or is a tombstone whose batch's delete horizon has not passed (KIP-534);
 *     records without a key are removed (Kafka counts them as invalid);
 *   - a batch keeping tombstones without a delete horizon gets one, now + delete.retention.ms, written as
 *     Kafka writes it: the delete-horizon attribute bit (0x40) and the horizon in the base timestamp field,
 *     the records' timestamp deltas rewritten against it (their timestamps do not change);
 *   - the batch holding an active idempotent producer's last sequence is kept, empty if nothing of it
 *     survives (Kafka's RETAIN_EMPTY), so duplicate detection survives compaction; other batches left empty
 *     go away;
 *   - a rewritten batch keeps its base offset, last offset delta (so its last sequence), producer id, epoch,
 *     base sequence, partition leader epoch, timestamp type and codec (compressed again with it); a batch
 *     nothing changes in is kept byte for byte.
 * - transactions (Kafka's CleanedTransactionMetadata; `TransactionTracker` follows them batch by batch, in
 *   offset order, with the aborted ranges [first offset, marker offset] of the partition):
 *   - in the key map, records of committed transactions count like plain ones; records of aborted
 *     transactions and control batches are left out;
 *   - a transactional data batch of an aborted transaction is removed whole (kept empty when it is an active
 *     producer's last batch, as above); records of committed transactions are filtered by key like plain
 *     ones, the batch keeping its transactional attribute and producer fields;
 *   - a marker (control batch) is kept while data of its transaction remains in the log before it (the
 *     drivers filter from the log start, so they see all of it); once none remains it gets a delete horizon
 *     like tombstones (now + delete.retention.ms) and goes when a later pass finds the horizon passed.
 *   The drivers never clean at or above the last stable offset, so every transaction seen here has ended.
 *   An aborted range must not outlive its marker (a read_committed reader given the range without the marker
 *   would skip its producer's later transactions): the classic cleaner drops the ranges of
 *   `abortMarkersWithoutData`, the diskless swap the ranges whose marker it removed (migration 16).
 */
import { createHash } from 'node:crypto';
import { crc32c } from '@node-rs/crc32';
import { compress } from '../protocol/compression.ts';
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_CODEC_MASK,
  CRC_OFFSET,
  CRC_START,
  ControlType,
  DELETE_HORIZON_FLAG_MASK,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  TIMESTAMP_TYPE_MASK,
  compressionOf,
  isControl,
  isTransactional,
} from '../protocol/record-batch.ts';
import { readRecords, type KafkaRecord } from '../protocol/records.ts';
import type { TopicConfig } from '../config/topic-config.ts';

/** segment.ms, or max.compaction.lag.ms when shorter on a compacted topic (Kafka's LogConfig.maxSegmentMs). */

/** Where a partition stands for compaction, of either kind (classic/log-cleaner.ts, diskless/compactor.ts). */
export interface CleanableState {
  firstDirtyOffset: number;
  firstUncleanableOffset: number;
  cleanBytes: number;
  dirtyBytes: number;
  /** dirty / (clean + dirty); 0 when both are 0. */
  dirtyRatio: number;
  /** max.compaction.lag.ms passed for the first dirty batch. */
  needCompactionNow: boolean;
  /** A delete horizon of kept tombstones has passed. */
  horizonPassed: boolean;
  due: boolean;
}

export function maxSegmentMs(config: Pick<TopicConfig, 'cleanupPolicy' | 'segmentMs' | 'maxCompactionLagMs'>): number {
  return config.cleanupPolicy.includes('compact') ? Math.min(config.segmentMs, config.maxCompactionLagMs) : config.segmentMs;
}

/** Bytes per map entry (Kafka: MD5 hash + offset). */
export const OFFSET_MAP_ENTRY_BYTES = 24;
/** Kafka's log.cleaner.io.buffer.load.factor default. */
export const LOAD_FACTOR = 0.9;

/** Entries an offset map may hold with `bufferBytes` of memory (Kafka: slots * load factor). */
export function offsetMapCapacity(bufferBytes: number): number {
  return Math.max(1, Math.floor(Math.floor(bufferBytes / OFFSET_MAP_ENTRY_BYTES) * LOAD_FACTOR));
}

export class OffsetMap {
  private readonly map = new Map<string, number>();
  /** Largest offset put in the map (-1: none). */
  latestOffset = -1;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  /** Whether `n` more keys may not fit (checked before a batch is added). */
  wouldOverflow(n: number): boolean {
    return this.map.size + n > this.capacity;
  }

  put(key: Buffer, offset: number): void {
    this.map.set(hashKey(key), offset);
    if (offset > this.latestOffset) this.latestOffset = offset;
  }

  get(key: Buffer): number {
    return this.map.get(hashKey(key)) ?? -1;
  }

  clear(): void {
    this.map.clear();
    this.latestOffset = -1;
  }
}

function hashKey(key: Buffer): string {
  return createHash('md5').update(key).digest().toString('latin1');
}

/** An aborted transaction of the partition: its producer's batches from `firstOffset` to its marker at `lastOffset`. */
export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
}

/**
 * Which transaction each batch belongs to, fed the partition's batches in offset order from `fromOffset`
 * (Kafka's CleanedTransactionMetadata). `aborted`: the aborted transactions of the partition (any order; those
 * ending before `fromOffset` are ignored, so a scan starting mid-log does not take a later transaction of
 * the same producer for an aborted one).
 */
export class TransactionTracker {
  private readonly pending: AbortedTransaction[];
  private next = 0;
  /** Producer id → its aborted transaction being scanned, and whether data of it was seen. */
  private readonly ongoingAborted = new Map<number, { txn: AbortedTransaction; sawData: boolean }>();
  /** Producers with data of a (committed) transaction seen since their last marker. */
  private readonly ongoingCommitted = new Set<number>();
  /** Offsets of the abort markers seen with no data of their transaction before them (their ranges may go). */
  readonly abortMarkersWithoutData = new Set<number>();

  constructor(aborted: readonly AbortedTransaction[], fromOffset: number) {
    this.pending = aborted.filter((a) => a.lastOffset >= fromOffset).sort((a, b) => a.firstOffset - b.firstOffset);
  }

  private consumeAbortedUpTo(offset: number): void {
    while (this.next < this.pending.length && this.pending[this.next]!.firstOffset <= offset) {
      const txn = this.pending[this.next++]!;
      const current = this.ongoingAborted.get(txn.producerId);
      // An earlier range of the producer still open here lost its marker already (a stale entry): replaced.
      if (!current || current.txn.lastOffset < txn.firstOffset) this.ongoingAborted.set(txn.producerId, { txn, sawData: false });
    }
  }

  /** A data batch: whether it belongs to an aborted transaction (it is then to be removed). */
  onDataBatch(batch: Buffer, baseOffset: number): boolean {
    const lastOffset = baseOffset + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
    this.consumeAbortedUpTo(lastOffset);
    if (!isTransactional(batch.readInt16BE(ATTRIBUTES_OFFSET))) return false;
    const producerId = Number(batch.readBigInt64BE(PRODUCER_ID_OFFSET));
    const aborted = this.ongoingAborted.get(producerId);
    if (aborted && baseOffset <= aborted.txn.lastOffset) {
      aborted.sawData = true;
      return true;
    }
    if (aborted) this.ongoingAborted.delete(producerId);
    this.ongoingCommitted.add(producerId);
    return false;
  }

  /** A marker: whether no data of its transaction was seen (it may then go once its delete horizon passed). */
  onControlBatch(batch: Buffer, baseOffset: number, controlType: number): boolean {
    const lastOffset = baseOffset + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
    this.consumeAbortedUpTo(lastOffset);
    const producerId = Number(batch.readBigInt64BE(PRODUCER_ID_OFFSET));
    const aborted = this.ongoingAborted.get(producerId);
    // A marker ends whatever its producer had going here (an abort marker is its aborted range's last offset).
    if (aborted && aborted.txn.lastOffset <= lastOffset) this.ongoingAborted.delete(producerId);
    const committedData = this.ongoingCommitted.delete(producerId);
    if (controlType === ControlType.ABORT) {
      const noData = !(aborted && aborted.txn.lastOffset <= lastOffset && aborted.sawData) && !committedData;
      if (noData) this.abortMarkersWithoutData.add(baseOffset);
      return noData;
    }
    if (controlType === ControlType.COMMIT) return !committedData;
    return false;
  }
}

/** The control type of a marker batch (its record's key: version, type), or -1 when unreadable. */
function controlTypeOf(records: readonly KafkaRecord[]): number {
  const key = records[0]?.key;
  return key && key.length >= 4 ? key.readInt16BE(2) : -1;
}

/**
 * Puts every keyed record of a stored batch (assigned base offset `baseOffset`) into the map, unless it is a
 * marker or data of an aborted transaction (`txns` follows the scan, from where the map starts).
 */
export async function addToOffsetMap(map: OffsetMap, batch: Buffer, baseOffset: number, txns: TransactionTracker): Promise<void> {
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  if (isControl(attributes)) txns.onControlBatch(batch, baseOffset, controlTypeOf(await readRecords(batch)));
  else if (!txns.onDataBatch(batch, baseOffset)) {
    for (const r of await readRecords(batch)) if (r.key !== null) map.put(r.key, baseOffset + r.offsetDelta);
  }
  // A batch whose records all lack keys (or are left out) still moves the map's end past it.
  const last = baseOffset + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
  if (last > map.latestOffset) map.latestOffset = last;
}

export interface FilterContext {
  map: OffsetMap;
  now: number;
  deleteRetentionMs: number;
  /** Last offset of each active idempotent producer's last batch: those batches are kept, empty if need be. */
  producerLastOffsets: ReadonlyMap<number, number>;
  /** Follows the filtered batches, fed from the log start (see TransactionTracker). */
  transactions: TransactionTracker;
}

export interface FilterResult {
  /** The batch to store instead: the same Buffer when nothing changed, null when the batch goes away. */
  batch: Buffer | null;
  recordsRemoved: number;
  /** Delete horizon of the batch as stored (-1: none); the cleaner looks again once it has passed. */
  deleteHorizonMs: number;
}

/** What remains of one stored batch whose assigned base offset is `baseOffset` (see the file header). */
export async function filterBatch(batch: Buffer, baseOffset: number, ctx: FilterContext): Promise<FilterResult> {
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  const horizon = (attributes & DELETE_HORIZON_FLAG_MASK) !== 0 ? Number(batch.readBigInt64BE(BASE_TIMESTAMP_OFFSET)) : -1;
  const records = await readRecords(batch);
  const lastOffset = baseOffset + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
  const producerId = Number(batch.readBigInt64BE(PRODUCER_ID_OFFSET));
  const keepEmpty = producerId >= 0 && ctx.producerLastOffsets.get(producerId) === lastOffset;
  const removeAll = (): FilterResult => ({
    batch: !keepEmpty ? null : records.length === 0 ? batch : emptyBatch(batch),
    recordsRemoved: records.length,
    deleteHorizonMs: -1,
  });
  if (isControl(attributes)) {
    const noDataLeft = ctx.transactions.onControlBatch(batch, baseOffset, controlTypeOf(records));
    if (!noDataLeft) return { batch, recordsRemoved: 0, deleteHorizonMs: horizon };
    if (horizon >= 0) return ctx.now >= horizon ? removeAll() : { batch, recordsRemoved: 0, deleteHorizonMs: horizon };
    const newHorizon = ctx.now + ctx.deleteRetentionMs;
    return { batch: await rebuildBatch(batch, records, newHorizon), recordsRemoved: 0, deleteHorizonMs: newHorizon };
  }
  if (ctx.transactions.onDataBatch(batch, baseOffset)) return removeAll();
  const retainDeletes = horizon < 0 || ctx.now < horizon;
  const kept: KafkaRecord[] = [];
  let tombstones = false;
  for (const r of records) {
    const offset = baseOffset + r.offsetDelta;
    let keep: boolean;
    if (offset > ctx.map.latestOffset) keep = true;
    else if (r.key === null) keep = false;
    else keep = offset >= ctx.map.get(r.key) && (r.value !== null || retainDeletes);
    if (!keep) continue;
    kept.push(r);
    if (r.value === null) tombstones = true;
  }
  const removed = records.length - kept.length;
  const setHorizon = tombstones && horizon < 0;
  if (removed === 0 && !setHorizon) return { batch, recordsRemoved: 0, deleteHorizonMs: horizon };
  if (kept.length === 0) {
    return { batch: keepEmpty ? emptyBatch(batch) : null, recordsRemoved: removed, deleteHorizonMs: -1 };
  }
  const newHorizon = setHorizon ? ctx.now + ctx.deleteRetentionMs : horizon;
  return { batch: await rebuildBatch(batch, kept, newHorizon), recordsRemoved: removed, deleteHorizonMs: newHorizon };
}

/** Kafka's DefaultRecordBatch.writeEmptyHeader: the batch's header fields, no records, uncompressed. */
function emptyBatch(batch: Buffer): Buffer {
  const out = Buffer.from(batch.subarray(0, RECORD_BATCH_OVERHEAD));
  const maxTimestamp = batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET);
  out.writeInt32BE(RECORD_BATCH_OVERHEAD - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  out.writeInt16BE(batch.readInt16BE(ATTRIBUTES_OFFSET) & ~(COMPRESSION_CODEC_MASK | DELETE_HORIZON_FLAG_MASK), ATTRIBUTES_OFFSET);
  out.writeBigInt64BE(maxTimestamp, BASE_TIMESTAMP_OFFSET);
  out.writeInt32BE(0, RECORDS_COUNT_OFFSET);
  out.writeUInt32BE(crc32c(out.subarray(CRC_START)), CRC_OFFSET);
  return out;
}

/**
 * The batch with only `kept` records (offset deltas unchanged), as MemoryRecordsBuilder writes it: base
 * timestamp = the delete horizon when there is one, else the first kept record's timestamp; max timestamp =
 * the largest kept timestamp (LogAppendTime batches keep theirs); same codec.
 */
async function rebuildBatch(batch: Buffer, kept: KafkaRecord[], deleteHorizonMs: number): Promise<Buffer> {
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  const oldBase = batch.readBigInt64BE(BASE_TIMESTAMP_OFFSET);
  const logAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0;
  const timestamps = kept.map((r) => oldBase + r.timestampDelta);
  const newBase = deleteHorizonMs >= 0 ? BigInt(deleteHorizonMs) : timestamps[0]!;
  let maxTimestamp = timestamps[0]!;
  for (const t of timestamps) if (t > maxTimestamp) maxTimestamp = t;
  if (logAppendTime) maxTimestamp = batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET);
  const parts = kept.map((r, i) => encodeRecord(r, timestamps[i]! - newBase));
  const plain = Buffer.concat(parts);
  const section = await compress(compressionOf(attributes), plain);
  const out = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + section.length);
  batch.copy(out, 0, 0, RECORD_BATCH_OVERHEAD);
  section.copy(out, RECORD_BATCH_OVERHEAD);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  out.writeInt16BE(deleteHorizonMs >= 0 ? attributes | DELETE_HORIZON_FLAG_MASK : attributes & ~DELETE_HORIZON_FLAG_MASK, ATTRIBUTES_OFFSET);
  out.writeBigInt64BE(newBase, BASE_TIMESTAMP_OFFSET);
  out.writeBigInt64BE(maxTimestamp, MAX_TIMESTAMP_OFFSET);
  out.writeInt32BE(kept.length, RECORDS_COUNT_OFFSET);
  // base offset, last offset delta, producer id/epoch, base sequence, leader epoch: copied from the original.
  out.writeUInt32BE(crc32c(out.subarray(CRC_START)), CRC_OFFSET);
  return out;
}

/** DefaultRecord.writeTo: length, attributes 0, timestamp delta, offset delta, key, value, headers. */
function encodeRecord(r: KafkaRecord, timestampDelta: bigint): Buffer {
  const body: number[] = [0];
  pushVarlong(body, timestampDelta);
  pushVarlong(body, BigInt(r.offsetDelta));
  const chunks: Buffer[] = [];
  const flush = () => {
    chunks.push(Buffer.from(body));
    body.length = 0;
  };
  const bytes = (b: Buffer | null) => {
    if (b === null) {
      pushVarlong(body, -1n);
      return;
    }
    pushVarlong(body, BigInt(b.length));
    flush();
    chunks.push(b);
  };
  bytes(r.key);
  bytes(r.value);
  pushVarlong(body, BigInt(r.headers.length));
  for (const h of r.headers) {
    bytes(Buffer.from(h.key, 'utf8'));
    bytes(h.value);
  }
  flush();
  let size = 0;
  for (const c of chunks) size += c.length;
  const prefix: number[] = [];
  pushVarlong(prefix, BigInt(size));
  return Buffer.concat([Buffer.from(prefix), ...chunks]);
}

/** Zig-zag varlong (also right for int32 varints, which share the encoding). */
function pushVarlong(out: number[], v: bigint): void {
  let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
}
