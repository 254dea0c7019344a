/**
 * A segment's sparse time index, in Kafka's `.timeindex` format: entries of 12 bytes, int64 BE timestamp
 * and int32 BE offset relative to the segment's base offset. As in Kafka, an entry records the largest
 * batch timestamp seen so far in the segment and the (last) offset of the batch that reached it, and is
 * added at the same `index.interval.bytes` points as the offset index, only when that maximum grew since
 * the last entry; a final entry is added when the segment stops being the active one. So entries grow in
 * both fields, and every batch before an entry's batch has a smaller max timestamp.
 *
 * `lookup(t)` answers the largest entry with timestamp <= t: no batch before that entry's batch can hold a
 * record with timestamp >= t, so a search for t may start there.
 */
export const TIME_INDEX_ENTRY_SIZE = 12;

export interface TimestampOffset {
  timestamp: number;
  offset: number;
}

export class TimeIndex {
  private timestamps: Float64Array;
  private relOffsets: Int32Array;
  private count = 0;
  private persisted = 0;

  constructor(readonly baseOffset: number, capacity = 16) {
    this.timestamps = new Float64Array(capacity);
    this.relOffsets = new Int32Array(capacity);
  }

  get entries(): number {
    return this.count;
  }

  lastEntry(): TimestampOffset | null {
    if (this.count === 0) return null;
    return { timestamp: this.timestamps[this.count - 1]!, offset: this.baseOffset + this.relOffsets[this.count - 1]! };
  }

  /** Adds (timestamp, offset) when the timestamp is larger than the last entry's (and the offset not smaller). */
  maybeAppend(timestamp: number, offset: number): void {
    const rel = offset - this.baseOffset;
    if (this.count > 0 && (timestamp <= this.timestamps[this.count - 1]! || rel < this.relOffsets[this.count - 1]!)) return;
    if (this.count === this.timestamps.length) this.grow();
    this.timestamps[this.count] = timestamp;
    this.relOffsets[this.count] = rel;
    this.count++;
  }

  /** Largest entry with timestamp <= target; (-1, baseOffset) when there is none. */
  lookup(target: number): TimestampOffset {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid]! <= target) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return { timestamp: -1, offset: this.baseOffset };
    return { timestamp: this.timestamps[found]!, offset: this.baseOffset + this.relOffsets[found]! };
  }

  takeUnpersisted(): { bytes: Buffer; filePosition: number } | null {
    if (this.persisted === this.count) return null;
    const bytes = Buffer.allocUnsafe((this.count - this.persisted) * TIME_INDEX_ENTRY_SIZE);
    for (let i = this.persisted, at = 0; i < this.count; i++, at += TIME_INDEX_ENTRY_SIZE) {
      bytes.writeBigInt64BE(BigInt(this.timestamps[i]!), at);
      bytes.writeInt32BE(this.relOffsets[i]!, at + 8);
    }
    const filePosition = this.persisted * TIME_INDEX_ENTRY_SIZE;
    this.persisted = this.count;
    return { bytes, filePosition };
  }

  /** Reads a time index file's bytes; null when invalid (the caller rebuilds it). */
  static fromBytes(baseOffset: number, bytes: Buffer, maxRelOffset: number): TimeIndex | null {
    if (bytes.length % TIME_INDEX_ENTRY_SIZE !== 0) return null;
    const n = bytes.length / TIME_INDEX_ENTRY_SIZE;
    const index = new TimeIndex(baseOffset, Math.max(16, n));
    for (let i = 0; i < n; i++) {
      const timestamp = Number(bytes.readBigInt64BE(i * TIME_INDEX_ENTRY_SIZE));
      const rel = bytes.readInt32BE(i * TIME_INDEX_ENTRY_SIZE + 8);
      if (rel < 0 || rel > maxRelOffset) return null;
      if (i > 0 && (timestamp <= index.timestamps[i - 1]! || rel < index.relOffsets[i - 1]!)) return null;
      index.timestamps[i] = timestamp;
      index.relOffsets[i] = rel;
    }
    index.count = n;
    index.persisted = n;
    return index;
  }

  get memoryBytes(): number {
    return this.timestamps.byteLength + this.relOffsets.byteLength;
  }

  private grow(): void {
    const timestamps = new Float64Array(this.timestamps.length * 2);
    timestamps.set(this.timestamps);
    const relOffsets = new Int32Array(this.relOffsets.length * 2);
    relOffsets.set(this.relOffsets);
    this.timestamps = timestamps;
    this.relOffsets = relOffsets;
  }
}
