/**
 * The web console's HTTP server on `console.listener`: the page (src/console/web/, plain ES modules served
 * as they are: no build step, nothing loaded from a CDN) and the JSON API under /api/ (console-api.ts).
 *
 *   GET  /api/cluster | /api/topics | /api/topics/:t | /api/topics/:t/messages?partition=&offset=&limit=
 *   GET  /api/groups | /api/groups/:g | /api/objects | /api/cost
 *   POST /api/topics, DELETE /api/topics/:t, POST /api/topics/:t/configs, POST /api/groups/:g/reset-offsets
 *        (403 unless console.write.enable)
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenHttp } from '../observability/metrics-server.ts';
import { ApiError, type ConsoleApi } from './console-api.ts';

export interface ConsoleServer {
  port: number;
  close(): Promise<void>;
}

const WEB = new URL('./web/', import.meta.url);
const STATIC: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 1 << 20) throw new ApiError(413, 'request body over 1 MiB');
    chunks.push(c);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ApiError(400, 'the body is not JSON');
  }
}

async function route(api: ConsoleApi, req: IncomingMessage, url: URL): Promise<unknown> {
  const parts = url.pathname.split('/').slice(2).map(decodeURIComponent); // after /api/
  const m = req.method ?? 'GET';
  const [what, name, sub] = parts;
  if (m === 'GET') {
    if (what === 'cluster' && !name) return api.cluster();
    if (what === 'topics' && !name) return api.topics();
    if (what === 'topics' && name && !sub) return api.topic(name);
    if (what === 'topics' && name && sub === 'messages') {
      const partition = Number(url.searchParams.get('partition') ?? '0');
      const offsetText = url.searchParams.get('offset');
      const limit = Math.min(500, Math.max(1, Number(url.searchParams.get('limit') ?? '50')));
      if (!Number.isInteger(partition) || partition < 0) throw new ApiError(400, 'partition must be a number');
      if (offsetText !== null && offsetText !== '' && !/^\d+$/.test(offsetText)) throw new ApiError(400, 'offset must be a number');
      return api.messages(name, partition, offsetText ? BigInt(offsetText) : null, Number.isFinite(limit) ? limit : 50);
    }
    if (what === 'groups' && !name) return api.groups();
    if (what === 'groups' && name) return api.group(name);
    if (what === 'objects') return api.objectsView();
    if (what === 'cost') return api.cost();
  }
  if (m === 'POST' && what === 'topics' && !name) return api.createTopic(await readBody(req));
  if (m === 'DELETE' && what === 'topics' && name && !sub) return api.deleteTopic(name);
  if (m === 'POST' && what === 'topics' && name && sub === 'configs') return api.alterTopicConfigs(name, (await readBody(req)) as never);
  if (m === 'POST' && what === 'groups' && name && sub === 'reset-offsets') return api.resetOffsets(name, (await readBody(req)) as never);
  throw new ApiError(404, `no such API: ${m} ${url.pathname}`);
}

export async function startConsoleServer(listener: string, api: ConsoleApi): Promise<ConsoleServer> {
  const url = new URL(listener);
  if (url.protocol !== 'http:') throw new Error(`console.listener must be http://host:port, not ${listener}`);
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://console');
    if (u.pathname.startsWith('/api/')) {
      route(api, req, u).then(
        (body) => send(res, 200, body),
        (err: Error & { status?: number; code?: number }) => {
          const status = err instanceof ApiError ? err.status : typeof err.code === 'number' ? 400 : 500;
          send(res, status, { error: err.message, errorName: err instanceof ApiError ? null : err.name });
        },
      );
      return;
    }
    const file = STATIC[u.pathname];
    if (req.method !== 'GET' || file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    readFile(new URL(file, WEB)).then(
      (bytes) => res.writeHead(200, { 'content-type': TYPES[file.split('.').pop()!]! }).end(bytes),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  return {
    port: await listenHttp(server, url),
    close: () => new Promise((resolve) => {
      api.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
