/**
 * The broker's SASL service: which mechanisms each listener offers, the server side of one exchange
 * (sasl-server.ts) with PLAIN users from the listener's JAAS config and SCRAM credentials from the
 * coordinator (so every broker knows every user), and the per-connection exchange the SaslHandshake and
 * SaslAuthenticate handlers (and dispatch, for the raw tokens after SaslHandshake v0) drive.
 *
 * A failed login is answered after `connection.failed.authentication.delay.ms` (Kafka's rate limit on
 * password guessing), then the connection is closed. Re-authentication (KIP-368): a SaslHandshake on an
 * authenticated connection starts a new exchange; it must end with the same principal.
 */
import type { ScramCredential } from '../coordinator/security-store.ts';
import type { SecurityConfig } from '../config/security-config.ts';
import type { OAuthBearerSettings } from '../config/security-config.ts';
import { PlainServer, SaslAuthenticationError, ScramServer, scramMechanism, type SaslServer } from './sasl-server.ts';
import { OAuthBearerServer, OAuthBearerValidator } from './oauthbearer.ts';

/** What a connection needs for SASL (network/connection.ts's Connection has these fields). */
export interface SaslConnection {
  readonly listener: { name: string };
  principal: string;
  authenticated: boolean;
  sasl: unknown;
  sessionExpiresAt: number;
  closeAfterResponses(reason: string): void;
}

interface Exchange {
  server: SaslServer;
  /** The principal before a re-authentication (null on the first login). */
  previousPrincipal: string | null;
}

export type AuthenticateOutcome =
  | { ok: true; challenge: Buffer; complete: boolean; sessionLifetimeMs: number }
  | { ok: false; errorCode: 'ILLEGAL_SASL_STATE' | 'SASL_AUTHENTICATION_FAILED'; message: string };

export class SaslAuthenticator {
  /** One token validator per OAUTHBEARER settings object (its JWKS cache is shared by the listener's connections). */
  private readonly validators = new WeakMap<OAuthBearerSettings, OAuthBearerValidator>();

  constructor(
    private readonly security: SecurityConfig | undefined,
    private readonly credentials: (user: string, mechanism: number) => Promise<ScramCredential | null>,
    private readonly failedAuthenticationDelayMs = 100,
    private readonly onFailure: (listener: string, mechanism: string, reason: string) => void = () => {},
  ) {}

  /** The mechanisms a listener offers; empty for listeners without SASL. */
  mechanisms(listener: string): readonly string[] {
    return this.security?.listeners[listener]?.saslMechanisms ?? [];
  }

  /**
   * SaslHandshake: starts an exchange of `mechanism`. False when the listener does not offer it.
   */
  begin(conn: SaslConnection, mechanism: string): boolean {
    const listener = this.security?.listeners[conn.listener.name];
    if (!listener || !listener.saslMechanisms.includes(mechanism as never)) return false;
    let server: SaslServer;
    if (mechanism === 'PLAIN') server = new PlainServer(listener.plainUsers);
    else if (mechanism === 'OAUTHBEARER') {
      const settings = listener.oauthbearer!;
      let validator = this.validators.get(settings);
      if (!validator) this.validators.set(settings, (validator = new OAuthBearerValidator(settings)));
      server = new OAuthBearerServer(validator);
    } else server = new ScramServer(scramMechanism(mechanism)!, this.credentials);
    conn.sasl = { server, previousPrincipal: conn.authenticated ? conn.principal : null } satisfies Exchange;
    return true;
  }

  /** Whether an exchange was begun and has not ended. */
  inProgress(conn: SaslConnection): boolean {
    return conn.sasl !== null;
  }

  /** One client token of the exchange. Failures close the connection once answered (after the delay). */
  async authenticate(conn: SaslConnection, token: Buffer): Promise<AuthenticateOutcome> {
    const exchange = conn.sasl as Exchange | null;
    if (exchange === null) {
      conn.closeAfterResponses('SaslAuthenticate without SaslHandshake');
      return { ok: false, errorCode: 'ILLEGAL_SASL_STATE', message: 'SaslAuthenticate request received before SaslHandshake' };
    }
    try {
      const { challenge, complete } = await exchange.server.evaluate(token);
      if (!complete) return { ok: true, challenge, complete, sessionLifetimeMs: 0 };
      const principal = `User:${exchange.server.user}`;
      if (exchange.previousPrincipal !== null && exchange.previousPrincipal !== principal) {
        throw new SaslAuthenticationError(`Cannot change principals during re-authentication from ${exchange.previousPrincipal}: ${principal}`);
      }
      conn.sasl = null;
      conn.principal = principal;
      conn.authenticated = true;
      // KIP-368: with re-authentication on, a session lasts connections.max.reauth.ms, and no longer than
      // the credential (an OAUTHBEARER token's expiry).
      const reauthMs = this.security?.connectionsMaxReauthMs ?? 0;
      const credentialMs = exchange.server instanceof OAuthBearerServer ? exchange.server.credentialLifetimeMs : null;
      const lifetimeMs = reauthMs > 0 && credentialMs !== null ? Math.max(1, Math.min(reauthMs, credentialMs)) : reauthMs;
      conn.sessionExpiresAt = lifetimeMs > 0 ? Date.now() + lifetimeMs : 0;
      return { ok: true, challenge, complete, sessionLifetimeMs: lifetimeMs };
    } catch (err) {
      conn.sasl = null;
      const message = err instanceof SaslAuthenticationError ? err.message : `Authentication failed: ${(err as Error).message}`;
      this.onFailure(conn.listener.name, exchange.server.mechanism, message);
      if (this.failedAuthenticationDelayMs > 0) await new Promise((r) => setTimeout(r, this.failedAuthenticationDelayMs));
      conn.closeAfterResponses(`SASL authentication failed: ${message}`);
      return { ok: false, errorCode: 'SASL_AUTHENTICATION_FAILED', message };
    }
  }
}
