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
 */
export class RequestMemoryPool {
  private used = 0;
  private waiters: (() => void)[] = [];

  readonly maxBytes: number;

  /** `maxBytes` ≤ 0: unbounded (as in Kafka, whose default is -1). */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes > 0 ? maxBytes : -1;
  }

  get usedBytes(): number {
    return this.used;
  }

  /** Reserves `bytes` if the pool is below its bound; false otherwise (wait with `whenAvailable`). */
  tryReserve(bytes: number): boolean {
    if (this.maxBytes >= 0 && this.used >= this.maxBytes && bytes > 0) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
    if (this.waiters.length > 0 && (this.maxBytes < 0 || this.used < this.maxBytes)) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves once the pool is below its bound (at once if it is). */
  whenAvailable(): Promise<void> {
    if (this.maxBytes < 0 || this.used < this.maxBytes) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** No bound (tests and tools that build a listener by hand). */
export const UNBOUNDED_REQUEST_MEMORY = new RequestMemoryPool(-1);
