/**
 * The web console's HTTP server on `console.listener`: the page (src/console/web/, plain ES modules served
 * as they are: no build step, nothing loaded from a CDN) and the JSON API under /api/ (console-api.ts).
 *
 *   GET  /api/session                       {authRequired, user}
 *   POST /api/login {user, password}        secured brokers: a session cookie (console-sessions.ts); /api/logout ends it
 *   GET  /api/cluster | /api/topics | /api/topics/:t | /api/topics/:t/messages?partition=&offset=&timestamp=&limit=
 *   GET  /api/groups | /api/groups/:g | /api/objects | /api/cost
 *   POST /api/topics, DELETE /api/topics/:t, POST /api/topics/:t/configs, POST /api/topics/:t/delete-records,
 *        POST /api/groups/:g/reset-offsets   (403 unless console.write.enable)
 *
 * On a secured broker every API but session/login answers 401 without a live session, and Kafka's
 * authorization errors (TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED) answer 403 with Kafka's name.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenHttp } from '../observability/metrics-server.ts';
import { ApiError, type ConsoleApi } from './console-api.ts';
import { SESSION_COOKIE, cookieValue, type ConsoleSessions } from './console-sessions.ts';

/** The open console (no security configured) or one API per login session. */
export type ConsoleApis = { open: ConsoleApi } | { sessions: ConsoleSessions<ConsoleApi> };

/** Kafka's authorization error codes: TOPIC_, GROUP_, CLUSTER_, TRANSACTIONAL_ID_AUTHORIZATION_FAILED. */
const AUTHORIZATION_ERRORS = new Set([29, 30, 31, 53]);

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

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}

/** A response with extra headers (the login's Set-Cookie). */
class WithHeaders {
  constructor(readonly body: unknown, readonly headers: Record<string, string>) {}
}

/** Session, login and logout; then the API of the request's session (or the open one). */
async function handle(apis: ConsoleApis, req: IncomingMessage, url: URL): Promise<unknown> {
  const path = url.pathname;
  const m = req.method ?? 'GET';
  if (!('sessions' in apis)) {
    if (path === '/api/session') return { authRequired: false, user: null };
    if (path === '/api/login' || path === '/api/logout') throw new ApiError(400, 'this console has no login: the broker has no authorizer and no SASL listener');
    return route(apis.open, req, url);
  }
  const sessions = apis.sessions;
  const session = sessions.get(req.headers.cookie);
  if (path === '/api/session' && m === 'GET') return { authRequired: true, user: session?.user ?? null, canLogin: sessions.canLogin };
  if (path === '/api/login' && m === 'POST') {
    const body = await readBody(req);
    const s = await sessions.login(typeof body.user === 'string' ? body.user : '', typeof body.password === 'string' ? body.password : '');
    return new WithHeaders({ user: s.user }, { 'set-cookie': `${SESSION_COOKIE}=${s.id}; HttpOnly; SameSite=Strict; Path=/` });
  }
  if (path === '/api/logout' && m === 'POST') {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (id !== null) sessions.end(id);
    return new WithHeaders({ user: null }, { 'set-cookie': `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` });
  }
  if (session === null) throw new ApiError(401, 'login required');
  return route(session.api, req, url);
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
      return api.messages(name, partition, offsetText ? BigInt(offsetText) : null, Number.isFinite(limit) ? limit : 50, parseTimestamp(url.searchParams.get('timestamp')));
    }
    if (what === 'groups' && !name) return api.groups();
    if (what === 'groups' && name) return api.group(name);
    if (what === 'objects') return api.objectsView();
    if (what === 'cost') return api.cost();
  }
  if (m === 'POST' && what === 'topics' && !name) return api.createTopic(await readBody(req));
  if (m === 'DELETE' && what === 'topics' && name && !sub) return api.deleteTopic(name);
  if (m === 'POST' && what === 'topics' && name && sub === 'configs') return api.alterTopicConfigs(name, (await readBody(req)) as never);
  if (m === 'POST' && what === 'topics' && name && sub === 'delete-records') return api.deleteRecords(name, await readBody(req));
  if (m === 'POST' && what === 'groups' && name && sub === 'reset-offsets') return api.resetOffsets(name, (await readBody(req)) as never);
  throw new ApiError(404, `no such API: ${m} ${url.pathname}`);
}

/** `timestamp=` as milliseconds since the epoch or an ISO date-time; null when absent. */
function parseTimestamp(text: string | null): bigint | null {
  if (text === null || text === '') return null;
  if (/^\d+$/.test(text)) return BigInt(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms) || ms < 0) throw new ApiError(400, `timestamp must be milliseconds or an ISO date-time, got '${text}'`);
  return BigInt(ms);
}

export async function startConsoleServer(listener: string, apis: ConsoleApis): Promise<ConsoleServer> {
  const url = new URL(listener);
  if (url.protocol !== 'http:') throw new Error(`console.listener must be http://host:port, not ${listener}`);
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://console');
    if (u.pathname.startsWith('/api/')) {
      handle(apis, req, u).then(
        (body) => (body instanceof WithHeaders ? send(res, 200, body.body, body.headers) : send(res, 200, body)),
        (err: Error & { status?: number; code?: number }) => {
          const status = err instanceof ApiError ? err.status : typeof err.code === 'number' ? (AUTHORIZATION_ERRORS.has(err.code) ? 403 : 400) : 500;
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
      if ('sessions' in apis) apis.sessions.close();
      else apis.open.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
