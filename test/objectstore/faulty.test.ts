/**
 * FaultyObjectStore: the s3-standard latency profile has the advertised shape, a seed replays the same
 * run, error/burst/hang rates do what they say, faults apply only to the chosen operations, and a hang
 * ends in a timeout error at the deadline.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FaultyObjectStore, S3_STANDARD, SeededRandom } from '../../src/objectstore/faulty.ts';
import { ObjectStoreError, ObjectStoreTimeoutError, type ByteRange, type ObjectInfo, type ObjectStore } from '../../src/objectstore/object-store.ts';

class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Buffer>();
  calls = 0;
  async put(key: string, body: Buffer | readonly Buffer[]) {
    this.calls++;
    this.objects.set(key, Buffer.isBuffer(body) ? body : Buffer.concat(body as Buffer[]));
  }
  async get(key: string, range?: ByteRange) {
    this.calls++;
    const b = this.objects.get(key)!;
    return range ? b.subarray(range.start, range.end) : b;
  }
  async deleteMany(keys: readonly string[]) {
    this.calls++;
    for (const k of keys) this.objects.delete(k);
  }
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.calls++;
    for (const [key, b] of this.objects) if (key.startsWith(prefix)) yield { key, size: b.length, lastModified: new Date() };
  }
  async close() {}
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

test('s3-standard: PUT of 1 MiB p50 ≈ 100 ms, p99 ≈ 350 ms; GET first byte 30–100 ms', () => {
  const rng = new SeededRandom(7);
  const puts = Array.from({ length: 50_000 }, () => S3_STANDARD.sample('put', 1 << 20, rng));
  assert.ok(Math.abs(quantile(puts, 0.5) - 100) < 5, `PUT p50 ${quantile(puts, 0.5)}`);
  assert.ok(Math.abs(quantile(puts, 0.99) - 350) < 30, `PUT p99 ${quantile(puts, 0.99)}`);
  const bigger = Array.from({ length: 20_000 }, () => S3_STANDARD.sample('put', 8 << 20, rng));
  assert.ok(quantile(bigger, 0.5) > 180, 'larger objects take longer');
  const gets = Array.from({ length: 50_000 }, () => S3_STANDARD.sample('get', 0, rng));
  assert.ok(Math.min(...gets) >= 30, 'first byte never before 30 ms');
  assert.ok(quantile(gets, 0.5) > 45 && quantile(gets, 0.5) < 60, `GET p50 ${quantile(gets, 0.5)}`);
  assert.ok(quantile(gets, 0.99) < 110, `GET p99 ${quantile(gets, 0.99)}`);
});

test('a seed replays the same delays and faults', async () => {
  // s3-standard's shape at a hundredth of its delays, so the run is quick.
  const fast = { name: 'fast', sample: (op: 'put' | 'get' | 'delete' | 'list', bytes: number, rng: SeededRandom) => S3_STANDARD.sample(op, bytes, rng) / 100 };
  const run = async (seed: number) => {
    const store = new FaultyObjectStore(new MemoryStore(), { latency: fast, errorRate: 0.3, hangRate: 0.05, timeoutMs: 50, seed });
    const outcomes: string[] = [];
    for (let i = 0; i < 40; i++) {
      outcomes.push(await store.put(`k${i}`, Buffer.alloc(i * 1000)).then(() => 'ok', (err: Error) => err.name));
    }
    return { outcomes, delayed: store.stats.delayedMs };
  };
  const a = await run(1);
  assert.deepEqual(await run(1), a);
  assert.notDeepEqual(await run(2), a);
  assert.ok(a.outcomes.includes('ok') && a.outcomes.includes('ObjectStoreError'));
});

test('error rate: about that share of calls fail with a retriable 503 SlowDown, and never reach the store', async () => {
  const inner = new MemoryStore();
  const store = new FaultyObjectStore(inner, { errorRate: 0.25, seed: 11 });
  let failed = 0;
  for (let i = 0; i < 2_000; i++) {
    try {
      await store.put(`k${i}`, Buffer.from('x'));
    } catch (err) {
      assert.ok(err instanceof ObjectStoreError && err.retriable && err.status === 503 && err.code === 'SlowDown');
      failed++;
    }
  }
  assert.ok(failed > 400 && failed < 600, `${failed} of 2000 failed`);
  assert.equal(inner.calls, 2_000 - failed);
  assert.equal(store.stats.errors, failed);
});

test('bursts: once one starts, every call fails until it ends', async () => {
  let now = 0;
  const store = new FaultyObjectStore(new MemoryStore(), { burstRate: 1, burstMs: 500, seed: 3, now: () => now });
  await assert.rejects(() => store.put('a', Buffer.from('x')), /SlowDown/);
  assert.equal(store.stats.bursts, 1);
  now = 499;
  await assert.rejects(() => store.get('a'), /SlowDown/);
  assert.equal(store.stats.bursts, 1, 'still the same burst');
  assert.equal(store.stats.burstErrors, 2);
  // A store with a low burst rate: runs of failures, then calls go through again.
  now = 0;
  const inner = new MemoryStore();
  const rare = new FaultyObjectStore(inner, { burstRate: 0.05, burstMs: 20, seed: 9, now: () => now });
  const pattern: boolean[] = [];
  for (let i = 0; i < 400; i++, now += 1) pattern.push(await rare.put(`k${i}`, Buffer.from('x')).then(() => true, () => false));
  const failures = pattern.filter((ok) => !ok).length;
  assert.ok(rare.stats.bursts >= 3 && failures >= 20 * (rare.stats.bursts - 1), `${rare.stats.bursts} bursts, ${failures} failures`);
  assert.ok(pattern.slice(-50).some((ok) => ok), 'calls succeed again between bursts');
});

test('a hang ends with ObjectStoreTimeoutError at the deadline', async () => {
  const inner = new MemoryStore();
  const store = new FaultyObjectStore(inner, { hangRate: 1, timeoutMs: 150, seed: 1 });
  const t0 = Date.now();
  await assert.rejects(() => store.put('h', Buffer.from('x')), (err: unknown) => err instanceof ObjectStoreTimeoutError && err.retriable);
  const took = Date.now() - t0;
  assert.ok(took >= 140 && took < 1_000, `took ${took} ms`);
  assert.equal(inner.calls, 0);
  assert.equal(store.stats.hangs, 1);
  assert.equal(store.stats.timeouts, 1);
});

test('the deadline also cuts a slow store, and latency delays every call', async () => {
  const slow = new MemoryStore();
  slow.get = () => new Promise<Buffer>(() => {}); // never answers
  const store = new FaultyObjectStore(slow, { timeoutMs: 100 });
  await assert.rejects(() => store.get('x'), ObjectStoreTimeoutError);
  const delayed = new FaultyObjectStore(new MemoryStore(), { latency: { name: 'fixed', sample: () => 60 } });
  const t0 = Date.now();
  await delayed.put('d', Buffer.from('x'));
  assert.ok(Date.now() - t0 >= 55);
  assert.equal(delayed.stats.delayedMs, 60);
});

test('faults apply only to the chosen operations', async () => {
  const inner = new MemoryStore();
  const store = new FaultyObjectStore(inner, { errorRate: 1, operations: ['put'], seed: 2 });
  await assert.rejects(() => store.put('a', Buffer.from('x')), /SlowDown/);
  await inner.put('b', Buffer.from('y'));
  assert.equal((await store.get('b')).toString(), 'y');
  const keys: string[] = [];
  for await (const o of store.list('')) keys.push(o.key);
  assert.deepEqual(keys, ['b']);
  await store.deleteMany(['b']);
  assert.equal(inner.objects.size, 0);
});
