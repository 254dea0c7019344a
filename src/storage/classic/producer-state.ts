/**
 * Idempotent producers on a classic partition: per producer id, the epoch and the last 5 batches appended
 * (sequence range, base offset, append time), as Kafka's ProducerStateManager keeps them — with the rules
 * the diskless commit applies (migration 3), so a producer sees one behaviour whatever the topic's storage:
 * - epoch older than the state's → INVALID_PRODUCER_EPOCH;
 * - same epoch, sequence range equal to one of the last 5 batches → a duplicate: not appended, answered with
 *   the original's base offset;
 * - same epoch, base sequence not last + 1 (wrapping at 2^31 - 1) → OUT_OF_ORDER_SEQUENCE_NUMBER;
 * - newer epoch: the sequence must restart at 0, else OUT_OF_ORDER_SEQUENCE_NUMBER; the state is reset;
 * - no state: the sequence must be 0, else UNKNOWN_PRODUCER_ID (the client bumps its epoch and retries).
 *
 * Checked and recorded synchronously at append, so a retry pipelined behind its original is caught too.
 * Durability: a snapshot of the state as of an offset is written when a segment is rolled (as of the new
 * segment's base offset) and on a clean close (as of the log end); at open, the latest snapshot is loaded and
 * the batches after it are replayed from the log. Only batches below the snapshot offset go into a snapshot,
 * so it never names a batch that may not be on disk. Producers idle for producer.id.expiration.ms are
 * forgotten.
 *
 * Transactions (KIP-98), as Kafka's ProducerStateManager and transaction index keep them: the first offset of
 * each producer's ongoing transaction in this partition (the last stable offset is the smallest, or the high
 * watermark), and the offset ranges of aborted transactions (returned to read_committed fetches, dropped once
 * the log start passes them, or once compaction removed all their data). A marker ends the producer's transaction and raises its epoch (fencing older
 * ones). Both go into the snapshots with the rest.
 */
import { ErrorCode } from '../../protocol/gen/errors.ts';

const MAX_BATCHES = 5;
const SEQUENCE_WRAP = 2 ** 31;

export interface ProducerBatch {
  baseSequence: number;
  lastSequence: number;
  baseOffset: number;
  logAppendTime: number;
}

interface ProducerEntry {
  epoch: number;
  /** Oldest first, at most MAX_BATCHES. */
  batches: ProducerBatch[];
  lastUpdateMs: number;
}

export type SequenceVerdict =
  | { kind: 'append' }
  | { kind: 'duplicate'; baseOffset: number; logAppendTime: number }
  | { kind: 'error'; errorCode: number; message: string };

const APPEND: SequenceVerdict = { kind: 'append' };

export interface AbortedRange {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
}

interface SnapshotFile {
  version: 1;
  offset: number;
  producers: { id: number; epoch: number; lastUpdateMs: number; batches: ProducerBatch[] }[];
  /** Ongoing transactions: [producer id, first offset]. Absent in snapshots written before transactions. */
  ongoing?: [number, number][];
  aborted?: AbortedRange[];
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>();
  /** Producer id → first offset of its ongoing transaction here. */
  private readonly ongoing = new Map<number, number>();
  /** Producer id → when its ongoing transaction was first seen here (ms; the load time after a restart). */
  private readonly ongoingSince = new Map<number, number>();
  /** Aborted transactions, in marker (last offset) order. */
  private aborted: AbortedRange[] = [];

  /** A transactional batch at `baseOffset`: the producer's transaction here starts there unless it already has. */
  beginTransaction(producerId: number, baseOffset: number, nowMs: number): void {
    if (this.ongoing.has(producerId)) return;
    this.ongoing.set(producerId, baseOffset);
    this.ongoingSince.set(producerId, nowMs);
  }

  /** The transactions open here: producer, its epoch, first offset and since when. */
  openTransactions(): { producerId: number; producerEpoch: number; firstOffset: number; sinceMs: number }[] {
    return [...this.ongoing].map(([producerId, firstOffset]) => ({
      producerId,
      producerEpoch: this.producers.get(producerId)?.epoch ?? 0,
      firstOffset,
      sinceMs: this.ongoingSince.get(producerId) ?? 0,
    }));
  }

  /**
   * A marker at `markerOffset` ends the producer's transaction here (an abort records its range) and makes
   * `epoch` the producer's, so batches of older epochs are refused from now on.
   */
  endTransaction(producerId: number, epoch: number, markerOffset: number, commit: boolean, nowMs: number): void {
    const first = this.ongoing.get(producerId);
    this.ongoing.delete(producerId);
    this.ongoingSince.delete(producerId);
    if (first !== undefined && !commit && !this.aborted.some((a) => a.lastOffset === markerOffset)) {
      this.aborted.push({ producerId, firstOffset: first, lastOffset: markerOffset });
    }
    const entry = this.producers.get(producerId);
    if (!entry || epoch > entry.epoch) this.producers.set(producerId, { epoch, batches: [], lastUpdateMs: nowMs });
  }

  /** DescribeProducers: each producer's epoch, last sequence and write time, and its open transaction here. */
  active(): { producerId: number; producerEpoch: number; lastSequence: number; lastTimestamp: number; currentTxnStartOffset: number }[] {
    const out = [];
    for (const [producerId, entry] of this.producers) {
      const last = entry.batches[entry.batches.length - 1];
      out.push({ producerId, producerEpoch: entry.epoch, lastSequence: last?.lastSequence ?? -1, lastTimestamp: entry.lastUpdateMs, currentTxnStartOffset: this.ongoing.get(producerId) ?? -1 });
    }
    return out;
  }

  /** Whether a marker of `epoch` may be written for the producer (none of a newer epoch came first). */
  markerEpochValid(producerId: number, epoch: number): boolean {
    const entry = this.producers.get(producerId);
    return !entry || epoch >= entry.epoch;
  }

  /** The first offset not yet decided: the smallest ongoing transaction's first offset, or `highWatermark`. */
  lastStableOffset(highWatermark: number): number {
    let lso = highWatermark;
    for (const first of this.ongoing.values()) if (first < lso) lso = first;
    return lso;
  }

  /** Aborted transactions that end at or after `from` and start before `upTo`. */
  abortedBetween(from: number, upTo: number): AbortedRange[] {
    return this.aborted.filter((a) => a.lastOffset >= from && a.firstOffset < upTo);
  }

  /** Every aborted range known (the log cleaner's view of the partition's transactions). */
  abortedTransactions(): AbortedRange[] {
    return this.aborted.slice();
  }

  /**
   * Compaction removed all data of these aborted transactions (named by their marker offsets): their ranges
   * are no longer returned, as a reader that got one without its marker would take the producer's later
   * transactions for aborted ones.
   */
  forgetAborted(markerOffsets: ReadonlySet<number>): void {
    this.aborted = this.aborted.filter((a) => !markerOffsets.has(a.lastOffset));
  }

  /** The same, in the bytes of a snapshot (null: not a snapshot, left as it is). */
  static withoutAborted(bytes: Buffer, markerOffsets: ReadonlySet<number>): Buffer | null {
    let file: SnapshotFile;
    try {
      file = JSON.parse(bytes.toString('utf8')) as SnapshotFile;
    } catch {
      return null;
    }
    if (file?.version !== 1 || !Array.isArray(file.aborted) || !file.aborted.some((a) => markerOffsets.has(a.lastOffset))) return null;
    return Buffer.from(JSON.stringify({ ...file, aborted: file.aborted.filter((a) => !markerOffsets.has(a.lastOffset)) }));
  }

  /** The log start moved: aborted ranges wholly below it are no longer needed. */
  dropAbortedBelow(logStartOffset: number): void {
    if (this.aborted.length > 0 && this.aborted[0]!.lastOffset < logStartOffset) this.aborted = this.aborted.filter((a) => a.lastOffset >= logStartOffset);
  }

  get size(): number {
    return this.producers.size;
  }

  /** What to do with a batch of this producer (producerId >= 0 and baseSequence >= 0). */
  check(producerId: number, epoch: number, baseSequence: number, lastSequence: number): SequenceVerdict {
    const entry = this.producers.get(producerId);
    if (!entry) {
      if (baseSequence === 0) return APPEND;
      return { kind: 'error', errorCode: ErrorCode.UNKNOWN_PRODUCER_ID, message: `No state for producer ${producerId} on this partition: its first batch must have sequence 0, not ${baseSequence}` };
    }
    if (epoch < entry.epoch) {
      return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `Producer ${producerId} epoch ${epoch} is older than the current epoch ${entry.epoch}` };
    }
    if (epoch > entry.epoch) {
      if (baseSequence === 0) return APPEND;
      return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `Producer ${producerId} with new epoch ${epoch} must start at sequence 0, not ${baseSequence}` };
    }
    for (const b of entry.batches) {
      if (b.baseSequence === baseSequence && b.lastSequence === lastSequence) return { kind: 'duplicate', baseOffset: b.baseOffset, logAppendTime: b.logAppendTime };
    }
    const last = entry.batches[entry.batches.length - 1];
    const expected = last ? (last.lastSequence + 1) % SEQUENCE_WRAP : 0;
    if (baseSequence !== expected) {
      return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `Out of order sequence number for producer ${producerId}: ${baseSequence} (expected ${expected})` };
    }
    return APPEND;
  }

  /** Records an appended batch (after `check` said append, or when replaying the log). */
  record(producerId: number, epoch: number, batch: ProducerBatch, nowMs: number): void {
    let entry = this.producers.get(producerId);
    if (!entry || epoch > entry.epoch) {
      entry = { epoch, batches: [], lastUpdateMs: nowMs };
      this.producers.set(producerId, entry);
    } else if (epoch < entry.epoch) {
      return; // a replayed batch of a fenced epoch
    }
    if (entry.batches.some((b) => b.baseOffset === batch.baseOffset)) return; // replayed twice
    entry.batches.push(batch);
    if (entry.batches.length > MAX_BATCHES) entry.batches.shift();
    entry.lastUpdateMs = nowMs;
  }

  /**
   * Last offset of each producer's last batch (compaction keeps that batch, empty if need be, so the
   * producer's sequence survives; Kafka's lastRecordsOfActiveProducers).
   */
  lastOffsets(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [id, entry] of this.producers) {
      const last = entry.batches[entry.batches.length - 1];
      if (!last) continue;
      const span = (last.lastSequence - last.baseSequence + SEQUENCE_WRAP) % SEQUENCE_WRAP;
      out.set(id, last.baseOffset + span);
    }
    return out;
  }

  /** Forgets producers idle for longer than `maxIdleMs`. */
  expire(nowMs: number, maxIdleMs: number): number {
    let n = 0;
    for (const [id, entry] of this.producers) {
      if (nowMs - entry.lastUpdateMs > maxIdleMs) {
        this.producers.delete(id);
        n++;
      }
    }
    return n;
  }

  /** The state as of `offset`: only batches below it (later ones may not be on disk yet). */
  snapshot(offset: number): Buffer {
    const producers: SnapshotFile['producers'] = [];
    for (const [id, entry] of this.producers) {
      const batches = entry.batches.filter((b) => b.baseOffset < offset);
      if (batches.length === 0) continue;
      producers.push({ id, epoch: entry.epoch, lastUpdateMs: entry.lastUpdateMs, batches });
    }
    const ongoing = [...this.ongoing].filter(([, first]) => first < offset);
    const aborted = this.aborted.filter((a) => a.lastOffset < offset);
    return Buffer.from(JSON.stringify({ version: 1, offset, producers, ongoing, aborted } satisfies SnapshotFile));
  }

  /** Replaces the state with a snapshot's; returns its offset, or null when the bytes are not a snapshot. */
  restore(bytes: Buffer): number | null {
    let file: SnapshotFile;
    try {
      file = JSON.parse(bytes.toString('utf8')) as SnapshotFile;
    } catch {
      return null;
    }
    if (file?.version !== 1 || !Number.isSafeInteger(file.offset) || !Array.isArray(file.producers)) return null;
    this.producers.clear();
    for (const p of file.producers) this.producers.set(p.id, { epoch: p.epoch, lastUpdateMs: p.lastUpdateMs, batches: p.batches.slice(-MAX_BATCHES) });
    this.ongoing.clear();
    this.ongoingSince.clear();
    const now = Date.now();
    for (const [id, first] of file.ongoing ?? []) {
      this.ongoing.set(id, first);
      this.ongoingSince.set(id, now);
    }
    this.aborted = [...(file.aborted ?? [])];
    return file.offset;
  }
}
