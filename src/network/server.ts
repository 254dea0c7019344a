/**
 * The TCP listener: accepts connections, tracks them, and shuts down gracefully (stop accepting, let
 * in-flight requests answer, then close).
 */
import { createServer, type Server } from 'node:net';
import { Connection, type ConnectionLimits, type Dispatcher } from './connection.ts';

export interface ListenerOptions extends ConnectionLimits {
  host: string;
  port: number;
  onConnectionClosed?: (conn: Connection, reason: string) => void;
}

export class KafkaServer {
  private server: Server;
  readonly connections = new Set<Connection>();

  constructor(private readonly dispatcher: Dispatcher, private readonly options: ListenerOptions) {
    this.server = createServer((socket) => {
      const conn = new Connection(socket, this.dispatcher, this.options, (c, reason) => {
        this.connections.delete(c);
        this.options.onConnectionClosed?.(c, reason);
      });
      this.connections.add(conn);
    });
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
