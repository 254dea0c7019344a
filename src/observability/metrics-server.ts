/**
 * The HTTP endpoint Prometheus scrapes: GET /metrics on `metrics.listener`, over http or https (the PEM keys
 * of config/metrics-config.ts, reloaded when their files change), optionally behind HTTP basic
 * authentication (401 with a `WWW-Authenticate` challenge otherwise; passwords compared in constant time).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:net';
import type { MetricsSecurity } from '../config/metrics-config.ts';
import { tlsServerOptions, watchTlsFiles } from '../security/tls.ts';
import type { BrokerMetrics } from './metrics.ts';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(
  listener: string,
  metrics: BrokerMetrics,
  security: MetricsSecurity = { tls: null, basicAuthUsers: new Map() },
  onTlsError: (err: Error) => void = () => {},
): Promise<MetricsServer> {
  const url = new URL(listener);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`metrics.listener must be http://host:port or https://host:port, not ${listener}`);
  if (url.protocol === 'https:' && !security.tls) throw new Error(`metrics.listener ${listener} is https but no TLS key is configured (metrics.ssl.*)`);
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (security.basicAuthUsers.size > 0 && !authorized(req.headers.authorization, security.basicAuthUsers)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="floe metrics", charset="UTF-8"' }).end('authentication required\n');
      return;
    }
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end('only GET /metrics is served here\n');
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  };
  let stopWatching = () => {};
  let server: Server;
  if (url.protocol === 'https:') {
    const https = createHttpsServer(tlsServerOptions(security.tls!), handle);
    stopWatching = watchTlsFiles(security.tls!, (options) => https.setSecureContext(options), onTlsError);
    server = https;
  } else {
    server = createServer(handle);
  }
  return {
    port: await listenHttp(server, url),
    close: () => {
      stopWatching();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Whether an Authorization header names one of the users with its password. */
function authorized(header: string | undefined, users: ReadonlyMap<string, string>): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const expected = users.get(decoded.slice(0, colon));
  // Digests of equal length, compared in constant time, also for unknown users.
  const given = createHash('sha256').update(decoded.slice(colon + 1)).digest();
  const wanted = createHash('sha256').update(expected ?? '\u0000no-such-user').digest();
  return timingSafeEqual(given, wanted) && expected !== undefined;
}

/** Listens on an http(s)://host:port listener (port 0: any free one); resolves with the bound port. */
export async function listenHttp(server: Server, url: URL): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: url.hostname || undefined, port: Number(url.port || 0) }, resolve);
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : Number(url.port);
}
