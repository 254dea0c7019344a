/**
 * The object-store conformance suite on S3ObjectStore against a real S3-speaking server (s3rver, started
 * by this file on loopback), plus what is specific to S3: key prefixes, paginated listing, DeleteObjects
 * in chunks of 1,000, and s3rver's range bug (`bytes=0-0` answers the whole object) hidden by the store.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { S3Server } from '../../tools/dev/local-servers.ts';
import type { ObjectInfo } from '../../src/objectstore/object-store.ts';
import { freshBucket, s3Store, sharedS3 } from '../helpers/s3.ts';
import { objectStoreConformance } from './object-store.conformance.ts';

objectStoreConformance('S3ObjectStore (s3rver)', {
  open: async () => s3Store(await sharedS3(), await freshBucket(), 'conformance/'),
  // s3rver writes an object's file in place, so racing PUTs of one key can interleave (S3 itself is atomic per PUT).
  atomicOverwrites: false,
});

async function collect(it: AsyncIterable<ObjectInfo>): Promise<string[]> {
  const out: string[] = [];
  for await (const o of it) out.push(o.key);
  return out;
}

describe('S3ObjectStore specifics', () => {
  let server: S3Server;
  let bucket: string;
  before(async () => {
    server = await sharedS3();
    bucket = await freshBucket();
  });

  test('prefixes isolate stores sharing a bucket; the prefix is not part of the keys', async () => {
    const a = s3Store(server, bucket, 'tenant-a');
    const b = s3Store(server, bucket, 'tenant-b/');
    await a.put('wal/1', Buffer.from('a1'));
    await b.put('wal/1', Buffer.from('b1'));
    assert.equal((await a.get('wal/1')).toString(), 'a1');
    assert.equal((await b.get('wal/1')).toString(), 'b1');
    assert.deepEqual(await collect(a.list('')), ['wal/1']);
    await a.deleteMany(['wal/1']);
    assert.deepEqual(await collect(a.list('')), []);
    assert.deepEqual(await collect(b.list('wal/')), ['wal/1']);
    const root = s3Store(server, bucket);
    assert.deepEqual(await collect(root.list('tenant-b/')), ['tenant-b/wal/1']);
  });

  test('ranges: one byte at the start (s3rver answers bytes=0-0 with the whole object), inside, at the end', async () => {
    const store = s3Store(server, bucket, 'ranges');
    const body = Buffer.from('abcdefghij');
    await store.put('o', body);
    assert.equal((await store.get('o', { start: 0, end: 1 })).toString(), 'a');
    assert.equal((await store.get('o', { start: 0, end: 2 })).toString(), 'ab');
    assert.equal((await store.get('o', { start: 9, end: 10 })).toString(), 'j');
    assert.equal((await store.get('o', { start: 4, end: 100 })).toString(), 'efghij', 'cut at the end, like FsObjectStore');
    await assert.rejects(() => store.get('o', { start: 10, end: 12 }), RangeError);
  });

  test('list follows continuation tokens; deleteMany sends DeleteObjects in chunks of 1,000 keys', async () => {
    const store = s3Store(server, bucket, 'many', { listPageSize: 7 });
    const keys = Array.from({ length: 40 }, (_, i) => `k/${String(i).padStart(4, '0')}`);
    await Promise.all(keys.map((k) => store.put(k, Buffer.from('x'))));
    const commands: string[] = [];
    store.client.middlewareStack.add((next, context) => (args) => {
      commands.push(context.commandName ?? '?');
      return next(args);
    }, { step: 'initialize' });
    assert.deepEqual(await collect(store.list('k/')), keys);
    assert.deepEqual(commands, Array(6).fill('ListObjectsV2Command'), '40 keys, 7 per page');
    // 2,500 keys (40 of them real): 3 DeleteObjects requests.
    commands.length = 0;
    await store.deleteMany([...keys, ...Array.from({ length: 2_460 }, (_, i) => `absent/${i}`)]);
    assert.deepEqual(commands, ['DeleteObjectsCommand', 'DeleteObjectsCommand', 'DeleteObjectsCommand']);
    assert.deepEqual(await collect(store.list('k/')), []);
  });
});
