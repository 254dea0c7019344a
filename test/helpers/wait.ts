/**
 * Waiting in tests. `waitFor` polls a condition until it holds and resolves with how long that took;
 * `waitForValue` polls a reading until it is acceptable and resolves with it. Neither gives up quietly:
 * past the timeout they fail with `timed out after N ms waiting for <what>`, plus the last value or error
 * seen. `sleep` is a plain pause.
 */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitOptions {
  /** How long to keep trying (default 15 000 ms). */
  timeoutMs?: number;
  /** The pause between two tries (default 50 ms). */
  intervalMs?: number;
  /** A try that throws counts as "not yet" (a broker still restarting) instead of failing the wait at once. */
  retryErrors?: boolean;
}

/** Polls `check` until it returns true; resolves with the time that took, in ms. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<number> {
  const start = performance.now();
  await poll(what, check, (ok) => ok, options, false);
  return performance.now() - start;
}

/** Polls `read` until `ok` accepts what it returned; resolves with that value. */
export function waitForValue<T>(what: string, read: () => T | Promise<T>, ok: (value: T) => boolean, options: WaitOptions = {}): Promise<T> {
  return poll(what, read, ok, options, true);
}

async function poll<T>(what: string, read: () => T | Promise<T>, ok: (value: T) => boolean, options: WaitOptions, showValue: boolean): Promise<T> {
  const { timeoutMs = 15_000, intervalMs = 50, retryErrors = false } = options;
  const start = performance.now();
  let last = '';
  for (;;) {
    try {
      const value = await read();
      if (ok(value)) return value;
      last = showValue ? `; last value: ${show(value)}` : '';
    } catch (err) {
      if (!retryErrors) throw err;
      last = `; last error: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`);
    await sleep(intervalMs);
  }
}

function show(value: unknown): string {
  try {
    // (A Buffer reaches the replacer already as { type: 'Buffer', data }.)
    const replacer = (_k: string, x: unknown) =>
      typeof x === 'bigint' ? String(x) : (x as { type?: unknown })?.type === 'Buffer' ? `<${(x as { data: unknown[] }).data.length} bytes>` : x;
    return JSON.stringify(value, replacer) ?? String(value);
  } catch {
    return String(value);
  }
}
