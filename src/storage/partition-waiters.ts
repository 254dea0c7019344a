/**
 * Long-poll wake-ups for both kinds of partition: fetches with no data wait here until new data becomes
 * visible in one of their partitions (a diskless commit, this broker's or another's; a classic append
 * reaching the high watermark) or their max wait ends. Keys are `partitionKey(topicId, partition)`.
 *
 * `generation` counts wake-ups: a fetch notes it before reading and waits only if nothing was notified
 * while it read, so data that became visible between its read and its wait is never slept through.
 */
export class PartitionWaiters {
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Bumped by every notify. */
  generation = 0;
  /** Set on shutdown: long polls answer at once. */
  closed = false;

  /** Resolves true when woken by new data, false when the timeout passed first. */
  wait(keys: readonly string[], timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (woken: boolean) => {
        clearTimeout(timer);
        for (const key of keys) {
          const set = this.waiters.get(key);
          if (!set) continue;
          set.delete(onData);
          if (set.size === 0) this.waiters.delete(key);
        }
        resolve(woken);
      };
      const onData = () => wake(true);
      const timer = setTimeout(() => wake(false), timeoutMs);
      for (const key of keys) {
        let set = this.waiters.get(key);
        if (!set) this.waiters.set(key, (set = new Set()));
        set.add(onData);
      }
    });
  }

  notify(keys: Iterable<string>): void {
    this.generation++;
    const woken = new Set<() => void>();
    for (const key of keys) {
      const set = this.waiters.get(key);
      if (set) for (const w of set) woken.add(w);
    }
    for (const w of woken) w();
  }

  /** Wakes everyone (topic deletion, notifications missed). */
  notifyAll(): void {
    this.notify([...this.waiters.keys()]);
  }

  /** Shutdown: wakes everyone, and later waits return at once. */
  close(): void {
    this.closed = true;
    this.notifyAll();
  }
}
