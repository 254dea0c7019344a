/**
 * `floe users`: SCRAM users in short (what `floe configs --entity-type users` does in Kafka's syntax).
 *
 *   floe users list   --bootstrap-server H:P [--json]
 *   floe users add    NAME --password P [--mechanism SCRAM-SHA-256|SCRAM-SHA-512]... [--iterations N] --bootstrap-server H:P
 *   floe users delete NAME [--mechanism M]... --bootstrap-server H:P
 *
 * `add` without --mechanism stores both mechanisms; `delete` without it deletes every credential the user has.
 */
import { AdminUsageError, int, parseFlags, required } from '../admin/admin-args.ts';
import { connectAdmin } from '../admin/connect-admin.ts';
import { json, table } from '../admin/output.ts';
import { DEFAULT_SCRAM_ITERATIONS, describeUsers, mechanismByName, scramUpsertion } from '../admin/scram-users.ts';

export const USERS_USAGE = `Usage: floe users list|add|delete [NAME] --bootstrap-server HOST:PORT [--command-config FILE] [--json]
  list                                     users and their SCRAM mechanisms and iterations
  add NAME --password P [--mechanism M]... [--iterations N]
                                           store SCRAM credentials (default: SCRAM-SHA-256 and SCRAM-SHA-512, ${DEFAULT_SCRAM_ITERATIONS} iterations)
  delete NAME [--mechanism M]...           delete the user's credentials (default: all of them)
Kafka's form: floe configs --alter --entity-type users --entity-name NAME --add-config 'SCRAM-SHA-256=[iterations=8192,password=P]'
`;

const OPTIONS = {
  'bootstrap-server': { type: 'string' },
  password: { type: 'string' },
  mechanism: { type: 'string', multiple: true },
  iterations: { type: 'string' },
} as const;

export async function runUsers(args: string[], out: (s: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    out(USERS_USAGE);
    return 0;
  }
  if (sub !== 'list' && sub !== 'add' && sub !== 'delete') throw new AdminUsageError(`unknown 'floe users' subcommand '${sub}' (list, add or delete)`);
  const name = sub !== 'list' && rest[0] !== undefined && !rest[0].startsWith('-') ? rest.shift()! : undefined;
  const flags = parseFlags(rest, OPTIONS);
  if (flags.help) {
    out(USERS_USAGE);
    return 0;
  }
  if (sub !== 'list' && (name === undefined || name === '')) throw new AdminUsageError(`floe users ${sub} needs a user name: floe users ${sub} NAME`);
  const mechanisms = ((flags.mechanism as string[] | undefined) ?? []).map(mechanismByName);
  const asJson = flags.json === true;
  if (sub === 'add') required(flags, 'password', 'floe users add');
  const iterations = int(flags, 'iterations', 1) ?? DEFAULT_SCRAM_ITERATIONS;
  const admin = await connectAdmin(flags, `floe users ${sub}`);
  try {
    if (sub === 'list') {
      const users = await describeUsers(admin, null);
      if (asJson) out(json(users));
      else out(table(['USER', 'MECHANISM', 'ITERATIONS'], users.flatMap((u) => u.credentials.map((c) => [u.user, c.mechanism, c.iterations]))));
      return 0;
    }
    if (sub === 'add') {
      const ms = mechanisms.length > 0 ? mechanisms : ['SCRAM-SHA-256', 'SCRAM-SHA-512'].map(mechanismByName);
      await admin.alterScramCredentials(ms.map((m) => scramUpsertion(name!, m, flags.password as string, iterations)), []);
      out(asJson ? json({ user: name, mechanisms: ms.map((m) => m.name), iterations }) : `Stored SCRAM credentials of user '${name}' (${ms.map((m) => m.name).join(', ')}, ${iterations} iterations).\n`);
      return 0;
    }
    const codes = mechanisms.length > 0 ? mechanisms.map((m) => m.name) : (await describeUsers(admin, [name!]))[0]?.credentials.map((c) => c.mechanism) ?? [];
    await admin.alterScramCredentials([], codes.map((m) => ({ user: name!, mechanism: mechanismByName(m).code })));
    out(asJson ? json({ user: name, deleted: codes }) : `Deleted SCRAM credentials of user '${name}' (${codes.join(', ')}).\n`);
    return 0;
  } finally {
    admin.close();
  }
}
