/**
 * Per-group configs as a broker serves them (the keys and rules: config/group-config.ts; the table:
 * migration 18). Every broker keeps the whole table in memory: read at start, again on every
 * `floe_group_configs` notification (a change made through any broker reaches every broker, so the group's
 * coordinator applies it wherever the change was made and wherever the group moves) and right after a
 * change made here (the next request already sees it).
 *
 * Consumer groups (KIP-848) read `consumer.session.timeout.ms` and `consumer.heartbeat.interval.ms` here at
 * every heartbeat; a group without them uses the broker's `group.consumer.*` values. The share.* and
 * streams.* keys are kept and validated for the share-group code to read (`value`).
 */
import type { BrokerConfig } from '../config/broker-config.ts';
import { brokerConfigKey } from '../config/broker-config.ts';
import { GROUP_CONFIG_KEYS, groupConfigDefault, groupConfigKey, validateGroupConfigs } from '../config/group-config.ts';
import type { ConfigType } from '../config/config-def.ts';
import { GROUP_CONFIGS_CHANNEL, type GroupConfigStore } from '../coordinator/group-config-store.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { groupIdError } from './group-id.ts';
import { CoalescedReload } from '../coordinator/coalesced-reload.ts';

type Store = GroupConfigStore & {
  listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>>;
};

const OP_SET = 0;
const OP_DELETE = 1;
const OP_APPEND = 2;

export interface GroupConfigOp {
  name: string;
  op: number;
  value: string | null;
}

/** One key as DescribeConfigs shows it for a group: GROUP_CONFIG when the group sets it, else the broker key's value. */
export interface DescribedGroupConfig {
  name: string;
  /** The group's own value, or null when it inherits. */
  groupValue: string | null;
  /** The value in force (the group's, else the broker's). */
  value: string;
  /** The broker key it inherits from ('' for keys without one). */
  brokerKey: string;
  type: ConfigType;
  documentation: string;
}

type Outcome = { errorCode: number; errorMessage: string | null };
const ok: Outcome = { errorCode: ErrorCode.NONE, errorMessage: null };
const fail = (errorCode: number, errorMessage: string): Outcome => ({ errorCode, errorMessage });

const brokerDefault = (key: string): string | null => brokerConfigKey(key)?.default ?? null;

export class GroupConfigs {
  private byGroup = new Map<string, Map<string, string>>();
  private unlisten: (() => Promise<void>) | null = null;
  private readonly reloads = new CoalescedReload(() => this.readGroupConfigs());

  constructor(
    private readonly store: Store,
    /** The broker's configuration (its group.* values give defaults and bounds; read at each use, so dynamic changes count). */
    private readonly config: Pick<BrokerConfig, 'values'>,
    private readonly onError: (message: string) => void = () => {},
  ) {}

  async start(): Promise<void> {
    await this.reload();
    const again = () => void this.reload().catch((e: Error) => this.onError(e.message));
    this.unlisten = await this.store.listen(GROUP_CONFIGS_CHANNEL, again, again);
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
    this.unlisten = null;
  }

  /** Reads the table again (coalesced with a reload in flight). */
  reload(): Promise<void> {
    return this.reloads.run();
  }

  private async readGroupConfigs(): Promise<void> {
    const next = new Map<string, Map<string, string>>();
    for (const r of await this.store.listGroupConfigs()) {
      let m = next.get(r.groupId);
      if (!m) next.set(r.groupId, (m = new Map()));
      m.set(r.name, r.value);
    }
    this.byGroup = next;
  }

  private get brokerValues(): Readonly<Record<string, string | null>> {
    return this.config.values ?? {};
  }

  /** The value in force of a group config key for a group: the group's own, else the broker's default. */
  value(groupId: string, key: string): string {
    const own = this.byGroup.get(groupId)?.get(key);
    if (own !== undefined) return own;
    const def = groupConfigKey(key);
    if (!def) throw new Error(`unknown group config ${key}`);
    return groupConfigDefault(def, this.brokerValues, brokerDefault);
  }

  /** The group's own value of an integer key, or null when it does not set it. */
  ownInt(groupId: string, key: string): number | null {
    const own = this.byGroup.get(groupId)?.get(key);
    return own === undefined ? null : Number(own);
  }

  /** DescribeConfigs of a GROUP resource; INVALID_REQUEST for an empty name (as Kafka). */
  describe(groupId: string): DescribedGroupConfig[] | Outcome {
    if (groupId === '') return fail(ErrorCode.INVALID_REQUEST, 'Group name must not be empty');
    const own = this.byGroup.get(groupId);
    return GROUP_CONFIG_KEYS.map((k) => ({
      name: k.key,
      groupValue: own?.get(k.key) ?? null,
      value: this.value(groupId, k.key),
      brokerKey: k.brokerKey,
      type: k.type,
      documentation: k.doc,
    }));
  }

  /** One GROUP resource's change: `replace` for AlterConfigs (the group's whole set), else IncrementalAlterConfigs. */
  async alter(groupId: string, ops: readonly GroupConfigOp[], opts: { replace: boolean; validateOnly: boolean }): Promise<Outcome> {
    if (groupId === '' || groupIdError(groupId, false) !== null) return fail(ErrorCode.INVALID_REQUEST, 'Group name must not be empty');
    const current = this.byGroup.get(groupId) ?? new Map<string, string>();
    const next: Record<string, string> = opts.replace ? {} : Object.fromEntries(current);
    for (const o of ops) {
      const def = groupConfigKey(o.name);
      if (!def) return fail(ErrorCode.INVALID_CONFIG, `Unknown group config name: ${o.name}`);
      if (o.op === OP_DELETE) delete next[o.name];
      else if (o.op === OP_SET) next[o.name] = o.value!;
      else {
        // No group config is a LIST (Kafka refuses APPEND and SUBTRACT on the others).
        return fail(ErrorCode.INVALID_CONFIG, `Config value ${o.op === OP_APPEND ? 'append' : 'subtract'} is not allowed for config key: ${o.name}`);
      }
    }
    const validated = validateGroupConfigs(next, this.brokerValues, brokerDefault);
    if (!validated.ok) return fail(ErrorCode.INVALID_CONFIG, validated.message);
    if (opts.validateOnly) return ok;
    const set: Record<string, string> = {};
    for (const [k, v] of Object.entries(validated.configs)) if (current.get(k) !== v || opts.replace) set[k] = v;
    const removed = [...current.keys()].filter((k) => !(k in validated.configs));
    await this.store.alterGroupConfigs(groupId, set, removed, opts.replace);
    await this.reload();
    return ok;
  }
}
