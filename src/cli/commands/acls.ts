/**
 * `floe acls`: kafka-acls.sh's flags over CreateAcls, DescribeAcls and DeleteAcls.
 *
 *   --bootstrap-server H:P --add (--allow-principal P | --deny-principal P)... [--allow-host H]... [--deny-host H]...
 *        [--operation OP]... RESOURCE... [--resource-pattern-type literal|prefixed]
 *   --bootstrap-server H:P --add --producer|--consumer --allow-principal P --topic T [--group G] [--transactional-id X] [--idempotent]
 *   --bootstrap-server H:P --remove [principals, hosts, operations as --add] RESOURCE... [--force]
 *   --bootstrap-server H:P --list [RESOURCE...] [--principal P]... [--resource-pattern-type any|match|literal|prefixed]
 *   RESOURCE: --topic T | --group G | --cluster | --transactional-id X | --delegation-token D  (repeatable; `*` is the wildcard)
 *
 * As kafka-acls.sh: --operation defaults to All; hosts default to `*`; --producer is WRITE, DESCRIBE and
 * CREATE on the topics and WRITE, DESCRIBE on transactional ids (IDEMPOTENT_WRITE on the cluster with
 * --idempotent); --consumer is READ and DESCRIBE on the topics and READ on the groups; --remove asks for
 * confirmation unless --force; an operation a resource type does not have is refused before anything is sent.
 */
import { createInterface } from 'node:readline';
import type { AclEntry, AclEntryFilter, AdminClient } from '../../client/admin-client.ts';
import { AclOperation, CLUSTER_NAME, PatternType, PermissionType, ResourceType } from '../../security/authorizer.ts';
import { AdminUsageError, oneAction, parseFlags, str, type Flags } from '../admin/admin-args.ts';
import { connectAdmin } from '../admin/connect-admin.ts';
import { json } from '../admin/output.ts';

export const ACLS_USAGE = `Usage: floe acls --bootstrap-server HOST:PORT ACTION [options] [--command-config FILE] [--json]
Actions (as kafka-acls.sh):
  --add     (--allow-principal P | --deny-principal P)... [--allow-host H]... [--deny-host H]... [--operation OP]... RESOURCE...
  --add     --producer [--idempotent] | --consumer  --allow-principal P --topic T [--group G] [--transactional-id X]
  --remove  [the same selection as --add; without principals: every ACL of the resources] RESOURCE... [--force]
  --list    [RESOURCE...] [--principal P]...
RESOURCE: --topic T | --group G | --cluster | --transactional-id X | --delegation-token D   (repeatable; '*' = all)
  --resource-pattern-type literal (default) | prefixed | any | match (any and match: --list and --remove only)
Principals are Type:name (User:alice); OP is Read, Write, Create, Delete, Alter, Describe, ClusterAction,
DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens, TwoPhaseCommit or All (the default).
`;

const OPTIONS = {
  'bootstrap-server': { type: 'string' },
  add: { type: 'boolean' },
  remove: { type: 'boolean' },
  list: { type: 'boolean' },
  'allow-principal': { type: 'string', multiple: true },
  'deny-principal': { type: 'string', multiple: true },
  'allow-host': { type: 'string', multiple: true },
  'deny-host': { type: 'string', multiple: true },
  principal: { type: 'string', multiple: true },
  operation: { type: 'string', multiple: true },
  topic: { type: 'string', multiple: true },
  group: { type: 'string', multiple: true },
  cluster: { type: 'boolean' },
  'transactional-id': { type: 'string', multiple: true },
  'delegation-token': { type: 'string', multiple: true },
  'resource-pattern-type': { type: 'string' },
  producer: { type: 'boolean' },
  consumer: { type: 'boolean' },
  idempotent: { type: 'boolean' },
  force: { type: 'boolean' },
} as const;

const name = (codes: Record<string, number>, code: number): string => Object.entries(codes).find(([, v]) => v === code)?.[0] ?? `UNKNOWN(${code})`;
const resourceTypeName = (c: number) => name(ResourceType, c);
const patternTypeName = (c: number) => name(PatternType, c);
const operationName = (c: number) => name(AclOperation, c);
const permissionName = (c: number) => name(PermissionType, c);

/** The operations kafka-acls.sh accepts per resource type (Kafka's AclEntry.supportedOperations, ALL included). */
const SUPPORTED: Record<number, number[]> = {
  [ResourceType.TOPIC]: [AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS, AclOperation.ALL],
  [ResourceType.GROUP]: [AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS, AclOperation.ALL],
  [ResourceType.CLUSTER]: [AclOperation.CREATE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.ALL],
  [ResourceType.TRANSACTIONAL_ID]: [AclOperation.DESCRIBE, AclOperation.WRITE, AclOperation.TWO_PHASE_COMMIT, AclOperation.ALL],
  [ResourceType.DELEGATION_TOKEN]: [AclOperation.DESCRIBE, AclOperation.ALL],
};

/** `Read`, `READ`, `DescribeConfigs`, `describe-configs`, `DESCRIBE_CONFIGS` → the code. */
export function parseOperation(text: string): number {
  const key = text.trim().replace(/([a-z])([A-Z])/g, '$1_$2').replace(/-/g, '_').toUpperCase();
  const code = (AclOperation as Record<string, number>)[key];
  if (code === undefined || code === AclOperation.UNKNOWN || code === AclOperation.ANY) {
    throw new AdminUsageError(`unknown --operation '${text}' (Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens, TwoPhaseCommit, All)`);
  }
  return code;
}

function principals(values: string[] | undefined, flag: string): string[] {
  return (values ?? []).map((p) => {
    const colon = p.indexOf(':');
    if (colon <= 0 || colon === p.length - 1) throw new AdminUsageError(`--${flag} '${p}': expected a principal as Type:name, such as User:alice`);
    return p;
  });
}

interface Pattern {
  resourceType: number;
  resourceName: string;
  patternType: number;
}

export function patternText(p: { resourceType: number; resourceName: string | null; patternType: number }, filter = false): string {
  return `${filter ? 'ResourcePatternFilter' : 'ResourcePattern'}(resourceType=${resourceTypeName(p.resourceType)}, name=${p.resourceName ?? '<any>'}, patternType=${patternTypeName(p.patternType)})`;
}

export function entryText(a: { principal: string; host: string; operation: number; permissionType: number }): string {
  return `(principal=${a.principal}, host=${a.host}, operation=${operationName(a.operation)}, permissionType=${permissionName(a.permissionType)})`;
}

function entryJson(a: AclEntry): Record<string, string> {
  return { resourceType: resourceTypeName(a.resourceType), resourceName: a.resourceName, patternType: patternTypeName(a.patternType), principal: a.principal, host: a.host, operation: operationName(a.operation), permissionType: permissionName(a.permissionType) };
}

/** Reads y/n from stdin, as kafka-acls.sh asks before removing. */
export async function askStdin(question: string): Promise<boolean> {
  process.stdout.write(`${question} (y/n)\n`);
  const rl = createInterface({ input: process.stdin });
  try {
    const line = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    return line.trim().toLowerCase() === 'y';
  } finally {
    rl.close();
  }
}

export async function runAcls(args: string[], out: (s: string) => void, confirm: (question: string) => Promise<boolean> = askStdin): Promise<number> {
  const flags = parseFlags(args, OPTIONS);
  if (flags.help) {
    out(ACLS_USAGE);
    return 0;
  }
  const action = oneAction(flags, ['add', 'remove', 'list']);
  const patternTypeText = (str(flags, 'resource-pattern-type') ?? 'literal').toUpperCase();
  const patternType = (PatternType as Record<string, number>)[patternTypeText];
  if (patternType === undefined || patternType === PatternType.UNKNOWN) throw new AdminUsageError(`--resource-pattern-type must be literal, prefixed, any or match, got '${str(flags, 'resource-pattern-type')}'`);
  if (action === 'add' && patternType !== PatternType.LITERAL && patternType !== PatternType.PREFIXED) {
    throw new AdminUsageError(`A '--resource-pattern-type' value of '${patternTypeText.toLowerCase()}' is not valid when adding acls.`);
  }
  const producer = flags.producer === true;
  const consumer = flags.consumer === true;
  const list = (k: string) => (flags[k] as string[] | undefined) ?? [];
  if (action === 'list' && (producer || consumer || list('allow-principal').length || list('deny-principal').length || list('allow-host').length || list('deny-host').length)) {
    throw new AdminUsageError('--list takes no --producer, --consumer, --allow-principal, --deny-principal, --allow-host or --deny-host (filter with --principal)');
  }
  if (action !== 'list' && list('principal').length > 0) throw new AdminUsageError('--principal filters --list; use --allow-principal or --deny-principal');
  if ((producer || consumer) && (list('operation').length || list('deny-principal').length || list('deny-host').length)) {
    throw new AdminUsageError('--producer and --consumer take no --operation, --deny-principal or --deny-host');
  }
  if (producer && list('topic').length === 0 && list('transactional-id').length === 0) throw new AdminUsageError('With --producer you must specify a --topic');
  if (flags.idempotent === true && !producer) throw new AdminUsageError('The --idempotent option is only available if --producer is set');
  if (consumer && (list('topic').length === 0 || list('group').length === 0 || (!producer && (flags.cluster === true || list('transactional-id').length > 0)))) {
    throw new AdminUsageError('With --consumer you must specify a --topic and a --group and no --cluster or --transactional-id option should be specified.');
  }

  // The resources named, each with the pattern type (the cluster is always LITERAL kafka-cluster).
  const resources: Pattern[] = [
    ...list('topic').map((n) => ({ resourceType: ResourceType.TOPIC, resourceName: n, patternType })),
    ...list('group').map((n) => ({ resourceType: ResourceType.GROUP, resourceName: n, patternType })),
    ...(flags.cluster === true ? [{ resourceType: ResourceType.CLUSTER, resourceName: CLUSTER_NAME, patternType: PatternType.LITERAL as number }] : []),
    ...list('transactional-id').map((n) => ({ resourceType: ResourceType.TRANSACTIONAL_ID, resourceName: n, patternType })),
    ...list('delegation-token').map((n) => ({ resourceType: ResourceType.DELEGATION_TOKEN, resourceName: n, patternType })),
  ];
  for (const r of resources) if (r.resourceName === '') throw new AdminUsageError('a resource name must not be empty');
  if (action !== 'list' && resources.length === 0) {
    throw new AdminUsageError(`You must specify one of: --topic, --cluster, --group, --transactional-id, --delegation-token when using --${action}`);
  }

  // The entries per resource: principals × hosts × operations, allow and deny (kafka-acls.sh's getAcl).
  const allowPrincipals = principals(list('allow-principal'), 'allow-principal');
  const denyPrincipals = principals(list('deny-principal'), 'deny-principal');
  const hostsOf = (hosts: string[], ps: string[]) => (hosts.length > 0 ? hosts : ps.length > 0 ? ['*'] : []);
  const allowHosts = hostsOf(list('allow-host'), allowPrincipals);
  const denyHosts = hostsOf(list('deny-host'), denyPrincipals);
  const entriesFor = (ops: number[]) => [
    ...allowPrincipals.flatMap((p) => allowHosts.flatMap((h) => ops.map((o) => ({ principal: p, host: h, operation: o, permissionType: PermissionType.ALLOW as number })))),
    ...denyPrincipals.flatMap((p) => denyHosts.flatMap((h) => ops.map((o) => ({ principal: p, host: h, operation: o, permissionType: PermissionType.DENY as number })))),
  ];
  const plan: { pattern: Pattern; entries: ReturnType<typeof entriesFor> }[] = [];
  if (producer || consumer) {
    const add = (pattern: Pattern, ops: number[]) => {
      const existing = plan.find((x) => x.pattern.resourceType === pattern.resourceType && x.pattern.resourceName === pattern.resourceName);
      const entries = entriesFor(ops);
      if (existing) existing.entries.push(...entries.filter((e) => !existing.entries.some((x) => x.principal === e.principal && x.host === e.host && x.operation === e.operation && x.permissionType === e.permissionType)));
      else plan.push({ pattern, entries });
    };
    for (const r of resources) {
      if (producer && r.resourceType === ResourceType.TOPIC) add(r, [AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE]);
      if (producer && r.resourceType === ResourceType.TRANSACTIONAL_ID) add(r, [AclOperation.WRITE, AclOperation.DESCRIBE]);
      if (consumer && r.resourceType === ResourceType.TOPIC) add(r, [AclOperation.READ, AclOperation.DESCRIBE]);
      if (consumer && r.resourceType === ResourceType.GROUP) add(r, [AclOperation.READ]);
    }
    if (producer && flags.idempotent === true) add({ resourceType: ResourceType.CLUSTER, resourceName: CLUSTER_NAME, patternType: PatternType.LITERAL }, [AclOperation.IDEMPOTENT_WRITE]);
  } else {
    const ops = [...new Set((list('operation').length > 0 ? list('operation') : ['All']).map(parseOperation))];
    for (const r of resources) {
      const bad = ops.filter((o) => !SUPPORTED[r.resourceType]!.includes(o));
      if (bad.length > 0) throw new AdminUsageError(`ResourceType ${resourceTypeName(r.resourceType)} only supports operations ${SUPPORTED[r.resourceType]!.map(operationName).join(',')}`);
      plan.push({ pattern: r, entries: entriesFor(ops) });
    }
  }
  if (action === 'add' && allowPrincipals.length === 0 && denyPrincipals.length === 0) {
    throw new AdminUsageError('You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.');
  }

  const asJson = flags.json === true;
  const admin = await connectAdmin(flags, 'floe acls');
  try {
    if (action === 'list') return await listAcls(admin, flags, resources, asJson, out);
    if (action === 'add') {
      const acls = plan.flatMap(({ pattern, entries }) => entries.map((e) => ({ ...pattern, ...e })));
      if (!asJson) for (const { pattern, entries } of plan) out(`Adding ACLs for resource \`${patternText(pattern)}\`: \n ${entries.map((e) => `\t${entryText(e)}`).join(' \n ')} \n\n`);
      await admin.createAcls(acls);
      if (asJson) out(json({ added: acls.map(entryJson) }));
      else await printCurrent(admin, plan.map((p) => p.pattern), out);
      return 0;
    }
    // remove
    const filters: AclEntryFilter[] = [];
    for (const { pattern, entries } of plan) {
      const resourceFilter = { resourceType: pattern.resourceType, resourceName: pattern.resourceName, patternType: pattern.patternType };
      const question = entries.length === 0
        ? `Are you sure you want to delete all ACLs for resource filter \`${patternText(resourceFilter, true)}\`?`
        : `Are you sure you want to remove ACLs: \n ${entries.map((e) => `\t${entryText(e)}`).join(' \n ')} \n from resource filter \`${patternText(resourceFilter, true)}\`?`;
      if (flags.force !== true && !(await confirm(question))) continue;
      if (entries.length === 0) filters.push({ ...resourceFilter, principal: null, host: null, operation: AclOperation.ANY, permissionType: PermissionType.ANY });
      else for (const e of entries) filters.push({ ...resourceFilter, ...e });
    }
    const removed = await admin.deleteAcls(filters);
    if (asJson) out(json({ removed: removed.map(entryJson) }));
    else {
      out(`Removed ${removed.length} ACL${removed.length === 1 ? '' : 's'}.\n`);
      const exact = plan.map((p) => p.pattern).filter((p) => p.patternType === PatternType.LITERAL || p.patternType === PatternType.PREFIXED);
      await printCurrent(admin, exact, out);
    }
    return 0;
  } finally {
    admin.close();
  }
}

/** kafka-acls.sh's "Current ACLs for resource …" after a change: the ACLs now on each resource. */
async function printCurrent(admin: AdminClient, patterns: Pattern[], out: (s: string) => void): Promise<void> {
  for (const p of patterns) {
    const acls = await admin.describeAcls({ resourceType: p.resourceType, resourceName: p.resourceName, patternType: p.patternType, principal: null, host: null, operation: AclOperation.ANY, permissionType: PermissionType.ANY });
    out(`Current ACLs for resource \`${patternText(p)}\`: \n ${acls.map((a) => `\t${entryText(a)}`).join(' \n ')} \n\n`);
  }
}

async function listAcls(admin: AdminClient, flags: Flags, resources: Pattern[], asJson: boolean, out: (s: string) => void): Promise<number> {
  const principalFilters = principals((flags.principal as string[] | undefined) ?? [], 'principal');
  const resourceFilters = resources.length > 0
    ? resources.map((r) => ({ resourceType: r.resourceType, resourceName: r.resourceName as string | null, patternType: r.patternType }))
    : [{ resourceType: ResourceType.ANY as number, resourceName: null, patternType: PatternType.ANY as number }];
  const found: AclEntry[] = [];
  for (const rf of resourceFilters) {
    for (const principal of principalFilters.length > 0 ? principalFilters : [null]) {
      for (const a of await admin.describeAcls({ ...rf, principal, host: null, operation: AclOperation.ANY, permissionType: PermissionType.ANY })) {
        if (!found.some((x) => x.resourceType === a.resourceType && x.resourceName === a.resourceName && x.patternType === a.patternType && x.principal === a.principal && x.host === a.host && x.operation === a.operation && x.permissionType === a.permissionType)) found.push(a);
      }
    }
  }
  found.sort((a, b) => a.resourceType - b.resourceType || a.resourceName.localeCompare(b.resourceName) || a.patternType - b.patternType || a.principal.localeCompare(b.principal) || a.operation - b.operation);
  if (asJson) {
    out(json(found.map(entryJson)));
    return 0;
  }
  const groups = new Map<string, AclEntry[]>();
  for (const a of found) {
    const k = patternText(a);
    groups.set(k, [...(groups.get(k) ?? []), a]);
  }
  if (principalFilters.length > 0) out(`ACLs for principal \`${principalFilters.join('`, `')}\`\n`);
  for (const [k, acls] of groups) out(`Current ACLs for resource \`${k}\`: \n ${acls.map((a) => `\t${entryText(a)}`).join(' \n ')} \n\n`);
  return 0;
}
