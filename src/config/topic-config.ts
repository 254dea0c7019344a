/**
 * Topic configuration: one table of Kafka 4.x topic keys plus Floe's `diskless.enable`, each with its type,
 * validator and broker synonyms (Kafka's ServerTopicConfigSynonyms: `retention.ms` ← `log.retention.ms`,
 * `log.retention.minutes`, `log.retention.hours`; `max.message.bytes` ← `message.max.bytes`; …). A topic
 * config that is not set takes the value of its first synonym the broker has, converted to the topic's
 * unit, else Kafka's default.
 *
 * - `validateTopicConfigs` checks a full set of topic configs (CreateTopics, or an alter after merging the
 *   change into the existing set): unknown name, null value, type and range, with Kafka's messages and
 *   INVALID_CONFIG. It returns the values normalised as Kafka shows them (`TRUE` → `true`) and pins
 *   `diskless.enable` to its effective value, so a later change of the broker default cannot flip the storage
 *   of an existing topic; with `existing`, it refuses to change `diskless.enable`.
 * - `cleanup.policy=compact` works on both kinds: the log cleaner compacts classic logs, the compaction job
 *   compacts diskless partitions (storage/diskless/compactor.ts, where segment.ms and segment.bytes define
 *   a diskless partition's active segment).
 * - Tiered storage does not exist in Floe: `remote.storage.enable=true` is refused as Kafka refuses it on a
 *   broker with tiered storage disabled.
 * - Keys marked `noEffectOnDiskless` are accepted, validated and stored like Kafka does, so tools that set
 *   them work, but they change nothing on diskless topics (segments, flushes, replicas, compaction…).
 * - A negative retention.bytes means "no limit" as in Kafka; resolveTopicConfig reports it as -1.
 */
import {
  custom,
  listOf,
  LONG_MAX,
  oneOf,
  parseAndValidate,
  parseConfigValue,
  range,
  ConfigValueError,
  type ConfigSource,
  type ConfigType,
  type Validator,
} from './config-def.ts';
import {
  brokerConfigKey,
  COMPRESSION_TYPES,
  ConfigError,
  describeSource,
  rawOf,
  type BrokerConfig,
  type LoadedBrokerConfig,
} from './broker-config.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';


export interface TopicConfig {
  diskless: boolean;
  /** -1 = no time limit. */
  retentionMs: number;
  /** -1 = no size limit. */
  retentionBytes: number;
  maxMessageBytes: number;
  /** 0 CreateTime, 1 LogAppendTime */
  messageTimestampType: 0 | 1;
  /** Number.MAX_SAFE_INTEGER stands for Kafka's Long.MAX_VALUE (no limit). */
  messageTimestampBeforeMaxMs: number;
  messageTimestampAfterMaxMs: number;
  /** message.downconversion.enable: Fetch v0-3 get this topic's records as message format v0/v1. */
  messageDownconversionEnable: boolean;
  /** Subset of ['delete', 'compact']; empty = nothing is ever deleted. */
  cleanupPolicy: string[];
  compressionType: string;
  // Classic topics only (their local log); no effect on diskless topics.
  segmentBytes: number;
  segmentMs: number;
  segmentJitterMs: number;
  segmentIndexBytes: number;
  indexIntervalBytes: number;
  /** Number.MAX_SAFE_INTEGER: never by count. 1 (Floe's default): every acknowledged write is fsynced first. */
  flushMessages: number;
  /** Number.MAX_SAFE_INTEGER: never by time. */
  flushMs: number;
  fileDeleteDelayMs: number;
  // Compaction (cleanup.policy contains compact; classic topics).
  minCleanableDirtyRatio: number;
  minCompactionLagMs: number;
  /** Number.MAX_SAFE_INTEGER: no limit. */
  maxCompactionLagMs: number;
  deleteRetentionMs: number;
}

interface Synonym {
  key: string;
  /** Multiply the broker value by this to get the topic value (hours → ms). */
  factor?: number;
}

export interface TopicConfigKey {
  key: string;
  type: ConfigType;
  /** Broker keys that give the default, highest priority first. */
  synonyms: readonly Synonym[];
  /** Kafka's default, used when no synonym has a value. */
  default: string;
  validate?: Validator;
  doc: string;
  /** Accepted and stored, but without effect on diskless topics. */
  noEffectOnDiskless?: boolean;
  /** Cannot be altered once the topic exists. */
  readOnly?: boolean;
}

const HOUR = 3_600_000;
const NO_EFFECT = 'Accepted and stored for compatibility; no effect on diskless topics.';
const CLASSIC = 'Classic topics only; no effect on diskless topics.';
const s = (key: string, factor?: number): Synonym => (factor === undefined ? { key } : { key, factor });

function throttledReplicas(): Validator {
  return custom("'*' or a list of partitionId:brokerId", (v) => {
    const list = v as string[];
    if (list.length === 1 && list[0] === '*') return null;
    if (list.every((e) => /^\d+:\d+$/.test(e))) return null;
    return "must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...";
  });
}

/** The topic keys, in Kafka's documentation order, `diskless.enable` first. */
export const TOPIC_CONFIG_KEYS: readonly TopicConfigKey[] = [
  { key: 'diskless.enable', type: 'BOOLEAN', synonyms: [s('log.diskless.enable')], default: 'true', readOnly: true,
    doc: 'Whether the topic keeps its data only in object storage (true) or in a log on the local disk of its leader (false). Fixed when the topic is created.' },
  { key: 'cleanup.policy', type: 'LIST', synonyms: [s('log.cleanup.policy')], default: 'delete', validate: listOf(['compact', 'delete'], true),
    doc: 'delete: old data is deleted by retention.ms and retention.bytes. compact: compaction keeps the last record of each key, and records without a key are refused (INVALID_RECORD); compact,delete does both. An empty list keeps everything.' },
  { key: 'compression.type', type: 'STRING', synonyms: [s('compression.type')], default: 'producer', validate: oneOf(...COMPRESSION_TYPES),
    doc: 'Compression of the stored batches. producer keeps them as the producer sent them.' },
  { key: 'compression.gzip.level', type: 'INT', synonyms: [s('compression.gzip.level')], default: '-1',
    validate: custom('[1,...,9] or -1', (v) => ((v as number) === -1 || ((v as number) >= 1 && (v as number) <= 9) ? null : 'Value must be between 1 and 9, or -1 for the default level')),
    doc: 'Level used when compression.type=gzip.' },
  { key: 'compression.lz4.level', type: 'INT', synonyms: [s('compression.lz4.level')], default: '9', validate: range(1, 17),
    doc: 'Level used when compression.type=lz4.' },
  { key: 'compression.zstd.level', type: 'INT', synonyms: [s('compression.zstd.level')], default: '3', validate: range(-131072, 22),
    doc: 'Level used when compression.type=zstd.' },
  { key: 'delete.retention.ms', type: 'LONG', synonyms: [s('log.cleaner.delete.retention.ms')], default: '86400000', validate: range(0),
    doc: 'How long a tombstone (a record with a null value) is kept on a compacted topic after compaction first saw it (its delete horizon, KIP-534).' },
  { key: 'file.delete.delay.ms', type: 'LONG', synonyms: [s('log.segment.delete.delay.ms')], default: '60000', validate: range(0), noEffectOnDiskless: true,
    doc: `Wait before the files of a log segment deleted by retention are removed. ${CLASSIC}` },
  { key: 'flush.messages', type: 'LONG', synonyms: [s('log.flush.interval.messages')], default: LONG_MAX, validate: range(1), noEffectOnDiskless: true,
    doc: `Force an fsync of the log after this many messages. 1 (Floe's default through log.flush.interval.messages): a produce is answered, and its records become visible to consumers, only once they are fsynced (group commit). ${CLASSIC}` },
  { key: 'flush.ms', type: 'LONG', synonyms: [s('log.flush.interval.ms'), s('log.flush.scheduler.interval.ms')], default: LONG_MAX, validate: range(0), noEffectOnDiskless: true,
    doc: `Force an fsync of the log after unflushed data is this old (matters when flush.messages > 1). ${CLASSIC}` },
  { key: 'follower.replication.throttled.replicas', type: 'LIST', synonyms: [], default: '', validate: throttledReplicas(), noEffectOnDiskless: true,
    doc: `Replicas whose follower replication is throttled. ${NO_EFFECT}` },
  { key: 'index.interval.bytes', type: 'INT', synonyms: [s('log.index.interval.bytes')], default: '4096', validate: range(0), noEffectOnDiskless: true,
    doc: `Bytes between two entries of a segment's offset and time indexes. ${CLASSIC}` },
  { key: 'leader.replication.throttled.replicas', type: 'LIST', synonyms: [], default: '', validate: throttledReplicas(), noEffectOnDiskless: true,
    doc: `Replicas whose leader replication is throttled. ${NO_EFFECT}` },
  { key: 'local.retention.bytes', type: 'LONG', synonyms: [s('log.local.retention.bytes')], default: '-2', validate: range(-2), noEffectOnDiskless: true,
    doc: `Tiered storage: bytes kept on local disk. ${NO_EFFECT}` },
  { key: 'local.retention.ms', type: 'LONG', synonyms: [s('log.local.retention.ms')], default: '-2', validate: range(-2), noEffectOnDiskless: true,
    doc: `Tiered storage: time data is kept on local disk. ${NO_EFFECT}` },
  { key: 'max.compaction.lag.ms', type: 'LONG', synonyms: [s('log.cleaner.max.compaction.lag.ms')], default: LONG_MAX, validate: range(1),
    doc: 'Longest time a record stays uncompacted: a partition whose first dirty batch is older is compacted whatever its dirty ratio, and the active segment of a compacted topic ends after this long.' },
  { key: 'max.message.bytes', type: 'INT', synonyms: [s('message.max.bytes')], default: '1048588', validate: range(0),
    doc: 'The largest record batch the topic accepts (after compression). Larger batches are rejected with MESSAGE_TOO_LARGE.' },
  { key: 'message.downconversion.enable', type: 'BOOLEAN', synonyms: [s('log.message.downconversion.enable')], default: 'true',
    doc: 'Whether Fetch v0-3 (clients of message format v0/v1, which Kafka 4 no longer serves) get this topic\'s batches converted down; when false they get UNSUPPORTED_VERSION for its partitions (Kafka 3.x\'s key).' },
  { key: 'message.timestamp.after.max.ms', type: 'LONG', synonyms: [s('log.message.timestamp.after.max.ms')], default: '3600000', validate: range(0),
    doc: 'With CreateTime, a batch whose timestamp is more than this after the broker\'s clock is rejected (INVALID_TIMESTAMP).' },
  { key: 'message.timestamp.before.max.ms', type: 'LONG', synonyms: [s('log.message.timestamp.before.max.ms')], default: LONG_MAX, validate: range(0),
    doc: 'With CreateTime, a batch whose timestamp is more than this before the broker\'s clock is rejected (INVALID_TIMESTAMP).' },
  { key: 'message.timestamp.type', type: 'STRING', synonyms: [s('log.message.timestamp.type')], default: 'CreateTime', validate: oneOf('CreateTime', 'LogAppendTime'),
    doc: 'CreateTime keeps the producer\'s timestamps; LogAppendTime replaces them with the time the batch was committed.' },
  { key: 'min.cleanable.dirty.ratio', type: 'DOUBLE', synonyms: [s('log.cleaner.min.cleanable.ratio')], default: '0.5', validate: range(0, 1),
    doc: 'A compacted partition is compacted when its dirty (not yet compacted) share of bytes exceeds this.' },
  { key: 'min.compaction.lag.ms', type: 'LONG', synonyms: [s('log.cleaner.min.compaction.lag.ms')], default: '0', validate: range(0),
    doc: 'Shortest time a record stays uncompacted: nothing from the first segment (classic) or batch (diskless) holding a newer record on is compacted yet.' },
  { key: 'min.insync.replicas', type: 'INT', synonyms: [s('min.insync.replicas')], default: '1', validate: range(1), noEffectOnDiskless: true,
    doc: `Replicas that must acknowledge an acks=all write. Diskless writes are acknowledged once stored in the object store and committed. ${NO_EFFECT}` },
  { key: 'preallocate', type: 'BOOLEAN', synonyms: [s('log.preallocate')], default: 'false', noEffectOnDiskless: true,
    doc: `Preallocate segment files. ${NO_EFFECT}` },
  { key: 'remote.log.copy.disable', type: 'BOOLEAN', synonyms: [], default: 'false', noEffectOnDiskless: true,
    doc: `Tiered storage: stop copying to remote storage. ${NO_EFFECT}` },
  { key: 'remote.log.delete.on.disable', type: 'BOOLEAN', synonyms: [], default: 'false', noEffectOnDiskless: true,
    doc: `Tiered storage: delete remote data when tiering is disabled. ${NO_EFFECT}` },
  { key: 'remote.storage.enable', type: 'BOOLEAN', synonyms: [], default: 'false',
    doc: 'Kafka tiered storage. Floe has none (diskless topics are in object storage already): only false is accepted.' },
  { key: 'retention.bytes', type: 'LONG', synonyms: [s('log.retention.bytes')], default: '-1',
    doc: 'The most bytes kept per partition; the oldest data beyond it is deleted (cleanup.policy=delete). A negative value means no limit.' },
  { key: 'retention.ms', type: 'LONG', synonyms: [s('log.retention.ms'), s('log.retention.minutes', 60_000), s('log.retention.hours', HOUR)], default: '604800000', validate: range(-1),
    doc: 'How long data is kept (cleanup.policy=delete). -1 keeps it forever.' },
  { key: 'segment.bytes', type: 'INT', synonyms: [s('log.segment.bytes')], default: '1073741824', validate: range(1048576),
    doc: 'Size of a log segment file: a classic log rolls to a new segment before it would grow past this. Diskless compacted topics: the last segment.bytes of a partition are its active segment, never compacted.' },
  { key: 'segment.index.bytes', type: 'INT', synonyms: [s('log.index.size.max.bytes')], default: '10485760', validate: range(4), noEffectOnDiskless: true,
    doc: `Size of a segment's offset index: the log rolls to a new segment when it is full. ${CLASSIC}` },
  { key: 'segment.jitter.ms', type: 'LONG', synonyms: [s('log.roll.jitter.ms'), s('log.roll.jitter.hours', HOUR)], default: '0', validate: range(0), noEffectOnDiskless: true,
    doc: `Random jitter subtracted from segment.ms, per segment. ${CLASSIC}` },
  { key: 'segment.ms', type: 'LONG', synonyms: [s('log.roll.ms'), s('log.roll.hours', HOUR)], default: '604800000', validate: range(1),
    doc: 'Time after which a classic log segment is rolled (on the next append). Diskless compacted topics: batches committed less than this ago are the active segment, never compacted.' },
  { key: 'unclean.leader.election.enable', type: 'BOOLEAN', synonyms: [s('unclean.leader.election.enable')], default: 'false', noEffectOnDiskless: true,
    doc: `Allow an out-of-sync replica to become leader. ${NO_EFFECT}` },
];

const KEY_INDEX = new Map(TOPIC_CONFIG_KEYS.map((k) => [k.key, k]));

export function topicConfigKey(key: string): TopicConfigKey | undefined {
  return KEY_INDEX.get(key);
}

export type ValidateTopicConfigsResult =
  | { ok: true; configs: Record<string, string>; diskless: boolean }
  | { ok: false; errorCode: number; message: string };

const fail = (message: string): ValidateTopicConfigsResult => ({ ok: false, errorCode: ErrorCode.INVALID_CONFIG, message });

/**
 * Validates the full set of configs given to a topic (for an alter: the existing configs with the change
 * applied; pass the configs before the change as `opts.existing`). On success returns them normalised, with
 * `diskless.enable` set explicitly to its effective value.
 */
export function validateTopicConfigs(
  configs: Record<string, string | null>,
  broker: BrokerConfig,
  opts: { existing?: Record<string, string> } = {},
): ValidateTopicConfigsResult {
  const nulls = Object.keys(configs).filter((k) => configs[k] === null);
  if (nulls.length > 0) return fail(`Null value not supported for topic configs: ${nulls.join(',')}`);
  for (const key of Object.keys(configs)) if (!KEY_INDEX.has(key)) return fail(`Unknown topic config name: ${key}`);

  const out: Record<string, string> = {};
  for (const def of TOPIC_CONFIG_KEYS) {
    const text = configs[def.key];
    if (text === undefined || text === null) continue;
    try {
      out[def.key] = parseAndValidate(def.key, def.type, text, def.validate).normalized;
    } catch (err) {
      if (err instanceof ConfigValueError) return fail(err.message);
      throw err;
    }
  }

  const effective = (key: string): string => out[key] ?? brokerDefault(KEY_INDEX.get(key)!, broker);

  // diskless.enable is fixed at creation; removing it from an existing topic keeps the old value.
  let diskless: boolean;
  if (opts.existing !== undefined) {
    const before = (opts.existing['diskless.enable'] ?? brokerDefault(KEY_INDEX.get('diskless.enable')!, broker)).toLowerCase() === 'true';
    diskless = out['diskless.enable'] === undefined ? before : out['diskless.enable'] === 'true';
    if (diskless !== before) return fail(`diskless.enable cannot be changed after a topic is created (it is ${before})`);
  } else {
    diskless = effective('diskless.enable') === 'true';
  }
  out['diskless.enable'] = String(diskless);

  const minLag = BigInt(effective('min.compaction.lag.ms'));
  const maxLag = BigInt(effective('max.compaction.lag.ms'));
  if (minLag > maxLag) {
    return fail(`conflict topic config setting min.compaction.lag.ms (${minLag}) > max.compaction.lag.ms (${maxLag})`);
  }
  if (effective('remote.storage.enable') === 'true') {
    return fail('Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.');
  }
  return { ok: true, configs: out, diskless };
}

/**
 * The typed configuration of a topic, from its stored configs (already validated) and the broker defaults.
 * Throws ConfigError if a stored value does not parse.
 */
export function resolveTopicConfig(topicConfigs: Record<string, string>, broker: BrokerConfig): TopicConfig {
  const value = (key: string) => {
    const def = KEY_INDEX.get(key)!;
    const text = topicConfigs[key] ?? brokerDefault(def, broker);
    try {
      return parseConfigValue(key, def.type, text).value;
    } catch (err) {
      if (err instanceof ConfigValueError) throw new ConfigError(`stored topic config: ${err.message}`, key, text);
      throw err;
    }
  };
  const retentionMs = value('retention.ms') as number;
  const retentionBytes = value('retention.bytes') as number;
  return {
    diskless: value('diskless.enable') as boolean,
    retentionMs: retentionMs < 0 ? -1 : retentionMs,
    retentionBytes: retentionBytes < 0 ? -1 : retentionBytes,
    maxMessageBytes: value('max.message.bytes') as number,
    messageTimestampType: value('message.timestamp.type') === 'LogAppendTime' ? 1 : 0,
    messageTimestampBeforeMaxMs: value('message.timestamp.before.max.ms') as number,
    messageTimestampAfterMaxMs: value('message.timestamp.after.max.ms') as number,
    messageDownconversionEnable: value('message.downconversion.enable') as boolean,
    cleanupPolicy: value('cleanup.policy') as string[],
    compressionType: value('compression.type') as string,
    segmentBytes: value('segment.bytes') as number,
    segmentMs: value('segment.ms') as number,
    segmentJitterMs: value('segment.jitter.ms') as number,
    segmentIndexBytes: value('segment.index.bytes') as number,
    indexIntervalBytes: value('index.interval.bytes') as number,
    flushMessages: value('flush.messages') as number,
    flushMs: value('flush.ms') as number,
    fileDeleteDelayMs: value('file.delete.delay.ms') as number,
    minCleanableDirtyRatio: value('min.cleanable.dirty.ratio') as number,
    minCompactionLagMs: value('min.compaction.lag.ms') as number,
    maxCompactionLagMs: value('max.compaction.lag.ms') as number,
    deleteRetentionMs: value('delete.retention.ms') as number,
  };
}

/** A long as Kafka text: Number.MAX_SAFE_INTEGER (our stand-in for Long.MAX_VALUE) prints as Long.MAX_VALUE. */
function longText(n: number): string {
  return n >= Number.MAX_SAFE_INTEGER ? LONG_MAX : String(n);
}

/**
 * The value a topic gets when it does not set `def.key`. The typed BrokerConfig fields win for the keys
 * they cover (so a hand-built or patched BrokerConfig behaves as it says); other keys come from the
 * broker's synonym values, else Kafka's default.
 */
function brokerDefault(def: TopicConfigKey, broker: BrokerConfig): string {
  switch (def.key) {
    case 'diskless.enable': return String(broker.logDisklessEnable);
    case 'retention.ms': return String(broker.logRetentionMs);
    case 'retention.bytes': return String(broker.logRetentionBytes);
    case 'max.message.bytes': return String(broker.messageMaxBytes);
    case 'message.timestamp.type': return broker.logMessageTimestampType;
    case 'message.timestamp.before.max.ms': return longText(broker.logMessageTimestampBeforeMaxMs);
    case 'message.timestamp.after.max.ms': return longText(broker.logMessageTimestampAfterMaxMs);
    case 'cleanup.policy': return broker.logCleanupPolicy.join(',');
    case 'compression.type': return broker.compressionType;
  }
  for (const syn of def.synonyms) {
    const v = broker.values ? broker.values[syn.key] : brokerConfigKey(syn.key)?.default;
    if (v === null || v === undefined) continue;
    return syn.factor === undefined ? v : (BigInt(v) * BigInt(syn.factor)).toString();
  }
  return def.default;
}

export interface DescribedTopicConfig {
  name: string;
  value: string | null;
  source: ConfigSource;
  synonyms: { name: string; value: string | null; source: ConfigSource }[];
  readOnly: boolean;
  type: ConfigType;
  documentation: string;
  isSensitive: boolean;
}

/**
 * Every topic key with its effective value and source, for DescribeConfigs (and CreateTopics v5+), with
 * Kafka's synonym list: the topic's own setting (DYNAMIC_TOPIC_CONFIG), then for each broker synonym in
 * priority order its static setting (STATIC_BROKER_CONFIG) and its default (DEFAULT_CONFIG). The source is
 * the first synonym's. Pass the loaded config to get the broker's sources; a bare BrokerConfig reports
 * every broker value as a default.
 */
export function describeTopicConfigs(
  topicConfigs: Record<string, string>,
  loaded: LoadedBrokerConfig | BrokerConfig,
): DescribedTopicConfig[] {
  const config: BrokerConfig = 'raw' in loaded && 'config' in loaded ? loaded.config : (loaded as BrokerConfig);
  const raw = rawOf(loaded);
  return TOPIC_CONFIG_KEYS.map((def) => {
    const synonyms: DescribedTopicConfig['synonyms'] = [];
    const own = topicConfigs[def.key];
    if (own !== undefined) synonyms.push({ name: def.key, value: own, source: 'DYNAMIC_TOPIC_CONFIG' });
    for (const syn of def.synonyms) {
      const r = raw.get(syn.key);
      if (r && r.source !== 'default') synonyms.push({ name: syn.key, value: r.value, source: describeSource(r.source) });
      const d = brokerConfigKey(syn.key)?.default;
      if (d !== null && d !== undefined) synonyms.push({ name: syn.key, value: d, source: 'DEFAULT_CONFIG' });
    }
    const first = synonyms[0]?.source;
    return {
      name: def.key,
      value: own ?? brokerDefault(def, config),
      source: first ?? 'DEFAULT_CONFIG',
      synonyms,
      readOnly: def.readOnly ?? false,
      type: def.type,
      documentation: def.doc,
      isSensitive: false,
    };
  });
}
