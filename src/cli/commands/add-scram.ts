/**
 * `floe add-scram 'SCRAM-SHA-512=[name=alice,password=alice-secret]' …`: writes SCRAM credentials straight to
 * the coordinator the configuration names (the embedded one under data.dir, or PostgreSQL), so the first user
 * exists before any broker runs — Kafka's `kafka-storage format --add-scram`, same argument syntax
 * (`name`, `password`, optional `iterations` (default 4096) and `salt` (base64; default random)).
 * Later users are better created with AlterUserScramCredentials (kafka-configs --alter --add-config).
 */
import { randomBytes } from 'node:crypto';
import { ConfigError, loadBrokerConfig } from '../../config/broker-config.ts';
import { openCoordinator } from '../../coordinator/open.ts';
import type { ScramCredential } from '../../coordinator/security-store.ts';
import { SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS, scramCredential, scramMechanism } from '../../security/sasl-server.ts';
import type { CommandOptions } from '../command-options.ts';

/** Parses `MECHANISM=[key=value,…]` (Kafka's --add-scram syntax); throws ConfigError. */
export function parseScramSpec(spec: string): ScramCredential {
  const m = /^(SCRAM-SHA-256|SCRAM-SHA-512)=\[(.*)\]$/.exec(spec.trim());
  if (!m) throw new ConfigError(`--add-scram expects SCRAM-SHA-256=[name=alice,password=secret] or SCRAM-SHA-512=[...], got '${spec}'`);
  const fields = new Map<string, string>();
  for (const part of m[2]!.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--add-scram: '${part}' is not key=value`);
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  const name = fields.get('name');
  const password = fields.get('password');
  if (!name || !password) throw new ConfigError(`--add-scram ${spec}: name and password are required`);
  const iterations = Number(fields.get('iterations') ?? 4096);
  if (!Number.isInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS) {
    throw new ConfigError(`--add-scram ${spec}: iterations must be an integer in [${SCRAM_MIN_ITERATIONS},${SCRAM_MAX_ITERATIONS}]`);
  }
  const salt = fields.has('salt') ? Buffer.from(fields.get('salt')!, 'base64') : randomBytes(32);
  return scramCredential(scramMechanism(m[1]!)!, name, password, iterations, salt);
}

export async function runAddScram(opts: CommandOptions, specs: string[]): Promise<number> {
  if (specs.length === 0) throw new ConfigError("floe add-scram needs at least one 'SCRAM-SHA-512=[name=…,password=…]'");
  const credentials = specs.map(parseScramSpec);
  const { config, warnings } = loadBrokerConfig({ file: opts.file, overrides: opts.overrides, env: process.env });
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  const coordinator = await openCoordinator(config);
  try {
    await coordinator.alterScramCredentials(credentials, []);
  } finally {
    await coordinator.close();
  }
  for (const c of credentials) process.stdout.write(`SCRAM credential stored: ${c.user} (${scramMechanism(c.mechanism)!.name}, ${c.iterations} iterations)\n`);
  return 0;
}
