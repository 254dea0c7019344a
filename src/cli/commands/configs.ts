/**
 * `floe configs`: kafka-configs.sh's flags over the Kafka protocol (DescribeConfigs, IncrementalAlterConfigs;
 * AlterUserScramCredentials and DescribeUserScramCredentials for users).
 *
 *   --bootstrap-server H:P --describe --entity-type topics|brokers|groups --entity-name X [--all]   (brokers: --entity-default, or no name: every broker)
 *   --bootstrap-server H:P --alter --entity-type topics|brokers|groups --entity-name X [--add-config k=v,...] [--delete-config k,...]
 *   --bootstrap-server H:P --describe --entity-type users|clients [--entity-name U | --entity-default]
 *   --bootstrap-server H:P --alter --entity-type users --entity-name U --add-config 'SCRAM-SHA-256=[iterations=8192,password=P]' [--delete-config SCRAM-SHA-512]
 *   --bootstrap-server H:P --alter --entity-type users|clients (--entity-name X | --entity-default) --add-config producer_byte_rate=1024 [--delete-config k]
 *
 * Users and clients: SCRAM credentials and client quotas (AlterClientQuotas/DescribeClientQuotas). The
 * combined user + client-id entity (two --entity-type flags) is not taken.
 */
import { connectAdmin } from '../admin/connect-admin.ts';
import { CONFIG_DELETE, CONFIG_SET, RESOURCE_BROKER, RESOURCE_GROUP, RESOURCE_TOPIC } from '../../client/admin-client.ts';
import { AdminUsageError, keyValues, oneAction, parseFlags, required, splitTopLevel } from '../admin/admin-args.ts';
import { json, table } from '../admin/output.ts';
import { describeLine, describeUsers, mechanismByName, parseScramValue } from '../admin/scram-users.ts';
import type { AdminClient } from '../../client/admin-client.ts';
import type { Flags } from '../admin/admin-args.ts';

export const CONFIGS_USAGE = `Usage: floe configs --bootstrap-server HOST:PORT ACTION --entity-type topics|brokers|groups|users --entity-name NAME [--command-config FILE] [--json]
Actions (as kafka-configs.sh):
  --describe [--all]                       configs set on the entity (--all: every config with its source);
                                           brokers: --entity-default is the cluster default, no name every broker
  --alter [--add-config k=v[,k=v]] [--delete-config k[,k]]
Users (SCRAM credentials, salted here as kafka-configs.sh does) and client quotas:
  --describe --entity-type users|clients [--entity-name X | --entity-default]
  --alter --entity-type users --entity-name U --add-config 'SCRAM-SHA-256=[iterations=8192,password=P],SCRAM-SHA-512=[password=P]'
  --alter --entity-type users --entity-name U --delete-config 'SCRAM-SHA-512'
  --alter --entity-type users|clients (--entity-name X | --entity-default) --add-config producer_byte_rate=1048576,consumer_byte_rate=2097152,request_percentage=50
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
  if (entityType === 'users' || entityType === 'clients') {
    const admin = await connectAdmin(flags, 'floe configs');
    try {
      return await usersAndClients(admin, flags, entityType, action, out);
    } finally {
      admin.close();
    }
  }
  const type = entityType === 'topics' ? RESOURCE_TOPIC : entityType === 'brokers' ? RESOURCE_BROKER : entityType === 'groups' ? RESOURCE_GROUP : null;
  if (type === null) throw new AdminUsageError(`--entity-type must be topics, brokers, groups, users or clients, got '${entityType}'`);
  // kafka-configs.sh: --entity-default is the cluster-wide broker default (resource name ''); a broker
  // --describe without a name describes every broker.
  const everyBroker = type === RESOURCE_BROKER && action === 'describe' && flags['entity-default'] !== true && flags['entity-name'] === undefined;
  const name = flags['entity-default'] === true && type === RESOURCE_BROKER ? '' : everyBroker ? '' : required(flags, 'entity-name', `--${action}`);
  const what = type === RESOURCE_TOPIC ? `topic ${name}` : type === RESOURCE_GROUP ? `group ${name}` : name === '' ? 'the default broker' : `broker ${name}`;
  const asJson = flags.json === true;
  const admin = await connectAdmin(flags, 'floe configs');
  try {
    if (action === 'describe') {
      const all = flags.all === true;
      const dynamic = type === RESOURCE_TOPIC ? [1] : type === RESOURCE_GROUP ? [8] : [2, 3];
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
    // kafka-configs.sh's wording: the cluster default, or the one entity
    out(asJson ? json({ entity: what, set, deleted: del }) : name === '' && type === RESOURCE_BROKER ? 'Completed updating default config for brokers in the cluster.\n' : `Completed updating config for ${what}.\n`);
    return 0;
  } finally {
    admin.close();
  }
}

const SCRAM_KEY = /^SCRAM-SHA-(256|512)$/i;

/** kafka-configs.sh prints quota values as Java doubles (1024.0). */
function quotaText(v: number): string {
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

/**
 * --entity-type users|clients: client quotas (AlterClientQuotas / DescribeClientQuotas) and, for users, SCRAM
 * credentials (AlterUserScramCredentials / DescribeUserScramCredentials), with kafka-configs.sh's output.
 */
async function usersAndClients(admin: AdminClient, flags: Flags, entityType: 'users' | 'clients', action: string, out: (s: string) => void): Promise<number> {
  const asJson = flags.json === true;
  const quotaType = entityType === 'users' ? 'user' : 'client-id';
  const label = entityType === 'users' ? 'user-principal' : 'client-id';
  const entityDefault = flags['entity-default'] === true;
  const named = flags['entity-name'] as string | undefined;
  if (entityDefault && named !== undefined) throw new AdminUsageError('give --entity-name or --entity-default, not both');
  const entity = (n: string) => (n === '' ? `the default ${label}` : `${label} '${n}'`);
  if (action === 'describe') {
    const name = entityDefault ? '' : named ?? null;
    const quotas = await admin.describeClientQuotas(quotaType, name);
    // SCRAM credentials: users only, and not for the default (as kafka-configs.sh)
    const scram = entityType === 'users' && name !== '';
    let users: Awaited<ReturnType<typeof describeUsers>> = [];
    let scramError: string | null = null;
    if (scram) {
      try {
        users = await describeUsers(admin, name === null ? null : [name]);
      } catch (err) {
        if ((err as { code?: number }).code !== 91) throw err; // RESOURCE_NOT_FOUND: kafka-configs.sh prints it and goes on
        scramError = (err as Error).message;
      }
    }
    if (asJson) {
      const names = [...new Set([...quotas.map((q) => q.name), ...users.map((u) => u.user), ...(name !== null ? [name] : [])])].sort();
      out(json(names.map((n) => ({
        entity: n === '' ? null : n,
        quotas: quotas.find((q) => q.name === n)?.values ?? {},
        ...(scram ? { credentials: users.find((u) => u.user === n)?.credentials ?? [] } : {}),
      }))));
      return 0;
    }
    for (const q of quotas.sort((a, b) => a.name.localeCompare(b.name))) {
      out(`Quota configs for ${entity(q.name)} are ${Object.entries(q.values).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${quotaText(v)}`).join(', ')}\n`);
    }
    out(users.map(describeLine).join(''));
    if (scramError !== null) out(`Error retrieving SCRAM credential configs for ${entity(name!)}: ${scramError}\n`);
    return 0;
  }
  const name = entityDefault ? '' : required(flags, 'entity-name', `--alter --entity-type ${entityType}`);
  const set = keyValues((flags['add-config'] as string[] | undefined) ?? []);
  const del = ((flags['delete-config'] as string[] | undefined) ?? []).flatMap(splitTopLevel);
  if (Object.keys(set).length === 0 && del.length === 0) throw new AdminUsageError('--alter needs --add-config or --delete-config');
  const scramSet = Object.entries(set).filter(([k]) => SCRAM_KEY.test(k));
  const scramDel = del.filter((k) => SCRAM_KEY.test(k));
  if ((scramSet.length > 0 || scramDel.length > 0) && (entityType !== 'users' || name === '')) throw new AdminUsageError('SCRAM credentials belong to a named user (--entity-type users --entity-name U)');
  const quotaOps: { key: string; value: number | null }[] = [];
  for (const [k, v] of Object.entries(set)) {
    if (SCRAM_KEY.test(k)) continue;
    const value = Number(v);
    if (v.trim() === '' || !Number.isFinite(value)) throw new AdminUsageError(`${k}=${v}: a quota must be a number`);
    quotaOps.push({ key: k, value });
  }
  for (const k of del) if (!SCRAM_KEY.test(k)) quotaOps.push({ key: k, value: null });
  if (scramSet.length > 0 || scramDel.length > 0) {
    await admin.alterScramCredentials(scramSet.map(([k, v]) => parseScramValue(name, mechanismByName(k), v)), scramDel.map((k) => ({ user: name, mechanism: mechanismByName(k).code })));
  }
  if (quotaOps.length > 0) await admin.alterClientQuotas(quotaType, name, quotaOps);
  out(asJson ? json({ entity: name === '' ? null : name, entityType, set: Object.keys(set), deleted: del })
    : name === '' ? `Completed updating default config for ${entityType} in the cluster.\n` : `Completed updating config for ${entityType === 'users' ? 'user' : 'client'} ${name}.\n`);
  return 0;
}
