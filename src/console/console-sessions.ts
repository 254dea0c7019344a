/**
 * Console logins when the broker is secured (an authorizer, or SASL listeners): a person logs in with a user
 * and password, and the console then works as that principal.
 *
 * The password is checked the way a Kafka client's is: the console opens a SASL connection to one of this
 * broker's own SASL listeners (SASL_PLAINTEXT preferred, else SASL_SSL with the broker's own certificate
 * pinned), with PLAIN when the listener's JAAS config has the user, else a SCRAM mechanism the user has a
 * credential for in the coordinator. So a login is exactly as strict as SASL (same users, same SCRAM rules,
 * same failed-login delay and log line), and every Kafka request the console then sends on the session's
 * connection is authorized by the broker as that principal, with Kafka's rules and error codes. What the
 * console reads outside the Kafka protocol (objects, cost) is checked here with the same authorizer:
 * DESCRIBE on the cluster.
 *
 * At most MAX_LOGINS_IN_FLIGHT logins run at once (more answer 429), so the login form cannot be used to
 * load the broker with TLS handshakes and SCRAM hashing; each failed one also waits out the broker's
 * connection.failed.authentication.delay.ms.
 *
 * A session is a random id in an HttpOnly, SameSite=Strict cookie, kept in memory on this broker (a restart
 * logs everyone out), ended by logout or after `idleMs` without a request. The session keeps the password
 * in memory for as long as it lives, to open connections to the other brokers as the same user.
 */
import { randomBytes } from 'node:crypto';
import type { AdminClient } from '../client/admin-client.ts';
import type { ClientSaslMechanism, ClientSecurity, ClientTls } from '../client/client-security.ts';
import { ApiError } from './console-api.ts';

/** One SASL listener of this broker the console can log in through. */
export interface LoginListener {
  name: string;
  protocol: 'SASL_PLAINTEXT' | 'SASL_SSL';
  /** host:port to connect to (loopback when the listener binds every interface). */
  bootstrap: string;
  mechanisms: readonly string[];
  plainUsers: ReadonlyMap<string, string>;
  /** TLS settings for SASL_SSL (read at each connect, so a reloaded certificate is pinned). */
  tls: () => ClientTls | null;
}

export interface ConsoleSession<Api> {
  id: string;
  user: string;
  principal: string;
  api: Api;
  lastUsedMs: number;
}

export const SESSION_COOKIE = 'floe_console_session';
const MAX_LOGINS_IN_FLIGHT = 4;

export class ConsoleSessions<Api extends { close(): void }> {
  private readonly sessions = new Map<string, ConsoleSession<Api>>();
  private readonly timer: NodeJS.Timeout;
  private loginsInFlight = 0;

  constructor(
    private readonly listeners: readonly LoginListener[],
    /** The SCRAM mechanism codes (1: SHA-256, 2: SHA-512) the user has credentials for. */
    private readonly scramMechanisms: (user: string) => Promise<number[]>,
    private readonly connect: (bootstrap: string, security: ClientSecurity) => Promise<AdminClient>,
    private readonly makeApi: (admin: () => Promise<AdminClient>, principal: string) => Api,
    private readonly idleMs = 3_600_000,
  ) {
    this.timer = setInterval(() => this.expire(), Math.min(60_000, idleMs));
    this.timer.unref();
  }

  /** Whether a login is possible at all (a SASL listener exists). */
  get canLogin(): boolean {
    return this.listeners.length > 0;
  }

  /** Checks the password with a SASL login; a new session, or ApiError 401. */
  async login(user: string, password: string): Promise<ConsoleSession<Api>> {
    if (this.loginsInFlight >= MAX_LOGINS_IN_FLIGHT) throw new ApiError(429, 'too many logins at once: try again');
    this.loginsInFlight++;
    try {
      return await this.checkLogin(user, password);
    } finally {
      this.loginsInFlight--;
    }
  }

  private async checkLogin(user: string, password: string): Promise<ConsoleSession<Api>> {
    if (!this.canLogin) throw new ApiError(503, 'console login needs a SASL_PLAINTEXT or SASL_SSL listener on this broker (the password is checked by a SASL login)');
    if (user === '' || password === '') throw new ApiError(401, 'user and password are required');
    const target = await this.target(user);
    // An unknown user fails like a wrong password (one message, so a login does not tell which users exist).
    const refused = new ApiError(401, 'Authentication failed: Invalid username or password');
    if (target === null) throw refused;
    const security: ClientSecurity = {
      protocol: target.listener.protocol,
      tls: target.listener.tls(),
      sasl: { mechanism: target.mechanism, username: user, password },
    };
    let admin: AdminClient;
    try {
      admin = await this.connect(target.listener.bootstrap, security);
    } catch (err) {
      if ((err as { code?: number }).code === 58) throw refused; // SASL_AUTHENTICATION_FAILED
      throw err;
    }
    // The login's connection serves the session first; after a broken connection (the API drops it) the
    // next call logs in again with the same credentials.
    let first: AdminClient | null = admin;
    const adminFor = (): Promise<AdminClient> => {
      if (first !== null) {
        const a = first;
        first = null;
        return Promise.resolve(a);
      }
      return this.connect(target.listener.bootstrap, security);
    };
    const principal = `User:${user}`;
    const api = this.makeApi(adminFor, principal);
    const session: ConsoleSession<Api> = { id: randomBytes(32).toString('base64url'), user, principal, api, lastUsedMs: Date.now() };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The session a request's Cookie header names, if it is live. */
  get(cookieHeader: string | undefined): ConsoleSession<Api> | null {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    if (id === null) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (Date.now() - s.lastUsedMs > this.idleMs) {
      this.end(id);
      return null;
    }
    s.lastUsedMs = Date.now();
    return s;
  }

  end(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    s.api.close();
  }

  close(): void {
    clearInterval(this.timer);
    for (const id of [...this.sessions.keys()]) this.end(id);
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (now - s.lastUsedMs > this.idleMs) this.end(id);
  }

  /** The listener and mechanism for `user`: PLAIN where the listener's JAAS names the user, else SCRAM. */
  private async target(user: string): Promise<{ listener: LoginListener; mechanism: ClientSaslMechanism } | null> {
    let scram: number[] | null = null;
    for (const l of this.listeners) {
      if (l.mechanisms.includes('PLAIN') && l.plainUsers.has(user)) return { listener: l, mechanism: 'PLAIN' };
      scram ??= await this.scramMechanisms(user);
      for (const [code, name] of [[2, 'SCRAM-SHA-512'], [1, 'SCRAM-SHA-256']] as const) {
        if (scram.includes(code) && l.mechanisms.includes(name)) return { listener: l, mechanism: name };
      }
    }
    return null;
  }
}

export function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
