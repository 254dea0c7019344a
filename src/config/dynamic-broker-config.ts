/**
 * Dynamic broker configs (Kafka's DynamicBrokerConfig): which broker keys may change at runtime, how a
 * value set through IncrementalAlterConfigs/AlterConfigs is checked, and how the layers combine into the
 * configuration the broker runs with. The layers, highest first, as in Kafka:
 *   per-broker dynamic (DYNAMIC_BROKER_CONFIG) > cluster-wide dynamic default (DYNAMIC_DEFAULT_BROKER_CONFIG)
 *   > server.properties / env / --override (STATIC_BROKER_CONFIG) > the table default (DEFAULT_CONFIG).
 * The layered values are kept in the coordinator (migration 13) and applied by src/broker/dynamic-configs.ts.
 *
 * The dynamic keys are Kafka's dynamic set intersected with Floe's keys:
 * - cluster-wide or per broker: the broker defaults of topic configs (Kafka's DynamicLogConfig: log.retention.*,
 *   log.roll.*, log.segment.bytes, log.cleanup.policy, log.message.timestamp.*, message.max.bytes,
 *   compression.*, log.cleaner.*.lag.ms, …) and the log cleaner's log.cleaner.threads,
 *   log.cleaner.dedupe.buffer.size and log.cleaner.backoff.ms;
 * - per broker only (Kafka: "Cannot update these configs at default cluster level, broker id must be
 *   specified for update"): the TLS key and trust stores, `ssl.*` or `listener.name.<l>.ssl.*`, and the PLAIN
 *   users of a listener, `listener.name.<l>.plain.sasl.jaas.config`.
 * Any other key is refused as Kafka refuses a static one.
 *
 * Unlike Kafka (which encrypts them with password.encoder.secret), sensitive values (PASSWORD keys, JAAS
 * text) are stored as given in the coordinator, whose access must be guarded anyway (it holds SCRAM
 * credentials and ACLs); DescribeConfigs never shows them.
 */
import { brokerConfigKey, type BrokerConfig } from './broker-config.ts';
import { ConfigValueError, parseAndValidate, parseConfigValue, splitList } from './config-def.ts';
import { parsePlainJaas, SecurityConfigError, type TlsSettings } from './security-config.ts';
import type { BrokerConfigKey } from './broker-config-key.ts';

/** The keys that may be set cluster-wide (resource name "") or per broker. */
export const CLUSTER_DYNAMIC_KEYS: ReadonlySet<string> = new Set([
  'message.max.bytes', 'compression.type', 'compression.gzip.level', 'compression.lz4.level', 'compression.zstd.level',
  'log.retention.ms', 'log.retention.minutes', 'log.retention.hours', 'log.retention.bytes', 'log.cleanup.policy',
  'log.message.timestamp.type', 'log.message.timestamp.before.max.ms', 'log.message.timestamp.after.max.ms',
  'log.segment.bytes', 'log.roll.ms', 'log.roll.hours', 'log.roll.jitter.ms', 'log.roll.jitter.hours',
  'log.index.size.max.bytes', 'log.index.interval.bytes', 'log.flush.interval.messages', 'log.flush.interval.ms',
  'log.segment.delete.delay.ms', 'log.preallocate', 'log.local.retention.ms', 'log.local.retention.bytes',
  'log.cleaner.delete.retention.ms', 'log.cleaner.min.compaction.lag.ms', 'log.cleaner.max.compaction.lag.ms',
  'log.cleaner.min.cleanable.ratio', 'min.insync.replicas', 'unclean.leader.election.enable',
  'log.cleaner.threads', 'log.cleaner.dedupe.buffer.size', 'log.cleaner.backoff.ms',
]);

/** TLS keys that may be set per broker (bare, for every TLS listener, or as listener.name.<l>.<key>). */
export const DYNAMIC_TLS_KEYS: readonly string[] = [
  'ssl.keystore.location', 'ssl.keystore.key', 'ssl.keystore.certificate.chain', 'ssl.key.password', 'ssl.keystore.password',
  'ssl.truststore.location', 'ssl.truststore.certificates',
];

const PLAIN_JAAS = 'plain.sasl.jaas.config';

export interface DynamicKey {
  /** The key as set (e.g. listener.name.sasl_ssl.ssl.keystore.location). */
  name: string;
  /** Upper-case listener name of a listener.name.<l>. key; null otherwise. */
  listener: string | null;
  /** The key without its listener prefix. */
  base: string;
  /** True for keys Kafka only accepts on a broker id. */
  perBrokerOnly: boolean;
  isSensitive: boolean;
  /** The table row of `base` (absent for the JAAS key). */
  def: BrokerConfigKey | undefined;
}

/** What a key is, or null when it cannot change at runtime. */
export function dynamicKey(name: string): DynamicKey | null {
  if (CLUSTER_DYNAMIC_KEYS.has(name)) {
    return { name, listener: null, base: name, perBrokerOnly: false, isSensitive: false, def: brokerConfigKey(name) };
  }
  if (DYNAMIC_TLS_KEYS.includes(name)) {
    const def = brokerConfigKey(name);
    return { name, listener: null, base: name, perBrokerOnly: true, isSensitive: def?.type === 'PASSWORD', def };
  }
  const m = /^listener\.name\.([^.]+)\.(.+)$/.exec(name);
  if (m && m[1] === m[1]!.toLowerCase()) {
    const base = m[2]!;
    if (DYNAMIC_TLS_KEYS.includes(base)) {
      const def = brokerConfigKey(base);
      return { name, listener: m[1]!.toUpperCase(), base, perBrokerOnly: true, isSensitive: def?.type === 'PASSWORD', def };
    }
    if (base === PLAIN_JAAS) return { name, listener: m[1]!.toUpperCase(), base, perBrokerOnly: true, isSensitive: true, def: undefined };
  }
  return null;
}

/** The normalised value of a dynamic key, or Kafka's reason for refusing it (INVALID_CONFIG). */
export function normalizeDynamicValue(key: DynamicKey, value: string): { ok: true; value: string } | { ok: false; message: string } {
  try {
    if (key.base === PLAIN_JAAS) {
      parsePlainJaas(value, key.name);
      return { ok: true, value };
    }
    return { ok: true, value: parseAndValidate(key.name, key.def!.type, value, key.def!.validate).normalized };
  } catch (err) {
    if (err instanceof ConfigValueError || err instanceof SecurityConfigError) return { ok: false, message: err.message };
    throw err;
  }
}

/** Checks that hold across keys (as loadBrokerConfig checks them at start); null when the values are consistent. */
export function crossCheck(values: Readonly<Record<string, string | null>>): string | null {
  const threads = Number(values['log.cleaner.threads'] ?? 1);
  const dedupe = Number(values['log.cleaner.dedupe.buffer.size'] ?? 134_217_728);
  if (dedupe / threads < 1024 * 1024) return `log.cleaner.dedupe.buffer.size (${dedupe}) must be at least 1MiB per cleaner thread (log.cleaner.threads=${threads})`;
  return null;
}

/** The broker's static configuration, kept to fall back to when a dynamic value is removed. */
export interface StaticBrokerConfig {
  values: Readonly<Record<string, string | null>>;
  /** The typed fields the dynamic keys drive, as the broker started with them. */
  fields: Partial<BrokerConfig>;
}

/** The typed BrokerConfig fields each dynamic key drives (keys read only through `values` drive none). */
const FIELDS_OF: Readonly<Record<string, readonly (keyof BrokerConfig)[]>> = {
  'message.max.bytes': ['messageMaxBytes'],
  'compression.type': ['compressionType'],
  'log.retention.ms': ['logRetentionMs'],
  'log.retention.minutes': ['logRetentionMs'],
  'log.retention.hours': ['logRetentionMs'],
  'log.retention.bytes': ['logRetentionBytes'],
  'log.cleanup.policy': ['logCleanupPolicy'],
  'log.message.timestamp.type': ['logMessageTimestampType'],
  'log.message.timestamp.before.max.ms': ['logMessageTimestampBeforeMaxMs'],
  'log.message.timestamp.after.max.ms': ['logMessageTimestampAfterMaxMs'],
  'log.cleaner.threads': ['logCleanerThreads'],
  'log.cleaner.dedupe.buffer.size': ['logCleanerDedupeBufferSize'],
  'log.cleaner.backoff.ms': ['logCleanerBackoffMs'],
};

export function staticBrokerConfig(config: BrokerConfig): StaticBrokerConfig {
  const values: Record<string, string | null> = {};
  for (const key of CLUSTER_DYNAMIC_KEYS) values[key] = config.values ? (config.values[key] ?? null) : (brokerConfigKey(key)?.default ?? null);
  const fields: Partial<BrokerConfig> = {};
  for (const list of Object.values(FIELDS_OF)) for (const f of list) (fields as Record<string, unknown>)[f] = config[f];
  return { values: { ...(config.values ?? values) }, fields };
}

const num = (key: string, text: string | null | undefined): number | null => {
  if (text === null || text === undefined) return null;
  return parseConfigValue(key, brokerConfigKey(key)!.type, text).value as number;
};

/**
 * Writes the effective configuration into `config` (in place: every part of the broker holds this object):
 * `values` of every key, and the typed fields of the keys that have a dynamic value (the others get their
 * static field back). `dynamic` holds the effective dynamic values (per-broker over cluster-wide).
 */
export function applyDynamicValues(config: BrokerConfig, base: StaticBrokerConfig, dynamic: ReadonlyMap<string, string>): void {
  const values: Record<string, string | null> = { ...base.values };
  for (const [k, v] of dynamic) if (CLUSTER_DYNAMIC_KEYS.has(k)) values[k] = v;
  config.values = values;
  const target = config as unknown as Record<string, unknown>;
  const touched = new Set<keyof BrokerConfig>();
  for (const k of dynamic.keys()) for (const f of FIELDS_OF[k] ?? []) touched.add(f);
  for (const [f, v] of Object.entries(base.fields)) if (!touched.has(f as keyof BrokerConfig)) target[f] = v;
  const text = (k: string): string => values[k] ?? brokerConfigKey(k)!.default!;
  for (const f of touched) {
    switch (f) {
      case 'messageMaxBytes': config.messageMaxBytes = num('message.max.bytes', text('message.max.bytes'))!; break;
      case 'compressionType': config.compressionType = text('compression.type') as BrokerConfig['compressionType']; break;
      case 'logRetentionMs': {
        const ms = num('log.retention.ms', values['log.retention.ms']);
        const min = num('log.retention.minutes', values['log.retention.minutes']);
        const r = ms ?? (min !== null ? min * 60_000 : num('log.retention.hours', text('log.retention.hours'))! * 3_600_000);
        config.logRetentionMs = r < 0 ? -1 : r;
        break;
      }
      case 'logRetentionBytes': {
        const b = num('log.retention.bytes', text('log.retention.bytes'))!;
        config.logRetentionBytes = b < 0 ? -1 : b;
        break;
      }
      case 'logCleanupPolicy': config.logCleanupPolicy = splitList(text('log.cleanup.policy')); break;
      case 'logMessageTimestampType': config.logMessageTimestampType = text('log.message.timestamp.type') as BrokerConfig['logMessageTimestampType']; break;
      case 'logMessageTimestampBeforeMaxMs': config.logMessageTimestampBeforeMaxMs = num('log.message.timestamp.before.max.ms', text('log.message.timestamp.before.max.ms'))!; break;
      case 'logMessageTimestampAfterMaxMs': config.logMessageTimestampAfterMaxMs = num('log.message.timestamp.after.max.ms', text('log.message.timestamp.after.max.ms'))!; break;
      case 'logCleanerThreads': config.logCleanerThreads = num('log.cleaner.threads', text('log.cleaner.threads'))!; break;
      case 'logCleanerDedupeBufferSize': config.logCleanerDedupeBufferSize = num('log.cleaner.dedupe.buffer.size', text('log.cleaner.dedupe.buffer.size'))!; break;
      case 'logCleanerBackoffMs': config.logCleanerBackoffMs = num('log.cleaner.backoff.ms', text('log.cleaner.backoff.ms'))!; break;
      default: break;
    }
  }
}

/** Field of TlsSettings each dynamic TLS key sets. */
const TLS_FIELD: Readonly<Record<string, keyof TlsSettings>> = {
  'ssl.keystore.location': 'keystoreLocation',
  'ssl.keystore.key': 'keystoreKey',
  'ssl.keystore.certificate.chain': 'keystoreCertificateChain',
  'ssl.key.password': 'keyPassword',
  'ssl.keystore.password': 'keyPassword',
  'ssl.truststore.location': 'truststoreLocation',
  'ssl.truststore.certificates': 'truststoreCertificates',
};

/**
 * One listener's TLS settings with this broker's dynamic TLS keys over the static ones (its own
 * listener.name.<l>.ssl.* over the bare ssl.*). A key store given by file replaces an inline one and the
 * reverse, so one dynamic key is enough to switch.
 */
export function dynamicTls(listener: string, statics: TlsSettings, dynamic: ReadonlyMap<string, string>): TlsSettings {
  const tls: TlsSettings = { ...statics };
  const prefix = `listener.name.${listener.toLowerCase()}.`;
  for (const key of DYNAMIC_TLS_KEYS) {
    const v = dynamic.get(prefix + key) ?? dynamic.get(key);
    if (v === undefined) continue;
    const field = TLS_FIELD[key]!;
    (tls as unknown as Record<string, string | null>)[field] = v;
    if (field === 'keystoreLocation') {
      tls.keystoreKey = null;
      tls.keystoreCertificateChain = null;
    } else if (field === 'keystoreKey' || field === 'keystoreCertificateChain') {
      tls.keystoreLocation = null;
    } else if (field === 'truststoreLocation') {
      tls.truststoreCertificates = null;
    } else if (field === 'truststoreCertificates') {
      tls.truststoreLocation = null;
    }
  }
  return tls;
}

/** A listener's PLAIN users from this broker's dynamic JAAS text, or null when it has none. */
export function dynamicPlainUsers(listener: string, dynamic: ReadonlyMap<string, string>): Map<string, string> | null {
  const key = `listener.name.${listener.toLowerCase()}.${PLAIN_JAAS}`;
  const jaas = dynamic.get(key);
  return jaas === undefined ? null : parsePlainJaas(jaas, key);
}
