/**
 * S3ObjectStore against a fake S3 endpoint that misbehaves on purpose: 503 SlowDown is retried (standard
 * retry mode) and, when it persists, ends in a retriable ObjectStoreError, never an exception outside the
 * promise; a server that never answers ends in ObjectStoreTimeoutError at the request timeout; a refused
 * connection is a retriable error too.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, test } from 'node:test';
import { ObjectStoreError, ObjectStoreTimeoutError } from '../../src/objectstore/object-store.ts';
import { S3ObjectStore } from '../../src/objectstore/s3.ts';
import { freePort } from '../../tools/dev/local-servers.ts';

const SLOW_DOWN = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>r1</RequestId></Error>';

let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};
const requests: string[] = [];
const bodies: { headers: IncomingMessage['headers']; body: Buffer }[] = [];
const server: Server = createServer((req, res) => {
  requests.push(`${req.method} ${req.url}`);
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    bodies.push({ headers: req.headers, body: Buffer.concat(chunks) });
    handler(req, res);
  });
});
// `Expect: 100-continue` requests: answered here by `refuseBeforeBody` when set, else let through as Node does.
let refuseBeforeBody: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
  if (refuseBeforeBody === null) {
    res.writeContinue();
    server.emit('request', req, res);
    return;
  }
  requests.push(`${req.method} ${req.url} (refused before its body)`);
  refuseBeforeBody(req, res);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
after(() => {
  server.closeAllConnections();
  server.close();
});

function store(extra: { requestTimeoutMs?: number; maxAttempts?: number; endpoint?: string } = {}) {
  const s = new S3ObjectStore({
    bucket: 'fake-bucket', endpoint: extra.endpoint ?? endpoint, forcePathStyle: true, region: 'us-east-1',
    credentials: { accessKeyId: 'k', secretAccessKey: 's' }, maxAttempts: extra.maxAttempts ?? 3, requestTimeoutMs: extra.requestTimeoutMs,
  });
  after(() => s.close());
  return s;
}

const slowDown = (res: ServerResponse) => res.writeHead(503, { 'content-type': 'application/xml' }).end(SLOW_DOWN);

test('503 SlowDown is retried, and the PUT succeeds once the server accepts it; every attempt sends the whole chunked body', async () => {
  requests.length = 0;
  bodies.length = 0;
  let n = 0;
  handler = (_req, res) => (++n <= 2 ? slowDown(res) : res.writeHead(200, { etag: '"abc"' }).end());
  await store().put('wal/1', [Buffer.from('hel'), Buffer.from('lo, '), Buffer.from('world')]);
  assert.equal(requests.length, 3);
  assert.ok(requests.every((r) => r.startsWith('PUT /fake-bucket/wal/1')), requests.join(', '));
  for (const { headers, body } of bodies) {
    assert.equal(body.toString(), 'hello, world');
    assert.equal(headers['content-length'], '12');
    assert.equal(headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD', 'streamed, not hashed');
    assert.equal(headers['x-amz-checksum-crc32c'], 'aZmkHw==', 'CRC-32C of the whole body, big-endian, base64');
  }
});

test('503 SlowDown that persists: a retriable ObjectStoreError after maxAttempts, nothing thrown elsewhere', async () => {
  requests.length = 0;
  handler = (_req, res) => slowDown(res);
  const s = store({ maxAttempts: 2 });
  await assert.rejects(() => s.put('wal/2', Buffer.from('x')), (err: unknown) =>
    err instanceof ObjectStoreError && err.retriable && err.status === 503 && err.code === 'SlowDown');
  assert.equal(requests.length, 2);
  await assert.rejects(() => s.get('wal/2', { start: 0, end: 1 }), (err: unknown) => err instanceof ObjectStoreError && err.retriable);
  const list = async () => {
    for await (const _ of s.list('wal/')) { /* nothing */ }
  };
  await assert.rejects(list, (err: unknown) => err instanceof ObjectStoreError && err.retriable);
});

test('a server that never answers: ObjectStoreTimeoutError at the request timeout', async () => {
  handler = () => {}; // accept, read, never answer
  const s = store({ requestTimeoutMs: 300, maxAttempts: 2 });
  const t0 = Date.now();
  await assert.rejects(() => s.get('wal/3'), ObjectStoreTimeoutError);
  const took = Date.now() - t0;
  assert.ok(took >= 290 && took < 3_000, `took ${took} ms`);
});

test('a refused connection is a retriable ObjectStoreError', async () => {
  const s = store({ endpoint: `http://127.0.0.1:${await freePort()}`, maxAttempts: 2 });
  await assert.rejects(() => s.put('x', Buffer.from('x')), (err: unknown) => err instanceof ObjectStoreError && err.retriable);
});

test('404 is ObjectNotFoundError; 403 is not retriable', async () => {
  handler = (_req, res) => res.writeHead(404, { 'content-type': 'application/xml' })
    .end('<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>nope</Message></Error>');
  await assert.rejects(() => store().get('missing'), { name: 'ObjectNotFoundError' });
  handler = (_req, res) => res.writeHead(403, { 'content-type': 'application/xml' })
    .end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>no</Message></Error>');
  await assert.rejects(() => store().put('denied', Buffer.from('x')), (err: unknown) => err instanceof ObjectStoreError && !err.retriable && err.status === 403);
});

test('a large PUT refused before its body (Expect: 100-continue answered 403): the error at once, the body never sent, the store still usable', async () => {
  requests.length = 0;
  bodies.length = 0;
  refuseBeforeBody = (_req, res) => res.writeHead(403, { 'content-type': 'application/xml' })
    .end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
  const s = store();
  const t0 = Date.now();
  try {
    await assert.rejects(() => s.put('big', Buffer.alloc(3 * 1024 * 1024)), (err: unknown) =>
      err instanceof ObjectStoreError && !err.retriable && err.status === 403 && err.code === 'AccessDenied');
  } finally {
    refuseBeforeBody = null;
  }
  assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms (the wait for 100 Continue is 6 s)`);
  assert.deepEqual(requests, ['PUT /fake-bucket/big (refused before its body)']);
  assert.equal(bodies.length, 0);
  handler = (_req, res) => res.writeHead(200, { etag: '"e"' }).end();
  await s.put('big', Buffer.alloc(3 * 1024 * 1024, 1));
  assert.equal(bodies.length, 1);
  assert.equal(bodies[0]!.body.length, 3 * 1024 * 1024);
  assert.equal(bodies[0]!.headers.expect, '100-continue');
});
