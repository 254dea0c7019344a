/**
 * The fetch session cache's bound and Kafka's eviction rules (FetchSessionCache.tryEvict), on a fake clock:
 * a stale session (unused for the eviction time) goes first; otherwise only a session older than the
 * eviction time and smaller than the newcomer; a full cache of young sessions keeps them all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FetchSessionCache, SESSION_EVICTION_MS, nextEpoch, SessionPartition } from '../../../src/broker/fetch/fetch-session-cache.ts';

function parts(n: number): SessionPartition[] {
  return Array.from({ length: n }, (_, i) => new SessionPartition(`t:${i}`, 't', '00000000-0000-0000-0000-000000000000', i, 0n, 1024, -1));
}

test('epochs count from 1 and wrap to 1; a negative epoch stays final', () => {
  assert.equal(nextEpoch(0), 1);
  assert.equal(nextEpoch(41), 42);
  assert.equal(nextEpoch(0x7fffffff), 1);
  assert.equal(nextEpoch(-1), -1);
});

test('a full cache of young sessions creates no session; a stale one is evicted first, least recently used', () => {
  let now = 1_000_000;
  const cache = new FetchSessionCache(2, () => now);
  const a = cache.maybeCreate(false, parts(3))!;
  now += 10;
  const b = cache.maybeCreate(false, parts(5))!;
  assert.ok(a && b && a.id !== b.id && a.id > 0 && b.id > 0);
  assert.equal(a.epoch, 1);
  now += 1000;
  assert.equal(cache.maybeCreate(false, parts(100)), undefined, 'young sessions are kept, whatever their size');
  assert.deepEqual(cache.stats(), { sessions: 2, partitions: 8, evictions: 0 });
  now += SESSION_EVICTION_MS; // both unused for longer than the eviction time: a is the least recently used
  cache.touch(b, now - 5); // b used a moment ago
  const c = cache.maybeCreate(false, parts(1))!;
  assert.ok(c);
  assert.equal(cache.get(a.id), undefined, 'the stale session went');
  assert.ok(cache.get(b.id));
  assert.deepEqual(cache.stats(), { sessions: 2, partitions: 6, evictions: 1 });
});

test('without stale sessions, a newcomer evicts the smallest session older than the eviction time, if it is larger', () => {
  let now = 0;
  const cache = new FetchSessionCache(3, () => now);
  const small = cache.maybeCreate(false, parts(3))!;
  const large = cache.maybeCreate(false, parts(6))!;
  now = SESSION_EVICTION_MS + 1;
  cache.touch(small);
  cache.touch(large); // both old enough to be evictable, neither stale
  const young = cache.maybeCreate(false, parts(2))!;
  assert.ok(young);
  assert.equal(cache.maybeCreate(false, parts(2)), undefined, 'no evictable session smaller than 2 partitions');
  assert.equal(cache.maybeCreate(false, parts(3)), undefined, 'a session of the same size is not evicted');
  const newcomer = cache.maybeCreate(false, parts(4))!;
  assert.ok(newcomer);
  assert.equal(cache.get(small.id), undefined, 'the smallest evictable session went');
  assert.ok(cache.get(large.id) && cache.get(young.id), 'the young session is never evicted for size');
  assert.deepEqual(cache.stats(), { sessions: 3, partitions: 12, evictions: 1 });
});

test('zero slots: no session is ever created; remove frees a slot', () => {
  assert.equal(new FetchSessionCache(0).maybeCreate(false, parts(1)), undefined);
  const cache = new FetchSessionCache(1);
  const a = cache.maybeCreate(false, parts(1))!;
  assert.equal(cache.maybeCreate(false, parts(9)), undefined);
  assert.equal(cache.remove(a.id), a);
  assert.ok(cache.maybeCreate(false, parts(9)));
  assert.equal(cache.stats().partitions, 9);
});
