/**
 * The lean data path of S3ObjectStore: GetObject and PutObject sent as plain `node:http`/`node:https`
 * requests signed with SigV4 (`@smithy/signature-v4`), instead of through the SDK's middleware stack. A
 * lagging consumer's cold read is a stream of ranged GETs and the write path one PUT per object per commit
 * interval; through the SDK each 256 KiB GET cost ~1.8 ms of CPU, about twice a plain request's.
 *
 * Everything that decides *what* is sent is still the SDK client's, so both paths behave alike:
 * - Addressing: the client's own endpoint rules (`getEndpointFromInstructions` with GetObject's endpoint
 *   parameters): endpoint, region, path-style or virtual-hosted, FIPS/dual-stack, AWS_ENDPOINT_URL_S3, and
 *   the fallback to path style for bucket names that are not DNS names. A bucket whose rules ask for
 *   another signer (S3 Express directory buckets, multi-region access points: SigV4a) gets `null` from
 *   `target()`, and S3ObjectStore sends those through the SDK.
 * - Credentials: the client's provider chain (`client.config.credentials()`: static keys, env vars,
 *   profiles, web identity, IMDS), memoized and refreshed by the SDK; a session token is signed in.
 * - Retries: the client's own retry strategy object (standard mode: `maxAttempts`, backoff with jitter, the
 *   retry quota shared with the SDK's calls), with the SDK's error classification (throttling, transient:
 *   5xx, timeouts, ECONNRESET/EPIPE/…, clock skew corrected; 4xx otherwise not retried), Retry-After hints,
 *   and its clock skew correction (`systemClockOffset`, sampled from every answer's Date header).
 * - Wire: the same headers the SDK signs that matter to S3: Range, Content-Length, Content-Type,
 *   x-amz-checksum-crc32c, x-amz-content-sha256 (the empty body's hash for GET, UNSIGNED-PAYLOAD for PUT:
 *   neither hashes a byte), x-amz-date, x-amz-security-token; `Expect: 100-continue` on bodies from
 *   `client.config.expectContinueHeader` bytes (2 MiB) up, as the SDK does, so a refused PUT does not send
 *   its megabytes. Same keep-alive agent (`diskless.s3.max.connections` sockets).
 * - Timeouts: each attempt's socket inactivity (`requestTimeoutMs`) and connection setup
 *   (`connectionTimeoutMs`) end it with a retriable TimeoutError; the caller's signal (the call's deadline)
 *   aborts the attempt and the backoff between attempts.
 *
 * Bodies: a GET's body is copied once, chunk by chunk as it arrives, into one Buffer of its Content-Length;
 * a PUT's chunks are written to the socket as they are (never joined). Failures reject with S3ResponseError
 * (an answer ≥ 300: S3's XML error code and message) or the socket's error; S3ObjectStore maps both.
 */
import { createHash, createHmac, type BinaryLike, type Hash, type Hmac } from 'node:crypto';
import { request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';
import { getRetryAfterHint, isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { SignatureV4 } from '@smithy/signature-v4';

/** Where GETs and PUTs of one bucket go, as the client's endpoint rules resolved it. */
export interface S3Target {
  https: boolean;
  hostname: string;
  port: number | undefined;
  /** `host` header: hostname[:port], as signed. */
  host: string;
  /** Path up to the bucket (path style) or the endpoint's own path, without a trailing '/'. */
  basePath: string;
  /** Headers the endpoint rules add (none for S3 today). */
  headers: Record<string, string>;
  signingRegion: string;
  signingService: string;
}

export interface S3SignedHttpOptions {
  agent: HttpAgent | HttpsAgent;
  /** Socket inactivity limit of one attempt. */
  timeoutMs: number;
  /** TCP/TLS connection setup limit of one attempt. */
  connectionTimeoutMs: number;
}

/** An S3 answer with a status of 300 or more, in the shape the SDK's retry classification reads. */
export class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number; clockSkewCorrected?: boolean };
  readonly $response: { statusCode: number; headers: Record<string, string> };

  constructor(code: string, message: string, status: number, headers: Record<string, string>) {
    super(message);
    this.name = code;
    this.$metadata = { httpStatusCode: status };
    this.$response = { statusCode: status, headers };
  }
}

/** What the lean path uses of the SDK client's resolved configuration. */
interface SdkConfig {
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  retryStrategy: () => Promise<RetryStrategy>;
  systemClockOffset: number;
  disableClockSkewCorrection?: () => Promise<boolean>;
  expectContinueHeader?: boolean | number;
}

interface RetryToken {
  getRetryCount(): number;
}

interface RetryStrategy {
  acquireInitialRetryToken(scope: string): Promise<RetryToken>;
  refreshRetryTokenForRetry(token: RetryToken, info: { errorType: string; error?: unknown; retryAfterHint?: Date }): Promise<RetryToken>;
  recordSuccess(token: RetryToken): void;
}

/** SHA-256 for the signer: HMAC with a key, plain hash without (node:crypto, one call per digest). */
class NodeSha256 {
  private readonly hash: Hash | Hmac;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', binary(secret));
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(binary(data));
  }

  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

function binary(data: string | ArrayBuffer | ArrayBufferView): BinaryLike {
  if (typeof data === 'string') return data;
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The SHA-256 of an empty body: what the SDK signs a GET with. */
const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** How long a PUT sent with `Expect: 100-continue` waits for the server's go-ahead before sending anyway (the SDK's). */
const CONTINUE_WAIT_MS = 6_000;
/** Clock skew at which signed requests start failing (the SDK's threshold). */
const CLOCK_SKEW_MS = 240_000;
/** An error answer is read up to this size for its code and message. */
const MAX_ERROR_BODY = 64 * 1024;

export interface GetAnswer {
  body: Buffer;
  /** Content-Range of a 206 answer, else undefined. */
  contentRange: string | undefined;
}

export class S3SignedHttp {
  private readonly config: SdkConfig;
  private readonly signer: SignatureV4;
  private resolving: Promise<S3Target | null> | undefined;
  private skewCorrection: boolean | undefined;

  constructor(private readonly client: S3Client, private readonly bucket: string, private readonly options: S3SignedHttpOptions) {
    this.config = client.config as unknown as SdkConfig;
    this.signer = new SignatureV4({
      service: 's3',
      region: 'us-east-1', // every request passes the endpoint rules' signing region
      credentials: () => this.config.credentials(),
      sha256: NodeSha256,
      // S3 signs the path as sent (each key segment encoded once), not encoded twice as other services.
      uriEscapePath: false,
      applyChecksum: true,
    });
  }

  /**
   * The bucket's endpoint for the lean path, resolved once by the client's endpoint rules; null when those
   * rules want a signer other than SigV4, or fail (then the SDK path gives the caller the SDK's answer, and
   * the next call tries again).
   */
  target(): Promise<S3Target | null> {
    this.resolving ??= this.resolve().catch(() => {
      this.resolving = undefined;
      return null;
    });
    return this.resolving;
  }

  private async resolve(): Promise<S3Target | null> {
    const endpoint = await getEndpointFromInstructions({ Bucket: this.bucket, Key: 'k' }, GetObjectCommand, this.client.config as never);
    const schemes = (endpoint.properties?.authSchemes ?? []) as { name?: string; signingName?: string; signingRegion?: string }[];
    const sigv4 = schemes[0];
    if (sigv4?.name !== 'sigv4' || sigv4.signingRegion === undefined) return null;
    const url = endpoint.url;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    if (url.search !== '') return null;
    const headers: Record<string, string> = {};
    for (const [name, values] of Object.entries(endpoint.headers ?? {})) headers[name.toLowerCase()] = values.join(',');
    this.skewCorrection = (await this.config.disableClockSkewCorrection?.()) !== true;
    return {
      https: url.protocol === 'https:',
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? undefined : Number(url.port),
      host: url.host,
      basePath: url.pathname.replace(/\/+$/, ''),
      headers,
      signingRegion: sigv4.signingRegion,
      signingService: sigv4.signingName ?? 's3',
    };
  }

  /** GetObject of `key` (with the prefix), with `range` as a Range header value if given. */
  get(target: S3Target, key: string, range: string | undefined, signal: AbortSignal): Promise<GetAnswer> {
    const headers: Record<string, string> = { 'x-amz-content-sha256': EMPTY_BODY_SHA256 };
    if (range !== undefined) headers.range = range;
    return this.withRetries(target, 'GET', key, headers, undefined, signal, readGetAnswer);
  }

  /** PutObject of `key` (with the prefix) from `chunks`, `length` bytes in all, with their CRC-32C (base64). */
  async put(target: S3Target, key: string, chunks: readonly Buffer[], length: number, crc32c: string, signal: AbortSignal): Promise<void> {
    const headers: Record<string, string> = {
      'content-length': String(length),
      'content-type': 'application/octet-stream',
      'x-amz-checksum-crc32c': crc32c,
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    };
    const threshold = this.config.expectContinueHeader;
    if (threshold === true || (typeof threshold === 'number' && length >= threshold)) headers.expect = '100-continue';
    await this.withRetries(target, 'PUT', key, headers, chunks, signal, drain);
  }

  /** Sends attempts until one succeeds or the client's retry strategy refuses another (the SDK's retry middleware, minus its extras). */
  private async withRetries<T>(
    target: S3Target, method: 'GET' | 'PUT', key: string, headers: Record<string, string>, body: readonly Buffer[] | undefined,
    signal: AbortSignal, read: (res: IncomingMessage) => Promise<T>,
  ): Promise<T> {
    const strategy = await this.config.retryStrategy();
    let token = await strategy.acquireInitialRetryToken('');
    for (;;) {
      try {
        const value = await this.attempt(target, method, key, headers, body, signal, read);
        strategy.recordSuccess(token);
        return value;
      } catch (err) {
        if (signal.aborted) throw err;
        const errorType = retryErrorType(err);
        const retryAfterHint = err instanceof S3ResponseError ? getRetryAfterHint(err.$response) : undefined;
        try {
          // The strategy waits out the backoff itself; the deadline cuts that wait short.
          token = await untilAborted(strategy.refreshRetryTokenForRetry(token, { errorType, error: err, retryAfterHint }), signal);
        } catch {
          throw err;
        }
      }
    }
  }

  private async attempt<T>(
    target: S3Target, method: 'GET' | 'PUT', key: string, extraHeaders: Record<string, string>, body: readonly Buffer[] | undefined,
    signal: AbortSignal, read: (res: IncomingMessage) => Promise<T>,
  ): Promise<T> {
    const path = `${target.basePath}/${encodeKey(key)}`;
    const signingDate = new Date(this.skewCorrection ? Date.now() + this.config.systemClockOffset : Date.now());
    const offsetBefore = this.config.systemClockOffset;
    const signed = await this.signer.sign({
      method, protocol: target.https ? 'https:' : 'http:', hostname: target.hostname, port: target.port, path, query: {},
      headers: { ...target.headers, ...extraHeaders, host: target.host },
    }, { signingDate, signingRegion: target.signingRegion, signingService: target.signingService });
    signal.throwIfAborted();
    const sentAt = Date.now();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let bodySent = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(err);
      };
      const req: ClientRequest = (target.https ? httpsRequest : httpRequest)({
        agent: this.options.agent, method, hostname: target.hostname, port: target.port, path,
        headers: signed.headers as OutgoingHttpHeaders, signal,
      });
      req.on('error', fail);
      req.setTimeout(this.options.timeoutMs, () => fail(timeoutError(`no data from S3 for ${this.options.timeoutMs} ms`)));
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => fail(timeoutError(`connection to S3 not set up within ${this.options.connectionTimeoutMs} ms`)), this.options.connectionTimeoutMs);
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        this.sampleClock(res, sentAt);
        const reading = status >= 200 && status < 300 ? read(res) : readError(res, status).then((e) => {
          if (this.skewCorrection && isSkewed(this.config.systemClockOffset, offsetBefore)) e.$metadata.clockSkewCorrected = true;
          throw e;
        });
        // An answer read to its end leaves the socket to the agent for the next request (503s included:
        // new connections are the last thing a throttling store needs); one that came before the body
        // went out (`Expect` answered at once) leaves the request unfinished, so its socket goes.
        const unfinished = () => body !== undefined && !bodySent;
        reading.then((value) => {
          if (settled) return;
          settled = true;
          if (unfinished()) req.destroy();
          resolve(value);
        }, (err: Error) => {
          if (!(err instanceof S3ResponseError) || unfinished()) return fail(err);
          if (settled) return;
          settled = true;
          reject(err);
        });
      });
      if (body === undefined) {
        req.end();
      } else if (extraHeaders.expect === '100-continue') {
        const send = () => {
          if (bodySent || settled) return;
          bodySent = true;
          clearTimeout(wait);
          writeBody(req, body);
        };
        const wait = setTimeout(send, CONTINUE_WAIT_MS);
        req.once('continue', send);
        req.once('response', () => clearTimeout(wait));
        req.once('close', () => clearTimeout(wait));
        req.flushHeaders();
      } else {
        bodySent = true;
        writeBody(req, body);
      }
    });
  }

  /** The SDK's clock skew sampling: the server's Date header sets the signing clock's offset. */
  private sampleClock(res: IncomingMessage, sentAt: number): void {
    if (!this.skewCorrection) return;
    const date = res.headers.date;
    if (date === undefined || res.headers.age !== undefined) return;
    const serverTime = Date.parse(date);
    const now = Date.now();
    if (Number.isNaN(serverTime) || now - sentAt > 900_000) return;
    this.config.systemClockOffset = serverTime - now;
  }
}

function isSkewed(offset: number, before: number): boolean {
  return Math.abs(offset) >= CLOCK_SKEW_MS && offset !== before;
}

/** The SDK's error types for its retry strategy: THROTTLING and TRANSIENT are retried. */
function retryErrorType(err: unknown): string {
  const e = err as Error & { $metadata?: { httpStatusCode?: number } };
  if (isThrottlingError(e as never)) return 'THROTTLING';
  if (isTransientError(e as never)) return 'TRANSIENT';
  if (isServerError(e as never)) return 'SERVER_ERROR';
  return 'CLIENT_ERROR';
}

function timeoutError(message: string): Error {
  const err = new Error(message) as Error & { code: string };
  err.name = 'TimeoutError';
  err.code = 'ETIMEDOUT';
  return err;
}

/** Resolves or rejects with `pending`, or rejects as soon as `signal` aborts. */
function untilAborted<T>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A key in a URL path as the SDK sends it: each '/'-separated segment URI-encoded, `!'()*` too. */
export function encodeKey(key: string): string {
  if (/^[\w.~/-]+$/.test(key)) return key;
  return key.split('/').map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/');
}

function writeBody(req: ClientRequest, body: readonly Buffer[]): void {
  req.cork();
  for (const chunk of body) req.write(chunk);
  req.end();
  req.uncork();
}

/** A successful GET's body: one Buffer of its Content-Length, filled as chunks arrive (else joined once). */
function readGetAnswer(res: IncomingMessage): Promise<GetAnswer> {
  const contentRange = res.statusCode === 206 ? res.headers['content-range'] : undefined;
  return readBody(res, Infinity).then((body) => ({ body, contentRange }));
}

/** Reads and drops a successful PUT's (empty) answer, so its socket goes back to the pool. */
function drain(res: IncomingMessage): Promise<void> {
  return readBody(res, 0).then(() => undefined);
}

/** An answer ≥ 300 as S3ResponseError, with the code and message of S3's XML error body. */
async function readError(res: IncomingMessage, status: number): Promise<S3ResponseError> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers[name] = value;
  let xml = '';
  try {
    xml = (await readBody(res, MAX_ERROR_BODY)).toString('utf8');
  } catch {
    // The status is the answer; a body cut short only loses its details.
  }
  const code = xmlText(xml, 'Code') ?? (status === 404 ? 'NotFound' : status === 403 ? 'Forbidden' : `HTTP${status}`);
  const message = xmlText(xml, 'Message') ?? `S3 answered HTTP ${status} ${res.statusMessage ?? ''}`.trim();
  return new S3ResponseError(code, message, status, headers);
}

function xmlText(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  if (match === null) return undefined;
  return match[1]!.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
}

/**
 * The body, as one Buffer. With a Content-Length it is allocated once and filled; a body that ends short
 * of it is an error (ECONNRESET, retried), never a Buffer with unfilled bytes. Bytes past `keep` are read
 * and dropped.
 */
function readBody(res: IncomingMessage, keep: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(res.headers['content-length']);
    const known = res.headers['content-length'] !== undefined && Number.isSafeInteger(declared) && declared >= 0;
    const into = known && declared <= keep ? Buffer.allocUnsafe(declared) : null;
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    res.on('data', (chunk: Buffer) => {
      if (into !== null) {
        if (size + chunk.length > into.length) {
          done = true;
          res.destroy();
          reject(new Error(`S3 sent more than its Content-Length of ${declared} bytes`));
          return;
        }
        chunk.copy(into, size);
      } else if (size < keep) {
        chunks.push(chunk);
      }
      size += chunk.length;
    });
    res.on('end', () => {
      if (done) return;
      done = true;
      if (known && size !== declared) {
        reject(Object.assign(new Error(`S3 answer ended after ${size} of ${declared} bytes`), { code: 'ECONNRESET' }));
      } else if (into !== null) {
        resolve(into);
      } else {
        const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        resolve(all.length > keep ? all.subarray(0, keep) : all);
      }
    });
    const cut = (err?: Error) => {
      if (done) return;
      done = true;
      reject(err ?? Object.assign(new Error(`S3 answer cut off after ${size} bytes`), { code: 'ECONNRESET' }));
    };
    res.on('error', cut);
    res.on('close', () => cut());
  });
}
