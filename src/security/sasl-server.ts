/**
 * Server side of the SASL mechanisms Floe offers (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), with Kafka's rules
 * and messages (PlainSaslServer, ScramSaslServer):
 * - PLAIN (RFC 4616): `[authzid] NUL user NUL password`; the authzid, when given, must be the user.
 * - SCRAM (RFC 5802 / 7677): username escaping (`=2C`, `=3D`) only, no SASLprep; no channel binding; no
 *   extensions (Kafka's only one, `tokenauth`, is for delegation tokens); iterations 4096-16384; proofs compared
 *   in constant time.
 * Each exchange is one object per connection; `evaluate` returns the next server token, and throws
 * SaslAuthenticationError with the message the client sees.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramCredential } from '../coordinator/security-store.ts';

export class SaslAuthenticationError extends Error {
  override name = 'SaslAuthenticationError';
}

export interface SaslServer {
  readonly mechanism: string;
  /** The next challenge for a client token; `complete` once the client is authenticated. */
  evaluate(token: Buffer): Promise<{ challenge: Buffer; complete: boolean }>;
  /** The authenticated user (without `User:`), once complete. */
  readonly user: string | null;
}

export interface ScramMechanism {
  name: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  /** Kafka's ScramMechanism code in AlterUserScramCredentials / DescribeUserScramCredentials. */
  code: 1 | 2;
  hash: 'sha256' | 'sha512';
  keyLength: number;
}

export const SCRAM_MECHANISMS: readonly ScramMechanism[] = [
  { name: 'SCRAM-SHA-256', code: 1, hash: 'sha256', keyLength: 32 },
  { name: 'SCRAM-SHA-512', code: 2, hash: 'sha512', keyLength: 64 },
];
export const SCRAM_MIN_ITERATIONS = 4096;
export const SCRAM_MAX_ITERATIONS = 16384;

export function scramMechanism(nameOrCode: string | number): ScramMechanism | undefined {
  return SCRAM_MECHANISMS.find((m) => m.name === nameOrCode || m.code === nameOrCode);
}

/** StoredKey and ServerKey from a salted password (what AlterUserScramCredentials sends). */
export function scramKeys(mechanism: ScramMechanism, saltedPassword: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = createHmac(mechanism.hash, saltedPassword).update('Client Key').digest();
  return {
    storedKey: createHash(mechanism.hash).update(clientKey).digest(),
    serverKey: createHmac(mechanism.hash, saltedPassword).update('Server Key').digest(),
  };
}

/** RFC 5802 Hi(): the salted password. */
export function saltPassword(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, mechanism.keyLength, mechanism.hash);
}

/** A credential for a password (the `floe scram` command and tests). */
export function scramCredential(mechanism: ScramMechanism, user: string, password: string, iterations: number, salt = randomBytes(32)): ScramCredential {
  return { user, mechanism: mechanism.code, salt, iterations, ...scramKeys(mechanism, saltPassword(mechanism, password, salt, iterations)) };
}

function equalBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export class PlainServer implements SaslServer {
  readonly mechanism = 'PLAIN';
  user: string | null = null;

  constructor(private readonly users: ReadonlyMap<string, string>) {}

  async evaluate(token: Buffer): Promise<{ challenge: Buffer; complete: boolean }> {
    const parts = token.toString('utf8').split('\u0000');
    if (parts.length !== 3) throw new SaslAuthenticationError(`Invalid SASL/PLAIN response: expected 3 tokens, got ${parts.length}`);
    const [authzid, user, password] = parts as [string, string, string];
    if (user === '') throw new SaslAuthenticationError('Authentication failed: username not specified');
    if (password === '') throw new SaslAuthenticationError('Authentication failed: password not specified');
    const expected = this.users.get(user);
    // Compared in constant time, also against a dummy for unknown users, so timing does not tell users apart.
    const ok = equalBytes(Buffer.from(password, 'utf8'), Buffer.from(expected ?? '\u0000unknown-user', 'utf8')) && expected !== undefined;
    if (!ok) throw new SaslAuthenticationError('Authentication failed: Invalid username or password');
    if (authzid !== '' && authzid !== user) throw new SaslAuthenticationError('Authentication failed: Client requested an authorization id that is different from username');
    this.user = user;
    return { challenge: Buffer.alloc(0), complete: true };
  }
}

type ScramState = 'first' | 'final' | 'done';

export class ScramServer implements SaslServer {
  user: string | null = null;
  private state: ScramState = 'first';
  private clientFirstBare = '';
  private serverFirst = '';
  private gs2Header = '';
  private clientNonce = '';
  private nonce = '';
  private credential: ScramCredential | null = null;

  constructor(
    private readonly mech: ScramMechanism,
    private readonly lookup: (user: string, mechanism: number) => Promise<ScramCredential | null>,
  ) {}

  get mechanism(): string {
    return this.mech.name;
  }

  async evaluate(token: Buffer): Promise<{ challenge: Buffer; complete: boolean }> {
    const text = token.toString('utf8');
    if (this.state === 'first') return this.clientFirst(text);
    if (this.state === 'final') return this.clientFinal(text);
    throw new SaslAuthenticationError('Authentication failed: unexpected SCRAM message after the exchange completed');
  }

  private async clientFirst(text: string): Promise<{ challenge: Buffer; complete: boolean }> {
    const m = /^((n|y|p=[^,]*),(?:a=([^,]*))?,)(n=([^,]*),r=([\x21-\x2b\x2d-\x7e]+)((?:,[A-Za-z]=[^,]*)*))$/.exec(text);
    if (!m) throw new SaslAuthenticationError('Authentication failed: Invalid SCRAM client first message');
    if (m[2]!.startsWith('p=')) throw new SaslAuthenticationError('Authentication failed: SCRAM channel binding is not supported');
    if (m[7] !== '') throw new SaslAuthenticationError(`Authentication failed: Unsupported extensions ${m[7]!.slice(1)}`);
    const user = decodeSaslName(m[5]!);
    if (user === null || user === '') throw new SaslAuthenticationError('Authentication failed: Invalid SCRAM user name');
    if (m[3] !== undefined && m[3] !== '' && decodeSaslName(m[3]) !== user) {
      throw new SaslAuthenticationError('Authentication failed: Client requested an authorization id that is different from username');
    }
    const credential = await this.lookup(user, this.mech.code);
    if (!credential) throw new SaslAuthenticationError('Authentication failed: Invalid user credentials');
    this.gs2Header = m[1]!;
    this.clientFirstBare = m[4]!;
    this.clientNonce = m[6]!;
    this.nonce = this.clientNonce + randomBytes(24).toString('base64url');
    this.serverFirst = `r=${this.nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
    this.credential = credential;
    this.user = null;
    this.pendingUser = user;
    this.state = 'final';
    return { challenge: Buffer.from(this.serverFirst, 'utf8'), complete: false };
  }

  private pendingUser = '';

  private async clientFinal(text: string): Promise<{ challenge: Buffer; complete: boolean }> {
    const m = /^(c=([^,]*),r=([^,]*)(?:,[A-Za-z]=[^,]*)*?),p=([A-Za-z0-9+/=]+)$/.exec(text);
    if (!m) throw new SaslAuthenticationError('Authentication failed: Invalid SCRAM client final message');
    if (Buffer.from(m[2]!, 'base64').toString('utf8') !== this.gs2Header) throw new SaslAuthenticationError('Authentication failed: Invalid channel binding in the final client message');
    // Kafka takes the nonce it sent; librdkafka 2.0 repeats the client's part before it, which Kafka accepts too.
    const nonce = m[3]!;
    if (nonce !== this.nonce && nonce !== this.clientNonce + this.nonce) throw new SaslAuthenticationError('Authentication failed: Invalid client nonce in the final client message.');
    const credential = this.credential!;
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${m[1]}`;
    const proof = Buffer.from(m[4]!, 'base64');
    const clientSignature = createHmac(this.mech.hash, credential.storedKey).update(authMessage).digest();
    if (proof.length !== clientSignature.length) throw new SaslAuthenticationError(`Authentication failed during authentication due to invalid credentials with SASL mechanism ${this.mech.name}`);
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    const storedKey = createHash(this.mech.hash).update(clientKey).digest();
    if (!equalBytes(storedKey, credential.storedKey)) {
      this.state = 'done';
      throw new SaslAuthenticationError(`Authentication failed during authentication due to invalid credentials with SASL mechanism ${this.mech.name}`);
    }
    const serverSignature = createHmac(this.mech.hash, credential.serverKey).update(authMessage).digest();
    this.state = 'done';
    this.user = this.pendingUser;
    return { challenge: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'), complete: true };
  }
}

/** RFC 5802 saslname: `=2C` is `,` and `=3D` is `=`; any other `=` is invalid (null). */
function decodeSaslName(name: string): string | null {
  if (/=(?!2C|3D)/.test(name)) return null;
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}
