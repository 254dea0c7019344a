/**
 * The lagging read cache on a real S3-speaking server (s3rver, started by this file) behind the
 * `s3-standard` latency profile: ranges wanted in one turn are coalesced into few ranged GETs, read-ahead
 * puts several GETs in flight at once and later reads are answered from it, and read-ahead stays within
 * the cache's byte budget; a range longer than the GET size limit is read in parallel parts, and only what
 * is missing is read; read-ahead waits in a queue beyond the concurrency limit, oldest first, yields to a
 * fetch's GETs, and starts at once when a fetch needs it.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { S3Server } from '../../tools/dev/local-servers.ts';
import { FaultyObjectStore } from '../../src/objectstore/faulty.ts';
import type { ByteRange, ObjectInfo, ObjectStore } from '../../src/objectstore/object-store.ts';
import { LaggingReadCache } from '../../src/storage/diskless/lagging-read-cache.ts';
import { freshBucket, s3Store, sharedS3 } from '../helpers/s3.ts';

let s3: S3Server;
before(async () => {
  s3 = await sharedS3();
});

/** Counts the GETs that reach the store and the most in flight at once, and logs their starts and ends. */
class CountingStore implements ObjectStore {
  gets: ByteRange[] = [];
  inFlight = 0;
  maxInFlight = 0;
  events: { key: string; start: number; event: 'start' | 'end' }[] = [];
  constructor(private readonly inner: ObjectStore) {}
  put(key: string, body: Buffer | readonly Buffer[]): Promise<void> {
    return this.inner.put(key, body);
  }
  async get(key: string, range?: ByteRange): Promise<Buffer> {
    this.gets.push(range ?? { start: 0, end: -1 });
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    this.events.push({ key, start: range?.start ?? 0, event: 'start' });
    try {
      return await this.inner.get(key, range);
    } finally {
      this.inFlight--;
      this.events.push({ key, start: range?.start ?? 0, event: 'end' });
    }
  }
  deleteMany(keys: readonly string[]): Promise<void> {
    return this.inner.deleteMany(keys);
  }
  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const KIB = 1024;
const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** A bucket with `count` objects of `size` bytes, behind s3-standard latency and a GET counter. */
async function objects(count: number, size: number): Promise<{ store: CountingStore; bodies: Buffer[] }> {
  const s3store = s3Store(s3, await freshBucket(), 'lagging');
  const bodies = Array.from({ length: count }, (_, i) => bytes(size, i));
  await Promise.all(bodies.map((b, i) => s3store.put(`wal/${i}`, b)));
  return { store: new CountingStore(new FaultyObjectStore(s3store, { latency: 's3-standard', seed: 7 })), bodies };
}

test('ranges of one object wanted in one turn are read with one GET; a gap above the threshold or the GET size limit splits them', async () => {
  const { store, bodies } = await objects(1, 512 * KIB);
  const cache = new LaggingReadCache(store, { maxBytes: 8 << 20, coalesceGapBytes: 16 * KIB, maxGetBytes: 256 * KIB });
  // Eight adjacent 16 KiB ranges (a fetch's partitions in one object), then one 8 KiB past the gap threshold.
  const adjacent = Array.from({ length: 8 }, (_, i) => ({ start: i * 16 * KIB, end: (i + 1) * 16 * KIB }));
  const far = { start: 128 * KIB + 17 * KIB, end: 128 * KIB + 25 * KIB };
  const answers = await Promise.all([...adjacent, far].map((r) => cache.read('wal/0', r)));
  [...adjacent, far].forEach((r, i) => assert.deepEqual(Buffer.concat(answers[i]!), bodies[0]!.subarray(r.start, r.end)));
  assert.deepEqual(store.gets, [{ start: 0, end: 128 * KIB }, far], 'the adjacent ranges in one GET, the far one alone');
  // A small gap (8 KiB, below the threshold) is read over; the size limit (256 KiB) starts a new GET.
  store.gets = [];
  const gapped = [{ start: 200 * KIB, end: 300 * KIB }, { start: 308 * KIB, end: 400 * KIB }, { start: 400 * KIB, end: 500 * KIB }];
  const more = await Promise.all(gapped.map((r) => cache.read('wal/0', r)));
  gapped.forEach((r, i) => assert.deepEqual(Buffer.concat(more[i]!), bodies[0]!.subarray(r.start, r.end)));
  assert.deepEqual(store.gets, [{ start: 200 * KIB, end: 400 * KIB }, { start: 400 * KIB, end: 500 * KIB }]);
  // Read again: held, no GET.
  store.gets = [];
  assert.deepEqual(Buffer.concat(await cache.read('wal/0', { start: 20 * KIB, end: 30 * KIB })), bodies[0]!.subarray(20 * KIB, 30 * KIB));
  assert.equal(store.gets.length, 0);
});

test('read-ahead has several GETs in flight at once and answers the reads that follow without a GET', async () => {
  const { store, bodies } = await objects(6, 256 * KIB);
  // 20 GETs at once: while the fetch's own GET is in flight, a quarter of them (5) read ahead.
  const cache = new LaggingReadCache(store, { maxBytes: 8 << 20, coalesceGapBytes: 0, maxGetBytes: 1 << 20, maxConcurrentGets: 20 });
  // A consumer reads object 0; read-ahead for objects 1..5 is issued in the same turn.
  const first = cache.read('wal/0', { start: 0, end: 256 * KIB });
  for (let i = 1; i < 6; i++) cache.prefetch(`wal/${i}`, { start: 0, end: 256 * KIB });
  assert.deepEqual(Buffer.concat(await first), bodies[0]);
  assert.ok(store.maxInFlight >= 6, `all six GETs in flight at once (most at once: ${store.maxInFlight})`);
  assert.equal(cache.stats.maxGetsInFlight, store.maxInFlight);
  const getsBefore = store.gets.length;
  for (let i = 1; i < 6; i++) {
    assert.deepEqual(Buffer.concat(await cache.read(`wal/${i}`, { start: 10 * KIB, end: 200 * KIB })), bodies[i]!.subarray(10 * KIB, 200 * KIB));
  }
  assert.equal(store.gets.length, getsBefore, 'the next fetches found the read-ahead');
  assert.equal(cache.stats.hits, 5);
  // Asking again for what is held or in flight issues nothing.
  cache.prefetch('wal/3', { start: 0, end: 100 * KIB });
  assert.equal(cache.stats.prefetches, 5);
});

test('read-ahead stays within the byte budget: a prefetch that does not fit waits for read segments to be evicted', async () => {
  const { store, bodies } = await objects(8, 64 * KIB);
  const cache = new LaggingReadCache(store, { maxBytes: 256 * KIB, coalesceGapBytes: 0, maxGetBytes: 1 << 20 });
  for (let i = 0; i < 8; i++) cache.prefetch(`wal/${i}`, { start: 0, end: 64 * KIB });
  assert.equal(cache.stats.prefetches, 4, 'four fit in 256 KiB');
  assert.equal(cache.stats.prefetchesSkipped, 4);
  // Read what was read ahead: those segments become evictable, so more read-ahead fits.
  for (let i = 0; i < 4; i++) assert.deepEqual(Buffer.concat(await cache.read(`wal/${i}`, { start: 0, end: 64 * KIB })), bodies[i]);
  assert.ok(cache.bytes <= 256 * KIB);
  for (let i = 4; i < 8; i++) cache.prefetch(`wal/${i}`, { start: 0, end: 64 * KIB });
  assert.equal(cache.stats.prefetches, 8);
  for (let i = 4; i < 8; i++) assert.deepEqual(Buffer.concat(await cache.read(`wal/${i}`, { start: 0, end: 64 * KIB })), bodies[i]);
  assert.ok(cache.stats.peakBytes <= 256 * KIB, `peak ${cache.stats.peakBytes} within the budget`);
  assert.ok(cache.bytes <= 256 * KIB);
  assert.equal(cache.stats.evictedUnread, 0, 'no read-ahead was thrown away unread');
  assert.equal(store.gets.length, 8, 'each object read once');
});

test('a range longer than the GET size limit is read in parallel parts, answered back to back; a range partly held reads only the rest', async () => {
  const { store, bodies } = await objects(2, 1024 * KIB);
  const cache = new LaggingReadCache(store, { maxBytes: 8 << 20, coalesceGapBytes: 0, maxGetBytes: 256 * KIB, maxConcurrentGets: 1 });
  const whole = await cache.read('wal/0', { start: 0, end: 1024 * KIB });
  assert.deepEqual(Buffer.concat(whole), bodies[0]);
  assert.deepEqual(store.gets, [0, 1, 2, 3].map((i) => ({ start: i * 256 * KIB, end: (i + 1) * 256 * KIB })), 'four parts');
  assert.equal(store.maxInFlight, 4, 'a fetch\'s parts all in flight at once, whatever the read-ahead limit');
  // A range across two parts: from both, no GET.
  const across = await cache.read('wal/0', { start: 200 * KIB, end: 600 * KIB });
  assert.equal(across.length, 3);
  assert.deepEqual(Buffer.concat(across), bodies[0]!.subarray(200 * KIB, 600 * KIB));
  assert.equal(store.gets.length, 4);
  // Partly held: only the missing bytes are read.
  store.gets = [];
  assert.deepEqual(Buffer.concat(await cache.read('wal/1', { start: 0, end: 100 * KIB })), bodies[1]!.subarray(0, 100 * KIB));
  assert.deepEqual(Buffer.concat(await cache.read('wal/1', { start: 50 * KIB, end: 300 * KIB })), bodies[1]!.subarray(50 * KIB, 300 * KIB));
  assert.deepEqual(store.gets, [{ start: 0, end: 100 * KIB }, { start: 100 * KIB, end: 300 * KIB }]);
  // A read-ahead of a long range next to a fetch's: the fetch's bytes are a GET of their own, started first.
  store.gets = [];
  store.events = [];
  const fetch = cache.read('wal/1', { start: 300 * KIB, end: 400 * KIB });
  cache.prefetch('wal/1', { start: 400 * KIB, end: 1024 * KIB });
  assert.deepEqual(Buffer.concat(await fetch), bodies[1]!.subarray(300 * KIB, 400 * KIB));
  assert.deepEqual(store.gets[0], { start: 300 * KIB, end: 400 * KIB });
  assert.deepEqual(Buffer.concat(await cache.read('wal/1', { start: 400 * KIB, end: 1024 * KIB })), bodies[1]!.subarray(400 * KIB));
  assert.deepEqual(store.gets.slice(1), [{ start: 400 * KIB, end: 656 * KIB }, { start: 656 * KIB, end: 912 * KIB }, { start: 912 * KIB, end: 1024 * KIB }]);
  // A read-ahead span holding a fetch's range (a partition's span in a merged object): the fetch's bytes
  // are a GET of their own, the rest of the span parts queued behind it.
  const { store: merged, bodies: spans } = await objects(1, 1024 * KIB);
  const other = new LaggingReadCache(merged, { maxBytes: 8 << 20, coalesceGapBytes: 16 * KIB, maxGetBytes: 256 * KIB, maxConcurrentGets: 1 });
  const first = other.read('wal/0', { start: 100 * KIB, end: 200 * KIB });
  other.prefetch('wal/0', { start: 0, end: 1024 * KIB });
  assert.deepEqual(Buffer.concat(await first), spans[0]!.subarray(100 * KIB, 200 * KIB));
  assert.deepEqual(merged.gets[0], { start: 100 * KIB, end: 200 * KIB }, 'the fetch\'s range alone, first');
  assert.deepEqual(Buffer.concat(await other.read('wal/0', { start: 0, end: 1024 * KIB })), spans[0]);
  assert.deepEqual(merged.gets.slice(1).sort((a, b) => a.start - b.start), [{ start: 0, end: 100 * KIB }, { start: 200 * KIB, end: 456 * KIB }, { start: 456 * KIB, end: 712 * KIB }, { start: 712 * KIB, end: 968 * KIB }, { start: 968 * KIB, end: 1024 * KIB }]);
});

test('read-ahead waits in a queue beyond the concurrency limit, oldest first; a fetch\'s GETs go first, and a queued read-ahead a fetch needs starts at once', async () => {
  const { store, bodies } = await objects(10, 64 * KIB);
  const cache = new LaggingReadCache(store, { maxBytes: 8 << 20, coalesceGapBytes: 0, maxGetBytes: 1 << 20, maxConcurrentGets: 2 });
  for (let i = 0; i < 8; i++) cache.prefetch(`wal/${i}`, { start: 0, end: 64 * KIB });
  await new Promise((r) => setImmediate(r));
  assert.equal(store.inFlight, 2, 'two in flight, the rest queued');
  assert.equal(cache.snapshot().queued, 6);
  // A fetch needs wal/7, queued last: its GET starts now, ahead of wal/2..6.
  assert.deepEqual(Buffer.concat(await cache.read('wal/7', { start: 0, end: 64 * KIB })), bodies[7]);
  assert.equal(cache.stats.promoted, 1);
  const order = store.events.filter((e) => e.event === 'start').map((e) => e.key);
  assert.deepEqual(order.slice(0, 3), ['wal/0', 'wal/1', 'wal/7']);
  for (let i = 0; i < 7; i++) assert.deepEqual(Buffer.concat(await cache.read(`wal/${i}`, { start: 0, end: 64 * KIB })), bodies[i]);
  const starts = store.events.filter((e) => e.event === 'start').map((e) => e.key);
  assert.deepEqual(starts.filter((k) => k !== 'wal/7'), ['wal/0', 'wal/1', 'wal/2', 'wal/3', 'wal/4', 'wal/5', 'wal/6'], 'the rest oldest first');
  assert.equal(store.gets.length, 8, 'each object read once');
  assert.ok(store.maxInFlight <= 3, `read-ahead within its limit (most at once: ${store.maxInFlight})`);

  // A fetch's GET with read-ahead in the same turn: while the fetch waits, a quarter of the slots (here one) read ahead.
  const wide = new LaggingReadCache(store, { maxBytes: 8 << 20, coalesceGapBytes: 0, maxGetBytes: 1 << 20, maxConcurrentGets: 4 });
  store.events = [];
  const fetch = wide.read('wal/8', { start: 0, end: 64 * KIB });
  for (let i = 0; i < 8; i++) wide.prefetch(`wal/${i}`, { start: 0, end: 64 * KIB });
  assert.deepEqual(Buffer.concat(await fetch), bodies[8]);
  const fetchEnd = store.events.findIndex((e) => e.key === 'wal/8' && e.event === 'end');
  const before = store.events.slice(0, fetchEnd);
  assert.equal(before[0]!.key, 'wal/8', 'the fetch\'s GET first');
  let aheadInFlight = 0;
  let mostAhead = 0;
  for (const e of before.filter((x) => x.key !== 'wal/8')) mostAhead = Math.max(mostAhead, (aheadInFlight += e.event === 'start' ? 1 : -1));
  assert.equal(mostAhead, 1, 'one read-ahead GET at a time beside it');
  for (let i = 0; i < 8; i++) assert.deepEqual(Buffer.concat(await wide.read(`wal/${i}`, { start: 0, end: 64 * KIB })), bodies[i]);
  assert.equal(wide.stats.gets, 9);
});
