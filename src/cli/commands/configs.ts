/**
 * `floe configs`: kafka-configs.sh's flags over the Kafka protocol (DescribeConfigs, IncrementalAlterConfigs).
 *
 *   --bootstrap-server H:P --describe --entity-type topics|brokers --entity-name X [--all]
 *   --bootstrap-server H:P --alter --entity-type topics|brokers --entity-name X [--add-config k=v,...] [--delete-config k,...]
 */
import { AdminClient, CONFIG_DELETE, CONFIG_SET, RESOURCE_BROKER, RESOURCE_TOPIC } from '../../client/admin-client.ts';
import { AdminUsageError, keyValues, oneAction, parseFlags, required, splitTopLevel } from '../admin/admin-args.ts';
import { json, table } from '../admin/output.ts';

export const CONFIGS_USAGE = `Usage: floe configs --bootstrap-server HOST:PORT ACTION --entity-type topics|brokers --entity-name NAME [--json]
Actions (as kafka-configs.sh):
  --describe [--all]                       configs set on the entity (--all: every config with its source)
  --alter [--add-config k=v[,k=v]] [--delete-config k[,k]]
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
  const type = entityType === 'topics' ? RESOURCE_TOPIC : entityType === 'brokers' ? RESOURCE_BROKER : null;
  if (type === null) throw new AdminUsageError(`--entity-type must be topics or brokers, got '${entityType}'`);
  // kafka-configs.sh: --entity-default is the cluster-wide broker default (resource name '')
  const name = flags['entity-default'] === true && type === RESOURCE_BROKER ? '' : required(flags, 'entity-name', `--${action}`);
  const what = type === RESOURCE_TOPIC ? `topic ${name}` : name === '' ? 'the default broker' : `broker ${name}`;
  const asJson = flags.json === true;
  const admin = await AdminClient.connect(required(flags, 'bootstrap-server', 'floe configs'));
  try {
    if (action === 'describe') {
      const all = flags.all === true;
      const dynamic = type === RESOURCE_TOPIC ? [1] : [2, 3];
      const configs = (await admin.describeConfigs(type, name))
        .filter((c) => all || dynamic.includes(c.configSource))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((c) => ({ name: c.name, value: c.isSensitive ? null : c.value, source: SOURCES[c.configSource] ?? String(c.configSource), sensitive: c.isSensitive, readOnly: c.readOnly }));
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
