/**
 * The classic logs' latest batches, kept in memory once they are visible so that tail consumers are answered
 * without reading the file back. Kafka serves them from the page cache with sendfile; a read here would go
 * through libuv's thread pool, queued behind the fsyncs of every partition, and add that wait to the
 * end-to-end latency of every record. Bounded broker-wide by bytes: the oldest batches of any log go first.
 *
 * A log holds its batches as `TailEntry`s (classic-log.ts, the ring of recent batches); an entry whose `data`
 * is null was evicted (or dropped by its log) and is read from the file.
 */
/** Batches smaller than this are copied into the cache (a copy is cheaper than holding a socket chunk). */
const COPY_BELOW = 16 * 1024;

export interface TailEntry {
  data: Buffer | null;
}

export class TailCache {
  /** Bytes held. */
  bytes = 0;
  /** Entries in the order they were added (head first); dropped ones are skipped when reached. */
  private fifo: TailEntry[] = [];
  private head = 0;
  private live = 0;

  constructor(readonly maxBytes: number) {}

  /**
   * Keeps `batch` (a stored batch, the bytes written to the log). A batch is a view of its produce request's
   * frame: a large one is kept as it is when it is at least an eighth of that frame (a request of up to 8
   * partitions), so the memory held is at most 8 times what is counted, and about as much when the frame's
   * batches are all cached (they are written, and evicted, at about the same time); a small one, or a small
   * part of a large frame, is copied (cheap), so it does not hold the whole frame. Null when caching is off.
   */
  add(batch: Buffer): TailEntry | null {
    if (this.maxBytes <= 0 || batch.length > this.maxBytes) return null;
    const data = batch.length < COPY_BELOW || batch.buffer.byteLength > 8 * batch.length ? Buffer.from(batch) : batch;
    const entry: TailEntry = { data };
    this.fifo.push(entry);
    this.bytes += data.length;
    this.live++;
    while (this.bytes > this.maxBytes && this.head < this.fifo.length) {
      const oldest = this.fifo[this.head]!;
      this.fifo[this.head++] = undefined as unknown as TailEntry;
      this.release(oldest);
    }
    // Dropped entries stay in the queue until reached: compact when they are most of it.
    if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      this.head = 0;
    }
    if (this.fifo.length - this.head > 2 * this.live + 1024) {
      this.fifo = this.fifo.slice(this.head).filter((e) => e.data !== null);
      this.head = 0;
    }
    return entry;
  }

  /** Its log no longer needs the entry (its ring moved on, or the segment rolled). */
  release(entry: TailEntry): void {
    if (entry.data === null) return;
    this.bytes -= entry.data.length;
    this.live--;
    entry.data = null;
  }
}
