/** The HTTP endpoint Prometheus scrapes: GET /metrics on `metrics.listener`. */
import { createServer, type Server } from 'node:http';
import type { BrokerMetrics } from './metrics.ts';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(listener: string, metrics: BrokerMetrics): Promise<MetricsServer> {
  const url = new URL(listener);
  if (url.protocol !== 'http:') throw new Error(`metrics.listener must be http://host:port, not ${listener}`);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end('only GET /metrics is served here\n');
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  return { port: await listenHttp(server, url), close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Listens on an http://host:port listener (port 0: any free one); resolves with the bound port. */
export async function listenHttp(server: Server, url: URL): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: url.hostname || undefined, port: Number(url.port || 0) }, resolve);
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : Number(url.port);
}
