/**
 * Latency and fault injection around any ObjectStore, for tests and benchmarks (Redpanda's S3 imposter,
 * kfake's Fault). Enabled by the `diskless.object.store.latency.profile` and `diskless.object.store.fault.*`
 * broker configs (see `open.ts`), or built directly in tests.
 *
 * Per call, in this order (one seeded RNG, so a given seed and call sequence gives the same run):
 * 1. Latency: the profile's delay for the operation and size. The call resolves once both the delay has
 *    passed and the wrapped call has finished, so the delay is the least the call takes.
 * 2. Faults, only for the operations listed in `operations`:
 *    - burst: while a burst lasts, every call fails with 503 SlowDown; each call starts one with
 *      probability `burstRate`, lasting `burstMs`;
 *    - error: the call fails with 503 SlowDown with probability `errorRate`;
 *    - hang: the call never answers, with probability `hangRate`.
 *    A failing call does not reach the wrapped store.
 * 3. Deadline: every call fails with ObjectStoreTimeoutError after `timeoutMs` (the broker's
 *    `diskless.object.store.request.timeout.ms`), which is how a hang ends, as a real one does in the S3 SDK.
 *
 * Profiles (milliseconds; lognormal, so medians and tails are both right):
 * - `s3-standard` (S3 Standard from a same-region EC2 instance): PUT median 85 + 15 per MiB (1 MiB: p50 ≈ 100,
 *   p99 ≈ 350); GET first byte 30 + lognormal(22, σ 0.5) (p50 ≈ 52, p99 ≈ 100) plus transfer at 90 MiB/s;
 *   DeleteObjects median 40; each List page median 60.
 * - `none`: no delay.
 */
import { ObjectStoreError, ObjectStoreTimeoutError, type ByteRange, type ObjectInfo, type ObjectStore } from './object-store.ts';

export type ObjectStoreOp = 'put' | 'get' | 'delete' | 'list';
export const OBJECT_STORE_OPS: readonly ObjectStoreOp[] = ['put', 'get', 'delete', 'list'];

/** Small, fast, seedable PRNG (mulberry32) with a normal deviate (Box–Muller). */
export class SeededRandom {
  private state: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal. */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Lognormal with the given median and log-space standard deviation. */
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }
}

export interface LatencyProfile {
  name: string;
  /** Delay in ms of one call of `op` moving `bytes` (0 when unknown, e.g. a whole-object GET before it runs). */
  sample(op: ObjectStoreOp, bytes: number, rng: SeededRandom): number;
}

const MIB = 1024 * 1024;

export const S3_STANDARD: LatencyProfile = {
  name: 's3-standard',
  sample(op, bytes, rng) {
    switch (op) {
      case 'put':
        return rng.lognormal(85 + (15 * bytes) / MIB, 0.54);
      case 'get':
        return 30 + rng.lognormal(22, 0.5) + (bytes / (90 * MIB)) * 1000;
      case 'delete':
        return rng.lognormal(40, 0.5);
      case 'list':
        return rng.lognormal(60, 0.5);
    }
  },
};

export const LATENCY_PROFILES: Readonly<Record<string, LatencyProfile | null>> = {
  none: null,
  's3-standard': S3_STANDARD,
};

export interface FaultyObjectStoreOptions {
  /** A profile name (`none`, `s3-standard`) or a profile. Default none. */
  latency?: string | LatencyProfile | null;
  /** Probability that a call fails with 503 SlowDown. */
  errorRate?: number;
  /** Probability that a call starts a burst of 503s. */
  burstRate?: number;
  /** Length of a burst (default 1000 ms). */
  burstMs?: number;
  /** Probability that a call hangs until its deadline. */
  hangRate?: number;
  /** Deadline of every call (default 30000 ms). */
  timeoutMs?: number;
  /** Operations that faults apply to (latency applies to all). Default: every one. */
  operations?: readonly ObjectStoreOp[];
  /** RNG seed; default random. */
  seed?: number;
  /** Clock for bursts (tests). */
  now?: () => number;
}

export interface FaultStats {
  calls: number;
  delayedMs: number;
  errors: number;
  burstErrors: number;
  bursts: number;
  hangs: number;
  timeouts: number;
}

/** The error a throttled S3 request ends with once the SDK's retries are spent. */
export function slowDownError(op: string, key: string): ObjectStoreError {
  return new ObjectStoreError(`object store ${op} ${key} failed: SlowDown (HTTP 503): Please reduce your request rate. (injected)`, true, 503, 'SlowDown');
}

export class FaultyObjectStore implements ObjectStore {
  readonly rng: SeededRandom;
  readonly stats: FaultStats = { calls: 0, delayedMs: 0, errors: 0, burstErrors: 0, bursts: 0, hangs: 0, timeouts: 0 };
  private readonly profile: LatencyProfile | null;
  private readonly ops: ReadonlySet<ObjectStoreOp>;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private burstUntil = -Infinity;

  constructor(readonly inner: ObjectStore, private readonly options: FaultyObjectStoreOptions = {}) {
    const latency = options.latency ?? null;
    if (typeof latency === 'string') {
      if (!(latency in LATENCY_PROFILES)) throw new Error(`unknown latency profile '${latency}' (known: ${Object.keys(LATENCY_PROFILES).join(', ')})`);
      this.profile = LATENCY_PROFILES[latency]!;
    } else {
      this.profile = latency;
    }
    this.rng = new SeededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.ops = new Set(options.operations ?? OBJECT_STORE_OPS);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  put(key: string, body: Buffer | readonly Buffer[], crc32c?: number): Promise<void> {
    const bytes = Buffer.isBuffer(body) ? body.length : body.reduce((n, b) => n + b.length, 0);
    return this.call('put', key, bytes, () => this.inner.put(key, body, crc32c));
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    return this.call('get', key, range ? range.end - range.start : 0, () => this.inner.get(key, range));
  }

  deleteMany(keys: readonly string[]): Promise<void> {
    return this.call('delete', `${keys.length} keys`, 0, () => this.inner.deleteMany(keys));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const all = await this.call('list', prefix, 0, async () => {
      const out: ObjectInfo[] = [];
      for await (const o of this.inner.list(prefix)) out.push(o);
      return out;
    });
    yield* all;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Decides the call's fate (latency, fault) and runs it under the deadline. */
  private call<T>(op: ObjectStoreOp, key: string, bytes: number, run: () => Promise<T>): Promise<T> {
    this.stats.calls++;
    const delay = this.profile ? Math.max(0, this.profile.sample(op, bytes, this.rng)) : 0;
    const fault = this.ops.has(op) ? this.decideFault() : null;
    this.stats.delayedMs += delay;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        fn();
      };
      const deadline = setTimeout(() => {
        this.stats.timeouts++;
        finish(() => reject(new ObjectStoreTimeoutError(op, key, this.timeoutMs)));
      }, this.timeoutMs);
      if (fault === 'hang') return; // only the deadline ends it
      const waited = delay > 0 ? new Promise<void>((r) => setTimeout(r, delay)) : Promise.resolve();
      if (fault !== null) {
        void waited.then(() => finish(() => reject(slowDownError(op, key))));
        return;
      }
      Promise.all([run(), waited]).then(
        ([value]) => finish(() => resolve(value)),
        (err: unknown) => finish(() => reject(err)),
      );
    });
  }

  private decideFault(): 'burst' | 'error' | 'hang' | null {
    const { errorRate = 0, burstRate = 0, burstMs = 1000, hangRate = 0 } = this.options;
    const now = this.now();
    if (now < this.burstUntil) {
      this.stats.burstErrors++;
      return 'burst';
    }
    // Always draw the same number of values per call, so a seed replays whatever the rates.
    const b = this.rng.next();
    const e = this.rng.next();
    const h = this.rng.next();
    if (b < burstRate) {
      this.burstUntil = now + burstMs;
      this.stats.bursts++;
      this.stats.burstErrors++;
      return 'burst';
    }
    if (e < errorRate) {
      this.stats.errors++;
      return 'error';
    }
    if (h < hangRate) {
      this.stats.hangs++;
      return 'hang';
    }
    return null;
  }
}
