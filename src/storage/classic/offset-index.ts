/**
 * A segment's sparse offset index, in Kafka's `.index` format: entries of 8 bytes, int32 BE offset relative
 * to the segment's base offset (the *last* offset of the batch, as Kafka writes it) and int32 BE byte
 * position of that batch in the `.log` file. One entry every `index.interval.bytes` of batches; the first
 * batch (position 0) never gets one. `lookup(o)` answers the largest entry whose offset is <= o: the
 * batch holding o starts at that position or after it.
 *
 * Entries live in memory (typed arrays, grown by doubling) and are appended to the file in the order they
 * were added; the file is append-only (no preallocation), so its size is always entries × 8. The index is
 * not fsynced with the log: after an unclean shutdown the last segment's indexes are rebuilt from its
 * batches, and older segments were fsynced when they were rolled.
 */
export const OFFSET_INDEX_ENTRY_SIZE = 8;

export interface OffsetPosition {
  offset: number;
  position: number;
}

export class OffsetIndex {
  private relOffsets: Int32Array;
  private positions: Int32Array;
  private count = 0;
  /** Entries already written to the file. */
  private persisted = 0;

  constructor(readonly baseOffset: number, capacity = 16) {
    this.relOffsets = new Int32Array(capacity);
    this.positions = new Int32Array(capacity);
  }

  get entries(): number {
    return this.count;
  }

  get sizeInBytes(): number {
    return this.count * OFFSET_INDEX_ENTRY_SIZE;
  }

  /** Absolute offset of the last entry, or -1 when empty. */
  lastOffset(): number {
    return this.count === 0 ? -1 : this.baseOffset + this.relOffsets[this.count - 1]!;
  }

  lastPosition(): number {
    return this.count === 0 ? 0 : this.positions[this.count - 1]!;
  }

  /** Adds an entry; offsets and positions must grow (entries that do not are ignored, as Kafka refuses them). */
  append(offset: number, position: number): void {
    const rel = offset - this.baseOffset;
    if (this.count > 0 && (rel <= this.relOffsets[this.count - 1]! || position <= this.positions[this.count - 1]!)) return;
    if (this.count === this.relOffsets.length) this.grow();
    this.relOffsets[this.count] = rel;
    this.positions[this.count] = position;
    this.count++;
  }

  /** Largest entry with offset <= target; the segment start when there is none. */
  lookup(target: number): OffsetPosition {
    const rel = target - this.baseOffset;
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.relOffsets[mid]! <= rel) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return { offset: this.baseOffset, position: 0 };
    return { offset: this.baseOffset + this.relOffsets[found]!, position: this.positions[found]! };
  }

  /** The entries not yet written to the file, encoded; marks them written. Null when there are none. */
  takeUnpersisted(): { bytes: Buffer; filePosition: number } | null {
    if (this.persisted === this.count) return null;
    const bytes = Buffer.allocUnsafe((this.count - this.persisted) * OFFSET_INDEX_ENTRY_SIZE);
    for (let i = this.persisted, at = 0; i < this.count; i++, at += OFFSET_INDEX_ENTRY_SIZE) {
      bytes.writeInt32BE(this.relOffsets[i]!, at);
      bytes.writeInt32BE(this.positions[i]!, at + 4);
    }
    const filePosition = this.persisted * OFFSET_INDEX_ENTRY_SIZE;
    this.persisted = this.count;
    return { bytes, filePosition };
  }

  /**
   * Reads an index file's bytes. Returns null when they are not a valid index for a log of `logSize` bytes
   * (size not a multiple of 8, offsets or positions not increasing, a position past the log): the caller
   * rebuilds it from the log.
   */
  static fromBytes(baseOffset: number, bytes: Buffer, logSize: number): OffsetIndex | null {
    if (bytes.length % OFFSET_INDEX_ENTRY_SIZE !== 0) return null;
    const n = bytes.length / OFFSET_INDEX_ENTRY_SIZE;
    const index = new OffsetIndex(baseOffset, Math.max(16, n));
    for (let i = 0; i < n; i++) {
      const rel = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE);
      const position = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE + 4);
      if (rel < 0 || position <= 0 || position >= logSize) return null;
      if (i > 0 && (rel <= index.relOffsets[i - 1]! || position <= index.positions[i - 1]!)) return null;
      index.relOffsets[i] = rel;
      index.positions[i] = position;
    }
    index.count = n;
    index.persisted = n;
    return index;
  }

  /** Bytes held in memory (for the index cache's budget). */
  get memoryBytes(): number {
    return this.relOffsets.byteLength + this.positions.byteLength;
  }

  private grow(): void {
    const relOffsets = new Int32Array(this.relOffsets.length * 2);
    relOffsets.set(this.relOffsets);
    const positions = new Int32Array(this.positions.length * 2);
    positions.set(this.positions);
    this.relOffsets = relOffsets;
    this.positions = positions;
  }
}
