/**
 * LISTEN for the PostgreSQL coordinator: one dedicated `pg.Client` (not from the pool: a pooled connection
 * is shared, and LISTEN belongs to a session) listening on every subscribed channel. Opened on the first
 * subscription, so coordinator clients that never listen (tools, tests) open no extra connection.
 *
 * A broker must outlive its database: the client is replaced whenever it fails (server restart, network
 * loss, a ping that gets no answer within the query timeout), with a backoff from 100 ms to 5 s, errors
 * logged once per outage. Notifications sent while no connection listened are lost, so once a new
 * connection listens again, every subscriber's `onResync` is called. A ping (`SELECT 1`) every
 * `pingIntervalMs` finds a connection that died without the server closing it.
 *
 * The same connection holds the broker's liveness lock (`holdLock`): a session advisory lock that lives as
 * long as this process's connection, so peers see a killed broker's lock gone at once (migration 18). It is
 * taken again on every new connection, and tried every second while another session (a previous
 * incarnation not yet gone) holds it.
 *
 * Every operation on the client (connect, LISTEN, UNLISTEN, lock, ping) runs in one chain, in call order.
 */
import pg from 'pg';
import { childLogger } from '../observability/log.ts';

const log = childLogger('coordinator-listener');

interface Subscription {
  onPayload: (payload: string) => void;
  onResync: (() => void) | undefined;
}

export interface PgListenerOptions {
  /** Between the checks of an idle connection (default 10000). */
  pingIntervalMs?: number;
  /** First and largest wait before reconnecting (defaults 100 and 5000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export class PgListener {
  private readonly channels = new Map<string, Set<Subscription>>();
  /** Channels the current client LISTENs on. */
  private readonly listening = new Set<string>();
  private client: pg.Client | null = null;
  private chain: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private failingSince: number | null = null;
  /** A connection failed since the last one listened: notifications may have been missed. */
  private missed = false;
  private closed = false;
  /** The advisory lock to hold on the connection (two int4 keys), and whether the current connection holds it. */
  private lock: { key1: number; key2: number } | null = null;
  private lockHeld = false;
  private lockRetry: NodeJS.Timeout | null = null;
  /** Connections made (tests). */
  connects = 0;

  constructor(private readonly config: pg.ClientConfig, private readonly options: PgListenerOptions = {}) {
    this.backoffMs = options.minBackoffMs ?? 100;
  }

  /** Subscribes; resolves once the channel is listened on (or, with the database unreachable, will be). */
  async listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('coordinator connection is closed');
    const sub: Subscription = { onPayload, onResync };
    let subs = this.channels.get(channel);
    if (!subs) this.channels.set(channel, (subs = new Set()));
    subs.add(sub);
    await this.run(() => this.sync());
    return async () => {
      subs.delete(sub);
      if (subs.size > 0 || this.channels.get(channel) !== subs) return;
      this.channels.delete(channel);
      // Not connected: nothing to UNLISTEN (a connection being opened listens on the channels left).
      if (this.client !== null && !this.closed) await this.run(() => this.sync());
    };
  }

  /**
   * Holds a session advisory lock on the listening connection from now on (opening it if needed), and again
   * on every connection that replaces it. Resolves after the first attempt.
   */
  async holdLock(key1: number, key2: number): Promise<void> {
    if (this.closed) throw new Error('coordinator connection is closed');
    this.lock = { key1, key2 };
    this.lockHeld = false;
    await this.run(() => this.sync());
  }

  /** Whether the current connection holds the lock of `holdLock` (tests). */
  get holdsLock(): boolean {
    return this.lockHeld;
  }

  /** Stops at once (a connection being opened is closed when it opens). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.lockRetry) clearTimeout(this.lockRetry);
    this.channels.clear();
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private run(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op, op);
    this.chain = next.catch(() => undefined);
    return this.chain;
  }

  /** Connects when needed and makes LISTEN match the subscribed channels. Failures lead to a reconnect. */
  private async sync(): Promise<void> {
    if (this.closed) return;
    if (this.channels.size === 0 && this.lock === null && this.client === null) return;
    let client = this.client;
    let fresh = false;
    try {
      if (client === null) {
        client = await this.connect();
        fresh = true;
      }
      for (const channel of this.channels.keys()) {
        if (this.listening.has(channel)) continue;
        await client.query(`LISTEN ${quoteIdent(channel)}`);
        this.listening.add(channel);
      }
      for (const channel of [...this.listening]) {
        if (this.channels.has(channel)) continue;
        await client.query(`UNLISTEN ${quoteIdent(channel)}`);
        this.listening.delete(channel);
      }
      if (this.lock !== null && !this.lockHeld) {
        const res = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::int4, $2::int4) AS ok', [this.lock.key1, this.lock.key2]);
        this.lockHeld = res.rows[0]?.ok === true;
        if (!this.lockHeld && this.lockRetry === null) {
          // Held by another session: a previous incarnation of this broker whose connection is not closed yet.
          this.lockRetry = setTimeout(() => {
            this.lockRetry = null;
            void this.run(() => this.sync());
          }, 1000);
          this.lockRetry.unref();
        }
      }
    } catch (err) {
      if (client) this.lost(client, err);
      else this.failed(err);
      return;
    }
    if (!fresh) return;
    if (this.failingSince !== null) log.info({ downMs: Date.now() - this.failingSince }, 'listening to the coordinator again');
    this.failingSince = null;
    this.backoffMs = this.options.minBackoffMs ?? 100;
    if (this.missed) this.resync();
    this.missed = false;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client(this.config);
    client.on('notification', (msg) => this.deliver(msg.channel, msg.payload ?? ''));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      if (this.closed) throw new Error('coordinator listener closed');
    } catch (err) {
      client.end().catch(() => undefined);
      throw err;
    }
    this.connects++;
    this.client = client;
    this.listening.clear();
    this.lockHeld = false;
    this.pingTimer ??= setInterval(() => void this.run(() => this.ping()), this.options.pingIntervalMs ?? 10_000);
    this.pingTimer.unref();
    return client;
  }

  private async ping(): Promise<void> {
    const client = this.client;
    if (this.closed || client === null) return;
    try {
      await client.query('SELECT 1');
    } catch (err) {
      this.lost(client, err);
    }
  }

  /** The client failed: drop it and reconnect after the backoff. */
  private lost(client: pg.Client, err: unknown): void {
    if (this.closed || this.client !== client) return;
    this.client = null;
    this.listening.clear();
    this.lockHeld = false;
    client.end().catch(() => undefined);
    this.failed(err);
  }

  private failed(err: unknown): void {
    if (this.closed) return;
    this.missed = true;
    if (this.failingSince === null) {
      this.failingSince = Date.now();
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'coordinator listener connection lost; notifications are missed until it is back');
    }
    if (this.retryTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 5_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.run(() => this.sync());
    }, delay);
    this.retryTimer.unref();
  }

  private deliver(channel: string, payload: string): void {
    const subs = this.channels.get(channel);
    if (!subs) return;
    for (const sub of subs) {
      try {
        sub.onPayload(payload);
      } catch (err) {
        log.error({ err, channel }, 'notification handler failed');
      }
    }
  }

  private resync(): void {
    for (const [channel, subs] of this.channels) {
      for (const sub of subs) {
        try {
          sub.onResync?.();
        } catch (err) {
          log.error({ err, channel }, 'resync handler failed');
        }
      }
    }
  }
}
