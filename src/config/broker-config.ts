/**
 * Broker configuration: one table of Kafka-style keys (`BROKER_CONFIG_KEYS`), the typed `BrokerConfig`
 * the code reads, and `loadBrokerConfig`, which layers the sources, lowest first:
 *   table default < `server.properties` file < env `FLOE_<KEY>` < `--override key=value`.
 * (STYLE.md puts the loading in a load.ts; it stays beside the table it reads, and properties.ts parses files.)
 *
 * Decisions (see also docs/configuration.md, generated from this table by tools/docs/config-doc.ts):
 * - Env vars: `FLOE_` + the key upper-cased with `.` → `_` (`FLOE_NODE_ID`, `FLOE_LOG_DISKLESS_ENABLE`).
 *   `KAFKA_*` variables are not read: KAFKA_OPTS/KAFKA_HEAP_OPTS and friends are commonly set for Kafka's own
 *   scripts, and reading them would make a Floe broker depend on an unrelated environment. Variables in
 *   NON_CONFIG_ENV_VARS (and `FLOE_TEST_*`) are not configs; any other unknown `FLOE_*` gets a warning.
 * - Unknown keys warn and are ignored (a Kafka `server.properties` should start Floe). Keys of real Kafka
 *   brokers that Floe does not implement get their own warning ("not supported by Floe, ignored").
 * - Bad values throw ConfigError naming the key, the value, where it was set and what is accepted.
 * - Longs are JS numbers clamped to ±Number.MAX_SAFE_INTEGER (config-def.ts explains why); the exact text is
 *   kept in `raw`/`values`, so DescribeConfigs reports Kafka's `9223372036854775807`.
 * - Listeners: `NAME://host:port`, NAME mapped to a security protocol by `listener.security.protocol.map`
 *   (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL; their settings: security-config.ts). Empty host = all interfaces, port 0 = ephemeral.
 *   Listeners named in `controller.listener.names` (Kafka's KRaft controller) are skipped with a warning.
 * - advertised.listeners: when unset, each listener is advertised as bound, except that a wildcard host (empty,
 *   0.0.0.0, ::) is advertised as `localhost`, with a warning. (Kafka advertises the machine's canonical host
 *   name; `localhost` is right for the embedded single-machine default and for a port-mapped container, and a
 *   multi-machine cluster sets advertised.listeners anyway.) Port 0 stays 0 and the broker substitutes the
 *   port it bound. When advertised.listeners is set, exactly those listeners are advertised.
 * - `log.retention.ms` > `log.retention.minutes` > `log.retention.hours`, as in Kafka; negative → -1.
 * - `broker.id` is accepted as the old name of `node.id` (both set → they must agree).
 */
import { readFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import {
  custom,
  listOf,
  LONG_MAX,
  oneOf,
  parseAndValidate,
  range,
  ConfigValueError,
  type ConfigSource,
  type ConfigType,
  type ConfigValue,
  type Validator,
} from './config-def.ts';
import { parseProperties, PropertiesSyntaxError } from './properties.ts';
import { BACKEND_CONFIG_KEYS } from './backend-config.ts';
import {
  AUTHORIZER_CLASS_NAMES,
  SECURITY_CONFIG_KEYS,
  SECURITY_PROTOCOLS,
  SecurityConfigError,
  resolveListenerSecurity,
  type SecurityConfig,
  type SecurityProtocol,
} from './security-config.ts';
import { CONSOLE_CONFIG_KEYS } from './console-config.ts';
import { METRICS_CONFIG_KEYS } from './metrics-config.ts';
import type { BrokerConfigKey } from './broker-config-key.ts';

export { CONFIG_SOURCE_CODES, CONFIG_TYPE_CODES, type ConfigSource, type ConfigType } from './config-def.ts';
export type { BrokerConfigGroup, BrokerConfigKey } from './broker-config-key.ts';

/** A configuration that cannot be used: one line naming the key, the value, its origin and what is accepted. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly key?: string,
    readonly value?: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface Listener {
  /** Upper-case listener name, e.g. PLAINTEXT. */
  name: string;
  /** Host to bind or advertise; '' means all interfaces (bind only). */
  host: string;
  /** 0..65535; 0 = ephemeral (bind), replaced by the bound port when advertised. */
  port: number;
  /** From listener.security.protocol.map. */
  securityProtocol: SecurityProtocol;
}

export type TimestampTypeName = 'CreateTime' | 'LogAppendTime';
export const COMPRESSION_TYPES = ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'] as const;
export type CompressionTypeName = (typeof COMPRESSION_TYPES)[number];

export interface BrokerConfig {
  listeners: Listener[];
  advertisedListeners: Listener[];
  /** -1: allocated by the coordinator at the first start (see startBroker). */
  nodeId: number;
  brokerRack: string | null;
  brokerHeartbeatIntervalMs: number;
  brokerSessionTimeoutMs: number;
  /** null: the broker generates one once and persists it under dataDir. */
  clusterId: string | null;
  /** Absolute. */
  dataDir: string;
  /** log.dirs, absolute: where classic topics keep their logs. Always set by loadBrokerConfig (default `<dataDir>/logs`). */
  logDirs?: string[];
  logDisklessEnable: boolean;
  disklessCommitIntervalMs: number;
  disklessBufferMaxBytes: number;
  /** diskless.buffer.max.pending.bytes. Optional for hand-built configs (default 4 × disklessBufferMaxBytes). */
  disklessBufferMaxPendingBytes?: number;
  /** diskless.buffer.idle.ms (0: objects are not sealed for being idle). Optional for hand-built configs (default 0). */
  disklessBufferIdleMs?: number;
  /** diskless.buffer.idle.min.bytes. Optional for hand-built configs (default a quarter of disklessBufferMaxBytes). */
  disklessBufferIdleMinBytes?: number;
  /** diskless.upload.hedge.percentile (0: no hedged uploads). Optional for hand-built configs (default 0). */
  disklessUploadHedgePercentile?: number;
  disklessCacheMaxBytes: number;
  disklessLaggingCacheMaxBytes: number;
  disklessFetchReadAheadBytes: number;
  disklessFetchCoalesceGapBytes: number;
  disklessFetchMaxGetBytes: number;
  disklessFetchMaxConcurrentGets: number;
  /** Retention, cleaner, orphans and producer expiry (issue 5). Optional for hand-built configs; always set by loadBrokerConfig. */
  disklessRetentionCheckIntervalMs?: number;
  disklessObjectCleanerIntervalMs?: number;
  disklessObjectDeletionGraceMs?: number;
  disklessOrphanMinAgeMs?: number;
  producerIdExpirationMs?: number;
  /** Merging of small objects (diskless.merge.*). Optional for hand-built configs; always set by loadBrokerConfig. */
  disklessMergeEnable?: boolean;
  disklessMergeTargetBytes?: number;
  disklessMergeMinAgeMs?: number;
  disklessMergeIntervalMs?: number;
  disklessMergeIoMaxBytesPerSecond?: number;
  /** Transactions. Optional for hand-built configs; always set by loadBrokerConfig. */
  transactionMaxTimeoutMs?: number;
  transactionAbortTimedOutIntervalMs?: number;
  transactionMarkerRetryIntervalMs?: number;
  transactionalIdExpirationMs?: number;
  messageMaxBytes: number;
  socketRequestMaxBytes: number;
  /** num.network.threads: threads owning the sockets of PLAINTEXT listeners; 0 or absent: the main thread. */
  numNetworkThreads?: number;
  /** max.incremental.fetch.session.cache.slots */
  maxIncrementalFetchSessionCacheSlots: number;
  /** queued.max.request.bytes; ≤ 0: unbounded. Optional for hand-built configs (unbounded). */
  queuedMaxRequestBytes?: number;
  autoCreateTopicsEnable: boolean;
  numPartitions: number;
  defaultReplicationFactor: number;
  /** Negative: idle connections are never closed. */
  connectionsMaxIdleMs: number;
  /** `http://host:port` for /metrics; empty when disabled. */
  metricsListener?: string;
  /** Effective value of log.retention.ms/minutes/hours; -1 = no time limit. */
  logRetentionMs: number;
  /** -1 = no size limit. */
  logRetentionBytes: number;
  logMessageTimestampType: TimestampTypeName;
  /** Number.MAX_SAFE_INTEGER stands for Kafka's Long.MAX_VALUE (no limit). */
  logMessageTimestampBeforeMaxMs: number;
  logMessageTimestampAfterMaxMs: number;
  compressionType: CompressionTypeName;
  logCleanupPolicy: string[];
  groupInitialRebalanceDelayMs: number;
  offsetsRetentionMinutes: number;
  /** Optional for hand-built configs (Kafka's defaults apply); always set by loadBrokerConfig. */
  offsetsRetentionCheckIntervalMs?: number;
  offsetMetadataMaxBytes?: number;
  groupMinSessionTimeoutMs?: number;
  groupMaxSessionTimeoutMs?: number;
  groupMaxSize?: number;
  /** log.retention.check.interval.ms; always set by loadBrokerConfig (optional for hand-built configs). */
  logRetentionCheckIntervalMs?: number;
  /** log.cleaner.*: the classic log cleaner (compaction). Always set by loadBrokerConfig; Kafka's defaults otherwise. */
  logCleanerEnable?: boolean;
  logCleanerThreads?: number;
  logCleanerDedupeBufferSize?: number;
  logCleanerBackoffMs?: number;
  /**
   * Every table key → its normalised value (null when unset and without default). Always set by
   * loadBrokerConfig; topic-config.ts reads the broker synonyms of topic configs from it and falls back to
   * the table defaults for hand-built configs.
   */
  values?: Readonly<Record<string, string | null>>;
  /** quota.window.num and quota.window.size.seconds (defaults 11 and 1). */
  quotaWindowNum?: number;
  quotaWindowSizeSeconds?: number;
  /** connection.failed.authentication.delay.ms (default 100). */
  connectionFailedAuthenticationDelayMs?: number;
  /** TLS, SASL and the authorizer, per listener. Always set by loadBrokerConfig; absent means all PLAINTEXT, no authorizer. */
  security?: SecurityConfig;
}

/** Where a value came from: the table default, the static sources, or a dynamic layer (dynamic-broker-config.ts). */
export type ConfigOrigin = 'default' | 'file' | 'env' | 'override' | 'dynamic-default' | 'dynamic-broker';

export interface RawConfigValue {
  /** Normalised value (what DescribeConfigs shows). */
  value: string;
  source: ConfigOrigin;
}

export interface LoadedBrokerConfig {
  config: BrokerConfig;
  warnings: string[];
  /** Every table key that has a value (set or defaulted), with where it came from. */
  raw: Map<string, RawConfigValue>;
}

const NO_EFFECT_DISKLESS = 'Floe accepts it as the broker default of the topic config; it has no effect on diskless topics.';
const CLASSIC_ONLY = 'Classic topics only; no effect on diskless topics.';
const INT_MAX = 2147483647;

function gzipLevel(): Validator {
  return custom('[1,...,9] or -1', (v) => {
    const n = v as number;
    return n === -1 || (n >= 1 && n <= 9) ? null : 'Value must be between 1 and 9, or -1 for the default level';
  });
}

/** The broker keys, in documentation order. */
export const BROKER_CONFIG_KEYS: readonly BrokerConfigKey[] = [
  // ---- Broker ----
  { group: 'Broker', key: 'node.id', type: 'INT', default: '-1', validate: range(-1, INT_MAX),
    doc: 'The id of this broker, unique among the brokers that share one coordinator. Clients see it in Metadata. -1: the coordinator allocates one (1001 and up) the first time the broker starts, and the broker keeps it in data.dir/meta.properties.' },
  { group: 'Broker', key: 'broker.id', type: 'INT', default: null, validate: range(-1, INT_MAX),
    doc: 'Older name of node.id, accepted so that old server.properties files work. If both are set they must be equal.' },
  { group: 'Broker', key: 'broker.rack', type: 'STRING', default: null,
    doc: 'The rack (availability zone) of this broker. For a diskless partition, Metadata names as leader a live broker in the client\'s zone, so no byte crosses zones.' },
  { group: 'Broker', key: 'broker.heartbeat.interval.ms', type: 'INT', default: '2000', validate: range(10),
    doc: 'How often the broker renews its registration in the coordinator and refreshes its view of the live brokers.' },
  { group: 'Broker', key: 'broker.session.timeout.ms', type: 'INT', default: '9000', validate: range(100),
    doc: 'A broker that has not renewed its registration for this long leaves Metadata: its diskless partitions and consumer groups move to live brokers. A clean shutdown leaves at once.' },
  { group: 'Broker', key: 'cluster.id', type: 'STRING', default: null,
    validate: custom('a non-empty string without blanks', (v) => (/^\S+$/.test(v as string) ? null : 'Value must be a non-empty string without blanks')),
    doc: 'The cluster id reported to clients. When unset, the broker generates one the first time it starts and keeps it under data.dir.' },
  { group: 'Broker', key: 'data.dir', type: 'STRING', default: './data',
    validate: custom('a non-empty path', (v) => ((v as string) === '' ? 'Value must be a non-empty path' : null)),
    doc: 'Directory of this broker\'s local state: the embedded coordinator (PGlite) and the embedded object store when they are used, and the logs of classic (non-diskless) topics. A relative path is resolved against the working directory.' },
  { group: 'Broker', key: 'log.dirs', type: 'LIST', default: null,
    validate: custom('a list of non-empty paths', (v) => ((v as string[]).length === 0 || (v as string[]).some((d) => d === '') ? 'Value must be a list of non-empty paths' : null)),
    doc: 'Comma-separated directories where classic (non-diskless) topics keep their partition logs, one folder `<topic>-<partition>` per partition, as in Kafka. A new partition goes to the directory holding the fewest partitions. When unset: `<data.dir>/logs`. Diskless topics never write here.' },

  // ---- Listeners and network ----
  { group: 'Listeners and network', key: 'listeners', type: 'LIST', default: 'PLAINTEXT://localhost:9092',
    doc: 'Comma-separated list of NAME://host:port the broker listens on. An empty host binds all interfaces; port 0 picks a free port. NAME is mapped to a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) by listener.security.protocol.map.' },
  { group: 'Listeners and network', key: 'advertised.listeners', type: 'LIST', default: null,
    doc: 'The NAME://host:port clients are told to connect to, when it differs from listeners. When unset, each listener is advertised as it is bound, and a listener on all interfaces is advertised as localhost.' },
  { group: 'Listeners and network', key: 'listener.security.protocol.map', type: 'LIST', default: 'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL',
    doc: 'Maps listener names to security protocols, as NAME:PROTOCOL pairs (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL). Settings of one listener: listener.name.<name>.<key> (e.g. listener.name.sasl_ssl.ssl.client.auth, listener.name.sasl_ssl.plain.sasl.jaas.config).' },
  { group: 'Listeners and network', key: 'controller.listener.names', type: 'LIST', default: null,
    doc: 'Names of Kafka KRaft controller listeners. Floe has no controller quorum: listeners with these names are skipped (with a warning), so a Kafka combined-mode server.properties can be used as is.' },
  { group: 'Listeners and network', key: 'socket.request.max.bytes', type: 'INT', default: '104857600', validate: range(1),
    doc: 'The largest request the broker reads; a larger request closes the connection.' },
  { group: 'Listeners and network', key: 'num.network.threads', type: 'INT', default: '0', validate: range(0, 256),
    doc: 'Threads that own the sockets of the PLAINTEXT listeners: they accept connections, read and write them and cut requests into frames, so a broker uses more than one core for its network I/O (one process; the main thread keeps the coordinator, the handlers and the one open object per broker per commit interval, so more threads do not mean more objects or PUTs). Floe\'s default is 0 (Kafka\'s is 3): the main thread reads each large request straight into the buffer it keeps, so on this 2-core machine with one producer connection a thread took 10-25% of the main thread\'s CPU per GiB of ingress off it but added to the broker\'s in all, for no more throughput (one npm run bench, cores scenario, default object cache, all cores: folder + PGlite 288 against 292 MB/s and 3.69 against 3.25 broker CPU-s/GiB; PostgreSQL + S3 111 against 120 MB/s, 5.25 against 3.16), and pinned to one core it was slower (241 against 324 MB/s); 3 threads were no faster than 1. Every response is copied once into a buffer handed to the thread: tail reads from the cache ran at 351 MB/s with 1 thread (0.96 broker CPU-s/GiB) against 347 without (0.51). Each thread costs about 9 MiB of memory when idle. With more cores and many connections, the number of cores minus one or two; 0: the main thread does it all (and saves the memory of the threads). With threads, start the broker with GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1 (README): frames a thread allocates come from its own malloc arena, which transparent huge pages do not reach (268,000 page faults per GiB ingested against 1,300 with one arena). queued.max.request.bytes holds with threads too: a thread reserves a request from the broker-wide count when it reads its size header, before its body, and stops reading while the count is at its bound. TLS, SASL_PLAINTEXT and SASL_SSL listeners stay on the main thread (a raw SASL token\'s 512 KiB cap is checked on its size header there). If a network thread dies, the broker shuts down (no acknowledged write is lost: a produce is answered only once committed).' },
  { group: 'Listeners and network', key: 'max.incremental.fetch.session.cache.slots', type: 'INT', default: '1000', validate: range(0),
    doc: 'The most fetch sessions (KIP-227: incremental fetch requests) this broker keeps. When full, a new session takes the slot of one unused for 2 minutes, or of a smaller session older than 2 minutes; otherwise the consumer fetches without a session.' },
  { group: 'Listeners and network', key: 'queued.max.request.bytes', type: 'LONG', default: '536870912',
    doc: 'The bytes of requests the broker holds at once, read but not yet answered, over all connections; when they reach this, the broker stops reading from its sockets until responses free memory (clients wait; nothing is dropped). A request is counted from its size header, before its body is read. Zero or negative: no bound (Kafka\'s default, -1). Floe bounds it by default (512 MiB) so a flood of large produce requests cannot grow the broker\'s memory without limit; a diskless produce is held until its object is committed (interval plus upload), so the bound also caps ingress at about this many bytes per commit latency.' },
  { group: 'Listeners and network', key: 'connections.max.idle.ms', type: 'LONG', default: '600000',
    doc: 'Connections idle for longer than this are closed. A negative value disables the idle check.' },
  { group: 'Listeners and network', key: 'metrics.listener', type: 'STRING', default: '',
    doc: 'Where Prometheus metrics are served, as http://host:port or https://host:port (path /metrics; https takes its key from metrics.ssl.*); port 0 picks a free port. Empty disables the metrics endpoint. metrics.basic.auth.users puts it behind HTTP basic authentication.' },
  ...METRICS_CONFIG_KEYS,

  // ---- Security (security-config.ts) ----
  ...SECURITY_CONFIG_KEYS,

  // ---- Diskless storage ----
  { group: 'Diskless storage', key: 'log.diskless.enable', type: 'BOOLEAN', default: 'true',
    doc: 'Default of the topic config diskless.enable: whether new topics keep their data in object storage (true) or in a log on the local disk of their leader (false).' },
  { group: 'Diskless storage', key: 'diskless.commit.interval.ms', type: 'INT', default: '250', validate: range(1, 60000),
    doc: 'The longest a produced batch waits in the broker\'s open object before the object is uploaded and committed. Lower means lower produce latency and more, smaller objects.' },
  { group: 'Diskless storage', key: 'diskless.buffer.max.bytes', type: 'INT', default: '8388608', validate: range(1),
    doc: 'The open object is sealed and uploaded as soon as it holds this many bytes, even before diskless.commit.interval.ms. Above this many bytes per interval into a broker (32 MiB/s at 8 MiB and 250 ms), a smaller value means lower produce and end-to-end latency (objects fill sooner, and their PUTs are shorter) for more PUTs per GiB: at 56 MB/s on S3 (the s3-standard latency profile), end-to-end p99 was 616-829 ms at 8 MiB and 484-571 at 4 MiB, for 7.5 and 13.6 PUTs/s.' },
  { group: 'Diskless storage', key: 'diskless.buffer.idle.ms', type: 'INT', default: '10', validate: range(0, 60000),
    doc: 'The open object is also sealed once it holds at least diskless.buffer.idle.min.bytes and no batch has joined it for this long: a producer with all its requests in flight (an idempotent producer has at most 5, and librdkafka\'s one per partition, each answered only once its object is committed) sends nothing more until they are answered, so waiting out diskless.commit.interval.ms would only lengthen each of its round trips. With librdkafka\'s idempotent producer (one connection, 6 partitions, 1 KiB records) this took S3 (with the s3-standard latency profile) from 9-10 to 15-18 MB/s and the local folder store from 13-14 to 25-51 MB/s, in the same number of objects (each holds one round of the producer\'s requests). A timer that runs late (a busy event loop) does not seal. 0 disables.' },
  { group: 'Diskless storage', key: 'diskless.buffer.idle.min.bytes', type: 'INT', default: '2097152', validate: range(1),
    doc: 'The least an open object holds before diskless.buffer.idle.ms seals it. It bounds the PUTs that adds, at most one per this many bytes written: at the default, 512 per GiB ($0.0025 at S3 list prices), against 128 for objects sealed at 8 MiB. Lower lets a producer with fewer bytes in flight (smaller batches, fewer partitions) go faster: with 1 MiB, one librdkafka connection reached 15-17 MB/s on S3 and 34-61 MB/s on the folder store in the run above.' },
  { group: 'Diskless storage', key: 'diskless.buffer.max.pending.bytes', type: 'LONG', default: '67108864', validate: range(1),
    doc: 'Bounds the diskless write path\'s queue: once this many bytes (at least twice diskless.buffer.max.bytes) are open, uploading or waiting for their commit (objects commit in seal order, so one slow upload holds the later ones), the broker stops reading requests from its clients until an object is committed (floe_diskless_backpressure_events_total), and further records wait in the producers. Near saturation this queue holds about throughput × the p99 of an object\'s upload and commit: a bound below that turns every slow PUT into a pause of all producers.' },
  { group: 'Diskless storage', key: 'diskless.upload.hedge.percentile', type: 'INT', default: '75', validate: range(0, 99),
    doc: 'Hedged uploads: the upload (PUT) of an object of at least half diskless.buffer.max.bytes that has taken longer than this percentile of the broker\'s PUTs of the last 10 s (at least its last 20; scaled to their size: an 8 MiB PUT may take twice a small one\'s time) is sent a second time (same key and bytes; the first to succeed counts): every producer of an object waits for its slowest PUT, so this cuts the produce and end-to-end latency tail for about (100 - percentile) % more PUTs of large objects. Smaller objects are not hedged: their PUTs have short tails, and below that size a broker keeps to one PUT per commit interval. With S3\'s PUT latency (the s3-standard profile), 250 ms interval and 27 MiB/s into one broker (6.75 MiB objects), produce p99 was 893 ms without hedging, 736 at 95 and 645 at 75 (bench/hedging-model.ts), for 1.06 and 1.24 PUTs per object: at that rate 75 costs about $13 a month of PUTs more than no hedging ($0.0002 per GiB at S3 list prices). At most twice that share of the last 128 uploads is hedged, so a store that turns slow for every request is not sent everything twice. S3 stores only (a folder store is never hedged). 0 disables.' },
  { group: 'Diskless storage', key: 'diskless.cache.max.bytes', type: 'LONG', default: '268435456', validate: range(0),
    doc: 'Size of the broker\'s object cache (recently read or written objects, shared by every consumer). 0 disables the cache.' },
  { group: 'Diskless storage', key: 'diskless.lagging.cache.max.bytes', type: 'LONG', default: '268435456', validate: range(0),
    doc: 'Memory for reads of consumers behind the tail (what they read and what is read ahead of them), apart from diskless.cache.max.bytes, so a backfill never evicts what tail consumers read. Read-ahead stays within it; 0 disables read-ahead.' },
  { group: 'Diskless storage', key: 'diskless.fetch.read.ahead.bytes', type: 'INT', default: '16777216', validate: range(0),
    doc: 'How far ahead of a lagging consumer\'s fetch each of its partitions is read from object storage (ranged GETs in flight while the fetch is answered), and located with the fetch\'s one coordinator query so its next fetches need none. 0 disables read-ahead.' },
  { group: 'Diskless storage', key: 'diskless.fetch.coalesce.gap.bytes', type: 'INT', default: '1048576', validate: range(0),
    doc: 'Byte ranges of one object wanted at once by lagging reads (a fetch\'s partitions and their read-ahead) are read with one GET when the gap between them is at most this many bytes.' },
  { group: 'Diskless storage', key: 'diskless.fetch.max.get.bytes', type: 'INT', default: '8388608', validate: range(1),
    doc: 'The largest ranged GET of lagging reads: coalesced ranges stop at this size, and a longer range is read in parts of this size, in parallel, so a fetch waits only for the parts holding its bytes.' },
  { group: 'Diskless storage', key: 'diskless.fetch.max.concurrent.gets', type: 'INT', default: '48', validate: range(1),
    doc: 'Read-ahead GETs of lagging reads in flight at once per broker; more wait in a queue, oldest first. GETs a fetch waits for start at once (and count), a queued read-ahead GET a fetch comes to need starts at once, and while a fetch waits for GETs that were no read-ahead only a quarter of this reads ahead, so read-ahead does not delay fetches by sharing the store\'s bandwidth with them. Keep it below diskless.s3.max.connections (50), so a fetch\'s own GETs find a free connection: 48 GETs of 2-8 MiB at S3 latency carry well over 1 GB/s.' },
  { group: 'Diskless storage', key: 'diskless.retention.check.interval.ms', type: 'LONG', default: '60000', validate: range(1),
    doc: 'How often retention.ms and retention.bytes of diskless topics are enforced, and idle producer state expired. One broker of the cluster runs each pass (a lease in the coordinator); a pass deletes at most 1,000 batches per short transaction and never holds locks that stall commits.' },
  { group: 'Diskless storage', key: 'diskless.object.cleaner.interval.ms', type: 'LONG', default: '60000', validate: range(1),
    doc: 'How often the object cleaner runs (one broker of the cluster at a time): objects without batches are deleted from the store once diskless.object.deletion.grace.ms has passed, and orphans (objects uploaded but never committed) are reaped.' },
  { group: 'Diskless storage', key: 'diskless.object.deletion.grace.ms', type: 'LONG', default: '120000', validate: range(0),
    doc: 'How long an object that lost its last batch (retention, DeleteRecords, topic deletion) stays in the store before it is deleted, so fetches that already located it still read it. Brokers re-read the log starts of cached partitions four times per grace period, at most every diskless.retention.check.interval.ms.' },
  { group: 'Diskless storage', key: 'diskless.orphan.min.age.ms', type: 'LONG', default: '3600000', validate: range(1000),
    doc: 'An object that was uploaded but never committed (its broker died or failed in between) is deleted once it is this old. Brokers register each object key before uploading to it and never commit a key registered more than half this long ago, so uploads in flight are never taken.' },
  { group: 'Diskless storage', key: 'diskless.merge.enable', type: 'BOOLEAN', default: 'true',
    doc: 'Whether small objects are merged: objects below half of diskless.merge.target.bytes, committed at least diskless.merge.min.age.ms ago, are rewritten (one broker of the cluster at a time, every diskless.merge.interval.ms) into larger objects whose batches are sorted by partition and offset, so a lagging consumer reads one range per fetch instead of one per small object. Offsets, timestamps and producer fields of the batches do not change.' },
  { group: 'Diskless storage', key: 'diskless.merge.target.bytes', type: 'LONG', default: '67108864', validate: range(2048),
    doc: 'The size merged objects aim for: the oldest small objects are merged together until the next one would take the merged object past this size. Objects of at least half this size are never merged. The merging broker holds one merged object in memory at a time.' },
  { group: 'Diskless storage', key: 'diskless.merge.min.age.ms', type: 'LONG', default: '300000', validate: range(0),
    doc: 'Objects committed less than this long ago are not merged: tail consumers read fresh data from the object cache, and fresh data may soon be compacted or deleted.' },
  { group: 'Diskless storage', key: 'diskless.merge.interval.ms', type: 'LONG', default: '30000', validate: range(100),
    doc: 'How often the merge job looks for small objects to merge (one broker of the cluster at a time, holding a lease in the coordinator); a pass merges until no two candidates are left.' },
  { group: 'Diskless storage', key: 'diskless.merge.io.max.bytes.per.second', type: 'LONG', default: '33554432', validate: range(1),
    doc: 'Bytes per second the merge job may read and write together (as log.cleaner.io.max.bytes.per.second bounds the log cleaner), so merging never starves produce and fetch of object-store bandwidth or CPU.' },
  { group: 'Diskless storage', key: 'producer.id.expiration.ms', type: 'LONG', default: '86400000', validate: range(1),
    doc: 'The state of an idempotent producer (its last 5 batches per partition) is dropped after this long without a write from it; its next write must start a new sequence (clients re-initialise on UNKNOWN_PRODUCER_ID).' },
  // ---- Transactions ----
  { group: 'Transactions', key: 'transaction.max.timeout.ms', type: 'INT', default: '900000', validate: range(1),
    doc: 'The largest transaction.timeout.ms a transactional producer may ask for (InitProducerId); a larger one gets INVALID_TRANSACTION_TIMEOUT.' },
  { group: 'Transactions', key: 'transaction.abort.timed.out.transaction.cleanup.interval.ms', type: 'INT', default: '10000', validate: range(1),
    doc: 'How often each broker looks for transactions open longer than their timeout and aborts them (fencing their producer with the next epoch).' },
  { group: 'Transactions', key: 'transactional.id.expiration.ms', type: 'INT', default: '604800000', validate: range(1),
    doc: 'A transactional id with no transaction open, unused for this long, is forgotten (its next InitProducerId starts it afresh with a new producer id). Checked every minute.' },
  { group: 'Transactions', key: 'transaction.marker.retry.interval.ms', type: 'INT', default: '1000', validate: range(1),
    doc: 'Floe: how often each broker looks for ended transactions whose markers are not all written (their broker died, or the request to the leader of a classic partition was lost) and writes them.' },
  // ---- Coordinator, Object store (backend-config.ts) ----
  ...BACKEND_CONFIG_KEYS,
  ...CONSOLE_CONFIG_KEYS,

  // ---- Topic defaults ----
  { group: 'Topic defaults', key: 'auto.create.topics.enable', type: 'BOOLEAN', default: 'true',
    doc: 'Create a topic when a client asks for metadata of, or produces to, a topic that does not exist.' },
  { group: 'Topic defaults', key: 'num.partitions', type: 'INT', default: '1', validate: range(1),
    doc: 'Partition count of auto-created topics and of topics created with numPartitions = -1.' },
  { group: 'Topic defaults', key: 'default.replication.factor', type: 'INT', default: '1', validate: range(1, 32767),
    doc: 'Replication factor of auto-created topics, as reported to clients. Diskless topics are as durable as the object store, whatever this says.' },
  { group: 'Topic defaults', key: 'message.max.bytes', type: 'INT', default: '1048588', validate: range(0),
    doc: 'Default of the topic config max.message.bytes: the largest record batch accepted (after compression).' },
  { group: 'Topic defaults', key: 'compression.type', type: 'STRING', default: 'producer', validate: oneOf(...COMPRESSION_TYPES),
    doc: 'Default of the topic config compression.type. "producer" keeps batches as the producer compressed them.' },
  { group: 'Topic defaults', key: 'log.retention.ms', type: 'LONG', default: null,
    doc: 'Default of retention.ms: how long data is kept. -1 keeps it forever. When unset, log.retention.minutes is used.' },
  { group: 'Topic defaults', key: 'log.retention.minutes', type: 'INT', default: null,
    doc: 'Retention in minutes, used when log.retention.ms is unset. When unset, log.retention.hours is used.' },
  { group: 'Topic defaults', key: 'log.retention.hours', type: 'INT', default: '168',
    doc: 'Retention in hours, used when log.retention.ms and log.retention.minutes are unset.' },
  { group: 'Topic defaults', key: 'log.retention.bytes', type: 'LONG', default: '-1',
    doc: 'Default of retention.bytes: the most bytes kept per partition before the oldest data is deleted. -1 means no limit.' },
  { group: 'Topic defaults', key: 'log.retention.check.interval.ms', type: 'LONG', default: '300000', validate: range(1),
    doc: 'How often retention (time and size) is enforced. On classic topics it deletes whole log segments, oldest first (an expired active segment is rolled first, so the log keeps an empty active segment).' },
  { group: 'Topic defaults', key: 'log.cleanup.policy', type: 'LIST', default: 'delete', validate: listOf(['compact', 'delete'], true),
    doc: 'Default of cleanup.policy.' },
  { group: 'Topic defaults', key: 'log.message.timestamp.type', type: 'STRING', default: 'CreateTime', validate: oneOf('CreateTime', 'LogAppendTime'),
    doc: 'Default of message.timestamp.type: CreateTime keeps the producer\'s timestamps, LogAppendTime replaces them with the commit time.' },
  { group: 'Topic defaults', key: 'log.message.timestamp.before.max.ms', type: 'LONG', default: LONG_MAX, validate: range(0),
    doc: 'Default of message.timestamp.before.max.ms: with CreateTime, a batch whose timestamp is more than this before the broker\'s clock is rejected.' },
  { group: 'Topic defaults', key: 'log.message.timestamp.after.max.ms', type: 'LONG', default: '3600000', validate: range(0),
    doc: 'Default of message.timestamp.after.max.ms: with CreateTime, a batch whose timestamp is more than this after the broker\'s clock is rejected (Kafka 4.0 default: one hour).' },
  { group: 'Topic defaults', key: 'log.segment.bytes', type: 'INT', default: '1073741824', validate: range(1048576),
    doc: `Default of segment.bytes: a classic partition rolls to a new log segment when the active one would grow past this size. ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.roll.ms', type: 'LONG', default: null,
    doc: `Default of segment.ms: a classic partition rolls to a new log segment on the first append after the active one is this old; when unset, log.roll.hours is used. ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.roll.hours', type: 'INT', default: '168', validate: range(1),
    doc: `Default of segment.ms in hours, used when log.roll.ms is unset. ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.roll.jitter.ms', type: 'LONG', default: null,
    doc: `Default of segment.jitter.ms (a random part of it is taken off segment.ms per segment); when unset, log.roll.jitter.hours is used. ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.roll.jitter.hours', type: 'INT', default: '0', validate: range(0),
    doc: `Default of segment.jitter.ms in hours. ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.index.size.max.bytes', type: 'INT', default: '10485760', validate: range(4),
    doc: `Default of segment.index.bytes: a classic log segment is rolled when its offset index reaches this size. ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.index.interval.bytes', type: 'INT', default: '4096', validate: range(0),
    doc: `Default of index.interval.bytes: bytes of batches between two entries of a classic segment\'s offset and time indexes. ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.flush.interval.messages', type: 'LONG', default: '1', validate: range(1),
    doc: `Default of flush.messages. Floe's default is 1, not Kafka's Long.MAX_VALUE: a classic partition has no replicas, so with 1 an acks=all produce is answered only once its batch is fsynced (fsyncs are shared by every request waiting on the partition), and consumers see only fsynced data. A larger value relaxes that: produce is answered once the batch is written to the operating system, and the log is fsynced every flush.messages records or flush.ms. ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.flush.interval.ms', type: 'LONG', default: null,
    doc: `Default of flush.ms: with flush.messages > 1, the longest unflushed data stays in a classic log before an fsync; when unset, log.flush.scheduler.interval.ms is used. ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.flush.scheduler.interval.ms', type: 'LONG', default: LONG_MAX,
    doc: `Default of flush.ms when log.flush.interval.ms is unset. ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.segment.delete.delay.ms', type: 'LONG', default: '60000', validate: range(0),
    doc: `Default of file.delete.delay.ms: how long the files of a classic log segment removed by retention stay on disk (renamed *.deleted) before they are unlinked. ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.message.downconversion.enable', type: 'BOOLEAN', default: 'true',
    doc: 'Default of message.downconversion.enable: Fetch v0-3 (message format v0/v1 clients) get records converted down (Kafka 3.x\'s key).' },
  { group: 'Topic defaults', key: 'log.preallocate', type: 'BOOLEAN', default: 'false',
    doc: `Default of preallocate. ${NO_EFFECT_DISKLESS}` },
  { group: 'Topic defaults', key: 'log.cleaner.enable', type: 'BOOLEAN', default: 'true',
    doc: `Whether compaction runs: the log cleaner of classic topics and the compaction job of diskless topics (one broker of the cluster at a time, every log.cleaner.backoff.ms).` },
  { group: 'Topic defaults', key: 'log.cleaner.threads', type: 'INT', default: '1', validate: range(1),
    doc: `How many classic logs the log cleaner compacts at once (the dedupe buffer is shared among them). ${CLASSIC_ONLY}` },
  { group: 'Topic defaults', key: 'log.cleaner.dedupe.buffer.size', type: 'LONG', default: '134217728', validate: range(1),
    doc: `Memory of the log cleaner's key maps, shared by its threads (24 bytes per key, 90% used): a partition with more dirty keys than fit is compacted in several passes. At least 1 MiB per thread.` },
  { group: 'Topic defaults', key: 'log.cleaner.backoff.ms', type: 'LONG', default: '15000', validate: range(0),
    doc: 'How long the log cleaner sleeps when no log needs compacting, and the interval of the diskless compaction job.' },
  { group: 'Topic defaults', key: 'log.cleaner.delete.retention.ms', type: 'LONG', default: '86400000', validate: range(0),
    doc: 'Default of delete.retention.ms (compacted topics).' },
  { group: 'Topic defaults', key: 'log.cleaner.min.compaction.lag.ms', type: 'LONG', default: '0', validate: range(0),
    doc: 'Default of min.compaction.lag.ms.' },
  { group: 'Topic defaults', key: 'log.cleaner.max.compaction.lag.ms', type: 'LONG', default: LONG_MAX, validate: range(1),
    doc: 'Default of max.compaction.lag.ms.' },
  { group: 'Topic defaults', key: 'log.cleaner.min.cleanable.ratio', type: 'DOUBLE', default: '0.5', validate: range(0, 1),
    doc: 'Default of min.cleanable.dirty.ratio.' },
  { group: 'Topic defaults', key: 'log.local.retention.ms', type: 'LONG', default: '-2', validate: range(-2),
    doc: `Default of local.retention.ms (tiered storage). ${NO_EFFECT_DISKLESS}` },
  { group: 'Topic defaults', key: 'log.local.retention.bytes', type: 'LONG', default: '-2', validate: range(-2),
    doc: `Default of local.retention.bytes (tiered storage). ${NO_EFFECT_DISKLESS}` },
  { group: 'Topic defaults', key: 'min.insync.replicas', type: 'INT', default: '1', validate: range(1),
    doc: `Default of min.insync.replicas. ${NO_EFFECT_DISKLESS}` },
  { group: 'Topic defaults', key: 'unclean.leader.election.enable', type: 'BOOLEAN', default: 'false',
    doc: `Default of unclean.leader.election.enable. ${NO_EFFECT_DISKLESS}` },
  { group: 'Topic defaults', key: 'compression.gzip.level', type: 'INT', default: '-1', validate: gzipLevel(),
    doc: 'Default of compression.gzip.level, used when the broker recompresses with gzip.' },
  { group: 'Topic defaults', key: 'compression.lz4.level', type: 'INT', default: '9', validate: range(1, 17),
    doc: 'Default of compression.lz4.level, used when the broker recompresses with lz4.' },
  { group: 'Topic defaults', key: 'compression.zstd.level', type: 'INT', default: '3', validate: range(-131072, 22),
    doc: 'Default of compression.zstd.level, used when the broker recompresses with zstd.' },

  // ---- Groups ----
  { group: 'Groups', key: 'group.initial.rebalance.delay.ms', type: 'INT', default: '3000', validate: range(0),
    doc: 'How long the group coordinator waits for more members to join a new (empty) classic group before the first rebalance.' },
  { group: 'Groups', key: 'offsets.retention.minutes', type: 'INT', default: '10080', validate: range(1),
    doc: 'Committed offsets of a group that has been empty this long are deleted.' },
  { group: 'Groups', key: 'offsets.retention.check.interval.ms', type: 'LONG', default: '600000', validate: range(1),
    doc: 'How often the broker looks for expired committed offsets (offsets.retention.minutes) and removes empty groups without offsets.' },
  { group: 'Groups', key: 'offset.metadata.max.bytes', type: 'INT', default: '4096', validate: range(0),
    doc: 'The largest metadata string a consumer may commit with an offset; larger commits get OFFSET_METADATA_TOO_LARGE.' },
  { group: 'Groups', key: 'group.min.session.timeout.ms', type: 'INT', default: '6000', validate: range(0),
    doc: 'The smallest session timeout a group member may ask for (JoinGroup); smaller ones get INVALID_SESSION_TIMEOUT.' },
  { group: 'Groups', key: 'group.max.session.timeout.ms', type: 'INT', default: '1800000', validate: range(0),
    doc: 'The largest session timeout a group member may ask for (JoinGroup); larger ones get INVALID_SESSION_TIMEOUT.' },
  { group: 'Groups', key: 'group.max.size', type: 'INT', default: '2147483647', validate: range(1),
    doc: 'The most members a classic group may have; one more gets GROUP_MAX_SIZE_REACHED.' },
  { group: 'Groups', key: 'group.consumer.session.timeout.ms', type: 'INT', default: '45000', validate: range(1),
    doc: 'Consumer groups (KIP-848, group.protocol=consumer): a member that does not heartbeat for this long is removed and its partitions reassigned.' },
  { group: 'Groups', key: 'group.consumer.heartbeat.interval.ms', type: 'INT', default: '5000', validate: range(1),
    doc: 'Consumer groups (KIP-848): how often members are told to heartbeat.' },
  { group: 'Groups', key: 'group.consumer.max.size', type: 'INT', default: '2147483647', validate: range(1),
    doc: 'The most members a consumer group (KIP-848) may have; one more gets GROUP_MAX_SIZE_REACHED.' },
  { group: 'Groups', key: 'group.consumer.min.session.timeout.ms', type: 'INT', default: '45000', validate: range(1),
    doc: 'The smallest consumer.session.timeout.ms a consumer group (KIP-848) may be given (IncrementalAlterConfigs on the group).' },
  { group: 'Groups', key: 'group.consumer.max.session.timeout.ms', type: 'INT', default: '60000', validate: range(1),
    doc: 'The largest consumer.session.timeout.ms a consumer group may be given.' },
  { group: 'Groups', key: 'group.consumer.min.heartbeat.interval.ms', type: 'INT', default: '5000', validate: range(1),
    doc: 'The smallest consumer.heartbeat.interval.ms a consumer group may be given.' },
  { group: 'Groups', key: 'group.consumer.max.heartbeat.interval.ms', type: 'INT', default: '15000', validate: range(1),
    doc: 'The largest consumer.heartbeat.interval.ms a consumer group may be given.' },
  { group: 'Groups', key: 'group.consumer.migration.policy', type: 'STRING', default: 'bidirectional',
    validate: custom('[DISABLED, DOWNGRADE, UPGRADE, BIDIRECTIONAL]', (v) => (['disabled', 'downgrade', 'upgrade', 'bidirectional'].includes((v as string).toLowerCase()) ? null : 'String must be one of (case insensitive): DISABLED, DOWNGRADE, UPGRADE, BIDIRECTIONAL')),
    doc: 'Online migration of a group between the classic and the consumer protocol (KIP-848): upgrade (a consumer-protocol member joining a classic group converts it), downgrade (a consumer group whose last consumer-protocol member leaves becomes classic again), bidirectional or disabled.' },
  { group: 'Groups', key: 'group.share.session.timeout.ms', type: 'INT', default: '45000', validate: range(1),
    doc: 'Share groups (KIP-932): the default share.session.timeout.ms of a group (a member that does not heartbeat for this long is removed and the partitions reassigned).' },
  { group: 'Groups', key: 'group.share.min.session.timeout.ms', type: 'INT', default: '45000', validate: range(1),
    doc: 'The smallest share.session.timeout.ms a share group may be given.' },
  { group: 'Groups', key: 'group.share.max.session.timeout.ms', type: 'INT', default: '60000', validate: range(1),
    doc: 'The largest share.session.timeout.ms a share group may be given.' },
  { group: 'Groups', key: 'group.share.heartbeat.interval.ms', type: 'INT', default: '5000', validate: range(1),
    doc: 'Share groups: the default share.heartbeat.interval.ms of a group.' },
  { group: 'Groups', key: 'group.share.min.heartbeat.interval.ms', type: 'INT', default: '5000', validate: range(1),
    doc: 'The smallest share.heartbeat.interval.ms a share group may be given.' },
  { group: 'Groups', key: 'group.share.max.heartbeat.interval.ms', type: 'INT', default: '15000', validate: range(1),
    doc: 'The largest share.heartbeat.interval.ms a share group may be given.' },
  { group: 'Groups', key: 'group.share.record.lock.duration.ms', type: 'INT', default: '30000', validate: range(1000, 3600000),
    doc: 'Share groups: the default share.record.lock.duration.ms (how long a consumer holds the records a ShareFetch gave it; unacknowledged records are delivered again after it).' },
  { group: 'Groups', key: 'group.share.min.record.lock.duration.ms', type: 'INT', default: '15000', validate: range(1000, 30000),
    doc: 'The smallest share.record.lock.duration.ms a share group may be given.' },
  { group: 'Groups', key: 'group.share.max.record.lock.duration.ms', type: 'INT', default: '60000', validate: range(30000, 3600000),
    doc: 'The largest share.record.lock.duration.ms a share group may be given.' },
  { group: 'Groups', key: 'group.streams.session.timeout.ms', type: 'INT', default: '45000', validate: range(1),
    doc: 'Streams groups (KIP-1071): the default streams.session.timeout.ms of a group (a group config only: Floe has no streams groups).' },
  { group: 'Groups', key: 'group.streams.min.session.timeout.ms', type: 'INT', default: '45000', validate: range(1),
    doc: 'The smallest streams.session.timeout.ms a group may be given.' },
  { group: 'Groups', key: 'group.streams.max.session.timeout.ms', type: 'INT', default: '60000', validate: range(1),
    doc: 'The largest streams.session.timeout.ms a group may be given.' },
  { group: 'Groups', key: 'group.streams.heartbeat.interval.ms', type: 'INT', default: '5000', validate: range(1),
    doc: 'Streams groups: the default streams.heartbeat.interval.ms of a group.' },
  { group: 'Groups', key: 'group.streams.min.heartbeat.interval.ms', type: 'INT', default: '5000', validate: range(1),
    doc: 'The smallest streams.heartbeat.interval.ms a group may be given.' },
  { group: 'Groups', key: 'group.streams.max.heartbeat.interval.ms', type: 'INT', default: '15000', validate: range(1),
    doc: 'The largest streams.heartbeat.interval.ms a group may be given.' },
  { group: 'Groups', key: 'group.streams.num.standby.replicas', type: 'INT', default: '0', validate: range(0),
    doc: 'Streams groups: the default streams.num.standby.replicas of a group.' },
  { group: 'Groups', key: 'group.streams.max.standby.replicas', type: 'INT', default: '2', validate: range(0),
    doc: 'The largest streams.num.standby.replicas a group may be given.' },
  { group: 'Groups', key: 'group.consumer.assignors', type: 'LIST', default: 'uniform,range',
    validate: custom('a list of uniform and range', (v) => {
      const known = /^(uniform|range|org\.apache\.kafka\.coordinator\.group\.assignor\.(Uniform|Range)Assignor)$/;
      const list = v as string[];
      return list.length > 0 && list.every((a) => known.test(a)) ? null : 'Supported assignors are uniform and range';
    }),
    doc: 'Server-side assignors of consumer groups (KIP-848): uniform and range (or their Kafka class names). The first is the default; a member picks another with group.remote.assignor.' },
  { group: 'Groups', key: 'group.share.max.size', type: 'INT', default: '200', validate: range(1),
    doc: 'The most members a share group may have; one more gets GROUP_MAX_SIZE_REACHED.' },
  { group: 'Groups', key: 'group.share.delivery.count.limit', type: 'INT', default: '5', validate: range(2, 10),
    doc: 'Share groups: how many times a record is delivered at most; a record released or timed out at the limit is archived (never delivered again).' },
];

const KEY_INDEX = new Map(BROKER_CONFIG_KEYS.map((k) => [k.key, k]));

export function brokerConfigKey(key: string): BrokerConfigKey | undefined {
  return KEY_INDEX.get(key);
}

/** `node.id` → `FLOE_NODE_ID`. */
export function envVarName(key: string): string {
  return 'FLOE_' + key.toUpperCase().replace(/\./g, '_');
}

/** FLOE_* variables that are not configs (no warning). `FLOE_TEST_*` is reserved for tests as well. */
export const NON_CONFIG_ENV_VARS: readonly string[] = ['FLOE_LOG_LEVEL'];

/** Keys of Kafka broker configs that Floe recognises but does not implement (a warning, not "unknown"). */
const KAFKA_UNSUPPORTED_KEYS = new Set([
  'process.roles', 'controller.quorum.voters', 'controller.quorum.bootstrap.servers', 'inter.broker.listener.name',
  'security.inter.broker.protocol', 'num.io.threads', 'num.replica.fetchers',
  'socket.send.buffer.bytes', 'socket.receive.buffer.bytes', 'socket.listen.backlog.size', 'queued.max.requests',
  'log.dir', 'metadata.log.dir', 'num.recovery.threads.per.data.dir', 'offsets.topic.replication.factor',
  'offsets.topic.num.partitions', 'offsets.topic.segment.bytes', 'offsets.commit.timeout.ms', 'offsets.load.buffer.size',
  'transaction.state.log.replication.factor', 'transaction.state.log.min.isr', 'transaction.state.log.num.partitions',
  'share.coordinator.state.topic.replication.factor', 'share.coordinator.state.topic.min.isr', 'delete.topic.enable',
  'auto.leader.rebalance.enable', 'leader.imbalance.check.interval.seconds', 'leader.imbalance.per.broker.percentage',
  'log.cleaner.io.buffer.size', 'log.flush.offset.checkpoint.interval.ms', 'log.flush.start.offset.checkpoint.interval.ms',
  'replica.lag.time.max.ms', 'replica.fetch.max.bytes', 'replica.fetch.wait.max.ms', 'replica.socket.timeout.ms',
  'zookeeper.connect', 'zookeeper.connection.timeout.ms', 'zookeeper.session.timeout.ms', 'metric.reporters', 'metrics.num.samples', 'metrics.sample.window.ms',
  'metrics.recording.level', 'group.coordinator.rebalance.protocols', 'max.connections', 'max.connections.per.ip',
  'max.connections.per.ip.overrides', 'fetch.max.bytes',
  'transactional.id.expiration.ms', 'create.topic.policy.class.name',
  'alter.config.policy.class.name', 'reserved.broker.max.id', 'request.timeout.ms', 'unstable.api.versions.enable',
  'confluent.support.metrics.enable', 'confluent.balancer.enable',
]);
const KAFKA_UNSUPPORTED_PREFIXES = [
  'ssl.', 'sasl.', 'listener.name.', 'remote.log.', 'log.cleaner.', 'controller.', 'replica.', 'transaction.',
  'share.', 'group.', 'offsets.', 'quota.', 'metadata.', 'kafka.metrics.', 'zookeeper.', 'confluent.', 'delegation.token.',
  'principal.builder.', 'connections.max.', 'log.local.', 'initial.broker.',
];

function isKnownKafkaKey(key: string): boolean {
  return KAFKA_UNSUPPORTED_KEYS.has(key) || KAFKA_UNSUPPORTED_PREFIXES.some((p) => key.startsWith(p));
}

interface Setting {
  value: string;
  source: 'file' | 'env' | 'override';
  /** "server.properties line 3", "env FLOE_NODE_ID", "--override node.id=abc" */
  where: string;
}

export interface LoadBrokerConfigOptions {
  /** Path of a server.properties file. */
  file?: string;
  /** `key=value` strings, as given to `--override`. */
  overrides?: string[];
  /** Defaults to no environment (pass process.env explicitly). */
  env?: NodeJS.ProcessEnv;
}

/** Loads, layers and validates the broker configuration. Throws ConfigError. */
export function loadBrokerConfig(opts: LoadBrokerConfigOptions): LoadedBrokerConfig {
  const warnings: string[] = [];
  const settings = new Map<string, Setting>();
  // listener.name.<l>.<key>: one listener's own security settings (resolved once the listeners are known).
  const listenerSettings = new Map<string, Setting>();
  const set = (key: string, s: Setting): void => {
    // Kafka's mechanism-prefixed form of the OAUTHBEARER keys: listener.name.<l>.oauthbearer.sasl.oauthbearer.*.
    const perListener = /^listener\.name\.([^.]+)\.(?:oauthbearer\.(?=sasl\.oauthbearer\.))?(.+)$/.exec(key);
    if (perListener && (KEY_INDEX.get(perListener[2]!)?.group === 'Security' || /^[\w-]+\.sasl\.jaas\.config$/.test(perListener[2]!))) {
      listenerSettings.set(`${perListener[1]!.toUpperCase()} ${perListener[2]!.toLowerCase()}`, s);
      return;
    }
    if (KEY_INDEX.has(key)) {
      settings.set(key, s);
    } else if (isKnownKafkaKey(key)) {
      warnings.push(`config key '${key}' (${s.where}) is a Kafka broker config not supported by Floe, ignored`);
    } else {
      warnings.push(`unknown config key '${key}' (${s.where}) ignored`);
    }
  };

  if (opts.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError(`cannot read config file ${opts.file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    let entries;
    try {
      entries = parseProperties(text);
    } catch (err) {
      if (err instanceof PropertiesSyntaxError) throw new ConfigError(`${opts.file}:${err.line}: ${err.message}`);
      throw err;
    }
    const seen = new Map<string, number>();
    for (const e of entries) {
      const prev = seen.get(e.key);
      if (prev !== undefined) warnings.push(`config key '${e.key}' is set twice in ${opts.file} (lines ${prev} and ${e.line}); the last value is used`);
      seen.set(e.key, e.line);
      set(e.key, { value: e.value, source: 'file', where: `${opts.file} line ${e.line}` });
    }
  }

  for (const [name, value] of Object.entries(opts.env ?? {})) {
    if (!name.startsWith('FLOE_') || value === undefined) continue;
    if (NON_CONFIG_ENV_VARS.includes(name) || name.startsWith('FLOE_TEST_')) continue;
    const key = name.slice(5).toLowerCase().replace(/_/g, '.');
    set(key, { value, source: 'env', where: `env ${name}` });
  }

  for (const o of opts.overrides ?? []) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--override expects key=value, got '${o}'`);
    const key = o.slice(0, eq).trim();
    set(key, { value: o.slice(eq + 1), source: 'override', where: `--override ${o}` });
  }

  // Parse every table key: the setting if any, else the default.
  const raw = new Map<string, RawConfigValue>();
  const parsed = new Map<string, ConfigValue | null>();
  const where = (key: string): string => settings.get(key)?.where ?? 'default';
  for (const def of BROKER_CONFIG_KEYS) {
    const s = settings.get(def.key);
    const text = s ? s.value : def.default;
    if (text === null) {
      parsed.set(def.key, null);
      continue;
    }
    try {
      const { value, normalized } = parseAndValidate(def.key, def.type, text, def.validate);
      parsed.set(def.key, value);
      raw.set(def.key, { value: normalized, source: s ? s.source : 'default' });
    } catch (err) {
      if (err instanceof ConfigValueError) {
        const accepted = def.validate ? `${def.type} ${def.validate.describe}` : def.type;
        throw new ConfigError(
          `Invalid value ${err.value} for configuration ${def.key} (from ${where(def.key)}): ${err.reason}. Accepted: ${accepted}`,
          def.key,
          err.value,
        );
      }
      throw err;
    }
  }

  const int = (k: string): number => parsed.get(k) as number;
  const optInt = (k: string): number | null => parsed.get(k) as number | null;
  const bool = (k: string): boolean => parsed.get(k) as boolean;
  const str = (k: string): string => parsed.get(k) as string;
  const optStr = (k: string): string | null => parsed.get(k) as string | null;
  const list = (k: string): string[] | null => parsed.get(k) as string[] | null;

  // node.id / broker.id
  let nodeId = int('node.id');
  const brokerId = optInt('broker.id');
  if (brokerId !== null) {
    if (settings.has('node.id') && brokerId !== nodeId) {
      throw new ConfigError(
        `broker.id (${brokerId}, from ${where('broker.id')}) and node.id (${nodeId}, from ${where('node.id')}) must be equal; set only node.id`,
        'broker.id',
        String(brokerId),
      );
    }
    nodeId = brokerId;
    raw.set('node.id', { value: String(brokerId), source: settings.get('broker.id')!.source });
  }

  if (int('broker.session.timeout.ms') <= int('broker.heartbeat.interval.ms')) {
    throw new ConfigError(
      `broker.session.timeout.ms (${int('broker.session.timeout.ms')}, from ${where('broker.session.timeout.ms')}) must be greater than broker.heartbeat.interval.ms (${int('broker.heartbeat.interval.ms')}, from ${where('broker.heartbeat.interval.ms')})`,
      'broker.session.timeout.ms',
      String(int('broker.session.timeout.ms')),
    );
  }

  const { listeners, advertisedListeners } = resolveListeners(
    list('listeners')!,
    list('advertised.listeners'),
    list('listener.security.protocol.map')!,
    list('controller.listener.names') ?? [],
    where,
    warnings,
  );
  const security = resolveSecurity(listeners, listenerSettings, parsed, bool, str, int, warnings);

  // Retention: ms > minutes > hours; any negative means "no limit" (-1).
  const retMs = optInt('log.retention.ms');
  const retMin = optInt('log.retention.minutes');
  let logRetentionMs = retMs ?? (retMin !== null ? retMin * 60_000 : int('log.retention.hours') * 3_600_000);
  if (logRetentionMs < 0) logRetentionMs = -1;
  const retentionBytes = int('log.retention.bytes');

  const cleanupPolicy = list('log.cleanup.policy')!;

  if (int('log.cleaner.dedupe.buffer.size') / int('log.cleaner.threads') < 1024 * 1024) {
    throw new ConfigError(
      `log.cleaner.dedupe.buffer.size (${int('log.cleaner.dedupe.buffer.size')}, from ${where('log.cleaner.dedupe.buffer.size')}) must be at least 1MiB per cleaner thread (log.cleaner.threads=${int('log.cleaner.threads')})`,
      'log.cleaner.dedupe.buffer.size',
      String(int('log.cleaner.dedupe.buffer.size')),
    );
  }

  const values: Record<string, string | null> = {};
  for (const def of BROKER_CONFIG_KEYS) values[def.key] = raw.get(def.key)?.value ?? null;

  const config: BrokerConfig = {
    listeners,
    advertisedListeners,
    nodeId,
    brokerRack: optStr('broker.rack') || null,
    brokerHeartbeatIntervalMs: int('broker.heartbeat.interval.ms'),
    brokerSessionTimeoutMs: int('broker.session.timeout.ms'),
    clusterId: optStr('cluster.id'),
    dataDir: resolvePath(str('data.dir')),
    logDirs: (list('log.dirs') ?? [join(str('data.dir'), 'logs')]).map((d) => resolvePath(d)),
    logDisklessEnable: bool('log.diskless.enable'),
    disklessCommitIntervalMs: int('diskless.commit.interval.ms'),
    disklessBufferMaxBytes: int('diskless.buffer.max.bytes'),
    disklessBufferMaxPendingBytes: int('diskless.buffer.max.pending.bytes'),
    disklessBufferIdleMs: int('diskless.buffer.idle.ms'),
    disklessBufferIdleMinBytes: int('diskless.buffer.idle.min.bytes'),
    disklessUploadHedgePercentile: int('diskless.upload.hedge.percentile'),
    disklessCacheMaxBytes: int('diskless.cache.max.bytes'),
    disklessLaggingCacheMaxBytes: int('diskless.lagging.cache.max.bytes'),
    disklessFetchReadAheadBytes: int('diskless.fetch.read.ahead.bytes'),
    disklessFetchCoalesceGapBytes: int('diskless.fetch.coalesce.gap.bytes'),
    disklessFetchMaxGetBytes: int('diskless.fetch.max.get.bytes'),
    disklessFetchMaxConcurrentGets: int('diskless.fetch.max.concurrent.gets'),
    disklessRetentionCheckIntervalMs: int('diskless.retention.check.interval.ms'),
    disklessObjectCleanerIntervalMs: int('diskless.object.cleaner.interval.ms'),
    disklessObjectDeletionGraceMs: int('diskless.object.deletion.grace.ms'),
    disklessOrphanMinAgeMs: int('diskless.orphan.min.age.ms'),
    producerIdExpirationMs: int('producer.id.expiration.ms'),
    disklessMergeEnable: bool('diskless.merge.enable'),
    disklessMergeTargetBytes: int('diskless.merge.target.bytes'),
    disklessMergeMinAgeMs: int('diskless.merge.min.age.ms'),
    disklessMergeIntervalMs: int('diskless.merge.interval.ms'),
    disklessMergeIoMaxBytesPerSecond: int('diskless.merge.io.max.bytes.per.second'),
    transactionMaxTimeoutMs: int('transaction.max.timeout.ms'),
    transactionAbortTimedOutIntervalMs: int('transaction.abort.timed.out.transaction.cleanup.interval.ms'),
    transactionMarkerRetryIntervalMs: int('transaction.marker.retry.interval.ms'),
    transactionalIdExpirationMs: int('transactional.id.expiration.ms'),
    messageMaxBytes: int('message.max.bytes'),
    socketRequestMaxBytes: int('socket.request.max.bytes'),
    numNetworkThreads: int('num.network.threads'),
    maxIncrementalFetchSessionCacheSlots: int('max.incremental.fetch.session.cache.slots'),
    queuedMaxRequestBytes: int('queued.max.request.bytes'),
    autoCreateTopicsEnable: bool('auto.create.topics.enable'),
    numPartitions: int('num.partitions'),
    defaultReplicationFactor: int('default.replication.factor'),
    connectionsMaxIdleMs: int('connections.max.idle.ms'),
    metricsListener: str('metrics.listener'),
    logRetentionMs,
    logRetentionBytes: retentionBytes < 0 ? -1 : retentionBytes,
    logMessageTimestampType: str('log.message.timestamp.type') as TimestampTypeName,
    logMessageTimestampBeforeMaxMs: int('log.message.timestamp.before.max.ms'),
    logMessageTimestampAfterMaxMs: int('log.message.timestamp.after.max.ms'),
    compressionType: str('compression.type') as CompressionTypeName,
    logCleanupPolicy: cleanupPolicy,
    groupInitialRebalanceDelayMs: int('group.initial.rebalance.delay.ms'),
    offsetsRetentionMinutes: int('offsets.retention.minutes'),
    offsetsRetentionCheckIntervalMs: int('offsets.retention.check.interval.ms'),
    offsetMetadataMaxBytes: int('offset.metadata.max.bytes'),
    groupMinSessionTimeoutMs: int('group.min.session.timeout.ms'),
    groupMaxSessionTimeoutMs: int('group.max.session.timeout.ms'),
    groupMaxSize: int('group.max.size'),
    logRetentionCheckIntervalMs: int('log.retention.check.interval.ms'),
    logCleanerEnable: bool('log.cleaner.enable'),
    logCleanerThreads: int('log.cleaner.threads'),
    logCleanerDedupeBufferSize: int('log.cleaner.dedupe.buffer.size'),
    logCleanerBackoffMs: int('log.cleaner.backoff.ms'),
    values,
    connectionFailedAuthenticationDelayMs: int('connection.failed.authentication.delay.ms'),
    quotaWindowNum: int('quota.window.num'),
    quotaWindowSizeSeconds: int('quota.window.size.seconds'),
    security,
  };
  return { config, warnings, raw };
}

/** The configuration with every default, plus `overrides` (key → value); for tests and tools. Throws ConfigError. */
export function defaultBrokerConfig(overrides: Record<string, string> = {}): BrokerConfig {
  return loadBrokerConfig({ overrides: Object.entries(overrides).map(([k, v]) => `${k}=${v}`) }).config;
}

/** Each listener's TLS and SASL settings (its `listener.name.<l>.*` keys over the global ones), and the authorizer. */
function resolveSecurity(
  listeners: Listener[],
  listenerSettings: Map<string, Setting>,
  parsed: Map<string, ConfigValue | null>,
  bool: (k: string) => boolean,
  str: (k: string) => string,
  int: (k: string) => number,
  warnings: string[],
): SecurityConfig {
  const globalText = (key: string): string | null => {
    const v = parsed.get(key);
    if (v === null || v === undefined) return null;
    return Array.isArray(v) ? v.join(',') : String(v);
  };
  const byListener: SecurityConfig['listeners'] = {};
  for (const l of listeners) {
    const get = (key: string): string | null => listenerSettings.get(`${l.name} ${key}`)?.value ?? globalText(key);
    try {
      byListener[l.name] = resolveListenerSecurity(l.name, l.securityProtocol, get, warnings);
    } catch (err) {
      if (err instanceof SecurityConfigError) throw new ConfigError(err.message, err.key);
      throw err;
    }
  }
  for (const [k, s] of listenerSettings) {
    const name = k.slice(0, k.indexOf(' '));
    if (!listeners.some((l) => l.name === name)) warnings.push(`config key listener.name.${name.toLowerCase()}.${k.slice(k.indexOf(' ') + 1)} (${s.where}) names no listener, ignored`);
  }
  const authorizer = str('authorizer.class.name').trim();
  if (authorizer !== '' && !AUTHORIZER_CLASS_NAMES.includes(authorizer)) {
    throw new ConfigError(`authorizer.class.name=${authorizer} is not supported: Floe's ACL authorizer is turned on by ${AUTHORIZER_CLASS_NAMES[0]} (or ${AUTHORIZER_CLASS_NAMES[1]})`, 'authorizer.class.name', authorizer);
  }
  const superUsers = str('super.users').split(';').map((u) => u.trim()).filter((u) => u !== '');
  for (const u of superUsers) {
    if (!/^[^:]+:.+$/.test(u)) throw new ConfigError(`Invalid value ${u} in super.users: expected principals as Type:name (User:admin), separated by ';'`, 'super.users', u);
  }
  return {
    listeners: byListener,
    connectionsMaxReauthMs: int('connections.max.reauth.ms'),
    authorizerEnabled: authorizer !== '',
    superUsers,
    allowEveryoneIfNoAclFound: bool('allow.everyone.if.no.acl.found'),
  };
}

const LISTENER_RE = /^([A-Za-z0-9_.-]+):\/\/(\[[0-9A-Fa-f:.%]*\]|[A-Za-z0-9._%-]*):(\d+)$/;
const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);

function parseListener(key: string, text: string, where: string): Listener {
  const m = LISTENER_RE.exec(text);
  if (!m) {
    throw new ConfigError(
      `Invalid value ${text} for configuration ${key} (from ${where}): expected NAME://host:port, e.g. PLAINTEXT://localhost:9092 or PLAINTEXT://:9092 or PLAINTEXT://[::1]:9092`,
      key,
      text,
    );
  }
  const port = Number(m[3]);
  if (port > 65535) {
    throw new ConfigError(`Invalid value ${text} for configuration ${key} (from ${where}): port ${port} is not in [0,...,65535]`, key, text);
  }
  let host = m[2]!;
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { name: m[1]!.toUpperCase(), host, port, securityProtocol: 'PLAINTEXT' };
}

function resolveListeners(
  listenerTexts: string[],
  advertisedTexts: string[] | null,
  protocolMapTexts: string[],
  controllerNames: string[],
  where: (key: string) => string,
  warnings: string[],
): { listeners: Listener[]; advertisedListeners: Listener[] } {
  const protocolMap = new Map<string, string>();
  for (const entry of protocolMapTexts) {
    const m = /^([A-Za-z0-9_.-]+):([A-Za-z_]+)$/.exec(entry);
    if (!m || !(SECURITY_PROTOCOLS as readonly string[]).includes(m[2]!.toUpperCase())) {
      throw new ConfigError(
        `Invalid value ${entry} for configuration listener.security.protocol.map (from ${where('listener.security.protocol.map')}): expected NAME:PROTOCOL with PROTOCOL one of ${SECURITY_PROTOCOLS.join(', ')}`,
        'listener.security.protocol.map',
        entry,
      );
    }
    protocolMap.set(m[1]!.toUpperCase(), m[2]!.toUpperCase());
  }
  const controllers = new Set(controllerNames.map((n) => n.toUpperCase()));

  const all = listenerTexts.map((t) => parseListener('listeners', t, where('listeners')));
  const names = new Set<string>();
  const ports = new Set<number>();
  const listeners: Listener[] = [];
  for (const l of all) {
    if (names.has(l.name)) {
      throw new ConfigError(`Invalid value ${listenerTexts.join(',')} for configuration listeners (from ${where('listeners')}): each listener must have a different name, ${l.name} is used twice`, 'listeners');
    }
    names.add(l.name);
    if (controllers.has(l.name)) {
      warnings.push(`listener ${l.name} is a KRaft controller listener (controller.listener.names); Floe has no controller quorum and does not open it`);
      continue;
    }
    if (l.port !== 0 && ports.has(l.port)) {
      throw new ConfigError(`Invalid value ${listenerTexts.join(',')} for configuration listeners (from ${where('listeners')}): each listener must have a different port, ${l.port} is used twice`, 'listeners');
    }
    ports.add(l.port);
    const protocol = protocolMap.get(l.name);
    if (protocol === undefined) {
      throw new ConfigError(`listener ${l.name} (from ${where('listeners')}) has no security protocol: add ${l.name}:PLAINTEXT to listener.security.protocol.map`, 'listeners');
    }
    l.securityProtocol = protocol as SecurityProtocol;
    listeners.push(l);
  }
  if (listeners.length === 0) {
    throw new ConfigError(`configuration listeners (from ${where('listeners')}) must name at least one listener`, 'listeners');
  }

  let advertisedListeners: Listener[];
  if (advertisedTexts === null) {
    advertisedListeners = listeners.map((l) => {
      if (!WILDCARD_HOSTS.has(l.host)) return { ...l };
      warnings.push(
        `listener ${l.name} binds all interfaces and advertised.listeners is not set: advertising it as localhost:${l.port || '<bound port>'}; set advertised.listeners if clients on other machines (or containers) connect to this broker`,
      );
      return { ...l, host: 'localhost' };
    });
  } else {
    const listenerNames = new Set(listeners.map((l) => l.name));
    const seen = new Set<string>();
    advertisedListeners = [];
    for (const t of advertisedTexts) {
      const a = parseListener('advertised.listeners', t, where('advertised.listeners'));
      if (controllers.has(a.name)) continue;
      const bad = (reason: string): ConfigError =>
        new ConfigError(`Invalid value ${t} for configuration advertised.listeners (from ${where('advertised.listeners')}): ${reason}`, 'advertised.listeners', t);
      if (!listenerNames.has(a.name)) throw bad(`listener name ${a.name} is not one of the listeners (${[...listenerNames].join(', ')})`);
      if (seen.has(a.name)) throw bad(`listener name ${a.name} is advertised twice`);
      if (WILDCARD_HOSTS.has(a.host)) throw bad('an advertised listener needs a routable host, not an empty host or a wildcard address');
      if (a.port === 0) throw bad('an advertised listener needs a port in [1,...,65535]');
      a.securityProtocol = listeners.find((l) => l.name === a.name)!.securityProtocol;
      seen.add(a.name);
      advertisedListeners.push(a);
    }
    if (advertisedListeners.length === 0) throw new ConfigError(`configuration advertised.listeners (from ${where('advertised.listeners')}) must name at least one listener`, 'advertised.listeners');
  }
  return { listeners, advertisedListeners };
}

export interface DescribedBrokerConfig {
  name: string;
  value: string | null;
  source: 'STATIC_BROKER_CONFIG' | 'DEFAULT_CONFIG';
  readOnly: boolean;
  type: ConfigType;
  documentation: string;
  isSensitive: boolean;
}

/**
 * A value with the password of a URL in it (`postgresql://user:secret@host/db`) hidden, so that
 * DescribeConfigs and `floe config` never show a secret written into diskless.coordinator.url.
 */
export function redactUrlPassword(value: string): string {
  return value.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#@:]*):[^/?#]*@/, '$1:(hidden)@');
}

/**
 * Every broker key with its static value and source (the broker's configuration as loaded, without the
 * dynamic layers that src/broker/dynamic-configs.ts adds for DescribeConfigs). Keys unset and without default
 * have value null, like Kafka's.
 */
export function describeBrokerConfigs(loaded: LoadedBrokerConfig | BrokerConfig): DescribedBrokerConfig[] {
  const raw = rawOf(loaded);
  return BROKER_CONFIG_KEYS.map((def) => {
    const r = raw.get(def.key);
    const isSensitive = def.type === 'PASSWORD';
    return {
      name: def.key,
      value: isSensitive || r === undefined ? null : redactUrlPassword(r.value),
      source: r && r.source !== 'default' ? 'STATIC_BROKER_CONFIG' : 'DEFAULT_CONFIG',
      readOnly: true,
      type: def.type,
      documentation: def.doc,
      isSensitive,
    } satisfies DescribedBrokerConfig;
  });
}

/**
 * The per-key values and origins of a loaded config. For a BrokerConfig alone (built without the loader), the
 * origins are unknown: its `values` (or the table defaults) are reported as defaults.
 */
export function rawOf(loaded: LoadedBrokerConfig | BrokerConfig): Map<string, RawConfigValue> {
  if ('raw' in loaded && loaded.raw instanceof Map) return loaded.raw;
  const config = loaded as BrokerConfig;
  const raw = new Map<string, RawConfigValue>();
  for (const def of BROKER_CONFIG_KEYS) {
    const value = config.values ? config.values[def.key] : def.default;
    if (value !== null && value !== undefined) raw.set(def.key, { value, source: 'default' });
  }
  return raw;
}

/** Maps a loader origin to the DescribeConfigs source. */
export function describeSource(origin: ConfigOrigin): ConfigSource {
  if (origin === 'dynamic-broker') return 'DYNAMIC_BROKER_CONFIG';
  if (origin === 'dynamic-default') return 'DYNAMIC_DEFAULT_BROKER_CONFIG';
  return origin === 'default' ? 'DEFAULT_CONFIG' : 'STATIC_BROKER_CONFIG';
}
