/**
 * Hedged object uploads (`diskless.upload.hedge.percentile`): an object's PUT that has run longer than that
 * percentile of the broker's recent PUTs (scaled to its size) is sent a second time, same key and bytes; the
 * first to succeed counts. Object-store latency is heavy-tailed (S3 PUTs: lognormal-like, p99 ≈ 3.5 × the
 * median), and every producer of an object waits for its slowest PUT, so the tail of produce latency is that
 * of PUTs: a second PUT started at the threshold usually ends long before the first one's tail.
 *
 * Policy, and why:
 * - Any upload past its threshold is hedged, not only one that holds a later object's commit: its own
 *   producers wait on it either way. At 27 MiB/s (an object per commit interval) a slow PUT seldom holds a
 *   later one: in bench/hedging-model.ts (this writer over S3's modelled PUT latency, 250 ms interval)
 *   hedging only those, at p95, took produce p99 from 886 to 805 ms; hedging any PUT past p95 to 789, past
 *   p75 to 693 ms (1.22 PUTs per object). In a simulation of the same model, a lower threshold for PUTs
 *   that hold a later object's commit gained under 5 ms, so there is none.
 * - The writer hedges only objects of at least half diskless.buffer.max.bytes (`hedgeable`): a PUT's tail
 *   grows with its size, so small objects gain little (at 11 MiB/s, 2.75 MiB objects, p75 hedging took p99
 *   from 611 to 592 ms in the model) at the highest cost per GiB, and a broker below one large object per
 *   interval keeps to one PUT per interval (hedging every PUT took the bench's 5 MB/s runs to 1.2).
 * - The threshold is a percentile of the durations of the PUTs that ended in the last 10 s (every PUT sent,
 *   hedges and late losers included, so it follows the store's own distribution), each divided by putScale
 *   of its size; no hedge before HEDGE_MIN_SAMPLES PUTs. A window of time, not of a count: after a burst of
 *   large, concurrent uploads (slower on a loaded store) a count of 128 kept the threshold high for the
 *   next half minute at 4 PUTs/s, and no PUT of the lighter load that followed was hedged (bench, 50 % load).
 * - A budget: at most twice the expected share, 2 × (100 − percentile) %, of the last HEDGE_BUDGET_WINDOW
 *   uploads are hedged. When the store turns slow for every request (throttling, an outage) the samples lag behind,
 *   and without the budget every PUT would be sent twice to a store that is already struggling.
 *
 * The clock is injected so the decisions are tested without waiting (test/storage/upload-hedger.test.ts).
 */

/** The threshold is taken from the PUTs that ended in the last HEDGE_WINDOW_MS (at most HEDGE_MAX_SAMPLES)... */
export const HEDGE_WINDOW_MS = 10_000;
export const HEDGE_MAX_SAMPLES = 256;
/** ...or from the last HEDGE_MIN_SAMPLES PUTs, whatever their age, when fewer ended in the window; no hedge before that many. */
export const HEDGE_MIN_SAMPLES = 20;
/** The hedging budget counts hedges among this many latest uploads. */
export const HEDGE_BUDGET_WINDOW = 128;

/**
 * PUT durations grow with the object's size (on S3 a full 8 MiB object takes about twice a small one's
 * time), so durations are compared scaled by this: an 8 MiB PUT counts as half its time.
 */
export function putScale(bytes: number): number {
  return 1 + bytes / (8 * 1024 * 1024);
}

export interface HedgeClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

const REAL_CLOCK: HedgeClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export interface HedgeStats {
  /** Hedge PUTs sent, how many finished first, and hedges the budget refused. */
  hedgedPuts: number;
  hedgeWins: number;
  hedgesOverBudget: number;
}

export class UploadHedger {
  /** Successful PUTs, oldest first from putsHead: when each ended and its scaled duration (ms). */
  private puts: { endedAt: number; scaledMs: number }[] = [];
  private putsHead = 0;
  /** Uploads so far, and the sequence numbers of those hedged among the last HEDGE_BUDGET_WINDOW. */
  private uploads = 0;
  private readonly hedgedSeqs = new Set<number>();
  private readonly maxHedges: number;

  /** `percentile` 0 (or less): no hedging. `stats` may be a larger object (the writer's) that the counts go into. */
  constructor(
    private readonly percentile: number,
    private readonly clock: HedgeClock = REAL_CLOCK,
    readonly stats: HedgeStats = { hedgedPuts: 0, hedgeWins: 0, hedgesOverBudget: 0 },
  ) {
    this.maxHedges = Math.ceil((2 * (100 - percentile) / 100) * HEDGE_BUDGET_WINDOW);
  }

  /**
   * The time an upload of `bytes` may run before it is hedged: the percentile of recent scaled PUT durations
   * times its scale; null when hedging is off or fewer than HEDGE_MIN_SAMPLES PUTs were seen.
   */
  thresholdMs(bytes: number): number | null {
    if (this.percentile <= 0) return null;
    this.prune();
    if (this.puts.length - this.putsHead < HEDGE_MIN_SAMPLES) return null;
    const sorted = this.puts.slice(this.putsHead).map((p) => p.scaledMs).sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((this.percentile / 100) * sorted.length))]! * putScale(bytes);
  }

  /**
   * One object's upload: `put()` now and, past the threshold (budget allowing) and if `hedgeable`, once more. Resolves when a
   * PUT succeeded, rejects when every PUT sent failed. Both PUTs write the same bytes under the same key, so
   * whichever lands last leaves the same object; a losing PUT still running is left to finish.
   */
  upload(bytes: number, put: () => Promise<void>, hedgeable = true): Promise<void> {
    const seq = this.uploads++;
    this.hedgedSeqs.delete(seq - HEDGE_BUDGET_WINDOW);
    const scale = putScale(bytes);
    return new Promise<void>((resolve, reject) => {
      let sent = 0;
      let failed = 0;
      let settled = false;
      let timer: unknown = null;
      const send = (isHedge: boolean) => {
        sent++;
        const start = this.clock.now();
        put().then(() => {
          this.notePutMs((this.clock.now() - start) / scale);
          if (settled) return;
          settled = true;
          if (timer !== null) this.clock.clearTimer(timer);
          if (isHedge) this.stats.hedgeWins++;
          resolve();
        }, (err: unknown) => {
          if (settled || ++failed < sent) return; // the other PUT may still succeed
          settled = true;
          if (timer !== null) this.clock.clearTimer(timer);
          reject(err);
        });
      };
      const threshold = hedgeable ? this.thresholdMs(bytes) : null;
      send(false);
      if (threshold === null || settled) return;
      timer = this.clock.setTimer(() => {
        timer = null;
        if (settled) return;
        if (this.hedgedSeqs.size >= this.maxHedges) {
          this.stats.hedgesOverBudget++;
          return;
        }
        this.hedgedSeqs.add(seq);
        this.stats.hedgedPuts++;
        send(true);
      }, threshold);
    });
  }

  private notePutMs(scaledMs: number): void {
    this.puts.push({ endedAt: this.clock.now(), scaledMs });
    this.prune();
  }

  /** Keeps the last HEDGE_MAX_SAMPLES PUTs, and of those older than the window only the last HEDGE_MIN_SAMPLES. */
  private prune(): void {
    const now = this.clock.now();
    let held = this.puts.length - this.putsHead;
    while (held > HEDGE_MAX_SAMPLES || (held > HEDGE_MIN_SAMPLES && now - this.puts[this.putsHead]!.endedAt > HEDGE_WINDOW_MS)) {
      this.putsHead++;
      held--;
    }
    if (this.putsHead > 1024 && this.putsHead * 2 > this.puts.length) {
      this.puts = this.puts.slice(this.putsHead);
      this.putsHead = 0;
    }
  }
}
