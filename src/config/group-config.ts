/**
 * Per-group configs (Kafka 4.1's GroupConfig, the GROUP resource of DescribeConfigs and
 * IncrementalAlterConfigs/AlterConfigs): each key has a broker-wide `group.*` key that is its default, and
 * most have broker-wide bounds (`group.consumer.min.session.timeout.ms`, …) a group's value must lie within.
 *
 * Validation is Kafka's GroupConfig.validate: unknown names, then each value parsed and checked against
 * its own validator (`Invalid value … for configuration …`), then the bounds and the session > heartbeat
 * rules with GroupConfig's messages, on the group's whole set (the keys it does not set take the broker's
 * values), all INVALID_CONFIG.
 *
 * The share.* and streams.* keys are kept and validated for every group; Floe's consumer groups read the
 * consumer.* keys (session timeout, heartbeat interval); share groups read share.auto.offset.reset (parsed
 * here, as Kafka's ShareGroupAutoOffsetResetStrategy) and share.isolation.level at every share fetch.
 */
import { custom, oneOf, parseAndValidate, range, ConfigValueError, type ConfigType, type Validator } from './config-def.ts';

export interface GroupConfigKey {
  key: string;
  type: ConfigType;
  /** The broker config whose value is this key's default. */
  brokerKey: string;
  validate?: Validator;
  /** Broker configs bounding the value (Kafka's GroupConfig.validateValues). */
  min?: string;
  max?: string;
  doc: string;
}

/** A share group's share.auto.offset.reset, parsed: where a new share partition starts. */
export type ShareAutoOffsetReset = { type: 'earliest' } | { type: 'latest' } | { type: 'by_duration'; durationMs: number };

// java.time.Duration.parse's grammar (PnDTnHnMn.nS, case-insensitive, a sign on the whole and on each number).
const ISO_DURATION = /^([-+]?)P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$/i;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/**
 * java.time.Duration.parse as Kafka uses it: the duration in nanoseconds, or null where Java throws (no part
 * given, a `T` with no time part, a number or the total outside a long of seconds).
 */
export function parseIsoDuration(text: string): bigint | null {
  const m = ISO_DURATION.exec(text);
  if (!m || m[3]?.toUpperCase() === 'T') return null;
  const [, sign, days, , hours, minutes, seconds, fraction] = m;
  if (days === undefined && hours === undefined && minutes === undefined && seconds === undefined) return null;
  const inLong = (n: bigint): bigint | null => (n < LONG_MIN || n > LONG_MAX ? null : n);
  const part = (digits: string | undefined, unit: bigint): bigint | null => {
    if (digits === undefined) return 0n;
    const n = inLong(BigInt(digits));
    return n === null ? null : inLong(n * unit);
  };
  const parts = [part(days, 86_400n), part(hours, 3_600n), part(minutes, 60n), part(seconds, 1n)];
  if (parts.some((p) => p === null)) return null;
  let totalSeconds = 0n;
  for (const p of parts.reverse()) {
    const sum = inLong(totalSeconds + p!);
    if (sum === null) return null;
    totalSeconds = sum;
  }
  // The fraction belongs to the seconds and takes their sign (Java's parseFraction).
  let nanos = fraction ? BigInt(fraction.padEnd(9, '0')) : 0n;
  if (seconds?.startsWith('-')) nanos = -nanos;
  const total = totalSeconds * 1_000_000_000n + nanos;
  return sign === '-' ? -total : total;
}

/**
 * Kafka's ShareGroupAutoOffsetResetStrategy.fromString: `latest`, `earliest` or `by_duration:` and a duration
 * that is not negative, all case-sensitive but the duration; null for anything else (`none` included).
 */
export function parseShareAutoOffsetReset(value: string): ShareAutoOffsetReset | null {
  if (value === 'latest' || value === 'earliest') return { type: value };
  if (!value.startsWith('by_duration:')) return null;
  const nanos = parseIsoDuration(value.slice('by_duration:'.length));
  if (nanos === null || nanos < 0n) return null;
  const ms = nanos / 1_000_000n;
  return { type: 'by_duration', durationMs: ms > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(ms) };
}

/** Kafka's ShareGroupAutoOffsetResetStrategy.Validator, with its message. */
const autoOffsetReset = custom('[latest, earliest, by_duration:PnDTnHnMn.nS]', (v) =>
  parseShareAutoOffsetReset(v as string) !== null
    ? null
    : `Invalid value \`${v as string}\` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'.`,
);

export const GROUP_CONFIG_KEYS: readonly GroupConfigKey[] = [
  { key: 'consumer.session.timeout.ms', type: 'INT', brokerKey: 'group.consumer.session.timeout.ms', validate: range(1),
    min: 'group.consumer.min.session.timeout.ms', max: 'group.consumer.max.session.timeout.ms',
    doc: 'The timeout to detect client failures when using the consumer group protocol.' },
  { key: 'consumer.heartbeat.interval.ms', type: 'INT', brokerKey: 'group.consumer.heartbeat.interval.ms', validate: range(1),
    min: 'group.consumer.min.heartbeat.interval.ms', max: 'group.consumer.max.heartbeat.interval.ms',
    doc: 'The heartbeat interval given to the members of a consumer group.' },
  { key: 'share.session.timeout.ms', type: 'INT', brokerKey: 'group.share.session.timeout.ms', validate: range(1),
    min: 'group.share.min.session.timeout.ms', max: 'group.share.max.session.timeout.ms',
    doc: 'The timeout to detect client failures when using the share group protocol.' },
  { key: 'share.heartbeat.interval.ms', type: 'INT', brokerKey: 'group.share.heartbeat.interval.ms', validate: range(1),
    min: 'group.share.min.heartbeat.interval.ms', max: 'group.share.max.heartbeat.interval.ms',
    doc: 'The heartbeat interval given to the members of a share group.' },
  { key: 'share.record.lock.duration.ms', type: 'INT', brokerKey: 'group.share.record.lock.duration.ms', validate: range(1000),
    min: 'group.share.min.record.lock.duration.ms', max: 'group.share.max.record.lock.duration.ms',
    doc: 'The record acquisition lock duration in milliseconds for share groups.' },
  { key: 'share.auto.offset.reset', type: 'STRING', brokerKey: '', validate: autoOffsetReset,
    doc: 'The strategy to initialize the share-partition start offset: earliest, latest, or by_duration:<ISO-8601 duration>.' },
  { key: 'share.isolation.level', type: 'STRING', brokerKey: '', validate: oneOf('read_committed', 'read_uncommitted'),
    doc: 'Controls how to read records written transactionally: read_committed delivers only committed transactional records.' },
  { key: 'streams.session.timeout.ms', type: 'INT', brokerKey: 'group.streams.session.timeout.ms', validate: range(1),
    min: 'group.streams.min.session.timeout.ms', max: 'group.streams.max.session.timeout.ms',
    doc: 'The timeout to detect client failures when using the streams group protocol.' },
  { key: 'streams.heartbeat.interval.ms', type: 'INT', brokerKey: 'group.streams.heartbeat.interval.ms', validate: range(1),
    min: 'group.streams.min.heartbeat.interval.ms', max: 'group.streams.max.heartbeat.interval.ms',
    doc: 'The heartbeat interval given to the members of a streams group.' },
  { key: 'streams.num.standby.replicas', type: 'INT', brokerKey: 'group.streams.num.standby.replicas', validate: range(0),
    max: 'group.streams.max.standby.replicas',
    doc: 'The number of standby replicas for each task of a streams group.' },
];

/** Defaults of the keys without a broker key (Kafka's GroupConfig defaults). */
const OWN_DEFAULTS: Readonly<Record<string, string>> = {
  'share.auto.offset.reset': 'latest',
  'share.isolation.level': 'read_uncommitted',
};

const INDEX = new Map(GROUP_CONFIG_KEYS.map((k) => [k.key, k]));

export function groupConfigKey(key: string): GroupConfigKey | undefined {
  return INDEX.get(key);
}

/** The broker's values of the group.* keys (its BrokerConfig `values`, defaults filled in by the loader). */
export type BrokerValues = Readonly<Record<string, string | null | undefined>>;

/** A key's default for a group that does not set it: the broker key's value, or Kafka's default. */
export function groupConfigDefault(key: GroupConfigKey, broker: BrokerValues, brokerDefault: (key: string) => string | null): string {
  if (key.brokerKey === '') return OWN_DEFAULTS[key.key]!;
  return broker[key.brokerKey] ?? brokerDefault(key.brokerKey) ?? '';
}

export type GroupConfigValidation = { ok: true; configs: Record<string, string> } | { ok: false; message: string };

/**
 * Kafka's GroupConfig.validate of a group's explicit configs (`configs`, raw text); returns them
 * normalised. `broker` gives the bounds and the values of the keys the group leaves unset.
 */
export function validateGroupConfigs(configs: Readonly<Record<string, string>>, broker: BrokerValues, brokerDefault: (key: string) => string | null): GroupConfigValidation {
  for (const name of Object.keys(configs)) {
    if (!INDEX.has(name)) return { ok: false, message: `Unknown group config name: ${name}` };
  }
  const normalized: Record<string, string> = {};
  const effective = new Map<string, string | number>();
  try {
    for (const k of GROUP_CONFIG_KEYS) {
      const raw = configs[k.key];
      const parsed = parseAndValidate(k.key, k.type, raw ?? groupConfigDefault(k, broker, brokerDefault), k.validate);
      if (raw !== undefined) normalized[k.key] = parsed.normalized;
      effective.set(k.key, parsed.value as string | number);
    }
  } catch (err) {
    if (err instanceof ConfigValueError) return { ok: false, message: err.message };
    throw err;
  }
  const bound = (name: string) => Number(broker[name] ?? brokerDefault(name));
  for (const k of GROUP_CONFIG_KEYS) {
    const v = effective.get(k.key) as number;
    if (k.min !== undefined && v < bound(k.min)) return { ok: false, message: `${k.key} must be greater than or equal to ${k.min}` };
    if (k.max !== undefined && v > bound(k.max)) return { ok: false, message: `${k.key} must be less than or equal to ${k.max}` };
  }
  for (const kind of ['consumer', 'share', 'streams']) {
    if ((effective.get(`${kind}.session.timeout.ms`) as number) <= (effective.get(`${kind}.heartbeat.interval.ms`) as number)) {
      return { ok: false, message: `${kind}.session.timeout.ms must be greater than ${kind}.heartbeat.interval.ms` };
    }
  }
  return { ok: true, configs: normalized };
}
