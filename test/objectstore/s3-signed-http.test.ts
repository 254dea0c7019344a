/**
 * S3ObjectStore's lean data path (s3-signed-http.ts) against a real s3rver behind a checking proxy
 * (test/helpers/s3-checking-proxy.ts: s3rver does not check SigV4 signatures, the proxy does, with its own
 * implementation of the specification, and checks the CRC-32C header against the body): GETs and PUTs
 * never go through the SDK's middleware, bytes come back exact (whole objects, ranges across socket
 * chunks, keys that need encoding), a missing key and a wrong secret give the errors they gave through
 * the SDK, a 503 is retried, the SDK's provider chain supplies the credentials, and a clock that is off is
 * corrected from the store's Date header and the request retried.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import { S3Client } from '@aws-sdk/client-s3';
import { ObjectNotFoundError, ObjectStoreError } from '../../src/objectstore/object-store.ts';
import { S3ObjectStore } from '../../src/objectstore/s3.ts';
import { S3SignedHttp } from '../../src/objectstore/s3-signed-http.ts';
import type { S3Server } from '../../tools/dev/local-servers.ts';
import { onCleanup } from '../helpers/cleanup.ts';
import { s3CheckingProxy } from '../helpers/s3-checking-proxy.ts';
import { freshBucket, sharedS3 } from '../helpers/s3.ts';

function storeAt(endpoint: string, bucket: string, credentials: { accessKeyId: string; secretAccessKey: string } | undefined, prefix = '', extra: { maxAttempts?: number } = {}): S3ObjectStore {
  const store = new S3ObjectStore({ bucket, prefix, endpoint, forcePathStyle: true, region: 'us-east-1', credentials, ...extra });
  onCleanup(() => store.close());
  return store;
}

/** Names of the SDK commands `store` sends from now on: GETs and PUTs must not be among them. */
function sdkCommands(store: S3ObjectStore): string[] {
  const names: string[] = [];
  store.client.middlewareStack.add((next, context) => (args) => {
    names.push(context.commandName ?? '?');
    return next(args);
  }, { step: 'initialize' });
  return names;
}

function crcBase64(body: Buffer): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32c(body) >>> 0);
  return b.toString('base64');
}

describe('S3 lean data path (s3rver)', () => {
  let server: S3Server;
  let bucket: string;
  let keys: { accessKeyId: string; secretAccessKey: string };
  before(async () => {
    server = await sharedS3();
    bucket = await freshBucket();
    keys = { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey };
  });

  test('whole and ranged GETs are byte-exact, across socket chunks, without the SDK', async () => {
    const proxy = await s3CheckingProxy(server);
    const store = storeAt(proxy.endpoint, bucket, keys, 'exact');
    const commands = sdkCommands(store);
    const body = randomBytes(3 * 1024 * 1024 + 17);
    await store.put('wal/big', body);
    assert.ok((await store.get('wal/big')).equals(body), 'whole object');
    const ranges = [[0, 1], [0, 2], [1, 65_537], [65_000, 300_000], [1_048_575, 2_097_153], [body.length - 1, body.length], [12_345, body.length], [0, body.length]];
    for (const [start, end] of ranges) {
      const got = await store.get('wal/big', { start: start!, end: end! });
      assert.equal(got.length, end! - start!, `length of [${start}, ${end})`);
      assert.ok(got.equals(body.subarray(start, end)), `bytes of [${start}, ${end})`);
    }
    assert.ok((await store.get('wal/big', { start: body.length - 5, end: body.length + 100 })).equals(body.subarray(body.length - 5)), 'cut at the end');
    await assert.rejects(() => store.get('wal/big', { start: body.length, end: body.length + 1 }), RangeError);
    assert.deepEqual(commands, [], 'no GET or PUT went through the SDK');
    assert.ok(proxy.seen.length >= 11 && proxy.seen.every((r) => r.status === 200 || r.status === 206 || r.status === 416), JSON.stringify(proxy.seen.map((r) => r.status)));
  });

  test('keys that need URL encoding are signed and stored as the SDK stores them', async () => {
    const proxy = await s3CheckingProxy(server);
    const store = storeAt(proxy.endpoint, bucket, keys, 'odd keys');
    const oddKeys = ['wal/a b', "wal/x+y=z&(1)!'*~", 'wal/é/ü%20', 'wal/dots..and--dashes_'];
    for (const [i, key] of oddKeys.entries()) await store.put(key, Buffer.from(`v${i}`));
    for (const [i, key] of oddKeys.entries()) assert.equal((await store.get(key)).toString(), `v${i}`, key);
    // Listed (through the SDK) under the same keys: both paths address the same objects.
    const listed: string[] = [];
    for await (const o of store.list('wal/')) listed.push(o.key);
    assert.deepEqual(listed.sort(), [...oddKeys].sort());
    assert.ok(proxy.seen.every((r) => r.status === 200), 'every signature checked out');
  });

  test('PUT then GET through the checking proxy: chunked body, CRC-32C header, UNSIGNED-PAYLOAD, Expect from 2 MiB', async () => {
    const proxy = await s3CheckingProxy(server);
    const store = storeAt(proxy.endpoint, bucket, keys);
    const small = [randomBytes(1000), randomBytes(70_000), randomBytes(1)];
    const large = [randomBytes(2 * 1024 * 1024), randomBytes(5)];
    await store.put('rt/small', small);
    await store.put('rt/large', large);
    assert.ok((await store.get('rt/small')).equals(Buffer.concat(small)));
    assert.ok((await store.get('rt/large', { start: 10, end: 2 * 1024 * 1024 + 3 })).equals(Buffer.concat(large).subarray(10, 2 * 1024 * 1024 + 3)));
    const puts = proxy.seen.filter((s) => s.method === 'PUT');
    assert.deepEqual(puts.map((p) => [p.url, p.status]), [[`/${bucket}/rt/small`, 200], [`/${bucket}/rt/large`, 200]]);
    for (const [put, chunks] of [[puts[0]!, small], [puts[1]!, large]] as const) {
      const whole = Buffer.concat(chunks);
      assert.equal(put.bodyLength, whole.length);
      assert.equal(put.headers['content-length'], String(whole.length));
      assert.equal(put.headers['x-amz-checksum-crc32c'], crcBase64(whole));
      assert.equal(put.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
      assert.match(String(put.headers.authorization), /SignedHeaders=.*x-amz-checksum-crc32c/);
    }
    assert.equal(puts[0]!.headers.expect, undefined);
    assert.equal(puts[1]!.headers.expect, '100-continue');
    const gets = proxy.seen.filter((s) => s.method === 'GET');
    assert.equal(gets[1]!.headers.range, `bytes=10-${2 * 1024 * 1024 + 2}`);
  });

  test('a missing key is ObjectNotFoundError; a missing bucket a non-retriable NoSuchBucket', async () => {
    const proxy = await s3CheckingProxy(server);
    const store = storeAt(proxy.endpoint, bucket, keys, 'missing');
    await assert.rejects(() => store.get('nope'), (err: unknown) => err instanceof ObjectNotFoundError && err.key === 'nope');
    await assert.rejects(() => store.get('nope', { start: 0, end: 10 }), ObjectNotFoundError);
    const noBucket = storeAt(proxy.endpoint, 'no-such-bucket-here', keys);
    await assert.rejects(() => noBucket.get('k'), (err: unknown) =>
      err instanceof ObjectStoreError && !err.retriable && err.status === 404 && err.code === 'NoSuchBucket');
    await assert.rejects(() => noBucket.put('k', Buffer.from('x')), (err: unknown) =>
      err instanceof ObjectStoreError && !err.retriable && err.code === 'NoSuchBucket');
  });

  test('a wrong secret key: a non-retriable SignatureDoesNotMatch at once, for GET and a large PUT', async () => {
    const proxy = await s3CheckingProxy(server);
    const store = storeAt(proxy.endpoint, bucket, { accessKeyId: server.accessKeyId, secretAccessKey: 'wrong-secret' }, '', { maxAttempts: 3 });
    const t0 = Date.now();
    const denied = (err: unknown) => err instanceof ObjectStoreError && !err.retriable && err.status === 403
      && err.code === 'SignatureDoesNotMatch' && /SignatureDoesNotMatch \(HTTP 403\): .*signature/i.test(err.message);
    await assert.rejects(() => store.get('anything'), denied);
    await assert.rejects(() => store.put('denied', randomBytes(3 * 1024 * 1024)), denied);
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
    assert.equal(proxy.seen.length, 2, 'not retried');
  });

  test('503 SlowDown from the store is retried with backoff, then the GET and the PUT succeed', async () => {
    const proxy = await s3CheckingProxy(server);
    const store = storeAt(proxy.endpoint, bucket, keys, '', { maxAttempts: 3 });
    const body = randomBytes(300_000);
    proxy.fail503 = 2;
    await store.put('retry/o', [body.subarray(0, 1000), body.subarray(1000)]);
    assert.deepEqual(proxy.seen.map((s) => [s.method, s.status, s.bodyLength]), [['PUT', 503, body.length], ['PUT', 503, body.length], ['PUT', 200, body.length]]);
    proxy.seen.length = 0;
    proxy.fail503 = 2;
    assert.ok((await store.get('retry/o', { start: 5, end: 250_005 })).equals(body.subarray(5, 250_005)));
    assert.deepEqual(proxy.seen.map((s) => [s.method, s.status]), [['GET', 503], ['GET', 503], ['GET', 206]]);
    // Still 503 after maxAttempts: a retriable ObjectStoreError with S3's code.
    proxy.seen.length = 0;
    proxy.fail503 = 3;
    await assert.rejects(() => store.get('retry/o'), (err: unknown) => err instanceof ObjectStoreError && err.retriable && err.status === 503 && err.code === 'SlowDown');
    assert.equal(proxy.seen.length, 3);
  });

  test('credentials from the SDK provider chain (environment variables) sign the lean requests', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = server.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = server.secretAccessKey;
    try {
      const proxy = await s3CheckingProxy(server);
      const store = storeAt(proxy.endpoint, bucket, undefined);
      await store.put('env/o', Buffer.from('from env'));
      assert.equal((await store.get('env/o')).toString(), 'from env');
      process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
      const wrong = storeAt(proxy.endpoint, bucket, undefined);
      await assert.rejects(() => wrong.get('env/o'), (err: unknown) => err instanceof ObjectStoreError && err.code === 'SignatureDoesNotMatch');
    } finally {
      for (const [name, value] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  test('a clock 20 minutes slow: the first answer (RequestTimeTooSkewed) corrects the signing clock and the request is retried', async () => {
    const proxy = await s3CheckingProxy(server);
    proxy.clockOffsetMs = 20 * 60_000;
    const store = storeAt(proxy.endpoint, bucket, keys);
    await store.put('skew/o', Buffer.from('on time'));
    assert.equal((await store.get('skew/o')).toString(), 'on time');
    assert.deepEqual(proxy.seen.map((s) => [s.method, s.status]), [['PUT', 403], ['PUT', 200], ['GET', 200]]);
  });
});

describe('S3 lean data path addressing: the SDK endpoint rules', () => {
  const target = (config: ConstructorParameters<typeof S3Client>[0], bucket: string) => {
    const client = new S3Client({ credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, ...config });
    onCleanup(() => client.destroy());
    return new S3SignedHttp(client, bucket, { agent: undefined as never, timeoutMs: 1000, connectionTimeoutMs: 1000 }).target();
  };

  test('virtual-hosted by default, path style when asked or when the bucket is no DNS name; S3 Express left to the SDK', async () => {
    assert.deepEqual(await target({ region: 'eu-west-1' }, 'floe-data'), {
      https: true, hostname: 'floe-data.s3.eu-west-1.amazonaws.com', port: undefined, host: 'floe-data.s3.eu-west-1.amazonaws.com',
      basePath: '', headers: {}, signingRegion: 'eu-west-1', signingService: 's3',
    });
    const minio = await target({ region: 'us-east-1', endpoint: 'https://minio.example:9000' }, 'floe-data');
    assert.equal(minio?.host, 'floe-data.minio.example:9000');
    assert.equal(minio?.basePath, '');
    const pathStyle = await target({ region: 'us-east-1', endpoint: 'https://minio.example:9000', forcePathStyle: true }, 'floe-data');
    assert.equal(pathStyle?.host, 'minio.example:9000');
    assert.equal(pathStyle?.basePath, '/floe-data');
    const dotted = await target({ region: 'us-east-1' }, 'my.bucket');
    assert.equal(dotted?.hostname, 's3.us-east-1.amazonaws.com');
    assert.equal(dotted?.basePath, '/my.bucket');
    assert.equal(await target({ region: 'us-west-2' }, 'floe--usw2-az1--x-s3'), null, 'S3 Express needs its session signer');
  });
});
