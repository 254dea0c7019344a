/**
 * A bare Kafka protocol client for tests: sends requests at pinned versions (or raw bytes) and reads
 * response frames, so handlers and bad inputs can be tested without a client library in the way.
 * `withClient` runs a function with a connection of its own. Request bodies for the common APIs:
 * produce.ts, fetch.ts, list-offsets.ts, topics.ts.
 */
import { connect, type Socket } from 'node:net';
import { MESSAGES } from '../../src/protocol/gen/messages/index.ts';
import { decodeResponseHeader, encodeRequestHeader, requestHeaderVersion, responseHeaderVersion } from '../../src/protocol/gen/headers.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';

export class RawClient {
  private buffered = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private correlationId = 1;
  /** The client.id sent with `request` (a test may set its zone: `diskless_az=<az>`). */
  clientId: string | null = 'floe-test';
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake();
    });
    this.closedPromise = new Promise((resolve) => socket.on('close', () => {
      this.closed = true;
      this.wake();
      resolve();
    }));
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Encodes a request frame (size prefix included). */
  static frame(apiKey: number, apiVersion: number, body: unknown, correlationId: number, clientId: string | null = 'floe-test'): Buffer {
    const w = new Writer();
    w.reserveInt32();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, apiVersion), { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId });
    MESSAGES[apiKey]!.request.encode(w, apiVersion, body as never);
    const buf = Buffer.concat(w.finish());
    buf.writeInt32BE(buf.length - 4, 0);
    return buf;
  }

  /** Sends a request and decodes its response. */
  async request<T = any>(apiKey: number, apiVersion: number, body: unknown): Promise<T> {
    const id = this.correlationId++;
    this.write(RawClient.frame(apiKey, apiVersion, body, id, this.clientId));
    return this.readResponse<T>(apiKey, apiVersion, id);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async readResponse<T = any>(apiKey: number, apiVersion: number, expectedCorrelationId?: number): Promise<T> {
    const frame = await this.readFrame();
    const r = new Reader(frame);
    const header = decodeResponseHeader(r, responseHeaderVersion(apiKey, apiVersion));
    if (expectedCorrelationId !== undefined && header.correlationId !== expectedCorrelationId) {
      throw new Error(`correlation id ${header.correlationId}, expected ${expectedCorrelationId}`);
    }
    return MESSAGES[apiKey]!.response.decode(r, apiVersion) as T;
  }

  /** The next response frame (without its size), or an error if the connection closes first. */
  async readFrame(timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buffered.length >= 4) {
        const size = this.buffered.readInt32BE(0);
        if (this.buffered.length >= 4 + size) {
          const frame = this.buffered.subarray(4, 4 + size);
          this.buffered = this.buffered.subarray(4 + size);
          return frame;
        }
      }
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a response');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Resolves true if the broker closes the connection within the timeout. */
  async expectClosed(timeoutMs = 5000): Promise<boolean> {
    if (this.closed) return true;
    return Promise.race([this.closedPromise.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** Connects to `port`, runs `f` with the client and closes it, also when `f` fails. */
export async function withClient<T>(port: number, f: (c: RawClient) => Promise<T>, options: { clientId?: string | null } = {}): Promise<T> {
  const c = await RawClient.connect(port);
  if (options.clientId !== undefined) c.clientId = options.clientId;
  try {
    return await f(c);
  } finally {
    c.close();
  }
}
