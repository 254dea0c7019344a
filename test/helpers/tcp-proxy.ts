/**
 * A TCP proxy between the broker and a server (PostgreSQL) that can cut connections at chosen moments,
 * to test what happens when a connection is lost mid-request:
 * - `dropRequestContaining(text)`: the next client message containing `text` is not forwarded and both
 *   sides of that connection are closed (the server never ran the request);
 * - `dropResponseAfter(text)`: the next client message containing `text` is forwarded, and the server's
 *   answer is swallowed and the connection closed (the server ran it, the client cannot know);
 * - `refuse(true)`: new connections are closed at once (the server looks down).
 * Each drop fires once. Closed when the test file ends.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { startTestBroker, type TestBroker } from './broker.ts';
import { onCleanup } from './cleanup.ts';
import { freePort } from '../../tools/dev/local-servers.ts';

export interface TcpProxy {
  port: number;
  dropRequestContaining(text: string): Promise<void>;
  dropResponseAfter(text: string): Promise<void>;
  refuse(on: boolean): void;
  /** Closes every proxied connection (both sides). */
  cutAll(): void;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let dropRequest: { text: string; fired: () => void } | null = null;
  let dropResponse: { text: string; fired: () => void } | null = null;
  let refusing = false;
  const pairs = new Set<[Socket, Socket]>();

  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: targetHost, port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    let swallowing: (() => void) | null = null;
    const cut = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', cut);
    upstream.on('error', cut);
    client.on('close', cut);
    upstream.on('close', cut);
    client.on('data', (chunk: Buffer) => {
      if (dropRequest && chunk.includes(dropRequest.text)) {
        const d = dropRequest;
        dropRequest = null;
        cut();
        d.fired();
        return;
      }
      if (dropResponse && chunk.includes(dropResponse.text)) {
        swallowing = dropResponse.fired;
        dropResponse = null;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (swallowing) {
        const fired = swallowing;
        swallowing = null;
        cut();
        fired();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const proxy: TcpProxy = {
    port,
    dropRequestContaining: (text) => new Promise((fired) => (dropRequest = { text, fired })),
    dropResponseAfter: (text) => new Promise((fired) => (dropResponse = { text, fired })),
    refuse(on) {
      refusing = on;
    },
    cutAll() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
  };
  onCleanup(async () => {
    proxy.cutAll();
    await new Promise((r) => server.close(r));
  });
  return proxy;
}

/**
 * A test broker that clients reach only through a proxy: the broker listens on a free port and advertises
 * the proxy's, so Metadata (and so every client connection) goes through the proxy.
 */
export async function startBrokerBehindProxy(overrides: Record<string, string | number | boolean> = {}): Promise<{ broker: TestBroker; proxy: TcpProxy }> {
  const port = await freePort();
  const proxy = await startTcpProxy('127.0.0.1', port);
  const broker = await startTestBroker({
    ...overrides,
    listeners: `PLAINTEXT://127.0.0.1:${port}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxy.port}`,
  });
  return { broker, proxy };
}
