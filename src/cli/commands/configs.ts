/**
 * `floe configs`: kafka-configs.sh's flags over the Kafka protocol (DescribeConfigs, IncrementalAlterConfigs;
 * AlterUserScramCredentials and DescribeUserScramCredentials for users).
 *
 *   --bootstrap-server H:P --describe --entity-type topics|brokers --entity-name X [--all]   (brokers: --entity-default, or no name: every broker)
 *   --bootstrap-server H:P --alter --entity-type topics|brokers --entity-name X [--add-config k=v,...] [--delete-config k,...]
 *   --bootstrap-server H:P --describe --entity-type users [--entity-name U]
 *   --bootstrap-server H:P --alter --entity-type users --entity-name U --add-config 'SCRAM-SHA-256=[iterations=8192,password=P]' [--delete-config SCRAM-SHA-512]
 *
 * Users: SCRAM credentials only (client quotas, which kafka-configs.sh also sets on users, are not handled here).
 */
import { connectAdmin } from '../admin/connect-admin.ts';
import { CONFIG_DELETE, CONFIG_SET, RESOURCE_BROKER, RESOURCE_TOPIC } from '../../client/admin-client.ts';
import { AdminUsageError, keyValues, oneAction, parseFlags, required, splitTopLevel } from '../admin/admin-args.ts';
import { json, table } from '../admin/output.ts';
import { describeLine, describeUsers, mechanismByName, parseScramValue } from '../admin/scram-users.ts';
import type { AdminClient } from '../../client/admin-client.ts';
import type { Flags } from '../admin/admin-args.ts';

export const CONFIGS_USAGE = `Usage: floe configs --bootstrap-server HOST:PORT ACTION --entity-type topics|brokers|users --entity-name NAME [--command-config FILE] [--json]
Actions (as kafka-configs.sh):
  --describe [--all]                       configs set on the entity (--all: every config with its source);
                                           brokers: --entity-default is the cluster default, no name every broker
  --alter [--add-config k=v[,k=v]] [--delete-config k[,k]]
Users (SCRAM credentials, salted here as kafka-configs.sh does):
  --describe --entity-type users [--entity-name U]
  --alter --entity-type users --entity-name U --add-config 'SCRAM-SHA-256=[iterations=8192,password=P],SCRAM-SHA-512=[password=P]'
  --alter --entity-type users --entity-name U --delete-config 'SCRAM-SHA-512'
`;

const OPTIONS = {
  'bootstrap-server': { type: 'string' },
  describe: { type: 'boolean' },
  alter: { type: 'boolean' },
  'entity-type': { type: 'string' },
  'entity-name': { type: 'string' },
  'entity-default': { type: 'boolean' },
  all: { type: 'boolean' },
  'add-config': { type: 'string', multiple: true },
  'delete-config': { type: 'string', multiple: true },
} as const;

/** DescribeConfigs' ConfigSource values, as kafka-configs.sh names them. */
const SOURCES: Record<number, string> = {
  1: 'DYNAMIC_TOPIC_CONFIG',
  2: 'DYNAMIC_BROKER_CONFIG',
  3: 'DYNAMIC_DEFAULT_BROKER_CONFIG',
  4: 'STATIC_BROKER_CONFIG',
  5: 'DEFAULT_CONFIG',
  6: 'DYNAMIC_BROKER_LOGGER_CONFIG',
  7: 'CLIENT_METRICS_CONFIG',
  8: 'GROUP_CONFIG',
};

export async function runConfigs(args: string[], out: (s: string) => void): Promise<number> {
  const flags = parseFlags(args, OPTIONS);
  if (flags.help) {
    out(CONFIGS_USAGE);
    return 0;
  }
  const action = oneAction(flags, ['describe', 'alter']);
  const entityType = required(flags, 'entity-type', `--${action}`);
  if (entityType === 'users') {
    const admin = await connectAdmin(flags, 'floe configs');
    try {
      return await users(admin, flags, action, out);
    } finally {
      admin.close();
    }
  }
  const type = entityType === 'topics' ? RESOURCE_TOPIC : entityType === 'brokers' ? RESOURCE_BROKER : null;
  if (type === null) throw new AdminUsageError(`--entity-type must be topics, brokers or users, got '${entityType}'`);
  // kafka-configs.sh: --entity-default is the cluster-wide broker default (resource name ''); a broker
  // --describe without a name describes every broker.
  const everyBroker = type === RESOURCE_BROKER && action === 'describe' && flags['entity-default'] !== true && flags['entity-name'] === undefined;
  const name = flags['entity-default'] === true && type === RESOURCE_BROKER ? '' : everyBroker ? '' : required(flags, 'entity-name', `--${action}`);
  const what = type === RESOURCE_TOPIC ? `topic ${name}` : name === '' ? 'the default broker' : `broker ${name}`;
  const asJson = flags.json === true;
  const admin = await connectAdmin(flags, 'floe configs');
  try {
    if (action === 'describe') {
      const all = flags.all === true;
      const dynamic = type === RESOURCE_TOPIC ? [1] : [2, 3];
      const describe = async (n: string) => (await admin.describeConfigs(type, n))
        .filter((c) => all || dynamic.includes(c.configSource))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((c) => ({ name: c.name, value: c.isSensitive ? null : c.value, source: SOURCES[c.configSource] ?? String(c.configSource), sensitive: c.isSensitive, readOnly: c.readOnly }));
      if (everyBroker) {
        const ids = (await admin.metadata([])).brokers.map((b) => b.nodeId).sort((a, b) => a - b);
        const result = [];
        for (const id of ids) result.push({ broker: id, configs: await describe(String(id)) });
        if (asJson) out(json(result));
        else for (const b of result) {
          out(`${all ? 'All' : 'Dynamic'} configs for broker ${b.broker} are:\n`);
          out(table(['NAME', 'VALUE', 'SOURCE'], b.configs.map((c) => [c.name, c.sensitive ? '(sensitive)' : c.value ?? '(null)', c.source])));
        }
        return 0;
      }
      const configs = await describe(name);
      if (asJson) {
        out(json(configs));
      } else {
        out(`${all ? 'All' : 'Dynamic'} configs for ${what} are:\n`);
        out(table(['NAME', 'VALUE', 'SOURCE'], configs.map((c) => [c.name, c.sensitive ? '(sensitive)' : c.value ?? '(null)', c.source])));
      }
      return 0;
    }
    const set = keyValues((flags['add-config'] as string[] | undefined) ?? []);
    const del = ((flags['delete-config'] as string[] | undefined) ?? []).flatMap(splitTopLevel);
    if (Object.keys(set).length === 0 && del.length === 0) throw new AdminUsageError('--alter needs --add-config or --delete-config');
    await admin.alterConfigs(type, name, [
      ...Object.entries(set).map(([k, v]) => ({ name: k, op: CONFIG_SET, value: v })),
      ...del.map((k) => ({ name: k, op: CONFIG_DELETE, value: null })),
    ]);
    out(asJson ? json({ entity: what, set, deleted: del }) : `Completed updating config for ${what}.\n`);
    return 0;
  } finally {
    admin.close();
  }
}

/** --entity-type users: SCRAM credentials (AlterUserScramCredentials / DescribeUserScramCredentials). */
async function users(admin: AdminClient, flags: Flags, action: string, out: (s: string) => void): Promise<number> {
  const asJson = flags.json === true;
  if (action === 'describe') {
    const name = flags['entity-name'] as string | undefined;
    const found = await describeUsers(admin, name === undefined ? null : [name]);
    out(asJson ? json(found) : found.map(describeLine).join(''));
    return 0;
  }
  const user = required(flags, 'entity-name', '--alter --entity-type users');
  const set = keyValues((flags['add-config'] as string[] | undefined) ?? []);
  const del = ((flags['delete-config'] as string[] | undefined) ?? []).flatMap(splitTopLevel);
  if (Object.keys(set).length === 0 && del.length === 0) throw new AdminUsageError('--alter needs --add-config or --delete-config');
  for (const k of [...Object.keys(set), ...del]) {
    if (!/^SCRAM-SHA-(256|512)$/i.test(k)) throw new AdminUsageError(`'${k}': floe configs --entity-type users sets SCRAM credentials only (SCRAM-SHA-256, SCRAM-SHA-512); client quotas are not handled by this command`);
  }
  const upsertions = Object.entries(set).map(([k, v]) => parseScramValue(user, mechanismByName(k), v));
  const deletions = del.map((k) => ({ user, mechanism: mechanismByName(k).code }));
  await admin.alterScramCredentials(upsertions, deletions);
  out(asJson ? json({ entity: `user-principal ${user}`, set: Object.keys(set).map((k) => k.toUpperCase()), deleted: del.map((k) => k.toUpperCase()) }) : `Completed updating config for user ${user}.\n`);
  return 0;
}
