/**
 * One listener (TCP, or TLS for SSL and SASL_SSL): accepts connections, tracks them, and shuts down
 * gracefully (stop accepting, let in-flight requests answer, then close). A TLS connection starts once its
 * handshake is done; a failed handshake (a plaintext client, an untrusted client certificate) only closes
 * that socket.
 */
import { createServer, Socket, type Server } from 'node:net';
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { Connection, type ConnectionLimits, type Dispatcher, type ListenerInfo } from './connection.ts';
import { DIRECT_READS_SCRATCH_BYTES, DirectReads } from './direct-reads.ts';

export interface ListenerOptions extends ConnectionLimits {
  host: string;
  port: number;
  /** The listener's name and security protocol; PLAINTEXT when absent. */
  listener?: ListenerInfo;
  /** TLS server options (key, cert, ca, requestCert, ...) for SSL and SASL_SSL listeners. */
  tls?: TlsOptions;
  onConnectionClosed?: (conn: Connection, reason: string) => void;
  /** A connection was accepted (after its TLS handshake). */
  onConnection?: (conn: Connection) => void;
  /** A TLS handshake that failed (logged by the caller). */
  onTlsError?: (err: Error, remoteAddress: string | undefined) => void;
}

const allocateFrame = (bytes: number): Buffer => Buffer.allocUnsafe(bytes);

export class KafkaServer {
  private server: Server | TlsServer;
  readonly connections = new Set<Connection>();

  constructor(private readonly dispatcher: Dispatcher, private readonly options: ListenerOptions) {
    const accept = (socket: Socket | TLSSocket, directReads?: DirectReads) => {
      const conn = new Connection(socket, this.dispatcher, this.options, (c, reason) => {
        this.connections.delete(c);
        this.options.onConnectionClosed?.(c, reason);
      }, this.options.listener, directReads);
      this.connections.add(conn);
      this.options.onConnection?.(conn);
      if (directReads) socket.resume();
      return conn;
    };
    if (options.tls) {
      const server = createTlsServer(options.tls);
      server.on('secureConnection', accept);
      server.on('tlsClientError', (err, socket) => {
        this.options.onTlsError?.(err, socket.remoteAddress);
        socket.destroy();
      });
      this.server = server;
    } else {
      // Accepted paused, then moved to a socket that reads into the buffers of a DirectReads (direct-reads.ts):
      // net.Server has no `onread` option for the sockets it accepts, so the accepted socket hands its handle
      // over and is let go (which also drops it from the server's count; close() drains the connections
      // itself). The new socket is made paused, and resumed once its Connection is there to take its reads.
      const scratch = Buffer.allocUnsafeSlow(DIRECT_READS_SCRATCH_BYTES);
      this.server = createServer({ pauseOnConnect: true }, (accepted) => {
        const handle = (accepted as unknown as { _handle: unknown })._handle;
        if (!handle) {
          // No handle to move (a Node whose sockets keep it elsewhere): this socket's own 'data' path.
          accept(accepted);
          accepted.resume();
          return;
        }
        (accepted as unknown as { _handle: unknown })._handle = null;
        accepted.destroy();
        const reads = new DirectReads(scratch, allocateFrame);
        let conn: Connection | null = null;
        const onread = {
          buffer: () => reads.nextBuffer(),
          callback: (bytes: number, into: Uint8Array) => {
            conn!.onDirectRead(bytes, into as Buffer);
            return true;
          },
        };
        const socket = new Socket({ handle, onread, pauseOnCreate: true } as ConstructorParameters<typeof Socket>[0]);
        conn = accept(socket, reads);
      });
    }
  }

  /** New keys and certificates for connections accepted from now on (certificate renewal). */
  setSecureContext(options: SecureContextOptions): void {
    if ('setSecureContext' in this.server) this.server.setSecureContext(options);
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.host || undefined, port: this.options.port }, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : this.options.port);
      });
    });
  }

  async close(graceMs = 5000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.connections].map((c) => c.drainAndClose(graceMs)));
    await closed;
  }
}
