/**
 * The broker-wide bound on the bytes of requests read but not yet answered (Kafka's
 * `queued.max.request.bytes`). A connection reserves a request's size as soon as it has read the 4-byte size
 * header, before the body (as Redpanda reserves by frame size before decoding), and releases it when the
 * response is ready. While a reservation fails the connection stops reading its socket (TCP back-pressure
 * to the client); nothing is dropped.
 *
 * Not strict, like Kafka's SimpleMemoryPool as the broker uses it: a reservation succeeds whenever the pool is
 * below its bound, so one request larger than the whole bound still goes through (alone) and the bound is
 * exceeded by at most one request.
 *
 * The counter lives in a SharedArrayBuffer (`shared`), so the network threads (network-thread-source.ts, which
 * implements the same rules on the same cells) reserve from it too, before they read a frame's body. Cells: a
 * BigInt64 of the bytes in use (a sum of requests can pass 2^31) and an Int32 generation that a release bumps
 * (and notifies) when it brings the pool below its bound; a waiter reads the generation, checks the bytes, and
 * sleeps with `Atomics.waitAsync` on that generation (no polling, on any thread).
 */

/** `Atomics.waitAsync` (Node ≥ 16; ES2024, past the project's lib target). */
type WaitAsync = (cells: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Byte layout of `RequestMemoryPool.shared`: [0, 8) bytes in use (BigInt64), [8, 12) generation (Int32). */
export const REQUEST_MEMORY_LAYOUT = { bytes: 0, generation: 2, size: 16 } as const;

export class RequestMemoryPool {
  /** The cells, shared with the network threads. */
  readonly shared = new SharedArrayBuffer(REQUEST_MEMORY_LAYOUT.size);
  private readonly used = new BigInt64Array(this.shared, 0, 1);
  private readonly generation = new Int32Array(this.shared);
  private readonly max: bigint;

  readonly maxBytes: number;

  /** `maxBytes` ≤ 0: unbounded (as in Kafka, whose default is -1). */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes > 0 ? maxBytes : -1;
    this.max = BigInt(this.maxBytes);
  }

  get usedBytes(): number {
    return Number(Atomics.load(this.used, 0));
  }

  /** Reserves `bytes` if the pool is below its bound; false otherwise (wait with `whenAvailable`). */
  tryReserve(bytes: number): boolean {
    const n = BigInt(bytes);
    if (this.maxBytes < 0 || bytes <= 0) {
      Atomics.add(this.used, 0, n);
      return true;
    }
    // Compare and swap, so two threads cannot both pass the bound on one check.
    for (;;) {
      const old = Atomics.load(this.used, 0);
      if (old >= this.max) return false;
      if (Atomics.compareExchange(this.used, 0, old, old + n) === old) return true;
    }
  }

  release(bytes: number): void {
    if (bytes === 0) return;
    const old = Atomics.sub(this.used, 0, BigInt(bytes));
    if (this.maxBytes >= 0 && old >= this.max && old - BigInt(bytes) < this.max) {
      Atomics.add(this.generation, REQUEST_MEMORY_LAYOUT.generation, 1);
      Atomics.notify(this.generation, REQUEST_MEMORY_LAYOUT.generation);
    }
  }

  /** Resolves once the pool is below its bound (at once if it is). */
  async whenAvailable(): Promise<void> {
    if (this.maxBytes < 0) return;
    for (;;) {
      // The generation first: a release that crosses below the bound after this read changes it, so the wait
      // below returns at once instead of missing the wake-up.
      const seen = Atomics.load(this.generation, REQUEST_MEMORY_LAYOUT.generation);
      if (Atomics.load(this.used, 0) < this.max) return;
      const wait = waitAsync(this.generation, REQUEST_MEMORY_LAYOUT.generation, seen);
      if (wait.async) await wait.value;
    }
  }
}

/** No bound (tests and tools that build a listener by hand). */
export const UNBOUNDED_REQUEST_MEMORY = new RequestMemoryPool(-1);
