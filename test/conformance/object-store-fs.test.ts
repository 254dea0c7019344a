/** The object-store conformance suite on FsObjectStore, plus checks specific to a folder. */
import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FsObjectStore, InvalidObjectKeyError } from '../../src/objectstore/fs.ts';
import { ObjectNotFoundError, type ObjectStore } from '../../src/objectstore/object-store.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { objectStoreConformance } from './object-store.conformance.ts';

const dir = await tempDir('floe-objects-');

async function allFiles(d: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(d, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath ?? e.path, e.name));
  }
  return out;
}

objectStoreConformance('FsObjectStore', {
  open: async () => new FsObjectStore(join(dir, 'conformance')),
  afterConcurrentPuts: async () => {
    const temps = (await allFiles(join(dir, 'conformance'))).filter((f) => f.includes('.floe-tmp-'));
    assert.deepEqual(temps, [], 'no temp files left behind');
  },
});

describe('FsObjectStore specifics', () => {
  const root = join(dir, 'specific');
  const store: ObjectStore = new FsObjectStore(root);

  test('keys that escape the root or are malformed are rejected', async () => {
    for (const key of ['', '..', '../x', 'a/../../x', 'a/./b', '/abs', 'a//b', 'a/', 'a\\b', 'a\0b', '.floe-tmp-x', 'a/.floe-tmp-1']) {
      await assert.rejects(() => store.put(key, Buffer.from('x')), InvalidObjectKeyError, `put ${JSON.stringify(key)}`);
      await assert.rejects(() => store.get(key), InvalidObjectKeyError, `get ${JSON.stringify(key)}`);
      await assert.rejects(() => store.deleteMany([key]), InvalidObjectKeyError, `delete ${JSON.stringify(key)}`);
    }
    // Dots inside a segment are fine.
    await store.put('a..b/.c/..d', Buffer.from('ok'));
    assert.equal((await store.get('a..b/.c/..d')).toString(), 'ok');
  });

  test('keys map to nested files under the root', async () => {
    await store.put('wal/2026/obj-1', Buffer.from('hello'));
    const files = await allFiles(root);
    assert.ok(files.includes(join(root, 'wal', '2026', 'obj-1')));
  });

  test('temp files are never listed (an interrupted write leaves one behind)', async () => {
    await store.put('tmpcheck/real', Buffer.from('r'));
    await writeFile(join(root, 'tmpcheck', '.floe-tmp-crashed'), 'partial');
    const keys: string[] = [];
    for await (const o of store.list('tmpcheck/')) keys.push(o.key);
    assert.deepEqual(keys, ['tmpcheck/real']);
  });

  test('a range past the end is cut at the end; one starting past it rejects', async () => {
    await store.put('ranges/o', Buffer.from('0123456789'));
    assert.equal((await store.get('ranges/o', { start: 7, end: 100 })).toString(), '789');
    await assert.rejects(() => store.get('ranges/o', { start: 10, end: 12 }), RangeError);
    await assert.rejects(() => store.get('ranges/o', { start: 5, end: 4 }), RangeError);
    await assert.rejects(() => store.get('ranges/o', { start: -1, end: 4 }), RangeError);
  });

  test('a folder is not an object', async () => {
    await store.put('folder/inner', Buffer.from('x'));
    await assert.rejects(() => store.get('folder'), ObjectNotFoundError);
    await store.deleteMany(['folder']); // not an error, and nothing deleted
    assert.equal((await store.get('folder/inner')).toString(), 'x');
  });

  test('a second store over the same folder sees the objects', async () => {
    await store.put('shared/o', Buffer.from('persisted'));
    const other = new FsObjectStore(root);
    assert.equal((await other.get('shared/o')).toString(), 'persisted');
    await other.close();
  });

  test('a folder removed behind the store is made again by the next put, and the object is durable there', async () => {
    const own = new FsObjectStore(join(dir, 'removed'));
    await own.put('wal/a', Buffer.from('first'));
    await rm(join(dir, 'removed', 'wal'), { recursive: true });
    await own.put('wal/b', Buffer.from('second'));
    assert.equal((await own.get('wal/b')).toString(), 'second');
    await assert.rejects(() => own.get('wal/a'), ObjectNotFoundError);
    await rm(join(dir, 'removed'), { recursive: true });
    await own.put('wal/c', Buffer.from('third'));
    assert.equal((await own.get('wal/c')).toString(), 'third');
    await own.close();
  });

});
