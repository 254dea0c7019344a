/**
 * Broker keys of the two production backends (the coordinator database and the object store) and of the
 * object-store fault injection, plus `backendConfig()`, which reads them typed from a BrokerConfig.
 *
 * The rows are spread into BROKER_CONFIG_KEYS (broker-config.ts), so loading, validation, env vars,
 * `floe config`, DescribeConfigs and docs/configuration.md treat them like every other key. The typed view
 * is read from `BrokerConfig.values` (set by loadBrokerConfig; the table defaults for a hand-built config),
 * as topic-config.ts does for broker synonyms, which keeps BrokerConfig itself small.
 *
 * Decisions:
 * - Secrets are PASSWORD keys (DescribeConfigs reports them as sensitive with a null value, `floe config`
 *   hides them): `diskless.s3.secret.access.key`, `diskless.coordinator.password`. A password written
 *   in `diskless.coordinator.url` is shown as `(hidden)` by both (and `***` in logs).
 * - `diskless.coordinator.ssl.mode` follows libpq's sslmode as far as the `pg` driver allows: disable,
 *   prefer (TLS when the server offers it, unverified — libpq's default), require (TLS, unverified unless a
 *   root cert is given, like libpq), verify-ca (chain checked, host name not), verify-full (both).
 *   libpq's `allow` is not offered. When unset, an `sslmode` (and sslrootcert, sslcert, sslkey) in the URL
 *   applies, else prefer.
 * - Object store URL: empty = `<data.dir>/objects`; `file:///abs/path` = that folder; `s3://bucket/prefix`.
 */
import { custom, listOf, oneOf, parseConfigValue, range, type ConfigValue } from './config-def.ts';
import type { BrokerConfigKey } from './broker-config-key.ts';

export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];
export const LATENCY_PROFILE_NAMES = ['none', 's3-standard'] as const;
const FAULT_OPS = ['put', 'get', 'delete', 'list'];

const coordinatorUrl = custom('empty, or postgres://… / postgresql://…', (v) => {
  const s = v as string;
  return s === '' || /^postgres(ql)?:\/\/./.test(s) ? null : 'Value must be empty (embedded PGlite) or a postgres:// or postgresql:// URL';
});

const objectStoreUrl = custom('empty, file:///absolute/path or s3://bucket[/prefix]', (v) => {
  const s = v as string;
  if (s === '') return null;
  if (s.startsWith('file://')) return s.startsWith('file:///') && s.length > 'file:///'.length ? null : 'A file URL must name an absolute path: file:///var/lib/floe/objects';
  if (s.startsWith('s3://')) {
    const bucket = s.slice(5).split('/')[0]!;
    return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) ? null : `'${bucket}' is not a valid S3 bucket name`;
  }
  return 'Value must be empty (a folder under data.dir), file:///absolute/path or s3://bucket[/prefix]';
});

const sslMode = custom(`[${SSL_MODES.join(', ')}]`, (v) => ((SSL_MODES as readonly string[]).includes(v as string) ? null : `String must be one of: ${SSL_MODES.join(', ')}`));

const FAULTS_DOC = 'Fault injection, for tests and benchmarks only.';

export const BACKEND_CONFIG_KEYS: readonly BrokerConfigKey[] = [
  // ---- Coordinator ----
  { group: 'Coordinator', key: 'diskless.coordinator.url', type: 'STRING', default: '', validate: coordinatorUrl,
    doc: 'The batch coordinator database: postgresql://user@host:port/database for PostgreSQL (15 or later), shared by every broker of the cluster. Empty: the embedded PGlite database under data.dir/coordinator (one broker only). The schema is created and migrated on start (under an advisory lock, so brokers may start together).' },
  { group: 'Coordinator', key: 'diskless.coordinator.password', type: 'PASSWORD', default: null,
    doc: 'Password for diskless.coordinator.url. When unset, the password in the URL, PGPASSWORD or ~/.pgpass is used.' },
  { group: 'Coordinator', key: 'diskless.coordinator.pool.size', type: 'INT', default: '10', validate: range(1, 1000),
    doc: 'Most connections this broker opens to PostgreSQL. Commits and fetch lookups run on them concurrently.' },
  { group: 'Coordinator', key: 'diskless.coordinator.embedded.shared.buffers.bytes', type: 'INT', default: '16777216', validate: range(131072, 1073741824),
    doc: 'shared_buffers of the embedded coordinator (PGlite, when diskless.coordinator.url is empty): its page cache, held in the broker\'s memory in full. 16 MiB keeps an idle broker lean; a larger cache serves the batch lookups of lagging consumers over many batches with fewer reads from its files (PostgreSQL\'s default is 128 MiB).' },
  { group: 'Coordinator', key: 'diskless.coordinator.statement.timeout.ms', type: 'INT', default: '30000', validate: range(0),
    doc: 'PostgreSQL statement_timeout of the broker\'s sessions (0: none). A query gets this long plus 2 s to answer before the broker gives up on its connection, so a server that stops answering cannot hang the broker.' },
  { group: 'Coordinator', key: 'diskless.coordinator.connect.timeout.ms', type: 'INT', default: '10000', validate: range(0),
    doc: 'How long opening a connection to PostgreSQL may take (0: no limit).' },
  { group: 'Coordinator', key: 'diskless.coordinator.ssl.mode', type: 'STRING', default: null, validate: sslMode,
    doc: 'TLS to PostgreSQL, as libpq\'s sslmode: disable, prefer (TLS if the server offers it, certificate not checked), require (TLS; certificate not checked unless diskless.coordinator.ssl.root.cert is set), verify-ca (certificate chain checked), verify-full (chain and host name checked). When unset: the sslmode in the URL, else prefer.' },
  { group: 'Coordinator', key: 'diskless.coordinator.ssl.root.cert', type: 'STRING', default: null,
    doc: 'PEM file of the certificate authorities that sign the server\'s certificate (libpq sslrootcert). When unset, Node\'s built-in roots are used for verify-ca and verify-full.' },
  { group: 'Coordinator', key: 'diskless.coordinator.ssl.cert', type: 'STRING', default: null,
    doc: 'PEM file of a client certificate, for servers that authenticate clients by certificate (libpq sslcert).' },
  { group: 'Coordinator', key: 'diskless.coordinator.ssl.key', type: 'STRING', default: null,
    doc: 'PEM file of the private key of diskless.coordinator.ssl.cert (libpq sslkey).' },
  { group: 'Coordinator', key: 'diskless.commit.retry.timeout.ms', type: 'INT', default: '10000', validate: range(0),
    doc: 'When a commit fails or its outcome is unknown (coordinator unreachable, connection lost mid-commit), the broker retries it with the same object key until this long after the object was sealed; a commit that already happened is then recognised and answered with its original offsets, so the records are written once. Past it, the producers get REQUEST_TIMED_OUT (retriable).' },

  // ---- Object store ----
  { group: 'Object store', key: 'diskless.object.store.url', type: 'STRING', default: '', validate: objectStoreUrl,
    doc: 'Where diskless data lives: s3://bucket/prefix for an S3-compatible store (shared by every broker of the cluster; see the diskless.s3.* keys), file:///absolute/path for a folder. Empty: the folder data.dir/objects.' },
  { group: 'Object store', key: 'diskless.object.store.request.timeout.ms', type: 'INT', default: '30000', validate: range(1),
    doc: 'Deadline of one object store request, retries included; a request past it fails (producers get KAFKA_STORAGE_ERROR, consumers the same for that partition). For S3 it is also the socket inactivity limit of each attempt.' },
  { group: 'Object store', key: 'diskless.s3.region', type: 'STRING', default: null,
    doc: 'The bucket\'s region. When unset: AWS_REGION or the AWS config file, else us-east-1 (what most S3-compatible servers expect).' },
  { group: 'Object store', key: 'diskless.s3.endpoint', type: 'STRING', default: null,
    doc: 'URL of an S3-compatible server (http://minio:9000, https://<account>.r2.cloudflarestorage.com, …). When unset: AWS S3. An HTTPS server whose certificate a private CA signed is trusted when that CA is in the PEM file the environment variable NODE_EXTRA_CA_CERTS names (read when the process starts).' },
  { group: 'Object store', key: 'diskless.s3.path.style.access', type: 'BOOLEAN', default: 'false',
    doc: 'Address objects as endpoint/bucket/key (path style, which most S3-compatible servers need) instead of bucket.endpoint/key.' },
  { group: 'Object store', key: 'diskless.s3.access.key.id', type: 'STRING', default: null,
    doc: 'Access key id. When unset, the AWS SDK\'s default provider chain is used (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, web identity, instance metadata).' },
  { group: 'Object store', key: 'diskless.s3.secret.access.key', type: 'PASSWORD', default: null,
    doc: 'Secret access key of diskless.s3.access.key.id (required with it).' },
  { group: 'Object store', key: 'diskless.s3.max.attempts', type: 'INT', default: '3', validate: range(1, 20),
    doc: 'Attempts per S3 request in the SDK\'s standard retry mode (exponential backoff with jitter). 5xx answers, 503 SlowDown and other throttling, timeouts and network errors are retried.' },
  { group: 'Object store', key: 'diskless.s3.connection.timeout.ms', type: 'INT', default: '5000', validate: range(1),
    doc: 'How long opening a connection to S3 may take.' },
  { group: 'Object store', key: 'diskless.s3.max.connections', type: 'INT', default: '50', validate: range(1),
    doc: 'Most connections kept open to S3.' },
  { group: 'Object store', key: 'diskless.object.store.latency.profile', type: 'STRING', default: 'none', validate: oneOf(...LATENCY_PROFILE_NAMES),
    doc: `Adds simulated latency to every object store request. s3-standard: PUT median ≈ 100 ms and p99 ≈ 350 ms for a 1 MiB object (longer for larger ones), GET first byte 30–100 ms plus transfer. ${FAULTS_DOC}` },
  { group: 'Object store', key: 'diskless.object.store.fault.error.rate', type: 'DOUBLE', default: '0.0', validate: range(0, 1),
    doc: `Probability that an object store request fails with 503 SlowDown. ${FAULTS_DOC}` },
  { group: 'Object store', key: 'diskless.object.store.fault.burst.rate', type: 'DOUBLE', default: '0.0', validate: range(0, 1),
    doc: `Probability that an object store request starts a burst of 503 SlowDown answers lasting diskless.object.store.fault.burst.ms, during which every request fails. ${FAULTS_DOC}` },
  { group: 'Object store', key: 'diskless.object.store.fault.burst.ms', type: 'INT', default: '1000', validate: range(0),
    doc: `Length of a burst of 503 answers. ${FAULTS_DOC}` },
  { group: 'Object store', key: 'diskless.object.store.fault.hang.rate', type: 'DOUBLE', default: '0.0', validate: range(0, 1),
    doc: `Probability that an object store request never answers; it fails after diskless.object.store.request.timeout.ms. ${FAULTS_DOC}` },
  { group: 'Object store', key: 'diskless.object.store.fault.operations', type: 'LIST', default: FAULT_OPS.join(','), validate: listOf(FAULT_OPS, false),
    doc: `The requests the faults apply to: put, get, delete, list (latency applies to all). ${FAULTS_DOC}` },
  { group: 'Object store', key: 'diskless.object.store.fault.seed', type: 'LONG', default: null,
    doc: `Seed of the latency and fault random numbers, for repeatable runs. When unset, a random seed. ${FAULTS_DOC}` },
];

export interface CoordinatorBackendConfig {
  /** '' = embedded PGlite under `<data.dir>/coordinator`. */
  url: string;
  password: string | null;
  poolSize: number;
  /** shared_buffers of the embedded PGlite, bytes. */
  embeddedSharedBuffersBytes: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  sslMode: SslMode | null;
  sslRootCert: string | null;
  sslCert: string | null;
  sslKey: string | null;
  commitRetryTimeoutMs: number;
}

export interface FaultConfig {
  latencyProfile: (typeof LATENCY_PROFILE_NAMES)[number];
  errorRate: number;
  burstRate: number;
  burstMs: number;
  hangRate: number;
  operations: ('put' | 'get' | 'delete' | 'list')[];
  seed: number | null;
}

export interface ObjectStoreBackendConfig {
  /** '' = `<data.dir>/objects`. */
  url: string;
  requestTimeoutMs: number;
  s3: {
    region: string | null;
    endpoint: string | null;
    pathStyleAccess: boolean;
    accessKeyId: string | null;
    secretAccessKey: string | null;
    maxAttempts: number;
    connectionTimeoutMs: number;
    maxConnections: number;
  };
  faults: FaultConfig;
}

export interface BackendConfig {
  coordinator: CoordinatorBackendConfig;
  objectStore: ObjectStoreBackendConfig;
}

/**
 * What backendConfig reads of a BrokerConfig: `values` (every key's normalised text, set by loadBrokerConfig;
 * absent on a hand-built config, which gets the table defaults). A BrokerConfig is one; taking only this keeps
 * this file from importing broker-config.ts, which imports it.
 */
export interface BackendConfigSource {
  values?: Readonly<Record<string, string | null>>;
}

/** The backend keys of `config` (a BrokerConfig), typed. Throws on a pair of keys that cannot go together. */
export function backendConfig(config: BackendConfigSource): BackendConfig {
  const get = (key: string): ConfigValue | null => {
    const def = BACKEND_CONFIG_KEYS.find((k) => k.key === key)!;
    const text = config.values ? (config.values[key] ?? null) : def.default;
    return text === null ? null : parseConfigValue(key, def.type, text).value;
  };
  const str = (k: string) => get(k) as string | null;
  const num = (k: string) => get(k) as number;
  const emptyToNull = (s: string | null) => (s === null || s === '' ? null : s);
  const accessKeyId = emptyToNull(str('diskless.s3.access.key.id'));
  const secretAccessKey = emptyToNull(str('diskless.s3.secret.access.key'));
  if ((accessKeyId === null) !== (secretAccessKey === null)) {
    throw new Error('diskless.s3.access.key.id and diskless.s3.secret.access.key must be set together (or neither, for the AWS default credential chain)');
  }
  const seed = get('diskless.object.store.fault.seed') as number | null;
  return {
    coordinator: {
      url: str('diskless.coordinator.url') ?? '',
      password: emptyToNull(str('diskless.coordinator.password')),
      poolSize: num('diskless.coordinator.pool.size'),
      embeddedSharedBuffersBytes: num('diskless.coordinator.embedded.shared.buffers.bytes'),
      statementTimeoutMs: num('diskless.coordinator.statement.timeout.ms'),
      connectTimeoutMs: num('diskless.coordinator.connect.timeout.ms'),
      sslMode: emptyToNull(str('diskless.coordinator.ssl.mode')) as SslMode | null,
      sslRootCert: emptyToNull(str('diskless.coordinator.ssl.root.cert')),
      sslCert: emptyToNull(str('diskless.coordinator.ssl.cert')),
      sslKey: emptyToNull(str('diskless.coordinator.ssl.key')),
      commitRetryTimeoutMs: num('diskless.commit.retry.timeout.ms'),
    },
    objectStore: {
      url: str('diskless.object.store.url') ?? '',
      requestTimeoutMs: num('diskless.object.store.request.timeout.ms'),
      s3: {
        region: emptyToNull(str('diskless.s3.region')),
        endpoint: emptyToNull(str('diskless.s3.endpoint')),
        pathStyleAccess: get('diskless.s3.path.style.access') as boolean,
        accessKeyId,
        secretAccessKey,
        maxAttempts: num('diskless.s3.max.attempts'),
        connectionTimeoutMs: num('diskless.s3.connection.timeout.ms'),
        maxConnections: num('diskless.s3.max.connections'),
      },
      faults: {
        latencyProfile: str('diskless.object.store.latency.profile') as FaultConfig['latencyProfile'],
        errorRate: num('diskless.object.store.fault.error.rate'),
        burstRate: num('diskless.object.store.fault.burst.rate'),
        burstMs: num('diskless.object.store.fault.burst.ms'),
        hangRate: num('diskless.object.store.fault.hang.rate'),
        operations: get('diskless.object.store.fault.operations') as FaultConfig['operations'],
        seed: seed === null ? null : seed,
      },
    },
  };
}
