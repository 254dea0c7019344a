/**
 * SASL/OAUTHBEARER (RFC 7628, KIP-255 and KIP-768): the server side of the exchange and the validation of
 * the client's JWT with `jose` against the keys of a JWKS (Kafka's BrokerJwtValidator with the
 * `sasl.oauthbearer.*` keys of security-config.ts).
 *
 * - Client first message: `n,[a=authzid],` `\x01auth=Bearer <jwt>\x01[key=value\x01]*\x01`. SASL extensions
 *   are accepted and ignored (Kafka's default validator ignores them too); an authzid, when given, must be
 *   the token's subject.
 * - The token: a JWS signed by a key of the JWKS (`sasl.oauthbearer.jwks.endpoint.url`: https/http, fetched
 *   and refreshed by jose; or `file://`, read again when the file changes), with `exp` and the subject claim
 *   (`sasl.oauthbearer.sub.claim.name`, default `sub`), checked against `sasl.oauthbearer.expected.issuer`
 *   and `sasl.oauthbearer.expected.audience` when set, with `sasl.oauthbearer.clock.skew.seconds` of
 *   leeway. Unsecured (`alg: none`) tokens are never accepted.
 * - A refused token is answered as Kafka answers (RFC 7628 §3.2.2): a server challenge holding the error
 *   JSON (`{"status":"invalid_token"}`), to which the client replies `\x01`; the exchange then fails with
 *   SASL_AUTHENTICATION_FAILED and the reason.
 * - The principal is `User:<subject>`; the token's remaining lifetime bounds the session (KIP-368: the session
 *   lasts min(connections.max.reauth.ms, token expiry) when re-authentication is on).
 * `jose` is imported at the first token, not at start: a broker without OAUTHBEARER never loads it.
 */
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { JWTVerifyGetKey } from 'jose';
import type { OAuthBearerSettings } from '../config/security-config.ts';
import { SaslAuthenticationError, type SaslServer } from './sasl-server.ts';

/** A verified token: the principal's name and when the token expires (ms since the epoch). */
export interface VerifiedToken {
  subject: string;
  expiresAtMs: number;
  scope: string[];
}

type Jose = typeof import('jose');

let josePackage: Promise<Jose> | undefined;

/** Validates JWTs for one listener; the JWKS is shared by every connection of the listener. */
export class OAuthBearerValidator {
  private readonly url: URL;
  private keys: JWTVerifyGetKey | null = null;

  constructor(private readonly settings: OAuthBearerSettings) {
    this.url = new URL(settings.jwksEndpointUrl);
  }

  /** Throws SaslAuthenticationError with the reason. */
  async verify(token: string, now = Date.now()): Promise<VerifiedToken> {
    const s = this.settings;
    const jose = await (josePackage ??= import('jose'));
    this.keys ??= this.url.protocol === 'file:'
      ? fileJwks(jose, fileURLToPath(this.url))
      : jose.createRemoteJWKSet(this.url, { cooldownDuration: 30_000, cacheMaxAge: s.jwksRefreshMs, timeoutDuration: 10_000 });
    try {
      const { payload } = await jose.jwtVerify(token, this.keys, {
        ...(s.expectedIssuer !== null ? { issuer: s.expectedIssuer } : {}),
        ...(s.expectedAudience.length > 0 ? { audience: s.expectedAudience } : {}),
        clockTolerance: s.clockSkewSeconds,
        requiredClaims: ['exp', s.subClaimName],
        currentDate: new Date(now),
      });
      const subject = payload[s.subClaimName];
      if (typeof subject !== 'string' || subject.trim() === '') throw new SaslAuthenticationError(`The token's ${s.subClaimName} claim must be a non-empty string`);
      const scopeClaim = payload[s.scopeClaimName];
      const scope = typeof scopeClaim === 'string' ? scopeClaim.split(' ').filter((x) => x !== '') : Array.isArray(scopeClaim) ? scopeClaim.map(String) : [];
      return { subject, expiresAtMs: Number(payload.exp) * 1000, scope };
    } catch (err) {
      if (err instanceof SaslAuthenticationError) throw err;
      if (err instanceof jose.errors.JOSEError) throw new SaslAuthenticationError(`Authentication failed: invalid token: ${err.message} (${err.code})`);
      throw new SaslAuthenticationError(`Authentication failed: the token cannot be validated: ${(err as Error).message}`);
    }
  }
}

/** A JWKS read from a file, read again when its modification time or size changes. */
function fileJwks(jose: Jose, path: string): JWTVerifyGetKey {
  let stamp = '';
  let keys: JWTVerifyGetKey | null = null;
  return async (header, token) => {
    const s = await stat(path);
    const now = `${s.mtimeMs}:${s.size}`;
    if (keys === null || now !== stamp) {
      keys = jose.createLocalJWKSet(JSON.parse(await readFile(path, 'utf8')));
      stamp = now;
    }
    return keys(header, token);
  };
}

const KVSEP = '\x01';

export class OAuthBearerServer implements SaslServer {
  readonly mechanism = 'OAUTHBEARER';
  user: string | null = null;
  /** Remaining lifetime of the accepted token (KIP-368 bounds the session by it). */
  credentialLifetimeMs: number | null = null;
  /** The error JSON sent, once a token was refused: the client's `\x01` then ends the exchange. */
  private refused: string | null = null;

  constructor(private readonly validator: OAuthBearerValidator) {}

  async evaluate(token: Buffer): Promise<{ challenge: Buffer; complete: boolean }> {
    if (this.refused !== null) {
      // RFC 7628 §3.2.3: the client acknowledges the error with a single %x01; anything else is a protocol error.
      const reason = this.refused;
      this.refused = null;
      throw new SaslAuthenticationError(token.length === 1 && token[0] === 1 ? reason : `Authentication failed: expected %x01 after the error response, got ${token.length} bytes`);
    }
    const text = token.toString('utf8');
    const m = /^([ny]|p=[^,]*),(a=[^,]*)?,\x01((?:[^\x01]*\x01)*)\x01$/s.exec(text);
    if (!m) throw new SaslAuthenticationError('Invalid OAUTHBEARER client first message');
    if (m[1]!.startsWith('p=')) throw new SaslAuthenticationError('Authentication failed: channel binding is not supported');
    let bearer: string | null = null;
    for (const kv of m[3]!.split(KVSEP)) {
      if (kv === '') continue;
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new SaslAuthenticationError('Invalid OAUTHBEARER client first message: key=value expected');
      const key = kv.slice(0, eq);
      const value = kv.slice(eq + 1);
      if (key === 'auth') {
        const b = /^Bearer\s+([\w\-.~+/]+=*)$/i.exec(value.trim());
        if (!b) throw new SaslAuthenticationError('Invalid OAUTHBEARER client first message: auth must be "Bearer <token>"');
        bearer = b[1]!;
      }
    }
    if (bearer === null) throw new SaslAuthenticationError('Invalid OAUTHBEARER client first message: no auth=Bearer token');
    let verified: VerifiedToken;
    try {
      verified = await this.validator.verify(bearer);
    } catch (err) {
      if (!(err instanceof SaslAuthenticationError)) throw err;
      this.refused = err.message;
      return { challenge: Buffer.from(JSON.stringify({ status: 'invalid_token' }), 'utf8'), complete: false };
    }
    const authzid = m[2]?.slice(2) ?? '';
    if (authzid !== '' && authzid !== verified.subject) {
      throw new SaslAuthenticationError(`Authentication failed: the authorization id ${authzid} is not the token's subject`);
    }
    this.user = verified.subject;
    this.credentialLifetimeMs = Math.max(0, verified.expiresAtMs - Date.now());
    return { challenge: Buffer.alloc(0), complete: true };
  }
}
