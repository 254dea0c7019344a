/**
 * The client side of SASL PLAIN (RFC 4616) and SCRAM-SHA-256/512 (RFC 5802/7677, as Kafka's ScramSaslClient:
 * no channel binding, username escaping only, the server's iteration count checked against Kafka's minimum
 * of 4096 and its final signature verified). `step` takes the server's last token (empty at the start) and
 * returns the next client token; `done` once the server is verified.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { saltPassword, scramMechanism, SCRAM_MIN_ITERATIONS } from '../security/sasl-server.ts';
import type { ClientSasl } from './client-security.ts';

export class SaslClientError extends Error {
  override name = 'SaslClientError';
}

export interface SaslClient {
  /** The next token to send, or null when the exchange is complete. */
  step(serverToken: Buffer): Buffer | null;
}

export function saslClient(sasl: ClientSasl): SaslClient {
  return sasl.mechanism === 'PLAIN' ? new PlainClient(sasl) : new ScramClient(sasl);
}

class PlainClient implements SaslClient {
  private sent = false;
  constructor(private readonly sasl: ClientSasl) {}
  step(): Buffer | null {
    if (this.sent) return null;
    this.sent = true;
    return Buffer.from(`\u0000${this.sasl.username}\u0000${this.sasl.password}`, 'utf8');
  }
}

class ScramClient implements SaslClient {
  private state: 'first' | 'final' | 'verify' | 'done' = 'first';
  private readonly mech;
  private readonly clientNonce = randomBytes(24).toString('base64url');
  private clientFirstBare = '';
  private serverSignature: Buffer | null = null;

  constructor(private readonly sasl: ClientSasl) {
    this.mech = scramMechanism(sasl.mechanism)!;
  }

  step(serverToken: Buffer): Buffer | null {
    switch (this.state) {
      case 'first': {
        const name = this.sasl.username.replace(/=/g, '=3D').replace(/,/g, '=2C');
        this.clientFirstBare = `n=${name},r=${this.clientNonce}`;
        this.state = 'final';
        return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8');
      }
      case 'final': {
        const serverFirst = serverToken.toString('utf8');
        const f = fields(serverFirst);
        const nonce = f.get('r');
        const salt = f.get('s');
        const iterations = Number(f.get('i'));
        if (nonce === undefined || salt === undefined || !Number.isInteger(iterations)) throw new SaslClientError(`invalid SCRAM server first message '${serverFirst}'`);
        if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) throw new SaslClientError('invalid SCRAM server nonce: it does not extend the client nonce');
        if (iterations < SCRAM_MIN_ITERATIONS) throw new SaslClientError(`SCRAM iterations ${iterations} below the minimum ${SCRAM_MIN_ITERATIONS}`);
        const salted = saltPassword(this.mech, this.sasl.password, Buffer.from(salt, 'base64'), iterations);
        const clientKey = createHmac(this.mech.hash, salted).update('Client Key').digest();
        const storedKey = createHash(this.mech.hash).update(clientKey).digest();
        const withoutProof = `c=biws,r=${nonce}`;
        const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
        const signature = createHmac(this.mech.hash, storedKey).update(authMessage).digest();
        const proof = Buffer.alloc(clientKey.length);
        for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
        const serverKey = createHmac(this.mech.hash, salted).update('Server Key').digest();
        this.serverSignature = createHmac(this.mech.hash, serverKey).update(authMessage).digest();
        this.state = 'verify';
        return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
      }
      case 'verify': {
        const f = fields(serverToken.toString('utf8'));
        if (f.has('e')) throw new SaslClientError(`SCRAM server error: ${f.get('e')}`);
        const v = Buffer.from(f.get('v') ?? '', 'base64');
        if (v.length !== this.serverSignature!.length || !timingSafeEqual(v, this.serverSignature!)) throw new SaslClientError('invalid SCRAM server signature: the server does not know the credential');
        this.state = 'done';
        return null;
      }
      default:
        return null;
    }
  }
}

function fields(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}
