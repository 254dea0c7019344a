/**
 * An HTTP proxy in front of s3rver that does what s3rver does not: it checks every request's SigV4
 * signature (header form, computed here from the AWS specification, independently of the SDK) with the
 * secret it is given, the request time against its clock (±15 minutes, as S3), and the body against
 * `x-amz-content-sha256` and `x-amz-checksum-crc32c`, answering S3's XML errors (SignatureDoesNotMatch,
 * RequestTimeTooSkewed, XAmzContentSHA256Mismatch, BadDigest) when they fail. It records what it saw, can
 * answer the next requests with 503 SlowDown, and can run its clock ahead of the machine's. What passes is
 * forwarded to s3rver as it came (the signed Host header included; x-amz-date moved back to the machine's
 * clock when the proxy's runs ahead, since s3rver checks the time and not the signature).
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { crc32c } from '@node-rs/crc32';
import type { S3Server } from '../../tools/dev/local-servers.ts';
import { onCleanup } from './cleanup.ts';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyLength: number;
  /** The proxy's answer or s3rver's. */
  status: number;
}

export interface S3CheckingProxy {
  /** http://127.0.0.1:PORT, or https://127.0.0.1:PORT with TLS */
  endpoint: string;
  seen: SeenRequest[];
  /** The next this many requests are answered 503 SlowDown. */
  fail503: number;
  /** The proxy's clock runs this far ahead of the machine's (Date headers and the skew check use it). */
  clockOffsetMs: number;
}

const SKEW_LIMIT_MS = 15 * 60_000;

function xmlError(res: ServerResponse, status: number, code: string, message: string, date: Date): void {
  res.writeHead(status, { 'content-type': 'application/xml', date: date.toUTCString() })
    .end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>proxy</RequestId></Error>`);
}

const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** The signature S3 computes for `req` (Authorization header form), or a reason it cannot. */
function expectedSignature(req: IncomingMessage, secret: string): { signature: string; provided: string } | string {
  const auth = req.headers.authorization ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (m === null) return `unreadable Authorization header: ${auth}`;
  const [, , day, region, service, signedHeaders, provided] = m;
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(day!)) return 'x-amz-date is not the credential scope date';
  const [rawPath, rawQuery = ''] = (req.url ?? '/').split('?');
  // S3's canonical URI: each segment decoded and encoded again (RFC 3986), never twice.
  const path = rawPath!.split('/').map((s) => rfc3986(decodeURIComponent(s))).join('/');
  const query = rawQuery === '' ? '' : rawQuery.split('&').map((p) => {
    const [k, v = ''] = p.split('=');
    return [rfc3986(decodeURIComponent(k!)), rfc3986(decodeURIComponent(v))];
  }).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : a[1]! < b[1]! ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
  const names = signedHeaders!.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date') || !names.includes('x-amz-content-sha256')) return `SignedHeaders misses host, x-amz-date or x-amz-content-sha256: ${signedHeaders}`;
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [req.method, path, query, canonicalHeaders, signedHeaders, String(req.headers['x-amz-content-sha256'])].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day!), region!), service!), 'aws4_request');
  return { signature: createHmac('sha256', key).update(stringToSign).digest('hex'), provided: provided! };
}

function amzDateMs(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  return m === null ? NaN : Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/**
 * A checking proxy in front of `target` that knows `secret` as the one secret key. With `tls` (PEM key and
 * certificate for localhost) it listens for HTTPS, at https://127.0.0.1:PORT, as S3 and most S3-compatible
 * servers do.
 */
export async function s3CheckingProxy(target: S3Server, secret = target.secretAccessKey, tls?: { key: string; cert: string }): Promise<S3CheckingProxy> {
  const proxy: S3CheckingProxy = { endpoint: '', seen: [], fail503: 0, clockOffsetMs: 0 };
  const onRequest: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry: SeenRequest = { method: req.method!, url: req.url!, headers: req.headers, bodyLength: body.length, status: 0 };
      proxy.seen.push(entry);
      const now = new Date(Date.now() + proxy.clockOffsetMs);
      const answer = (status: number, code: string, message: string) => {
        entry.status = status;
        xmlError(res, status, code, message, now);
      };
      if (proxy.fail503 > 0) {
        proxy.fail503--;
        return answer(503, 'SlowDown', 'Please reduce your request rate.');
      }
      const sig = expectedSignature(req, secret);
      if (typeof sig === 'string') return answer(400, 'AuthorizationHeaderMalformed', sig);
      if (Math.abs(amzDateMs(String(req.headers['x-amz-date'])) - now.getTime()) > SKEW_LIMIT_MS) {
        return answer(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
      }
      if (sig.signature !== sig.provided) {
        return answer(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
      }
      const contentSha = String(req.headers['x-amz-content-sha256']);
      if (contentSha !== 'UNSIGNED-PAYLOAD' && contentSha !== sha256Hex(body)) {
        return answer(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
      }
      const crc = req.headers['x-amz-checksum-crc32c'];
      if (crc !== undefined) {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(crc32c(body) >>> 0);
        if (crc !== b.toString('base64')) return answer(400, 'BadDigest', 'The CRC32C you specified did not match the calculated checksum.');
      }
      const headers = { ...req.headers };
      delete headers.expect; // the body is here already
      // s3rver checks the request time against the machine's clock (not the signature): on the proxy's clock, move the date back.
      const amzDate = amzDateMs(String(req.headers['x-amz-date'])) - proxy.clockOffsetMs;
      headers['x-amz-date'] = new Date(amzDate).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
      const upstream = request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers }, (up) => {
        entry.status = up.statusCode ?? 0;
        res.writeHead(up.statusCode ?? 502, { ...up.headers, date: now.toUTCString() });
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  };
  const server: Server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, onRequest) : createServer(onRequest);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  proxy.endpoint = tls ? `https://127.0.0.1:${port}` : `http://127.0.0.1:${port}`;
  return proxy;
}
