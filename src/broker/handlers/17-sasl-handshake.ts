/**
 * SaslHandshake (key 17), versions 0-1.
 *
 * Behavior: as Kafka. On a SASL_PLAINTEXT or SASL_SSL listener it starts an exchange of the requested
 * mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 as enabled by sasl.enabled.mechanisms) and lists the
 * enabled mechanisms; an unknown mechanism gets UNSUPPORTED_SASL_MECHANISM and the connection is closed
 * once answered. After v0 the client sends raw SASL tokens without a request header (dispatch reads them);
 * after v1 it sends SaslAuthenticate requests. On an authenticated connection, v1 starts a re-authentication
 * (KIP-368). On a listener without SASL: ILLEGAL_SASL_STATE, as Kafka's request handler answers.
 * Version notes: v1 adds SaslAuthenticate framing; the body is the same.
 */
import type { SaslHandshakeRequest, SaslHandshakeResponse } from '../../protocol/gen/messages/sasl-handshake.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

export const saslHandshake = defineHandler<SaslHandshakeRequest, SaslHandshakeResponse>({
  key: 17,
  name: 'SaslHandshake',
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, req) {
    const { conn, sasl } = ctx;
    const mechanisms = [...sasl.mechanisms(conn.listener.name)];
    if (mechanisms.length === 0) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
    // A second handshake before the first exchange ended, or a v0 re-authentication: Kafka refuses both.
    if (sasl.inProgress(conn) || (conn.authenticated && ctx.apiVersion === 0)) {
      conn.closeAfterResponses('unexpected SaslHandshake');
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
    }
    if (!sasl.begin(conn, req.mechanism)) {
      conn.closeAfterResponses(`unsupported SASL mechanism ${req.mechanism}`);
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
    }
    // Set before the first await: the next frame (already on its way) is a raw token.
    if (ctx.apiVersion === 0) conn.rawSaslToken = true;
    return { errorCode: ErrorCode.NONE, mechanisms };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, mechanisms: [] }),
});
