/**
 * The object cache holds an object as the parts it was written from and answers byte ranges as views of
 * them (no copy); a miss reads the whole object from a real folder store. The writer keeps batches of
 * large requests as views and copies together batches that would hold a much larger buffer alive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FsObjectStore } from '../../src/objectstore/fs.ts';
import { ObjectCache } from '../../src/storage/diskless/object-cache.ts';
import { objectParts } from '../../src/storage/diskless/diskless-writer.ts';
import { tempDir } from '../helpers/cleanup.ts';

async function folderStore(): Promise<FsObjectStore> {
  return new FsObjectStore(await tempDir('floe-object-cache-'));
}

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

test('ranges of a written object are views of its parts, in order, across part boundaries', async () => {
  const cache = new ObjectCache(await folderStore(), 1 << 20);
  const parts = [bytes(10, 1), bytes(20, 2), bytes(5, 3)];
  const whole = Buffer.concat(parts);
  cache.put('wal/a', parts);
  for (const [start, end] of [[0, 35], [0, 10], [10, 30], [12, 33], [30, 35], [9, 11], [34, 35], [35, 35]] as const) {
    const slices = await cache.getRecent('wal/a', { start, end });
    assert.deepEqual(Buffer.concat(slices), whole.subarray(start, end), `[${start}, ${end})`);
    for (const s of slices) {
      assert.ok(s.length > 0, 'no empty slices');
      assert.ok(parts.some((p) => p.buffer === s.buffer), 'a view of a part, not a copy');
    }
  }
  assert.equal((await cache.getRecent('wal/a', { start: 12, end: 33 })).length, 2);
  assert.deepEqual(Buffer.concat(await cache.getRange('wal/a', { start: 5, end: 15 })), whole.subarray(5, 15));
  await assert.rejects(cache.getRecent('wal/a', { start: 30, end: 36 }), RangeError);
  assert.equal(cache.snapshot().bytes, 35);
  assert.equal(cache.stats.misses, 0);
});

test('a miss reads the whole object once and caches it; a range of an uncached object is read exactly', async () => {
  const store = await folderStore();
  const body = bytes(1000, 9);
  await store.put('wal/b', [body.subarray(0, 400), body.subarray(400)]);
  await store.put('wal/c', body);
  const cache = new ObjectCache(store, 1 << 20);
  const [first, second] = await Promise.all([cache.getRecent('wal/b', { start: 100, end: 200 }), cache.getRecent('wal/b', { start: 900, end: 1000 })]);
  assert.deepEqual(Buffer.concat(first!), body.subarray(100, 200));
  assert.deepEqual(Buffer.concat(second!), body.subarray(900, 1000));
  assert.equal(cache.stats.misses, 1, 'concurrent misses share one GET');
  assert.equal(cache.snapshot().objects, 1);
  assert.deepEqual(Buffer.concat(await cache.getRange('wal/c', { start: 10, end: 20 })), body.subarray(10, 20));
  assert.equal(cache.stats.rangeReads, 1);
  assert.equal(cache.snapshot().objects, 1, 'exact-range reads are not cached');
});

test('the cache evicts least recently used objects past its byte bound', async () => {
  const cache = new ObjectCache(await folderStore(), 100);
  cache.put('wal/1', [bytes(40, 1)]);
  cache.put('wal/2', [bytes(30, 2), bytes(10, 3)]);
  await cache.getRecent('wal/1', { start: 0, end: 1 }); // wal/1 is now the most recent
  cache.put('wal/3', [bytes(50, 4)]);
  assert.deepEqual(cache.snapshot().objects, 2);
  assert.equal(cache.snapshot().bytes, 90);
  await assert.rejects(cache.getRecent('wal/2', { start: 0, end: 1 }), /not found/, 'wal/2 was evicted and is not in the store');
  cache.put('wal/big', [bytes(101, 5)]);
  assert.equal(cache.snapshot().bytes, 90, 'an object larger than the cache is not cached');
});

test('object parts: batches of a buffer the object mostly fills stay views; stragglers of large buffers are copied together', () => {
  const bigRequest = bytes(4096, 1); // a large produce request in a buffer of its own
  const socketRead = bytes(65536, 2); // a socket read holding a small request among other data
  const views = [
    bigRequest.subarray(100, 2100), // two batches of the big request (2,000 + 1,900 of 4,096 bytes: kept)
    socketRead.subarray(10, 60),
    socketRead.subarray(200, 300),
    bigRequest.subarray(2100, 4000),
    socketRead.subarray(500, 510),
  ];
  const { parts, size } = objectParts(views);
  assert.equal(size, 2000 + 50 + 100 + 1900 + 10);
  assert.deepEqual(Buffer.concat(parts), Buffer.concat(views), 'the same bytes in the same order');
  assert.equal(parts.length, 4);
  assert.equal(parts[0], views[0], 'kept as a view');
  assert.equal(parts[2], views[3], 'kept as a view');
  assert.notEqual(parts[1]!.buffer, socketRead.buffer, 'small views copied, together');
  assert.equal(parts[1]!.length, 150);
  assert.notEqual(parts[3]!.buffer, socketRead.buffer);
});
