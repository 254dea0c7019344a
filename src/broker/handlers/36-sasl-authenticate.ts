/**
 * SaslAuthenticate (key 36), versions 0-2.
 *
 * Behavior: one token of the exchange SaslHandshake began; the answer carries the server's token. A failed
 * login is answered SASL_AUTHENTICATION_FAILED with Kafka's message after a short delay
 * (rate limit), then the connection is closed. Without a prior SaslHandshake, or on a listener without SASL:
 * ILLEGAL_SASL_STATE (and the connection closes). With connections.max.reauth.ms > 0 the answer to the last
 * token carries the session lifetime (v1+), after which the client must re-authenticate (KIP-368).
 * Version notes: v1 adds session_lifetime_ms; v2 is flexible.
 */
import type { SaslAuthenticateRequest, SaslAuthenticateResponse } from '../../protocol/gen/messages/sasl-authenticate.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

export const saslAuthenticate = defineHandler<SaslAuthenticateRequest, SaslAuthenticateResponse>({
  key: 36,
  name: 'SaslAuthenticate',
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, req) {
    const { conn, sasl } = ctx;
    if (sasl.mechanisms(conn.listener.name).length === 0 || !sasl.inProgress(conn)) {
      const message = conn.authenticated ? 'SaslAuthenticate request received after successful authentication' : 'SaslAuthenticate request received before SaslHandshake';
      if (!conn.authenticated) conn.closeAfterResponses(message);
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: message, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n };
    }
    const outcome = await sasl.authenticate(conn, req.authBytes);
    if (!outcome.ok) return { errorCode: ErrorCode[outcome.errorCode], errorMessage: outcome.message, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n };
    return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: outcome.challenge, sessionLifetimeMs: BigInt(outcome.sessionLifetimeMs) };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, errorMessage: null, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n }),
});
