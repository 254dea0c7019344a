/**
 * One Kafka protocol connection for Floe's own tools (the admin CLI, the console): encodes requests with the
 * generated codecs, pipelines them by correlation id and decodes the responses. After connecting (over TLS
 * for SSL and SASL_SSL) it asks ApiVersions which versions the broker serves, so `request` picks the highest
 * version both sides speak, then authenticates with SaslHandshake/SaslAuthenticate for SASL protocols, and
 * again before the session the broker granted ends (KIP-368, the broker's connections.max.reauth.ms), at a
 * random point between 85 and 95 % of it, as Kafka's clients do.
 */
import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { MESSAGES } from '../protocol/gen/messages/index.ts';
import type { ApiVersionsResponse } from '../protocol/gen/messages/api-versions.ts';
import { decodeResponseHeader, encodeRequestHeader, requestHeaderVersion, responseHeaderVersion } from '../protocol/gen/headers.ts';
import { Reader } from '../protocol/reader.ts';
import { Writer } from '../protocol/writer.ts';
import type { SaslAuthenticateResponse } from '../protocol/gen/messages/sasl-authenticate.ts';
import type { SaslHandshakeResponse } from '../protocol/gen/messages/sasl-handshake.ts';
import type { ClientSecurity, ClientTls } from './client-security.ts';
import { KafkaError } from './kafka-error.ts';
import { saslClient } from './sasl-client.ts';

/** A failure of the connection itself (refused, closed, timed out), not a Kafka error code. */
export class ConnectionError extends Error {}

interface Pending {
  apiKey: number;
  apiVersion: number;
  resolve: (body: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export interface ConnectOptions {
  clientId?: string;
  timeoutMs?: number;
  /** PLAINTEXT when absent. */
  security?: ClientSecurity;
}

const API_VERSIONS = 18;
const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;
/** The ApiVersions version sent first: 3 is flexible and every Kafka since 2.4 (and Floe) answers it. */
const API_VERSIONS_VERSION = 3;

export class KafkaConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private nextCorrelationId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedError: Error | null = null;
  /** apiKey -> [min, max] the broker serves; filled by `connect`. */
  private versions = new Map<number, [number, number]>();
  private reauthTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly host: string,
    readonly port: number,
    private readonly clientId: string,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new ConnectionError(`${host}:${port}: ${err.message}`)));
    socket.on('close', () => this.fail(new ConnectionError(`${host}:${port}: connection closed`)));
  }

  static async connect(host: string, port: number, options: ConnectOptions = {}): Promise<KafkaConnection> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const security = options.security;
    const tls = security?.tls ?? null;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s: Socket = tls ? openTls(host, port, tls) : connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new ConnectionError(`${host}:${port}: connection timed out`));
      }, timeoutMs);
      s.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        if (tls?.pinnedCertificate && !(s as TLSSocket).getPeerCertificate().raw?.equals(tls.pinnedCertificate)) {
          s.destroy();
          reject(new ConnectionError(`${host}:${port}: TLS: the server certificate is not the broker's own`));
          return;
        }
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(new ConnectionError(`${host}:${port}: ${tls ? 'TLS: ' : ''}${err.message}`));
      });
    });
    const conn = new KafkaConnection(socket, host, port, options.clientId ?? 'floe-admin', timeoutMs);
    try {
      const res = await conn.send<ApiVersionsResponse>(API_VERSIONS, API_VERSIONS_VERSION, { clientSoftwareName: 'floe-admin', clientSoftwareVersion: '1' });
      for (const k of res.apiKeys) conn.versions.set(k.apiKey, [k.minVersion, k.maxVersion]);
      if (security?.sasl) await conn.authenticate(security);
    } catch (err) {
      conn.close();
      throw err;
    }
    return conn;
  }

  /** SaslHandshake v1, then SaslAuthenticate until the mechanism's client is done. */
  private async authenticate(security: ClientSecurity): Promise<void> {
    const sasl = security.sasl!;
    const { body: hs } = await this.request<SaslHandshakeResponse>(SASL_HANDSHAKE, 1, 1, { mechanism: sasl.mechanism });
    if (hs.errorCode !== 0) throw new KafkaError(hs.errorCode, `SASL ${sasl.mechanism} at ${this.host}:${this.port}`, `the listener offers ${hs.mechanisms.join(', ') || 'no mechanism'}`);
    const client = saslClient(sasl);
    let token = client.step(Buffer.alloc(0));
    let lifetimeMs = 0n;
    while (token !== null) {
      const { body } = await this.request<SaslAuthenticateResponse>(SASL_AUTHENTICATE, 1, 2, { authBytes: token });
      if (body.errorCode !== 0) throw new KafkaError(body.errorCode, `SASL ${sasl.mechanism} login of '${sasl.username}' at ${this.host}:${this.port}`, body.errorMessage);
      lifetimeMs = body.sessionLifetimeMs;
      try {
        token = client.step(body.authBytes);
      } catch (err) {
        throw new ConnectionError(`${this.host}:${this.port}: ${(err as Error).message}`);
      }
    }
    if (lifetimeMs > 0n && this.closedError === null) {
      const ms = Number(lifetimeMs);
      this.reauthTimer = setTimeout(() => {
        this.reauthTimer = null;
        this.authenticate(security).catch((err: Error) => {
          this.fail(new ConnectionError(`${this.host}:${this.port}: re-authentication failed: ${err.message}`));
          this.socket.destroy();
        });
      }, ms * (0.85 + Math.random() * 0.1));
      this.reauthTimer.unref();
    }
  }

  /**
   * The version to use for `apiKey`: the highest the broker serves up to `preferred`, or an error naming
   * the API when the broker serves none of `[lowest, preferred]`.
   */
  version(apiKey: number, lowest: number, preferred: number): number {
    const range = this.versions.get(apiKey);
    const name = MESSAGES[apiKey]?.name ?? `api ${apiKey}`;
    if (range === undefined) throw new ConnectionError(`the broker at ${this.host}:${this.port} does not support ${name}`);
    const v = Math.min(range[1], preferred);
    if (v < lowest || v < range[0]) throw new ConnectionError(`the broker at ${this.host}:${this.port} serves ${name} versions ${range[0]}-${range[1]}; this tool needs ${lowest}-${preferred}`);
    return v;
  }

  /** Sends a request at the negotiated version; resolves with the decoded body and the version used. */
  async request<T>(apiKey: number, lowest: number, preferred: number, body: unknown): Promise<{ body: T; version: number }> {
    const v = this.version(apiKey, lowest, preferred);
    return { body: await this.send<T>(apiKey, v, body), version: v };
  }

  /** Sends a request at exactly `apiVersion`. */
  send<T>(apiKey: number, apiVersion: number, body: unknown): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const correlationId = this.nextCorrelationId++;
    const w = new Writer();
    w.reserveInt32();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, apiVersion), { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId: this.clientId });
    MESSAGES[apiKey]!.request.encode(w, apiVersion, body as never);
    const frame = Buffer.concat(w.finish());
    frame.writeInt32BE(frame.length - 4, 0);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new ConnectionError(`${this.host}:${this.port}: no response to ${MESSAGES[apiKey]!.name} in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(correlationId, { apiKey, apiVersion, resolve: resolve as (b: unknown) => void, reject, timer });
      this.socket.write(frame);
    });
  }

  close(): void {
    this.fail(new ConnectionError(`${this.host}:${this.port}: connection closed`));
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + size) return;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      this.onFrame(frame);
    }
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const p = this.pending.get(correlationId);
    if (p === undefined) return; // answered after its timeout
    this.pending.delete(correlationId);
    clearTimeout(p.timer);
    try {
      const r = new Reader(frame);
      decodeResponseHeader(r, responseHeaderVersion(p.apiKey, p.apiVersion));
      p.resolve(MESSAGES[p.apiKey]!.response.decode(r, p.apiVersion));
    } catch (err) {
      p.reject(err as Error);
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    if (this.reauthTimer) clearTimeout(this.reauthTimer);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}

function openTls(host: string, port: number, tls: ClientTls): TLSSocket {
  return tlsConnect({
    host,
    port,
    ...(isIP(host) === 0 ? { servername: host } : {}),
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
    ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    // A pinned certificate is compared after the handshake; otherwise the chain must reach a trusted CA.
    rejectUnauthorized: tls.pinnedCertificate === undefined,
    ...(tls.checkHostname && tls.pinnedCertificate === undefined ? {} : { checkServerIdentity: () => undefined }),
  });
}
