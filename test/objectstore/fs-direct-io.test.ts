/**
 * The folder store's O_DIRECT writes (fs.ts): objects of every size around the alignment and the staging slot
 * come back byte for byte and with their exact size, whole or by ranges, from one chunk or many, directly or buffered; a
 * file system that refuses O_DIRECT (at open or at the first write) gets buffered writes and loses nothing.
 */
import assert from 'node:assert/strict';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FsObjectStore } from '../../src/objectstore/fs.ts';
import { tempDir } from '../helpers/cleanup.ts';

const SLOT = 4 * 1024 * 1024;
const SIZES = [0, 1, 511, 512, 4095, 4096, 4097, 65536 + 7, SLOT - 1, SLOT, SLOT + 1, 2 * SLOT + 4096, 9 * 1024 * 1024 + 123];

function body(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** `data` cut into chunks of varying sizes (views, as the writer hands batches over). */
function chunked(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const steps = [1, 4095, 700_001, 3, 65536, 4096];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(data.length - at, steps[i % steps.length]!);
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Ranges of an object of `size` bytes: around the alignment, across staging slots, running past the end. */
function ranges(size: number): [number, number][] {
  const out: [number, number][] = [];
  for (const start of [0, 1, 4095, 4096, 4097, SLOT - 1, SLOT, SLOT + 5]) {
    if (start >= size) continue;
    for (const length of [1, 4095, 4096, 4097, SLOT - 1, SLOT + 1, size]) out.push([start, start + length]);
  }
  return out;
}

for (const directIo of [true, false]) {
  test(`objects of every size round trip exactly (${directIo ? 'O_DIRECT' : 'buffered'})`, async () => {
    const root = await tempDir('floe-fs-direct-');
    const store = new FsObjectStore(root, { directIo });
    for (const [i, size] of SIZES.entries()) {
      const data = body(size, i + 1);
      await store.put(`one/${size}`, data);
      await store.put(`many/${size}`, chunked(data));
      for (const key of [`one/${size}`, `many/${size}`]) {
        const got = await store.get(key);
        assert.equal(got.length, size, `${key}: length`);
        assert.ok(got.equals(data), `${key}: bytes`);
        assert.equal((await stat(join(root, key))).size, size, `${key}: file size`);
        for (const [start, end] of ranges(size)) {
          assert.ok((await store.get(key, { start, end })).equals(data.subarray(start, Math.min(end, size))), `${key}: range [${start}, ${end})`);
        }
      }
    }
    if (!directIo) assert.equal(store.directIo, false);
  });
}

test('concurrent puts share the staging slots and each object keeps its own bytes', async () => {
  const store = new FsObjectStore(await tempDir('floe-fs-direct-'));
  const datas = Array.from({ length: 10 }, (_, i) => body(SLOT + 1000 * i + 1, 100 + i));
  await Promise.all(datas.map((d, i) => store.put(`c/${i}`, chunked(d))));
  for (const [i, d] of datas.entries()) assert.ok((await store.get(`c/${i}`)).equals(d), `object ${i}`);
});

for (const refusal of ['open', 'write'] as const) {
  test(`a file system that refuses O_DIRECT (at ${refusal}) gets buffered writes from then on`, async () => {
    let opened = 0;
    const root = await tempDir('floe-fs-direct-');
    const store = new FsObjectStore(root, {
      openDirect: async (path) => {
        opened++;
        if (refusal === 'open') throw Object.assign(new Error('EINVAL: invalid argument, open'), { code: 'EINVAL' });
        // Opened without O_DIRECT, so the write succeeds: refuse it the way a device would.
        const fh = await open(path, 'wx');
        const write = fh.write.bind(fh);
        (fh as { write: unknown }).write = async (...args: unknown[]) => {
          await (write as (...a: unknown[]) => Promise<unknown>)(...args);
          throw Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' });
        };
        return fh;
      },
    });
    const data = body(SLOT + 4097, 7);
    await store.put('x', chunked(data));
    await store.put('y', data.subarray(0, 1000));
    assert.equal(opened, 1, 'O_DIRECT was tried once');
    assert.equal(store.directIo, false);
    assert.ok((await store.get('x')).equals(data));
    assert.ok((await store.get('y')).equals(data.subarray(0, 1000)));
    assert.equal((await stat(join(root, 'x'))).size, data.length);
    assert.deepEqual((await readdir(root)).sort(), ['x', 'y'], 'no temp file left behind');
  });
}
