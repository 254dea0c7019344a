/**
 * Bounds the memory held by the indexes of inactive segments (the active segment's are always in memory):
 * an LRU by bytes over the segments whose indexes are loaded. An evicted segment drops its in-memory
 * indexes and reads its index files again the next time a lookup needs them (Kafka mmaps them instead and
 * lets the page cache decide; with typed arrays the bound has to be explicit).
 */
import type { LogSegment } from './segment.ts';

export class IndexCache {
  // Map iteration order is insertion order: re-inserting on use makes it an LRU.
  private readonly entries = new Map<LogSegment, number>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Records a use of an inactive segment whose indexes are in memory, and evicts the least recently used. */
  touch(segment: LogSegment): void {
    if (segment.active || segment.deleted) return;
    const old = this.entries.get(segment);
    if (old !== undefined) {
      this.bytes -= old;
      this.entries.delete(segment);
    }
    const size = segment.indexMemoryBytes;
    if (size === 0) return;
    this.entries.set(segment, size);
    this.bytes += size;
    for (const [s, b] of this.entries) {
      if (this.bytes <= this.maxBytes || s === segment) break;
      this.entries.delete(s);
      this.bytes -= b;
      s.dropIndexes();
    }
  }

  forget(segment: LogSegment): void {
    const old = this.entries.get(segment);
    if (old === undefined) return;
    this.bytes -= old;
    this.entries.delete(segment);
  }

  get heldBytes(): number {
    return this.bytes;
  }
}
