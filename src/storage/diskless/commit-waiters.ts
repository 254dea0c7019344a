/**
 * Long-poll wake-ups: fetches with no data wait here until a commit touches one of their partitions or
 * their max wait ends. Keys are `topicId:partition`.
 */
export class CommitWaiters {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves true when woken by a commit, false when the timeout passed first. */
  wait(keys: readonly string[], timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = (woken: boolean) => {
        clearTimeout(timer);
        for (const key of keys) {
          const set = this.waiters.get(key);
          if (!set) continue;
          set.delete(onCommit);
          if (set.size === 0) this.waiters.delete(key);
        }
        resolve(woken);
      };
      const onCommit = () => wake(true);
      const timer = setTimeout(() => wake(false), timeoutMs);
      for (const key of keys) {
        let set = this.waiters.get(key);
        if (!set) this.waiters.set(key, (set = new Set()));
        set.add(onCommit);
      }
    });
  }

  notify(keys: Iterable<string>): void {
    const woken = new Set<() => void>();
    for (const key of keys) {
      const set = this.waiters.get(key);
      if (set) for (const w of set) woken.add(w);
    }
    for (const w of woken) w();
  }

  /** Wakes everyone (shutdown, topic deletion). */
  notifyAll(): void {
    this.notify([...this.waiters.keys()]);
  }
}
