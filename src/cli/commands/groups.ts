/**
 * `floe groups`: kafka-consumer-groups.sh's flags over the Kafka protocol.
 *
 *   --bootstrap-server H:P --list
 *   --bootstrap-server H:P --describe --group G        offsets, log-end offsets, lag and owners per partition
 *   --bootstrap-server H:P --reset-offsets --group G (--topic T[:P,P] | --all-topics)
 *        (--to-earliest | --to-latest | --to-current | --to-offset N | --to-datetime ISO | --shift-by N)
 *        [--execute | --dry-run]                      (no --execute: a dry run, as Kafka's tool)
 *   --bootstrap-server H:P --delete --group G
 */
import { connectAdmin } from '../admin/connect-admin.ts';
import { AdminClient, EARLIEST, LATEST, type TopicPartitionOffset } from '../../client/admin-client.ts';
import { describeLag } from '../../client/group-lag.ts';
import { AdminUsageError, oneAction, parseFlags } from '../admin/admin-args.ts';
import { CommandFailure, json, table } from '../admin/output.ts';

export const GROUPS_USAGE = `Usage: floe groups --bootstrap-server HOST:PORT ACTION [options] [--command-config FILE] [--json]
Actions (as kafka-consumer-groups.sh):
  --list
  --describe --group G                     per partition: CURRENT-OFFSET, LOG-END-OFFSET, LAG, consumer
  --reset-offsets --group G (--topic T[:P,...] | --all-topics) SPEC [--execute | --dry-run]
      SPEC: --to-earliest | --to-latest | --to-current | --to-offset N | --to-datetime YYYY-MM-DDTHH:mm:SS[.sss][Z|±hh:mm] | --shift-by N
      Without --execute nothing changes (a dry run); the group must have no active members.
  --delete --group G
`;

const OPTIONS = {
  'bootstrap-server': { type: 'string' },
  list: { type: 'boolean' },
  describe: { type: 'boolean' },
  'reset-offsets': { type: 'boolean' },
  delete: { type: 'boolean' },
  group: { type: 'string', multiple: true },
  topic: { type: 'string', multiple: true },
  'all-topics': { type: 'boolean' },
  'to-earliest': { type: 'boolean' },
  'to-latest': { type: 'boolean' },
  'to-current': { type: 'boolean' },
  'to-offset': { type: 'string' },
  'to-datetime': { type: 'string' },
  'shift-by': { type: 'string' },
  execute: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
} as const;

function oneGroup(flags: Record<string, unknown>, action: string): string {
  const groups = (flags.group as string[] | undefined) ?? [];
  if (groups.length !== 1) throw new AdminUsageError(`--${action} needs one --group`);
  return groups[0]!;
}

export async function runGroups(args: string[], out: (s: string) => void): Promise<number> {
  const flags = parseFlags(args, OPTIONS);
  if (flags.help) {
    out(GROUPS_USAGE);
    return 0;
  }
  const action = oneAction(flags, ['list', 'describe', 'reset-offsets', 'delete']);
  const asJson = flags.json === true;
  const admin = await connectAdmin(flags, 'floe groups');
  try {
    switch (action) {
      case 'list': {
        const groups = await admin.listGroups();
        if (asJson) out(json(groups.map((g) => ({ group: g.groupId, state: g.groupState, protocolType: g.protocolType }))));
        else out(table(['GROUP', 'STATE', 'PROTOCOL-TYPE'], groups.map((g) => [g.groupId, g.groupState || '-', g.protocolType || '-'])));
        return 0;
      }
      case 'describe': {
        const group = oneGroup(flags, 'describe');
        const rows = await describeLag(admin, group);
        if (asJson) out(json(rows));
        else if (rows.state === 'Dead') throw new CommandFailure(`Consumer group '${group}' does not exist.`);
        else if (rows.partitions.length === 0) out(`Consumer group '${group}' has no active members and no committed offsets. (state ${rows.state})\n`);
        else out(table(['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID'],
          rows.partitions.map((p) => [group, p.topic, p.partition, p.currentOffset ?? '-', p.logEndOffset, p.lag ?? '-', p.consumerId ?? '-', p.host ?? '-', p.clientId ?? '-'])));
        return 0;
      }
      case 'reset-offsets':
        return await resetOffsets(admin, flags, oneGroup(flags, 'reset-offsets'), asJson, out);
      default: {
        const groups = (flags.group as string[] | undefined) ?? [];
        if (groups.length === 0) throw new AdminUsageError('--delete needs --group');
        for (const g of groups) await admin.deleteGroup(g);
        out(asJson ? json({ deleted: groups }) : `Deletion of requested consumer groups (${groups.map((g) => `'${g}'`).join(', ')}) was successful.\n`);
        return 0;
      }
    }
  } finally {
    admin.close();
  }
}

/** `--to-datetime`: Kafka's format yyyy-MM-ddTHH:mm:SS[.sss] with an optional zone (local time without one). */
export function parseDatetime(s: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
  const ms = m ? Date.parse(m[2] === undefined ? m[1]! : `${m[1]}${m[2].length === 5 ? `${m[2].slice(0, 3)}:${m[2].slice(3)}` : m[2]}`) : NaN;
  if (Number.isNaN(ms)) throw new AdminUsageError(`--to-datetime '${s}': expected YYYY-MM-DDTHH:mm:SS[.sss] with an optional Z or ±hh:mm`);
  return BigInt(ms);
}

function bigintFlag(v: string, name: string): bigint {
  if (!/^-?\d+$/.test(v)) throw new AdminUsageError(`--${name} must be an integer, got '${v}'`);
  return BigInt(v);
}

async function resetOffsets(admin: AdminClient, flags: Record<string, unknown>, group: string, asJson: boolean, out: (s: string) => void): Promise<number> {
  const specs = ['to-earliest', 'to-latest', 'to-current', 'to-offset', 'to-datetime', 'shift-by'].filter((s) => flags[s] !== undefined && flags[s] !== false);
  if (specs.length !== 1) throw new AdminUsageError('--reset-offsets needs exactly one of --to-earliest, --to-latest, --to-current, --to-offset, --to-datetime, --shift-by');
  const how = specs[0]!;
  if (flags.execute === true && flags['dry-run'] === true) throw new AdminUsageError('give --execute or --dry-run, not both');
  const topicArgs = (flags.topic as string[] | undefined) ?? [];
  if ((topicArgs.length > 0) === (flags['all-topics'] === true)) throw new AdminUsageError('--reset-offsets needs --topic T (repeatable) or --all-topics');

  const desc = await admin.describeGroup(group);
  if (desc.members.length > 0 || (desc.state !== 'Empty' && desc.state !== 'Dead')) {
    throw new CommandFailure(`Assignments can only be reset if the group '${group}' is inactive, but the current state is ${desc.state}.`);
  }
  const committed = await admin.fetchOffsets(group);
  // Which partitions: --topic T (every partition) or T:0,2; --all-topics: the topics the group has offsets for.
  const scope = new Map<string, number[] | null>();
  if (flags['all-topics'] === true) for (const c of committed) scope.set(c.topic, null);
  for (const a of topicArgs) {
    const colon = a.lastIndexOf(':');
    if (colon > 0) scope.set(a.slice(0, colon), a.slice(colon + 1).split(',').map((p) => {
      if (!/^\d+$/.test(p)) throw new AdminUsageError(`--topic '${a}': partitions must be numbers`);
      return Number(p);
    }));
    else scope.set(a, null);
  }
  const plan: TopicPartitionOffset[] = [];
  for (const [name, only] of scope) {
    const t = await admin.topic(name);
    const partitions = only ?? t.partitions.map((p) => p.partitionIndex).sort((x, y) => x - y);
    for (const p of partitions) if (!t.partitions.some((x) => x.partitionIndex === p)) throw new CommandFailure(`partition ${name}-${p}: UNKNOWN_TOPIC_OR_PARTITION`);
    const [earliest, latest] = await Promise.all([admin.listOffsets(t, EARLIEST), admin.listOffsets(t, LATEST)]);
    const at = how === 'to-datetime' ? await admin.listOffsets(t, parseDatetime(flags['to-datetime'] as string)) : null;
    for (const p of partitions) {
      const lo = earliest.get(p)!;
      const hi = latest.get(p)!;
      const cur = committed.find((c) => c.topic === name && c.partition === p)?.offset;
      let target: bigint;
      switch (how) {
        case 'to-earliest': target = lo; break;
        case 'to-latest': target = hi; break;
        case 'to-current': target = cur ?? hi; break;
        case 'to-offset': target = bigintFlag(flags['to-offset'] as string, 'to-offset'); break;
        case 'to-datetime': { const o = at!.get(p)!; target = o < 0n ? hi : o; break; } // no record at or after: the end
        default: target = (cur ?? hi) + bigintFlag(flags['shift-by'] as string, 'shift-by');
      }
      // As Kafka's tool: an offset outside the log is moved to its nearest end.
      if (target < lo) target = lo;
      if (target > hi) target = hi;
      plan.push({ topic: name, partition: p, offset: target });
    }
  }
  const execute = flags.execute === true;
  if (execute && plan.length > 0) await admin.commitOffsets(group, plan);
  if (asJson) out(json({ group, executed: execute, offsets: plan }));
  else {
    if (!execute) out('WARN: No action will be performed as the --execute option is missing. (a dry run: the offsets the group would get)\n');
    out(table(['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'], plan.map((o) => [group, o.topic, o.partition, o.offset])));
  }
  return 0;
}
