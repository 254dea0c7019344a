/**
 * Object keys registered in the coordinator before their upload (`pending_objects`), so that an object
 * whose broker dies between upload and commit is known to be an orphan and reaped (DESIGN.md, object
 * lifecycle; the reaper is in cleaner.ts).
 *
 * A registration is a coordinator round trip. The pool keeps a few keys registered ahead and refills in one
 * statement when it runs low, so an upload normally starts at once. When the pool is empty (start, bursts)
 * `take` makes a key on the spot; its upload waits for the next registration, which carries every key asked
 * for meanwhile. The key string is always known synchronously, so the writer seals as before.
 *
 * Safety: a key is only handed out while young (`maxAgeMs` after its registration was sent), the writer
 * refuses to commit a key older than `commitDeadlineMs`, and the reaper only takes registrations older than
 * `diskless.orphan.min.age.ms`, with maxAgeMs < commitDeadlineMs < that age. So a key the reaper took (and
 * the cleaner may have deleted) is never committed afterwards, and an upload in flight is never reaped.
 */
import { randomUUID } from 'node:crypto';
import type { Coordinator } from '../../coordinator/coordinator.ts';
import { childLogger } from '../../observability/log.ts';

const log = childLogger('object-keys');

export interface PendingKey {
  key: string;
  /** Resolves once the key is registered (at once for a pooled key); rejects if registering failed. */
  ready: Promise<void>;
  /** performance.now() at or before the moment the registration was sent. */
  registeredAt: number;
}

/** What the writer asks for a key (tests and tools can do without registration). */
export interface ObjectKeySource {
  take(): PendingKey;
  /** Keys older than this (ms since registeredAt) are not committed: the reaper may take them. */
  readonly commitDeadlineMs: number;
}

export interface PendingKeyPoolOptions {
  brokerId: number;
  keyPrefix: string;
  /** `diskless.orphan.min.age.ms`. */
  orphanMinAgeMs: number;
  /** Keys kept registered ahead (default 8). */
  size?: number;
  now?: () => number;
}

interface Waiter {
  key: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class PendingKeyPool implements ObjectKeySource {
  /** Registered keys, oldest first; pool[head..] are available. */
  private pool: { key: string; registeredAt: number }[] = [];
  private head = 0;
  /** Keys handed out before being registered: the next registration carries them. */
  private waiting: Waiter[] = [];
  private refilling: Promise<void> | null = null;
  private closed = false;
  private readonly size: number;
  private readonly maxAgeMs: number;
  readonly commitDeadlineMs: number;
  private readonly now: () => number;
  registrations = 0;

  constructor(private readonly coordinator: Coordinator, private readonly options: PendingKeyPoolOptions) {
    this.size = options.size ?? 8;
    this.maxAgeMs = options.orphanMinAgeMs / 4;
    this.commitDeadlineMs = options.orphanMinAgeMs / 2;
    this.now = options.now ?? (() => performance.now());
  }

  /** Registers the first keys ahead of the first upload. */
  start(): void {
    this.refill();
  }

  take(): PendingKey {
    const now = this.now();
    const stale: string[] = [];
    while (this.head < this.pool.length && now - this.pool[this.head]!.registeredAt > this.maxAgeMs) {
      stale.push(this.pool[this.head++]!.key);
    }
    if (stale.length > 0) {
      // Withdraw them now rather than leave them to the reaper; if that fails, the reaper takes them.
      this.coordinator.forgetPendingObjects(stale).catch((err: unknown) => log.debug({ err }, 'withdrawing stale key registrations failed'));
    }
    let taken: PendingKey;
    if (this.head < this.pool.length) {
      const entry = this.pool[this.head++]!;
      taken = { key: entry.key, ready: Promise.resolve(), registeredAt: entry.registeredAt };
    } else {
      const key = this.newKey();
      const ready = new Promise<void>((resolve, reject) => this.waiting.push({ key, resolve, reject }));
      ready.catch(() => {}); // observed by the upload
      taken = { key, ready, registeredAt: now };
    }
    this.compact();
    if (this.available() < this.size / 2 || this.waiting.length > 0) this.refill();
    return taken;
  }

  /** Withdraws the registrations nobody will use (clean shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await this.refilling;
    const unused = this.pool.slice(this.head).map((e) => e.key);
    this.pool = [];
    this.head = 0;
    if (unused.length > 0) await this.coordinator.forgetPendingObjects(unused).catch((err: unknown) => log.warn({ err }, 'withdrawing unused key registrations failed; the reaper will take them'));
  }

  private available(): number {
    return this.pool.length - this.head;
  }

  private newKey(): string {
    return `${this.options.keyPrefix}${randomUUID()}`;
  }

  private compact(): void {
    if (this.head > 64 && this.head * 2 > this.pool.length) {
      this.pool = this.pool.slice(this.head);
      this.head = 0;
    }
  }

  private refill(): void {
    if (this.refilling !== null) return;
    const waiters = this.waiting;
    this.waiting = [];
    const extra = this.closed ? 0 : Math.max(0, this.size - this.available());
    const fresh = Array.from({ length: extra }, () => this.newKey());
    const keys = [...waiters.map((w) => w.key), ...fresh];
    if (keys.length === 0) return;
    const sentAt = this.now();
    this.registrations++;
    this.refilling = this.coordinator.registerPendingObjects(this.options.brokerId, keys).then(
      () => {
        for (const w of waiters) w.resolve();
        for (const key of fresh) this.pool.push({ key, registeredAt: sentAt });
      },
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        log.warn({ err: error.message }, 'registering object keys failed');
        for (const w of waiters) w.reject(new Error(`registering the object key failed: ${error.message}`));
      },
    ).finally(() => {
      this.refilling = null;
      if (this.waiting.length > 0) this.refill();
    });
  }
}
