/**
 * Object store over the S3 API: AWS S3 or any S3-speaking server (MinIO, R2, GCS interop, s3rver in
 * tests). Keys live under an optional prefix inside one bucket.
 *
 * GETs and PUTs, the data path, go through `s3-signed-http.ts`: plain `node:http(s)` requests signed with
 * SigV4, with the SDK client's endpoint rules, credentials, retry strategy and agent (half the CPU of the
 * SDK's middleware per request). Listing, deleting and anything a bucket's endpoint rules want another
 * signer for (S3 Express, multi-region access points) go through `@aws-sdk/client-s3`.
 *
 * - PUT: one request per object (WAL objects are a few MiB; single PUT goes to 5 GiB). The body is sent
 *   from its chunks (the batches' own buffers, never joined into one copy) as UNSIGNED-PAYLOAD instead of
 *   hashing every byte with SHA-256; its integrity is checked by the server against an
 *   `x-amz-checksum-crc32c` header (hardware CRC). Every attempt sends the chunks again. Over plain HTTP
 *   the unsigned body is protected against corruption, not against tampering: use HTTPS (the AWS default).
 * - GET by range: `Range: bytes=a-b` with an inclusive end (ByteRange's end is exclusive). A server that
 *   ignores the range and answers the whole object (status 200, no Content-Range; s3rver does this for
 *   `bytes=0-0`) is cut to the range here, so callers never see the difference. Suffix ranges are never sent.
 *   A range starting at or past the end is a RangeError, as with FsObjectStore; an empty range costs no request.
 * - DeleteObjects in chunks of 1,000 keys (the API's limit), quiet mode; per-key errors other than
 *   NoSuchKey fail the call.
 * - ListObjectsV2, following continuation tokens; S3 returns keys in UTF-8 binary order (each page is
 *   sorted again here: s3rver orders by its file names, which puts `a-b` before `a`).
 * - Retries: the SDK's "standard" mode (`maxAttempts` attempts, exponential backoff with jitter), on both
 *   paths. It retries 5xx, throttling (503 SlowDown, 429, RequestLimitExceeded, …), timeouts and network
 *   errors. What is still failing after that rejects with ObjectStoreError (retriable unless it is a 4xx
 *   other than throttling/timeouts), which the write path answers as KAFKA_STORAGE_ERROR; nothing throws
 *   outside a returned promise.
 * - Timeouts: `requestTimeoutMs` bounds each call, retries included (AbortSignal), and each attempt's
 *   socket inactivity; `connectionTimeoutMs` bounds TCP/TLS connection setup.
 * - Checksums: computed and validated only where the API requires them (DeleteObjects), so servers that do
 *   not implement the newer flexible-checksum headers still work.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32c } from '@node-rs/crc32';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { childLogger } from '../observability/log.ts';
import { S3ResponseError, S3SignedHttp } from './s3-signed-http.ts';
import {
  ObjectNotFoundError,
  ObjectStoreError,
  ObjectStoreTimeoutError,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
} from './object-store.ts';

export interface S3ObjectStoreOptions {
  bucket: string;
  /** Prepended to every key ("floe" → "floe/wal/…"); a missing trailing "/" is added. Empty: none. */
  prefix?: string;
  /** Default: the SDK's (AWS_REGION, ~/.aws/config), else us-east-1. */
  region?: string;
  /** e.g. http://127.0.0.1:4568 for a local server; default: AWS. */
  endpoint?: string;
  /** Path-style URLs (endpoint/bucket/key) instead of virtual-hosted (bucket.endpoint/key). */
  forcePathStyle?: boolean;
  /** Static credentials; default: the SDK's provider chain (env vars, profiles, IMDS, …). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts per request in the standard retry mode (default 3). */
  maxAttempts?: number;
  /** Deadline of one call, retries included, and socket inactivity limit of one attempt (default 30000). */
  requestTimeoutMs?: number;
  /** TCP/TLS connection setup limit (default 5000). */
  connectionTimeoutMs?: number;
  /** Sockets kept per host (default 50). */
  maxConnections?: number;
  /** Keys per ListObjectsV2 page (default: the server's, 1,000 on S3); small values test pagination. */
  listPageSize?: number;
}

const DELETE_CHUNK = 1000;

export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  /** GETs and PUTs: the lean signed path (the SDK's only where its endpoint rules need another signer). */
  private readonly http: S3SignedHttp;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly listPageSize: number | undefined;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    const p = options.prefix ?? '';
    this.prefix = p === '' || p.endsWith('/') ? p : `${p}/`;
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.listPageSize = options.listPageSize;
    const maxSockets = options.maxConnections ?? 50;
    const https = options.endpoint === undefined || options.endpoint.startsWith('https:');
    const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets }) : new HttpAgent({ keepAlive: true, maxSockets });
    const config: S3ClientConfig = {
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: options.credentials,
      maxAttempts: this.maxAttempts,
      retryMode: 'standard',
      logger: SDK_LOGGER,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        requestTimeout: this.timeoutMs,
        connectionTimeout: options.connectionTimeoutMs ?? 5_000,
        ...(https ? { httpsAgent: agent } : { httpAgent: agent }),
      },
    };
    if (config.region === undefined && process.env.AWS_REGION === undefined && process.env.AWS_DEFAULT_REGION === undefined) {
      config.region = 'us-east-1';
    }
    // The SDK warns once per process that its *future* versions need Node 22; the pinned version supports 20.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client(config);
    this.http = new S3SignedHttp(this.client, this.bucket, { agent, timeoutMs: this.timeoutMs, connectionTimeoutMs: options.connectionTimeoutMs ?? 5_000 });
  }

  private fullKey(key: string): string {
    if (typeof key !== 'string' || key.length === 0) throw new ObjectStoreError(`invalid object key ${JSON.stringify(key)}`, false);
    return this.prefix + key;
  }

  async put(key: string, body: Buffer | readonly Buffer[], knownCrc32c?: number): Promise<void> {
    const Key = this.fullKey(key);
    const chunks = Buffer.isBuffer(body) ? [body] : body;
    let ContentLength = 0;
    let crc = knownCrc32c ?? 0;
    for (const chunk of chunks) {
      ContentLength += chunk.length;
      if (knownCrc32c === undefined) crc = crc32c(chunk, crc);
    }
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(crc >>> 0);
    const ChecksumCRC32C = checksum.toString('base64');
    await this.send('put', key, async (abortSignal) => {
      const target = await this.http.target();
      if (target !== null) return this.http.put(target, Key, chunks, ContentLength, ChecksumCRC32C, abortSignal);
      for (let attempt = 1; ; attempt++) {
        const command = new PutObjectCommand({ Bucket: this.bucket, Key, Body: Readable.from(chunks, { objectMode: false }), ContentLength, ChecksumCRC32C });
        try {
          await this.client.send(command, { abortSignal });
          return;
        } catch (err) {
          const error = toObjectStoreError(err, 'put', key);
          if (attempt >= this.maxAttempts || abortSignal.aborted || !(error instanceof ObjectStoreError && error.retriable)) throw err;
          await sleep(retryDelayMs(attempt), undefined, { signal: abortSignal }).catch(() => {});
        }
      }
    });
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const Key = this.fullKey(key);
    let header: string | undefined;
    if (range !== undefined) {
      const { start, end } = range;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
        throw new RangeError(`invalid byte range [${start}, ${end}) for ${key}`);
      }
      if (start === end) return Buffer.alloc(0);
      header = `bytes=${start}-${end - 1}`;
    }
    return this.send('get', key, async (abortSignal) => {
      const target = await this.http.target();
      let bytes: Buffer;
      let contentRange: string | undefined;
      if (target !== null) {
        ({ body: bytes, contentRange } = await this.http.get(target, Key, header, abortSignal));
      } else {
        const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range: header }), { abortSignal });
        bytes = await bodyBytes(res.Body!);
        contentRange = res.ContentRange;
      }
      if (range === undefined || bytes.length <= range.end - range.start) return bytes;
      // More than asked for: the server ignored (part of) the range. Cut the answer to the range, using
      // where the body starts (Content-Range, else byte 0: the whole object).
      const first = Number(/^bytes (\d+)-/.exec(contentRange ?? '')?.[1] ?? 0);
      if (first > range.start || range.start - first >= bytes.length) {
        throw new ObjectStoreError(`object store get ${key}: the server answered bytes from ${first} for range ${header}`, true);
      }
      return bytes.subarray(range.start - first, Math.min(range.end - first, bytes.length));
    });
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    const full = keys.map((k) => this.fullKey(k));
    for (let i = 0; i < full.length; i += DELETE_CHUNK) {
      const chunk = full.slice(i, i + DELETE_CHUNK);
      const res = await this.send('delete', `${chunk.length} keys`, (abortSignal) =>
        this.client.send(new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
        }), { abortSignal }));
      const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        const e = failed[0]!;
        throw new ObjectStoreError(`delete of ${failed.length} object(s) failed, first ${e.Key}: ${e.Code} ${e.Message ?? ''}`.trim(), true, undefined, e.Code);
      }
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const res = await this.send('list', prefix, (abortSignal) =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token, MaxKeys: this.listPageSize }), { abortSignal }));
      const page: ObjectInfo[] = [];
      for (const o of res.Contents ?? []) {
        if (o.Key === undefined) continue;
        page.push({ key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
      }
      // S3 pages are in key order already; some servers (s3rver) order by their own file names instead.
      page.sort((x, y) => Buffer.compare(Buffer.from(x.key), Buffer.from(y.key)));
      yield* page;
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** Runs one SDK call under the deadline and turns its failures into the seam's errors. */
  private async send<T>(op: string, key: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    try {
      return await call(controller.signal);
    } catch (err) {
      if (err instanceof RangeError || err instanceof ObjectStoreError) throw err;
      if (timedOut) throw new ObjectStoreTimeoutError(op, key, this.timeoutMs);
      throw toObjectStoreError(err, op, key);
    } finally {
      clearTimeout(timer);
    }
  }
}

const RETRIABLE_4XX = new Set([408, 429]);

const log = childLogger('s3');
/**
 * The SDK's own messages, into the broker's log: its warnings (but the one on every failed streamed PUT:
 * the SDK does not retry a stream, put() does). Its per-request info and error lines are dropped: every
 * failure reaches the caller as an ObjectStoreError, which the write and read paths log.
 */
const SDK_LOGGER = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (...args: unknown[]) => {
    const message = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
    if (!message.includes('non-retryable streaming request')) log.warn(message);
  },
  error: () => {},
};

/** The SDK's standard retry delay: full jitter over 100 ms × 2^(attempt-1), at most 20 s. */
function retryDelayMs(attempt: number): number {
  return Math.random() * Math.min(20_000, 100 * 2 ** (attempt - 1));
}

/** SDK and network errors → ObjectNotFoundError, RangeError or ObjectStoreError. */
export function toObjectStoreError(err: unknown, op: string, key: string): Error {
  const e = err as Partial<S3ServiceException> & { code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  const name = e?.name ?? 'Error';
  if (name === 'NoSuchKey' || (op === 'get' && status === 404 && name !== 'NoSuchBucket')) return new ObjectNotFoundError(key);
  if (name === 'InvalidRange' || status === 416) return new RangeError(`byte range not satisfiable for ${key}: ${e.message ?? name}`);
  const retriable = status === undefined || status >= 500 || RETRIABLE_4XX.has(status) || e.$retryable !== undefined
    || /SlowDown|Throttl|RequestLimitExceeded|RequestTimeout/i.test(name);
  const what = err instanceof S3ServiceException || err instanceof S3ResponseError ? `${name}${status ? ` (HTTP ${status})` : ''}` : (e?.code ?? name);
  return new ObjectStoreError(`object store ${op} ${key} failed: ${what}: ${e?.message ?? String(err)}`, retriable, status, name, { cause: err });
}

/**
 * A GET's body as one Buffer, joined once from the socket's chunks. The SDK's transformToByteArray joins
 * them in a byte loop and Buffer.from() of its answer copies again: two thirds of the CPU of a lagging
 * read of large ranges went there (profile of `npm run bench`'s cold-read phase).
 */
async function bodyBytes(body: { transformToByteArray(): Promise<Uint8Array> }): Promise<Buffer> {
  if (typeof (body as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] !== 'function') {
    const array = await body.transformToByteArray();
    return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as unknown as AsyncIterable<Buffer | Uint8Array | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    chunks.push(b);
    size += b.length;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}
