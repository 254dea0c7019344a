/**
 * Conformance suite for any `ObjectStore` backend. A backend's test file calls
 * `objectStoreConformance(label, harness)`. Every test works under its own random prefix, so the suite
 * also runs against a shared bucket.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ObjectNotFoundError, type ObjectInfo, type ObjectStore } from '../../src/objectstore/object-store.ts';

export interface ObjectStoreHarness {
  open(): Promise<ObjectStore>;
  /** Optional backend-specific check run after the concurrent-put test (e.g. no stray temp files). */
  afterConcurrentPuts?(store: ObjectStore, prefix: string): Promise<void>;
  /**
   * Whether racing PUTs of one key leave one whole version (default true). A backend's own guarantee, not
   * Floe's: Floe never writes one key twice at once (every object gets a new key).
   */
  atomicOverwrites?: boolean;
}

async function collect(it: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of it) out.push(o);
  return out;
}

export function objectStoreConformance(label: string, harness: ObjectStoreHarness): void {
  describe(`ObjectStore conformance: ${label}`, () => {
    let store: ObjectStore;
    const run = `conf-${randomUUID().slice(0, 8)}`;
    const prefix = (n: string): string => `${run}/${n}`;

    before(async () => {
      store = await harness.open();
    });
    after(async () => {
      await store?.close();
    });

    test('put a Buffer, get it whole and by ranges', async () => {
      const body = randomBytes(10_000);
      const key = `${prefix('put')}/obj`;
      await store.put(key, body);
      assert.deepEqual(await store.get(key), body);
      assert.deepEqual(await store.get(key, { start: 0, end: 1 }), body.subarray(0, 1));
      assert.deepEqual(await store.get(key, { start: 1234, end: 5678 }), body.subarray(1234, 5678));
      assert.deepEqual(await store.get(key, { start: 9_999, end: 10_000 }), body.subarray(9_999));
      assert.deepEqual(await store.get(key, { start: 0, end: 10_000 }), body);
      assert.equal((await store.get(key, { start: 5, end: 5 })).length, 0);
    });

    test('put chunks (Buffer[]), including empty chunks', async () => {
      const parts = [randomBytes(3), Buffer.alloc(0), randomBytes(70_000), randomBytes(1)];
      const key = `${prefix('chunks')}/obj`;
      await store.put(key, parts);
      const whole = Buffer.concat(parts);
      assert.deepEqual(await store.get(key), whole);
      assert.deepEqual(await store.get(key, { start: 2, end: 70_004 }), whole.subarray(2, 70_004));
      // Many chunks (more than one writev).
      const many = Array.from({ length: 3000 }, (_, i) => Buffer.from([i & 0xff, (i >> 8) & 0xff]));
      await store.put(`${prefix('chunks')}/many`, many);
      assert.deepEqual(await store.get(`${prefix('chunks')}/many`), Buffer.concat(many));
      // An empty object.
      await store.put(`${prefix('chunks')}/empty`, []);
      assert.equal((await store.get(`${prefix('chunks')}/empty`)).length, 0);
    });

    test('put replaces an existing object', async () => {
      const key = `${prefix('replace')}/obj`;
      await store.put(key, Buffer.from('first version'));
      await store.put(key, Buffer.from('second'));
      assert.equal((await store.get(key)).toString(), 'second');
    });

    test('get of a missing key rejects with ObjectNotFoundError', async () => {
      const key = `${prefix('missing')}/nothing-here`;
      await assert.rejects(
        () => store.get(key),
        (err: unknown) => err instanceof ObjectNotFoundError && err.key === key,
      );
      await assert.rejects(() => store.get(key, { start: 0, end: 10 }), ObjectNotFoundError);
    });

    test('deleteMany deletes existing keys and ignores missing ones', async () => {
      const keys = [0, 1, 2, 3].map((i) => `${prefix('delete')}/o${i}`);
      for (const k of keys) await store.put(k, Buffer.from(k));
      await store.deleteMany([keys[0]!, keys[2]!, `${prefix('delete')}/never-existed`, `${prefix('nowhere')}/x/y`]);
      await assert.rejects(() => store.get(keys[0]!), ObjectNotFoundError);
      await assert.rejects(() => store.get(keys[2]!), ObjectNotFoundError);
      assert.equal((await store.get(keys[1]!)).toString(), keys[1]);
      assert.deepEqual(
        (await collect(store.list(prefix('delete')))).map((o) => o.key),
        [keys[1], keys[3]],
      );
      await store.deleteMany([]);
      await store.deleteMany(keys);
      assert.deepEqual(await collect(store.list(prefix('delete'))), []);
    });

    test('list by prefix, nested keys, key order, sizes', async () => {
      const base = prefix('list');
      const bodies: Record<string, number> = {
        [`${base}/a`]: 1,
        [`${base}/a-b`]: 2,
        [`${base}/ab/c`]: 3,
        [`${base}/ab/c2/d/e`]: 4,
        [`${base}/b/x`]: 5,
        [`${base}/b0`]: 6,
      };
      const t0 = Date.now();
      for (const [k, n] of Object.entries(bodies)) await store.put(k, Buffer.alloc(n, 1));
      const all = await collect(store.list(`${base}/`));
      assert.deepEqual(
        all.map((o) => [o.key, o.size]),
        Object.keys(bodies)
          .sort()
          .map((k) => [k, bodies[k]]),
      );
      for (const o of all) {
        assert.ok(o.lastModified instanceof Date);
        assert.ok(Math.abs(o.lastModified.getTime() - t0) < 60_000);
      }
      const keys = async (p: string) => (await collect(store.list(p))).map((o) => o.key);
      assert.deepEqual(await keys(`${base}/a`), [`${base}/a`, `${base}/a-b`, `${base}/ab/c`, `${base}/ab/c2/d/e`]);
      assert.deepEqual(await keys(`${base}/ab/`), [`${base}/ab/c`, `${base}/ab/c2/d/e`]);
      assert.deepEqual(await keys(`${base}/ab/c`), [`${base}/ab/c`, `${base}/ab/c2/d/e`]);
      assert.deepEqual(await keys(`${base}/ab/c2`), [`${base}/ab/c2/d/e`]);
      assert.deepEqual(await keys(`${base}/b`), [`${base}/b/x`, `${base}/b0`]);
      assert.deepEqual(await keys(`${base}/b/`), [`${base}/b/x`]);
      assert.deepEqual(await keys(`${base}/zzz`), []);
      assert.deepEqual(await keys(`${prefix('no-such-prefix')}/`), []);
      // The empty prefix lists everything, this run's keys among them.
      const everything = await keys('');
      for (const k of Object.keys(bodies)) assert.ok(everything.includes(k));
    });

    test('concurrent puts: every object whole, nothing extra listed', async () => {
      const base = prefix('concurrent');
      const bodies = Array.from({ length: 50 }, (_, i) => randomBytes(1000 + i * 97));
      await Promise.all(bodies.map((b, i) => store.put(`${base}/o${String(i).padStart(2, '0')}`, b)));
      // Writers of one key: one whole version wins (racing, where the backend promises it; else in turn).
      const racing = Array.from({ length: 10 }, (_, i) => Buffer.alloc(5000 + i, i));
      if (harness.atomicOverwrites === false) for (const b of racing) await store.put(`${base}/same`, b);
      else await Promise.all(racing.map((b) => store.put(`${base}/same`, b)));
      const listed = await collect(store.list(`${base}/`));
      assert.deepEqual(
        listed.map((o) => o.key),
        [...bodies.map((_, i) => `${base}/o${String(i).padStart(2, '0')}`), `${base}/same`],
      );
      const got = await Promise.all(bodies.map((_, i) => store.get(`${base}/o${String(i).padStart(2, '0')}`)));
      got.forEach((g, i) => assert.deepEqual(g, bodies[i]));
      const same = await store.get(`${base}/same`);
      assert.ok(racing.some((b) => b.equals(same)), 'one whole version');
      await harness.afterConcurrentPuts?.(store, `${base}/`);
    });
  });
}
