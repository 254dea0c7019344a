/**
 * SCRAM users over AlterUserScramCredentials/DescribeUserScramCredentials, shared by `floe configs
 * --entity-type users` and `floe users`. The password never leaves the tool: as Kafka's kafka-configs.sh, the
 * client picks a random salt and sends the salted password (RFC 5802 Hi(): PBKDF2 with the mechanism's hash).
 */
import { randomBytes } from 'node:crypto';
import type { AdminClient, ScramUpsertion } from '../../client/admin-client.ts';
import { saltPassword, scramMechanism, type ScramMechanism } from '../../security/sasl-server.ts';
import { AdminUsageError } from './admin-args.ts';

/** kafka-configs.sh's default iteration count. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;

export function mechanismByName(text: string): ScramMechanism {
  const m = scramMechanism(text.trim().toUpperCase());
  if (!m) throw new AdminUsageError(`unknown SCRAM mechanism '${text}' (SCRAM-SHA-256 or SCRAM-SHA-512)`);
  return m;
}

/** A credential to send: random salt, salted password. */
export function scramUpsertion(user: string, mechanism: ScramMechanism, password: string, iterations: number): ScramUpsertion {
  if (password === '') throw new AdminUsageError(`the password of '${user}' must not be empty`);
  const salt = randomBytes(32);
  return { user, mechanism: mechanism.code, iterations, salt, saltedPassword: saltPassword(mechanism, password, salt, iterations) };
}

/** `iterations=8192,password=alice-secret` (the text inside kafka-configs.sh's SCRAM-SHA-256=[…]). */
export function parseScramValue(user: string, mechanism: ScramMechanism, value: string): ScramUpsertion {
  const fields = new Map<string, string>();
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new AdminUsageError(`${mechanism.name}=[${value}]: expected [iterations=N,password=P]`);
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1));
  }
  for (const k of fields.keys()) if (k !== 'iterations' && k !== 'password') throw new AdminUsageError(`${mechanism.name}: unknown field '${k}' (iterations, password)`);
  const password = fields.get('password');
  if (password === undefined) throw new AdminUsageError(`${mechanism.name}=[…] needs password=…`);
  const iterationsText = fields.get('iterations') ?? String(DEFAULT_SCRAM_ITERATIONS);
  if (!/^\d+$/.test(iterationsText.trim())) throw new AdminUsageError(`${mechanism.name}: iterations must be a number, got '${iterationsText}'`);
  return scramUpsertion(user, mechanism, password, Number(iterationsText));
}

export interface UserCredentials {
  user: string;
  credentials: { mechanism: string; iterations: number }[];
}

export async function describeUsers(admin: AdminClient, users: string[] | null): Promise<UserCredentials[]> {
  const found = await admin.describeScramCredentials(users);
  return found
    .map((u) => ({ user: u.user, credentials: u.credentials.map((c) => ({ mechanism: scramMechanism(c.mechanism)?.name ?? `mechanism ${c.mechanism}`, iterations: c.iterations })).sort((a, b) => a.mechanism.localeCompare(b.mechanism)) }))
    .sort((a, b) => a.user.localeCompare(b.user));
}

/** kafka-configs.sh's line: SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192, … */
export function describeLine(u: UserCredentials): string {
  return `SCRAM credential configs for user-principal '${u.user}' are ${u.credentials.map((c) => `${c.mechanism}=iterations=${c.iterations}`).join(', ')}\n`;
}
