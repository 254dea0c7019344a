/**
 * Dispatch: frame → header → handler → encoded response frame. Protocol violations (unknown API key,
 * unsupported version, undecodable body) close the connection as Kafka does — except ApiVersions with a
 * version too new, which is answered at v0 with UNSUPPORTED_VERSION so the client can fall back.
 * A handler that throws gets its errorResponse with UNKNOWN_SERVER_ERROR; it never takes the broker down.
 */
import { ProtocolViolation, type Connection, type Dispatcher } from '../network/connection.ts';
import { ApiKey } from '../protocol/gen/api-keys.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { decodeRequestHeader, encodeResponseHeader, requestHeaderVersion, responseHeaderVersion } from '../protocol/gen/headers.ts';
import { MESSAGES } from '../protocol/gen/messages/index.ts';
import { encodeApiVersionsResponse } from '../protocol/gen/messages/api-versions.ts';
import { Reader } from '../protocol/reader.ts';
import { Writer } from '../protocol/writer.ts';
import type { Init } from '../protocol/gen/init.ts';
import { childLogger } from '../observability/log.ts';
import type { BrokerMetrics } from '../observability/metrics.ts';
import type { AnyHandler, BrokerServices, RequestContext } from './handler.ts';
import { apiVersionsBody } from './handlers/18-api-versions.ts';
import { authorize } from './authorization.ts';

/** Back-pressure: while paused, the connections stop reading requests. */
export interface ProduceGate {
  readonly paused: boolean;
  whenResumed(): Promise<void>;
}

const log = childLogger('dispatch');

export class RequestDispatcher implements Dispatcher {
  private readonly table: (AnyHandler | undefined)[] = [];

  constructor(private readonly services: BrokerServices, private readonly gate: ProduceGate, private readonly metrics: BrokerMetrics) {
    for (const h of services.handlers) this.table[h.key] = h;
  }

  get paused(): boolean {
    return this.gate.paused;
  }

  whenResumed(): Promise<void> {
    return this.gate.whenResumed();
  }

  dispatch(conn: Connection, frame: Buffer): Promise<Buffer[] | null> {
    if (conn.rawSaslToken) return this.rawSaslToken(conn, frame);
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const handler = this.table[apiKey];
    if (!handler) throw new ProtocolViolation(`unsupported API key ${apiKey}`);
    if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      if (apiKey === ApiKey.ApiVersions) return Promise.resolve(this.unsupportedApiVersions(correlationId));
      throw new ProtocolViolation(`unsupported version ${apiVersion} of ${handler.name} (supported ${handler.minVersion}-${handler.maxVersion})`);
    }
    if (!conn.authenticated && apiKey !== ApiKey.ApiVersions && apiKey !== ApiKey.SaslHandshake && apiKey !== ApiKey.SaslAuthenticate) {
      // Kafka's SaslServerAuthenticator closes the connection on any other request before authentication.
      throw new ProtocolViolation(`unexpected ${handler.name} request during SASL authentication (listener ${conn.listener.name})`);
    }
    if (conn.sessionExpiresAt !== 0 && Date.now() > conn.sessionExpiresAt && apiKey !== ApiKey.SaslHandshake && apiKey !== ApiKey.SaslAuthenticate) {
      throw new ProtocolViolation(`SASL session expired (connections.max.reauth.ms) and the client did not re-authenticate`);
    }
    const codec = MESSAGES[apiKey]!;
    let ctx: RequestContext;
    let request: unknown;
    try {
      const reader = new Reader(frame);
      const header = decodeRequestHeader(reader, requestHeaderVersion(apiKey, apiVersion));
      request = codec.request.decode(reader, apiVersion);
      const s = this.services;
      ctx = {
        topics: s.topics, partitions: s.partitions, fetchSessions: s.fetchSessions, groups: s.groups, shareGroups: s.shareGroups, cluster: s.cluster.forListener(conn.listener.name), admin: s.admin,
        producerIds: s.producerIds, config: s.config, loadedConfig: s.loadedConfig, handlers: s.handlers, sasl: s.sasl,
        credentials: s.credentials, authorizer: s.authorizer, acls: s.acls, quotas: s.quotas, brokerConfigs: s.brokerConfigs,
        transactions: s.transactions,
        conn, apiKey, apiVersion, correlationId, clientId: header.clientId,
      };
    } catch (err) {
      throw new ProtocolViolation(`malformed ${handler.name} v${apiVersion} request: ${(err as Error).message}`);
    }
    return this.run(handler, ctx, request, frame.length);
  }

  private async run(handler: AnyHandler, ctx: RequestContext, request: unknown, requestBytes: number): Promise<Buffer[] | null> {
    const { metrics } = this;
    const labels = { request: handler.name };
    const done = metrics.requestSeconds.startTimer(labels);
    metrics.requests.inc({ request: handler.name, version: String(ctx.apiVersion) });
    let response: Init<unknown> | null;
    // The event-loop time of the request (request_percentage quotas): the synchronous part of the handler.
    const syncStart = performance.now();
    let syncMs = 0;
    try {
      // ACLs (authorization.ts): a denied request is answered here; denied entities leave the request.
      const authorized = authorize(ctx, handler, request);
      if (authorized && 'response' in authorized) {
        response = authorized.response;
      } else {
        // The handler's synchronous prefix runs here, in frame order (see network/connection.ts).
        const pending = handler.handle(ctx, authorized ? authorized.request : request);
        syncMs = performance.now() - syncStart;
        response = await pending;
        if (authorized?.finish) response = authorized.finish(response);
      }
    } catch (err) {
      log.error({ err, api: handler.name, version: ctx.apiVersion }, 'handler failed');
      metrics.requestErrors.inc(labels);
      response = handler.errorResponse(request, ErrorCode.UNKNOWN_SERVER_ERROR, ctx);
    } finally {
      done();
    }
    if (response === null) return null;
    const encodeStart = performance.now();
    let frame = encodeResponseFrame(ctx.apiKey, ctx.apiVersion, ctx.correlationId, response);
    if (!ctx.quotas.empty) {
      const throttleMs = this.throttle(ctx, requestBytes, frame, syncMs + performance.now() - encodeStart);
      if (throttleMs > 0) {
        // Kafka (KIP-219): the response says how long, and the connection is muted for that long.
        const body = response as { throttleTimeMs?: number };
        body.throttleTimeMs = Math.max(body.throttleTimeMs ?? 0, throttleMs);
        frame = encodeResponseFrame(ctx.apiKey, ctx.apiVersion, ctx.correlationId, body);
        ctx.conn.mute(throttleMs);
      }
    }
    return frame;
  }

  /** Records the request against the client's quotas; the throttle time in ms (0: within its quotas). */
  private throttle(ctx: RequestContext, requestBytes: number, frame: Buffer[], workMs: number): number {
    const user = ctx.conn.principal.startsWith('User:') ? ctx.conn.principal.slice(5) : ctx.conn.principal;
    const clientId = ctx.clientId ?? '';
    const { quotas } = ctx;
    let ms = quotas.record(user, clientId, 'request_percentage', workMs);
    if (ctx.apiKey === ApiKey.Produce) ms = Math.max(ms, quotas.record(user, clientId, 'producer_byte_rate', requestBytes));
    if (ctx.apiKey === ApiKey.Fetch) ms = Math.max(ms, quotas.record(user, clientId, 'consumer_byte_rate', frame.reduce((n, c) => n + c.length, 0)));
    return ms;
  }

  /**
   * A raw SASL token (after SaslHandshake v0): answered with the raw server token, length-prefixed, as
   * Kafka does. A failed login has no way to say why: the connection is closed.
   */
  private async rawSaslToken(conn: Connection, token: Buffer): Promise<Buffer[] | null> {
    const outcome = await this.services.sasl.authenticate(conn, token);
    if (!outcome.ok) throw new ProtocolViolation(outcome.message);
    if (outcome.complete) conn.rawSaslToken = false;
    const size = Buffer.allocUnsafe(4);
    size.writeInt32BE(outcome.challenge.length, 0);
    return [size, outcome.challenge];
  }

  private unsupportedApiVersions(correlationId: number): Buffer[] {
    const w = new Writer();
    const at = w.reserveInt32();
    encodeResponseHeader(w, 0, { correlationId });
    encodeApiVersionsResponse(w, 0, { ...apiVersionsBody(this.table), errorCode: ErrorCode.UNSUPPORTED_VERSION });
    return finishFrame(w, at);
  }
}

export function encodeResponseFrame(apiKey: number, apiVersion: number, correlationId: number, body: Init<unknown>): Buffer[] {
  const w = new Writer();
  const at = w.reserveInt32();
  encodeResponseHeader(w, responseHeaderVersion(apiKey, apiVersion), { correlationId });
  MESSAGES[apiKey]!.response.encode(w, apiVersion, body);
  return finishFrame(w, at);
}

function finishFrame(w: Writer, sizeAt: number): Buffer[] {
  w.patchInt32(sizeAt, w.length - sizeAt - 4);
  return w.finish();
}
