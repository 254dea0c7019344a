/**
 * The hedging decisions of diskless uploads (upload-hedger.ts) over a fake clock: no hedge before 20 PUTs
 * were seen; the threshold is the configured percentile of the durations of the PUTs of the last 10 s (at
 * least the last 20, at most 256), scaled to the object's size; an upload past it is hedged whether or not
 * a later object waits on it; the first PUT to succeed settles the upload, a failure only when both failed;
 * the budget caps hedges at twice the expected share when every PUT turns slow. The writer's use of it, against a coordinator and s3rver, is in
 * diskless-writer-hedging.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEDGE_BUDGET_WINDOW, HEDGE_MAX_SAMPLES, HEDGE_MIN_SAMPLES, HEDGE_WINDOW_MS, putScale, UploadHedger, type HedgeClock } from '../../src/storage/diskless/upload-hedger.ts';

/** A clock whose time moves only when the test says so, firing due timers in order. */
class FakeClock implements HedgeClock {
  time = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 0;
  now(): number {
    return this.time;
  }
  setTimer(fn: () => void, ms: number): unknown {
    const t = { at: this.time + ms, fn, id: this.nextId++ };
    this.timers.push(t);
    return t.id;
  }
  clearTimer(id: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }
  get pendingTimers(): number {
    return this.timers.length;
  }
  /** Moves time forward by `ms`, firing the timers that fall due (and letting promise callbacks run). */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.time = next.at;
      next.fn();
      await flush();
    }
    this.time = end;
    await flush();
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** PUTs the test settles by hand, each noting when it was sent. */
class ManualPuts {
  readonly calls: { sentAt: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  constructor(private readonly clock: FakeClock) {}
  put = (): Promise<void> => new Promise((resolve, reject) => this.calls.push({ sentAt: this.clock.now(), resolve, reject }));
}

/**
 * Uploads of `bytes` whose PUTs take the given durations in turn (ms), none hedged: time jumps past each
 * PUT without firing the hedge timer, which its success then cancels.
 */
async function prime(hedger: UploadHedger, clock: FakeClock, durations: number[], bytes = 0): Promise<void> {
  for (const ms of durations) {
    const puts = new ManualPuts(clock);
    const done = hedger.upload(bytes, puts.put);
    clock.time += ms;
    puts.calls[0]!.resolve();
    await done;
  }
  assert.equal(clock.pendingTimers, 0);
}

/** A p75 hedger that saw PUTs of 1, 2, … 100 ms: its threshold is 76 ms. */
async function hedgerAt76Ms(): Promise<{ clock: FakeClock; hedger: UploadHedger }> {
  const clock = new FakeClock();
  const hedger = new UploadHedger(75, clock);
  await prime(hedger, clock, Array.from({ length: 100 }, (_, i) => i + 1));
  return { clock, hedger };
}

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await flush();
  return done;
};

test('no hedging before 20 PUTs, nor with the percentile at 0', async () => {
  const clock = new FakeClock();
  const hedger = new UploadHedger(75, clock);
  await prime(hedger, clock, Array.from({ length: HEDGE_MIN_SAMPLES - 1 }, () => 100));
  assert.equal(hedger.thresholdMs(0), null);
  const puts = new ManualPuts(clock);
  const upload = hedger.upload(0, puts.put);
  assert.equal(clock.pendingTimers, 0, 'no hedge timer');
  await clock.advance(10_000);
  assert.equal(puts.calls.length, 1);
  puts.calls[0]!.resolve();
  await upload;

  const off = new UploadHedger(0, clock);
  await prime(off, clock, Array.from({ length: 40 }, () => 100));
  assert.equal(off.thresholdMs(0), null);
  assert.equal(off.stats.hedgedPuts, 0);
});

test('the threshold is the percentile of recent PUT durations, scaled to the object\'s size', async () => {
  const clock = new FakeClock();
  const hedger = new UploadHedger(75, clock);
  // 100 PUTs of empty objects taking 1..100 ms: p75 is 76 ms.
  await prime(hedger, clock, Array.from({ length: 100 }, (_, i) => i + 1));
  assert.equal(hedger.thresholdMs(0), 76);
  assert.equal(hedger.thresholdMs(8 * 1024 * 1024), 76 * 2, 'an 8 MiB object may take twice as long');
  assert.equal(putScale(4 * 1024 * 1024), 1.5);
  // Only the PUTs of the last 10 s count: 10 s later, 20 PUTs of 10 ms set it alone.
  clock.time += HEDGE_WINDOW_MS;
  await prime(hedger, clock, Array.from({ length: HEDGE_MIN_SAMPLES }, () => 10));
  assert.equal(hedger.thresholdMs(0), 10);
  // A PUT's duration is noted divided by its scale: PUTs of 8 MiB taking 300 ms count as 150 ms.
  clock.time += HEDGE_WINDOW_MS;
  await prime(hedger, clock, Array.from({ length: 40 }, () => 300), 8 * 1024 * 1024);
  assert.equal(hedger.thresholdMs(0), 150);
  // After an idle hour the last 20 PUTs still count, whatever their age.
  clock.time += 3_600_000;
  assert.equal(hedger.thresholdMs(0), 150);
  await prime(hedger, clock, Array.from({ length: 10 }, () => 20));
  assert.equal(hedger.thresholdMs(0), 150, '10 new PUTs of 20 ms and the last 10 of 150 ms: p75 is 150');
  // At most HEDGE_MAX_SAMPLES within the window: a burst of fast PUTs pushes the rest out.
  await prime(hedger, clock, Array.from({ length: HEDGE_MAX_SAMPLES }, () => 1));
  assert.equal(hedger.thresholdMs(0), 1);
});

test('an upload past its threshold is hedged, with no later object waiting on it; the hedge can win', async () => {
  const { clock, hedger } = await hedgerAt76Ms();
  const puts = new ManualPuts(clock);
  const upload = hedger.upload(0, puts.put);
  const start = clock.now();
  await clock.advance(75);
  assert.equal(puts.calls.length, 1, 'not before the threshold');
  await clock.advance(1);
  assert.equal(puts.calls.length, 2, 'hedged at the threshold');
  assert.equal(puts.calls[1]!.sentAt - start, 76);
  assert.equal(hedger.stats.hedgedPuts, 1);
  await clock.advance(1_000);
  assert.equal(puts.calls.length, 2, 'one hedge per upload');
  assert.equal(await settled(upload), false);
  puts.calls[1]!.resolve();
  await upload;
  assert.equal(hedger.stats.hedgeWins, 1);
  puts.calls[0]!.resolve(); // the loser lands late: nothing changes, its duration is still a sample
  await flush();
  assert.equal(hedger.stats.hedgeWins, 1);
});

test('an upload done before its threshold sends one PUT and leaves no timer', async () => {
  const { clock, hedger } = await hedgerAt76Ms();
  const puts = new ManualPuts(clock);
  const upload = hedger.upload(0, puts.put);
  await clock.advance(50);
  puts.calls[0]!.resolve();
  await upload;
  assert.equal(clock.pendingTimers, 0);
  await clock.advance(1_000);
  assert.equal(puts.calls.length, 1);
  assert.equal(hedger.stats.hedgedPuts, 0);
});

test('one failed PUT of two is not the upload\'s failure; both failing is, with the last error', async () => {
  const { clock, hedger } = await hedgerAt76Ms();

  const a = new ManualPuts(clock);
  const first = hedger.upload(0, a.put);
  await clock.advance(100);
  assert.equal(a.calls.length, 2);
  a.calls[0]!.reject(new Error('connection reset'));
  assert.equal(await settled(first), false, 'the hedge may still succeed');
  a.calls[1]!.resolve();
  await first;

  const b = new ManualPuts(clock);
  const second = hedger.upload(0, b.put);
  await clock.advance(100);
  b.calls[1]!.reject(new Error('SlowDown'));
  assert.equal(await settled(second), false, 'the original may still succeed');
  b.calls[0]!.reject(new Error('SlowDown again'));
  await assert.rejects(second, /SlowDown again/);

  // A PUT that fails before the threshold fails the upload at once (the store client has retried it).
  const c = new ManualPuts(clock);
  const third = hedger.upload(0, c.put);
  await clock.advance(10);
  c.calls[0]!.reject(new Error('AccessDenied'));
  await assert.rejects(third, /AccessDenied/);
  assert.equal(clock.pendingTimers, 0);
  assert.equal(c.calls.length, 1);
});

test('when every PUT turns slow, at most twice the expected share of uploads is hedged', async () => {
  const clock = new FakeClock();
  const hedger = new UploadHedger(90, clock); // expected share 10 %: budget 26 hedges among the last 128 uploads
  await prime(hedger, clock, Array.from({ length: 100 }, () => 10));
  // The store slows down tenfold: every upload passes the threshold, as long as the samples lag behind.
  const outstanding: ManualPuts[] = [];
  for (let i = 0; i < 60; i++) {
    const puts = new ManualPuts(clock);
    void hedger.upload(0, puts.put).catch(() => {});
    outstanding.push(puts);
    await clock.advance(20); // past the 10 ms threshold, before any slow PUT returns
  }
  assert.equal(hedger.stats.hedgedPuts, Math.ceil(0.2 * HEDGE_BUDGET_WINDOW));
  assert.equal(hedger.stats.hedgesOverBudget, 60 - Math.ceil(0.2 * HEDGE_BUDGET_WINDOW));
  for (const p of outstanding) for (const c of p.calls) c.resolve();
  await flush();
  // The budget is a window: 128 uploads later, with no hedges among them, hedging is allowed again.
  clock.time += HEDGE_WINDOW_MS; // (and the slow PUTs' durations are out of the threshold's window)
  await prime(hedger, clock, Array.from({ length: HEDGE_BUDGET_WINDOW }, () => 10));
  const puts = new ManualPuts(clock);
  const upload = hedger.upload(0, puts.put);
  await clock.advance(100);
  assert.equal(puts.calls.length, 2, 'hedged again');
  puts.calls[0]!.resolve();
  await upload;
});
