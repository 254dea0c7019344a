/**
 * Config changes shared by AlterConfigs (key 33: the resource's whole config set is replaced) and
 * IncrementalAlterConfigs (key 44: SET / DELETE / APPEND / SUBTRACT per key).
 *
 * - TOPIC resources: the change is applied to the topic's explicit configs, the result is validated as a
 *   whole with validateTopicConfigs (unknown names, types, ranges, `diskless.enable` fixed at creation:
 *   INVALID_CONFIG with Kafka's messages), stored in the coordinator and put in the topic registry, so
 *   DescribeConfigs shows it (DYNAMIC_TOPIC_CONFIG) and storage uses it at once. Unknown topic:
 *   UNKNOWN_TOPIC_OR_PARTITION; invalid name: INVALID_TOPIC_EXCEPTION.
 * - BROKER resources ("" = cluster default, or this broker's id; another id: INVALID_REQUEST): dynamic
 *   broker configs, kept in the coordinator and applied by every broker (dynamic-configs.ts); static keys
 *   are refused as Kafka refuses them (INVALID_REQUEST, "Cannot update these configs dynamically: Set(...)").
 * - GROUP resources: per-group configs (consumer.session.timeout.ms, share.*, …), validated against the
 *   broker's group.* bounds (INVALID_CONFIG with Kafka's GroupConfig messages), kept in the coordinator and
 *   applied by the group's coordinator wherever it runs (../groups/group-configs.ts).
 * - Other resource types (BROKER_LOGGER, CLIENT_METRICS): INVALID_REQUEST.
 * - As Kafka: a key named twice in one resource is INVALID_REQUEST ("Error due to duplicate config
 *   keys"), a null value (except with DELETE) INVALID_REQUEST, a resource named twice INVALID_REQUEST for
 *   each occurrence; validateOnly runs every check and changes nothing.
 */
import { CoordinatorError, type Coordinator } from '../coordinator/coordinator.ts';
import type { BrokerConfig } from '../config/broker-config.ts';
import { topicConfigKey, validateTopicConfigs } from '../config/topic-config.ts';
import { splitList } from '../config/config-def.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import type { TopicRegistry } from './topics.ts';
import { topicNameError } from './topic-names.ts';
import type { DynamicBrokerConfigs } from './dynamic-configs.ts';
import type { GroupConfigs } from '../groups/group-coordinator.ts';

/** What BROKER resources are changed through. */
export type BrokerConfigAdmin = Pick<DynamicBrokerConfigs, 'alter'>;

/** What GROUP resources are changed through (the group coordinator's per-group configs). */
export type GroupConfigAdmin = Pick<GroupConfigs, 'alter'>;

/** What config changes use (TopicAdmin provides it). */
export interface ConfigAdminServices {
  readonly topics: TopicRegistry;
  readonly coordinator: Pick<Coordinator, 'alterTopicConfigs'>;
  readonly config: BrokerConfig;
}

export const RESOURCE_TOPIC = 2;
export const RESOURCE_BROKER = 4;
export const RESOURCE_GROUP = 32;

export const OP_SET = 0;
export const OP_DELETE = 1;
export const OP_APPEND = 2;
export const OP_SUBTRACT = 3;

export interface ConfigOp {
  name: string;
  op: number;
  value: string | null;
}

export interface ResourceOutcome {
  errorCode: number;
  errorMessage: string | null;
}

const ok: ResourceOutcome = { errorCode: ErrorCode.NONE, errorMessage: null };
const fail = (errorCode: number, errorMessage: string): ResourceOutcome => ({ errorCode, errorMessage });

/** Keys of resources named more than once in a request (each occurrence fails). */
export function duplicateResources(resources: readonly { resourceType: number; resourceName: string }[]): Set<string> {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const r of resources) {
    const k = `${r.resourceType}:${r.resourceName}`;
    if (seen.has(k)) dup.add(k);
    seen.add(k);
  }
  return dup;
}

export const DUPLICATE_RESOURCE = fail(ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.');

/**
 * Applies one resource's change. `replace`: AlterConfigs semantics (the ops are SETs that replace the whole
 * set); otherwise IncrementalAlterConfigs.
 */
export async function alterResourceConfigs(
  admin: ConfigAdminServices,
  resourceType: number,
  resourceName: string,
  ops: readonly ConfigOp[],
  opts: { replace: boolean; validateOnly: boolean },
  brokerConfigs: BrokerConfigAdmin,
  groupConfigs: GroupConfigAdmin,
): Promise<ResourceOutcome> {
  const names = new Set<string>();
  for (const o of ops) {
    if (names.has(o.name)) return fail(ErrorCode.INVALID_REQUEST, `Error due to duplicate config keys: ${o.name}`);
    names.add(o.name);
  }
  const nulls = ops.filter((o) => o.value === null && o.op !== OP_DELETE).map((o) => o.name);
  if (nulls.length > 0) return fail(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${nulls.join(', ')}`);
  const badOp = ops.find((o) => o.op < OP_SET || o.op > OP_SUBTRACT);
  if (badOp) return fail(ErrorCode.INVALID_REQUEST, `Unknown alter config operation ${badOp.op} for ${badOp.name}`);

  if (resourceType === RESOURCE_BROKER) return brokerConfigs.alter(resourceName, ops, opts);
  if (resourceType === RESOURCE_GROUP) return groupConfigs.alter(resourceName, ops, opts);
  if (resourceType !== RESOURCE_TOPIC) return fail(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${resourceType}`);

  const nameError = topicNameError(resourceName);
  if (nameError) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError);
  const topic = admin.topics.get(resourceName);
  if (!topic) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${resourceName}' does not exist.`);

  // AlterConfigs replaces the whole set (validateTopicConfigs keeps diskless.enable when it is not named).
  const next: Record<string, string | null> = opts.replace ? {} : { ...topic.configs };
  for (const o of ops) {
    if (o.op === OP_SET) next[o.name] = o.value;
    else if (o.op === OP_DELETE) delete next[o.name];
    else {
      const def = topicConfigKey(o.name);
      if (!def) return fail(ErrorCode.INVALID_CONFIG, `Unknown topic config name: ${o.name}`);
      if (def.type !== 'LIST') {
        return fail(ErrorCode.INVALID_CONFIG, `Config value ${o.op === OP_APPEND ? 'append' : 'subtract'} is not allowed for config key: ${o.name}`);
      }
      const current = splitList(next[o.name] ?? def.default);
      const given = splitList(o.value!);
      const list = o.op === OP_APPEND ? [...new Set([...current, ...given])] : current.filter((v) => !given.includes(v));
      next[o.name] = list.join(',');
    }
  }
  const validated = validateTopicConfigs(next, admin.config, { existing: topic.configs });
  if (!validated.ok) return fail(validated.errorCode, validated.message);
  if (opts.validateOnly) return ok;
  try {
    const info = await admin.coordinator.alterTopicConfigs(topic.name, validated.configs);
    if (info === null) {
      admin.topics.forget(topic);
      return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${resourceName}' does not exist.`);
    }
    admin.topics.remember(info);
    return ok;
  } catch (err) {
    if (err instanceof CoordinatorError) return fail(err.errorCode, err.message);
    throw err;
  }
}

/**
 * The loop AlterConfigs and IncrementalAlterConfigs share: duplicates refused, each resource altered with
 * the operations `opsOf` gives it (AlterConfigs replaces the whole set, IncrementalAlterConfigs edits it).
 */
export async function alterResources<R extends { resourceType: number; resourceName: string }>(
  admin: ConfigAdminServices,
  resources: readonly R[],
  opsOf: (resource: R) => ConfigOp[],
  opts: { replace: boolean; validateOnly: boolean },
  brokerConfigs: BrokerConfigAdmin,
  groupConfigs: GroupConfigAdmin,
) {
  const dup = duplicateResources(resources);
  const responses = [];
  for (const r of resources) {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    if (dup.has(`${r.resourceType}:${r.resourceName}`)) {
      responses.push({ ...base, ...DUPLICATE_RESOURCE });
      continue;
    }
    responses.push({ ...base, ...(await alterResourceConfigs(admin, r.resourceType, r.resourceName, opsOf(r), opts, brokerConfigs, groupConfigs)) });
  }
  return responses;
}
