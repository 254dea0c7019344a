/**
 * Dynamic broker configs as the broker serves them (the rules: config/dynamic-broker-config.ts): the
 * cluster-wide defaults and this broker's own values, read from the coordinator (migration 13) at start,
 * again on every `floe_broker_configs` notification (so a change made through any broker reaches every
 * broker at once) and right after a change made here (so the next request already sees it), and applied:
 *
 * - the values go into the broker's BrokerConfig object, which every part holds (produce limits, diskless
 *   retention and compaction read it at each use);
 * - topics are resolved again (their inherited configs: retention, max.message.bytes, segment sizes, …);
 * - the log cleaner takes its new thread count, key-map size and backoff;
 * - a listener whose key or trust store changed gets a new TLS context (new connections use it) and its
 *   files are watched from then on; a listener's dynamic JAAS text replaces its PLAIN users.
 *
 * Changes (IncrementalAlterConfigs/AlterConfigs on the BROKER resource) are checked as Kafka checks them:
 * static keys INVALID_REQUEST ("Cannot update these configs dynamically"), per-broker keys on the cluster
 * default INVALID_REQUEST, bad values INVALID_CONFIG, and, for the cluster default and this broker's own
 * configs, key stores that cannot be loaded INVALID_CONFIG. Any broker accepts a change of another broker's
 * configs (a KRaft broker forwards it to the controller); that broker applies it, and logs a key store it
 * cannot load (keeping the previous one).
 * DescribeConfigs reports each key's source and synonyms (per broker > cluster default > static > default).
 */
import { BROKER_CONFIG_KEYS, brokerConfigKey, rawOf, redactUrlPassword, type BrokerConfig, type LoadedBrokerConfig, type RawConfigValue } from '../config/broker-config.ts';
import { splitList, type ConfigSource, type ConfigType, type DescribedConfig } from '../config/config-def.ts';
import {
  applyDynamicValues,
  crossCheck,
  dynamicKey,
  dynamicPlainUsers,
  dynamicTls,
  normalizeDynamicValue,
  staticBrokerConfig,
  type StaticBrokerConfig,
} from '../config/dynamic-broker-config.ts';
import type { TlsSettings } from '../config/security-config.ts';
import { BROKER_CONFIGS_CHANNEL, type SecurityStore } from '../coordinator/security-store.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { secureContextOptions } from '../security/tls.ts';
import { CoalescedReload } from '../coordinator/coalesced-reload.ts';

type Store = Pick<SecurityStore, 'listDynamicBrokerConfigs' | 'alterDynamicBrokerConfigs'> & {
  listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>>;
};

/** The entity id of the cluster-wide default in the coordinator. */
const CLUSTER_DEFAULT = -1;

const OP_SET = 0;
const OP_DELETE = 1;
const OP_APPEND = 2;

export interface DynamicConfigOp {
  name: string;
  op: number;
  value: string | null;
}

/** A broker config as DescribeConfigs describes it; synonyms always listed. */
export type DescribedDynamicConfig = Required<DescribedConfig>;

type Outcome = { errorCode: number; errorMessage: string | null };
const ok: Outcome = { errorCode: ErrorCode.NONE, errorMessage: null };
const fail = (errorCode: number, errorMessage: string): Outcome => ({ errorCode, errorMessage });

export class DynamicBrokerConfigs {
  private clusterDefaults = new Map<string, string>();
  private own = new Map<string, string>();
  private readonly base: StaticBrokerConfig;
  private readonly staticRaw: Map<string, RawConfigValue>;
  /** Each listener's TLS settings and PLAIN users as configured at start. */
  private readonly staticListeners = new Map<string, { tls: TlsSettings | null; plainUsers: Map<string, string> }>();
  private readonly tlsHooks = new Map<string, (tls: TlsSettings) => void>();
  private readonly appliedHooks: (() => void)[] = [];
  private unlisten: (() => Promise<void>) | null = null;
  private readonly reloads = new CoalescedReload(() => this.readAndApply());

  constructor(
    private readonly config: BrokerConfig,
    loaded: LoadedBrokerConfig | undefined,
    private readonly store: Store,
    private readonly onError: (message: string) => void = () => {},
  ) {
    this.base = staticBrokerConfig(config);
    this.staticRaw = new Map(rawOf(loaded ?? config));
    for (const [name, l] of Object.entries(config.security?.listeners ?? {})) {
      this.staticListeners.set(name, { tls: l.tls, plainUsers: l.plainUsers });
    }
  }

  /** Called with a listener's new TLS settings when its dynamic key or trust store changes. */
  onTlsChange(listener: string, hook: (tls: TlsSettings) => void): void {
    this.tlsHooks.set(listener, hook);
  }

  /** Called after every application of the dynamic values. */
  onApplied(hook: () => void): void {
    this.appliedHooks.push(hook);
  }

  async start(): Promise<void> {
    await this.reload();
    this.unlisten = await this.store.listen(BROKER_CONFIGS_CHANNEL, () => void this.reload().catch((e: Error) => this.onError(e.message)), () => void this.reload().catch((e: Error) => this.onError(e.message)));
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
    this.unlisten = null;
  }

  /** Reads the dynamic configs again and applies them (coalesced with a reload in flight). */
  reload(): Promise<void> {
    return this.reloads.run();
  }

  private async readAndApply(): Promise<void> {
    const rows = await this.store.listDynamicBrokerConfigs();
    const cluster = new Map<string, string>();
    const own = new Map<string, string>();
    for (const r of rows) {
      if (r.brokerId === CLUSTER_DEFAULT) cluster.set(r.name, r.value);
      else if (r.brokerId === this.config.nodeId) own.set(r.name, r.value);
    }
    this.clusterDefaults = cluster;
    this.own = own;
    this.apply();
  }

  /** The dynamic values in force here: this broker's over the cluster defaults (per-broker keys only from its own). */
  private effective(cluster = this.clusterDefaults, own = this.own): Map<string, string> {
    const out = new Map<string, string>();
    for (const [k, v] of cluster) if (!dynamicKey(k)?.perBrokerOnly) out.set(k, v);
    for (const [k, v] of own) out.set(k, v);
    return out;
  }

  private apply(): void {
    const effective = this.effective();
    applyDynamicValues(this.config, this.base, effective);
    for (const [name, l] of Object.entries(this.config.security?.listeners ?? {})) {
      const statics = this.staticListeners.get(name);
      if (!statics) continue;
      try {
        l.plainUsers = dynamicPlainUsers(name, effective) ?? statics.plainUsers;
      } catch (err) {
        this.onError(`listener ${name}: dynamic PLAIN users cannot be read, keeping the previous ones: ${(err as Error).message}`);
      }
      if (statics.tls) {
        const next = dynamicTls(name, statics.tls, effective);
        if (JSON.stringify(next) !== JSON.stringify(l.tls)) {
          l.tls = next;
          this.tlsHooks.get(name)?.(next);
        }
      }
    }
    for (const hook of this.appliedHooks) hook();
  }

  /** One resource's change: `replace` for AlterConfigs (the entity's whole dynamic set), else IncrementalAlterConfigs. */
  async alter(resourceName: string, ops: readonly DynamicConfigOp[], opts: { replace: boolean; validateOnly: boolean }): Promise<Outcome> {
    const entity = resourceName === '' ? CLUSTER_DEFAULT : Number(resourceName);
    // Any broker id is accepted (a KRaft broker forwards every broker's change to the controller); the
    // broker it names applies it when the coordinator's notification arrives.
    if (resourceName !== '' && (!/^\d+$/.test(resourceName) || !Number.isSafeInteger(entity) || entity > 2147483647)) {
      return fail(ErrorCode.INVALID_REQUEST, `Invalid broker id ${resourceName}: expected a broker id or the empty string (cluster default)`);
    }
    const notDynamic = ops.filter((o) => dynamicKey(o.name) === null).map((o) => o.name);
    if (notDynamic.length > 0) return fail(ErrorCode.INVALID_REQUEST, `Cannot update these configs dynamically: Set(${notDynamic.join(', ')})`);
    if (entity === CLUSTER_DEFAULT) {
      const perBroker = ops.filter((o) => dynamicKey(o.name)!.perBrokerOnly).map((o) => o.name);
      if (perBroker.length > 0) return fail(ErrorCode.INVALID_REQUEST, `Cannot update these configs at default cluster level, broker id must be specified for update: Set(${perBroker.join(', ')})`);
    }
    const current = entity === CLUSTER_DEFAULT ? this.clusterDefaults : entity === this.config.nodeId ? this.own : await this.brokerEntity(entity);
    const next = opts.replace ? new Map<string, string>() : new Map(current);
    for (const o of ops) {
      const key = dynamicKey(o.name)!;
      if (o.op === OP_DELETE) {
        next.delete(o.name);
        continue;
      }
      let value = o.value!;
      if (o.op !== OP_SET) {
        if (key.def?.type !== 'LIST') return fail(ErrorCode.INVALID_CONFIG, `Config value ${o.op === OP_APPEND ? 'append' : 'subtract'} is not allowed for config key: ${o.name}`);
        const now = splitList(next.get(o.name) ?? this.config.values?.[o.name] ?? key.def.default ?? '');
        const given = splitList(value);
        value = (o.op === OP_APPEND ? [...new Set([...now, ...given])] : now.filter((v) => !given.includes(v))).join(',');
      }
      const normalized = normalizeDynamicValue(key, value);
      if (!normalized.ok) return fail(ErrorCode.INVALID_CONFIG, normalized.message);
      next.set(o.name, normalized.value);
    }
    if (entity !== CLUSTER_DEFAULT && entity !== this.config.nodeId) return this.store_(entity, current, next, opts);
    // What this broker would run with: checked as a whole (other brokers check theirs when they apply).
    const effective = entity === CLUSTER_DEFAULT ? this.effective(next, this.own) : this.effective(this.clusterDefaults, next);
    const values: Record<string, string | null> = { ...this.base.values };
    for (const [k, v] of effective) values[k] = v;
    const inconsistent = crossCheck(values);
    if (inconsistent) return fail(ErrorCode.INVALID_CONFIG, inconsistent);
    for (const [name, statics] of this.staticListeners) {
      try {
        dynamicPlainUsers(name, effective);
        if (statics.tls) secureContextOptions(dynamicTls(name, statics.tls, effective));
      } catch (err) {
        return fail(ErrorCode.INVALID_CONFIG, `Validation of dynamic config update of listener ${name} failed: ${(err as Error).message}`);
      }
    }
    return this.store_(entity, current, next, opts);
  }

  private async store_(entity: number, current: ReadonlyMap<string, string>, next: ReadonlyMap<string, string>, opts: { replace: boolean; validateOnly: boolean }): Promise<Outcome> {
    if (opts.validateOnly) return ok;
    const set: Record<string, string> = {};
    for (const [k, v] of next) if (current.get(k) !== v || opts.replace) set[k] = v;
    const removed = [...current.keys()].filter((k) => !next.has(k));
    await this.store.alterDynamicBrokerConfigs(entity, set, removed, opts.replace);
    await this.reload();
    return ok;
  }

  /** Another broker's dynamic configs, as stored. */
  private async brokerEntity(brokerId: number): Promise<Map<string, string>> {
    return new Map((await this.store.listDynamicBrokerConfigs()).filter((r) => r.brokerId === brokerId).map((r) => [r.name, r.value]));
  }

  /**
   * DescribeConfigs of a BROKER resource: "" lists the cluster-wide dynamic defaults; this broker's id lists
   * every key with its effective value, source and synonyms. null: another broker's id.
   */
  describe(resourceName: string): DescribedDynamicConfig[] | null {
    const doc = (name: string) => brokerConfigKey(dynamicKey(name)?.base ?? name)?.doc ?? null;
    const typeOf = (name: string): ConfigType => brokerConfigKey(dynamicKey(name)?.base ?? name)?.type ?? 'PASSWORD';
    const sensitive = (name: string) => dynamicKey(name)?.isSensitive ?? brokerConfigKey(name)?.type === 'PASSWORD';
    const shown = (name: string, v: string | null) => (v === null || sensitive(name) ? null : redactUrlPassword(v));
    if (resourceName === '') {
      return [...this.clusterDefaults].map(([name, value]) => ({
        name, value: shown(name, value), source: 'DYNAMIC_DEFAULT_BROKER_CONFIG', readOnly: false, isSensitive: sensitive(name),
        type: typeOf(name), documentation: doc(name),
        synonyms: [{ name, value: shown(name, value), source: 'DYNAMIC_DEFAULT_BROKER_CONFIG' }],
      }));
    }
    if (resourceName !== String(this.config.nodeId)) return null;
    const out: DescribedDynamicConfig[] = [];
    for (const def of BROKER_CONFIG_KEYS) {
      const synonyms = this.synonymsOf(def.key);
      const first = synonyms[0];
      out.push({
        name: def.key,
        value: def.key === 'node.id' ? String(this.config.nodeId) : shown(def.key, first?.value ?? null),
        source: first?.source ?? 'DEFAULT_CONFIG',
        readOnly: dynamicKey(def.key) === null,
        isSensitive: sensitive(def.key),
        type: def.type,
        documentation: def.doc,
        synonyms: synonyms.map((s) => ({ ...s, value: shown(def.key, s.value) })),
      });
    }
    // Listener-prefixed keys set dynamically on this broker (not rows of the table).
    for (const [name, value] of this.own) {
      if (brokerConfigKey(name)) continue;
      out.push({
        name, value: shown(name, value), source: 'DYNAMIC_BROKER_CONFIG', readOnly: false, isSensitive: sensitive(name), type: typeOf(name),
        documentation: doc(name), synonyms: [{ name, value: shown(name, value), source: 'DYNAMIC_BROKER_CONFIG' }],
      });
    }
    return out;
  }

  /** A key's values in Kafka's synonym order: per broker, cluster default, static, default. */
  private synonymsOf(key: string): { name: string; value: string | null; source: ConfigSource }[] {
    const out: { name: string; value: string | null; source: ConfigSource }[] = [];
    const own = this.own.get(key);
    if (own !== undefined) out.push({ name: key, value: own, source: 'DYNAMIC_BROKER_CONFIG' });
    const cluster = this.clusterDefaults.get(key);
    if (cluster !== undefined && !dynamicKey(key)?.perBrokerOnly) out.push({ name: key, value: cluster, source: 'DYNAMIC_DEFAULT_BROKER_CONFIG' });
    const r = this.staticRaw.get(key);
    if (r && r.source !== 'default') out.push({ name: key, value: r.value, source: 'STATIC_BROKER_CONFIG' });
    const d = brokerConfigKey(key)?.default;
    if (d !== null && d !== undefined) out.push({ name: key, value: r?.source === 'default' ? r.value : d, source: 'DEFAULT_CONFIG' });
    return out;
  }

  /**
   * The configuration with the origin of every key, dynamic layers included: what DescribeConfigs of a
   * TOPIC reports as the source of an inherited value (DYNAMIC_DEFAULT_BROKER_CONFIG, …).
   */
  loadedView(): LoadedBrokerConfig {
    const raw = new Map(this.staticRaw);
    for (const [k, v] of this.clusterDefaults) if (!dynamicKey(k)?.perBrokerOnly) raw.set(k, { value: v, source: 'dynamic-default' });
    for (const [k, v] of this.own) raw.set(k, { value: v, source: 'dynamic-broker' });
    return { config: this.config, warnings: [], raw };
  }
}
