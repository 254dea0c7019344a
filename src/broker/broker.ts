/**
 * One Floe broker: wires the coordinator, the object store, storage (both kinds of partition), the topic
 * registry, groups, cluster membership and the Kafka listener, and hands the handlers the narrow set of
 * services they use (BrokerServices, handler.ts). `startBroker` is what `floe start` and the tests call;
 * tests observe a running broker through `inspect` (broker-inspection.ts).
 */
import { FetchSessionCache } from './fetch/fetch-session-cache.ts';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrokerConfig, Listener, LoadedBrokerConfig } from '../config/broker-config.ts';
import type { Coordinator, RegisteredBroker } from '../coordinator/coordinator.ts';
import { openCoordinator } from '../coordinator/open.ts';
import { checkObjectStore, openObjectStore } from '../objectstore/open.ts';
import { backendConfig } from '../config/backend-config.ts';
import { parseShareAutoOffsetReset } from '../config/group-config.ts';
import type { ObjectStore } from '../objectstore/object-store.ts';
import type { TLSSocket } from 'node:tls';
import { KafkaServer, type ListenerOptions } from '../network/server.ts';
import type { Connection } from '../network/connection.ts';
import { ThreadedKafkaServer } from '../network/threaded-server.ts';
import { RequestMemoryPool } from '../network/request-memory-pool.ts';
import { SaslAuthenticator } from '../security/sasl-authenticator.ts';
import { AclService } from '../security/acl-service.ts';
import { ClientQuotas } from '../security/quotas.ts';
import type { Authorizer } from '../security/authorizer.ts';
import { certificatePrincipal, secureContextOptions, tlsServerOptions, watchTlsFiles } from '../security/tls.ts';
import type { TlsSettings } from '../config/security-config.ts';
import { Storage } from '../storage/storage.ts';
import { DisklessMaintenance, maintenanceSettings } from '../storage/diskless/maintenance.ts';
import { GroupCoordinator, groupOptionsFromConfig } from '../groups/group-coordinator.ts';
import { ShareGroups, SHARE_GROUP_DEFAULTS } from '../groups/share-groups.ts';
import { childLogger } from '../observability/log.ts';
import { BrokerMetrics } from '../observability/metrics.ts';
import { startMetricsServer } from '../observability/metrics-server.ts';
import { metricsSecurity } from '../config/metrics-config.ts';
import { startConsole } from './broker-console.ts';
import { Membership } from '../cluster/membership.ts';
import { ClusterView } from '../cluster/cluster-view.ts';
import { instrumentBroker, meteredSeams } from './broker-metrics.ts';
import { BrokerInspection } from './broker-inspection.ts';
import { RequestDispatcher } from './dispatch.ts';
import { HANDLERS } from './handlers/index.ts';
import type { AnyHandler, BrokerServices } from './handler.ts';
import { Partitions } from './partitions.ts';
import { TopicAdmin } from './topic-admin.ts';
import { TransactionCoordinator } from './transaction-coordinator.ts';
import { TopicRegistry } from './topics.ts';
import { followCoordinator } from './coherence.ts';
import { DynamicBrokerConfigs } from './dynamic-configs.ts';

const log = childLogger('broker');

export class Broker implements BrokerServices {
  readonly topics: TopicRegistry;
  /** Both kinds of partition (the partition seam), and their long-poll waiters. */
  readonly storage: Storage;
  /** Retention, object cleaner, orphan reaper, log-start refresh (started by startBroker). */
  readonly maintenance: DisklessMaintenance;
  /** The consumer groups this broker coordinates (placed by hash over the live brokers). */
  readonly groups: GroupCoordinator;
  readonly shareGroups: ShareGroups;
  /** The listener as clients should reach it; the port is known once listening. */
  readonly advertised: RegisteredBroker;
  /** Registration, heartbeats and the live brokers. */
  readonly membership: Membership;
  readonly cluster: ClusterView;
  readonly partitions: Partitions;
  readonly fetchSessions: FetchSessionCache;
  readonly admin: TopicAdmin;
  readonly producerIds: Pick<Coordinator, 'initProducerId'>;
  readonly transactions: TransactionCoordinator;
  readonly handlers: readonly AnyHandler[] = HANDLERS;
  readonly sasl: SaslAuthenticator;
  readonly credentials: Pick<Coordinator, 'describeScramCredentials' | 'alterScramCredentials'>;
  readonly acls: AclService;
  readonly authorizer: Authorizer;
  readonly quotas: ClientQuotas;
  readonly brokerConfigs: DynamicBrokerConfigs;
  /** Read-only views of internal state, for tests and tools. */
  readonly inspect: BrokerInspection;

  constructor(
    readonly config: BrokerConfig,
    readonly loadedConfig: LoadedBrokerConfig | undefined,
    readonly clusterId: string,
    readonly coordinator: Coordinator,
    readonly objectStore: ObjectStore,
    readonly metrics: BrokerMetrics = new BrokerMetrics(),
  ) {
    this.topics = new TopicRegistry(coordinator, config);
    this.storage = new Storage(coordinator, objectStore, {
      diskless: {
        brokerId: config.nodeId,
        commitIntervalMs: config.disklessCommitIntervalMs,
        bufferMaxBytes: config.disklessBufferMaxBytes,
        ...(config.disklessBufferMaxPendingBytes !== undefined ? { maxPendingBytes: config.disklessBufferMaxPendingBytes } : {}),
        idleSealMs: config.disklessBufferIdleMs ?? 0,
        ...(config.disklessBufferIdleMinBytes !== undefined ? { idleSealMinBytes: config.disklessBufferIdleMinBytes } : {}),
        // A local folder is never hedged: a second write to the same disk only lengthens its queue.
        uploadHedgePercentile: backendConfig(config).objectStore.url.startsWith('s3://') ? config.disklessUploadHedgePercentile ?? 0 : 0,
        cacheMaxBytes: config.disklessCacheMaxBytes,
        laggingCacheMaxBytes: config.disklessLaggingCacheMaxBytes,
        readAheadBytes: config.disklessFetchReadAheadBytes,
        coalesceGapBytes: config.disklessFetchCoalesceGapBytes,
        maxGetBytes: config.disklessFetchMaxGetBytes,
        maxConcurrentGets: config.disklessFetchMaxConcurrentGets,
        commitRetryTimeoutMs: backendConfig(config).coordinator.commitRetryTimeoutMs,
        orphanMinAgeMs: maintenanceSettings(config).orphanMinAgeMs,
      },
      classic: {
        brokerId: config.nodeId,
        logDirs: config.logDirs ?? [join(config.dataDir, 'logs')],
        retentionCheckIntervalMs: config.logRetentionCheckIntervalMs ?? 300_000,
        topicConfig: (topicId) => this.topics.getById(topicId)?.config,
        producerIdExpirationMs: config.producerIdExpirationMs,
        cleaner: {
          enabled: config.logCleanerEnable ?? true,
          threads: config.logCleanerThreads ?? 1,
          dedupeBufferBytes: config.logCleanerDedupeBufferSize ?? 134_217_728,
          backoffMs: config.logCleanerBackoffMs ?? 15_000,
        },
      },
    });
    this.maintenance = new DisklessMaintenance(coordinator, objectStore, this.storage.diskless, {
      brokerId: config.nodeId,
      config,
      uploadAndCommitMs: backendConfig(config).objectStore.requestTimeoutMs + backendConfig(config).coordinator.commitRetryTimeoutMs,
    });
    const listener = config.advertisedListeners[0] ?? config.listeners[0]!;
    const endpoints: Record<string, { host: string; port: number }> = {};
    for (const l of config.advertisedListeners) endpoints[l.name] = { host: advertisedHost(l), port: l.port };
    this.advertised = { nodeId: config.nodeId, host: advertisedHost(listener), port: listener.port, rack: config.brokerRack, endpoints };
    this.membership = new Membership(coordinator, this.advertised, {
      heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
      sessionTimeoutMs: config.brokerSessionTimeoutMs,
    });
    this.cluster = new ClusterView(this.membership, clusterId);
    this.groups = new GroupCoordinator(coordinator, {
      ...groupOptionsFromConfig(config),
      owns: (groupId) => this.cluster.groupCoordinator(groupId).nodeId === config.nodeId,
      topics: this.topics,
    });
    this.membership.onChange(() => this.groups.ownershipChanged());
    const shareValue = (key: string, fallback: number): number => {
      const v = config.values?.[key];
      return v === undefined || v === null ? fallback : Number(v);
    };
    this.shareGroups = new ShareGroups(coordinator, {
      sessionTimeoutMs: shareValue('group.share.session.timeout.ms', SHARE_GROUP_DEFAULTS.sessionTimeoutMs),
      heartbeatIntervalMs: shareValue('group.share.heartbeat.interval.ms', SHARE_GROUP_DEFAULTS.heartbeatIntervalMs),
      maxSize: shareValue('group.share.max.size', SHARE_GROUP_DEFAULTS.maxSize),
      recordLockDurationMs: shareValue('group.share.record.lock.duration.ms', SHARE_GROUP_DEFAULTS.recordLockDurationMs),
      groupRecordLockDurationMs: (groupId) => this.groups.configs.ownInt(groupId, 'share.record.lock.duration.ms'),
      deliveryCountLimit: shareValue('group.share.delivery.count.limit', SHARE_GROUP_DEFAULTS.deliveryCountLimit),
      // share.auto.offset.reset and share.isolation.level, per-group configs (GROUP resources), read at each share fetch.
      autoOffsetReset: (groupId) => parseShareAutoOffsetReset(this.groups.configs.value(groupId, 'share.auto.offset.reset')) ?? { type: 'latest' },
      readCommitted: (groupId) => this.groups.configs.value(groupId, 'share.isolation.level') === 'read_committed',
      topics: this.topics,
    });
    this.partitions = new Partitions(this.storage, this.cluster, coordinator);
    this.fetchSessions = new FetchSessionCache(config.maxIncrementalFetchSessionCacheSlots);
    this.admin = new TopicAdmin(this.topics, coordinator, this.storage, config, this.cluster);
    this.producerIds = coordinator;
    this.transactions = new TransactionCoordinator(coordinator.transactions, this.topics, this.partitions, {
      maxTimeoutMs: config.transactionMaxTimeoutMs ?? 900_000,
      abortTimedOutIntervalMs: config.transactionAbortTimedOutIntervalMs ?? 10_000,
      markerRetryIntervalMs: config.transactionMarkerRetryIntervalMs ?? 1_000,
      idExpirationMs: config.transactionalIdExpirationMs ?? 604_800_000,
    }, (channel, onPayload, onResync) => coordinator.listen(channel, onPayload, onResync));
    this.credentials = coordinator;
    const security = config.security;
    this.acls = new AclService({
      enabled: security?.authorizerEnabled ?? false,
      superUsers: security?.superUsers ?? [],
      allowEveryoneIfNoAclFound: security?.allowEveryoneIfNoAclFound ?? false,
    }, coordinator);
    this.authorizer = this.acls.authorizer;
    this.quotas = new ClientQuotas(coordinator, { sampleMs: (config.quotaWindowSizeSeconds ?? 1) * 1000, numSamples: config.quotaWindowNum ?? 11 });
    this.sasl = new SaslAuthenticator(config.security, (user, mechanism) => coordinator.scramCredential(user, mechanism), config.connectionFailedAuthenticationDelayMs ?? 100,
      (listener, mechanism, reason) => log.info({ listener, mechanism, reason }, 'SASL authentication failed'));
    this.inspect = new BrokerInspection(this.storage, this.membership);
    this.brokerConfigs = new DynamicBrokerConfigs(config, loadedConfig, coordinator, (message) => log.error(message));
    this.brokerConfigs.onApplied(() => {
      this.topics.reresolve(); // inherited topic configs (retention, max.message.bytes, segment sizes, …)
      this.storage.classic.cleaner.reconfigure({
        threads: config.logCleanerThreads ?? 1,
        dedupeBufferBytes: config.logCleanerDedupeBufferSize ?? 134_217_728,
        backoffMs: config.logCleanerBackoffMs ?? 15_000,
      });
    });
  }

  get nodeId(): number {
    return this.config.nodeId;
  }
}

export interface RunningBroker {
  broker: Broker;
  port: number;
  /** Where /metrics is served; null when metrics.listener is empty. */
  metricsPort: number | null;
  /** The bound port of every listener, by name. */
  ports: Readonly<Record<string, number>>;
  /** Where the web console is served; null when console.listener is empty. */
  consolePort?: number | null;
  close(): Promise<void>;
}

export async function startBroker(configured: BrokerConfig, opts: { loaded?: LoadedBrokerConfig } = {}): Promise<RunningBroker> {
  // A metrics endpoint that cannot be served fails the start before anything is opened.
  if (configured.metricsListener) metricsSecurity(configured.metricsListener, configured);
  await mkdir(configured.dataDir, { recursive: true });
  const meta = await readMetaProperties(configured.dataDir);
  const objectStore = await openObjectStore(configured);
  await checkObjectStore(configured, objectStore).catch(async (err: unknown) => {
    await objectStore.close().catch(() => undefined);
    throw err;
  });
  const coordinator = await openCoordinator(configured).catch(async (err: unknown) => {
    await objectStore.close().catch(() => undefined);
    throw err;
  });
  let config: BrokerConfig;
  let clusterId: string;
  try {
    clusterId = await resolveClusterId(configured, meta, coordinator);
    config = { ...configured, nodeId: await resolveNodeId(configured, meta, coordinator) };
    if (meta.get('cluster.id') !== clusterId || meta.get('node.id') !== String(config.nodeId)) {
      await writeMetaProperties(configured.dataDir, { 'cluster.id': clusterId, 'node.id': String(config.nodeId) });
    }
  } catch (err) {
    await Promise.allSettled([objectStore.close(), coordinator.close()]);
    throw err;
  }
  const metrics = new BrokerMetrics();
  const metered = meteredSeams(metrics, coordinator, objectStore);
  const broker = new Broker(config, opts.loaded, clusterId, metered.coordinator, metered.objectStore, metrics);
  const unfollow = await followCoordinator(broker); // other brokers' commits and topic changes
  await broker.topics.load();
  await broker.acls.start();
  await broker.brokerConfigs.start();
  await broker.quotas.start();
  await broker.storage.classic.start(broker.topics.all().filter((t) => !t.diskless && broker.cluster.classicLeader(t) === config.nodeId));

  const dispatcher = new RequestDispatcher(broker, broker.storage, metrics);
  const servers: (KafkaServer | ThreadedKafkaServer)[] = [];
  const requestMemory = new RequestMemoryPool(config.queuedMaxRequestBytes ?? -1);
  const stopWatching: (() => void)[] = [];
  const ports: Record<string, number> = {};
  try {
    for (const listener of config.listeners) {
      const security = config.security?.listeners[listener.name];
      const listenerOptions = {
        host: listener.host,
        port: listener.port,
        listener: { name: listener.name, securityProtocol: listener.securityProtocol },
        ...(security?.tls ? { tls: tlsServerOptions(security.tls) } : {}),
        socketRequestMaxBytes: config.socketRequestMaxBytes,
        connectionsMaxIdleMs: config.connectionsMaxIdleMs,
        // A diskless produce waits for its object's commit (hundreds of ms) and librdkafka pipelines many
        // requests per connection, so a low cap makes it send in bursts (fewer, later objects). Memory is
        // bounded by bytes (queued.max.request.bytes, and the writer's pending bytes), not by this count.
        maxInFlightRequests: 1000,
        requestMemory,
        meter: metrics,
        onConnection: (conn: Connection) => {
          // SSL listeners: the principal is the client certificate's (SASL_SSL: SASL decides).
          if (listener.securityProtocol === 'SSL' && security?.tls) conn.principal = certificatePrincipal(conn.socket as TLSSocket, security.tls.principalMappingRules) ?? 'User:ANONYMOUS';
        },
        onTlsError: (err: Error, remote: string | undefined) => log.info({ listener: listener.name, remote, reason: err.message }, 'TLS handshake failed'),
      } satisfies ListenerOptions;
      const threads = config.numNetworkThreads ?? 0;
      // SASL listeners stay on the main thread too: a raw SASL token's 512 KiB cap is checked on its size
      // header, before its body is read, which only Connection (on the main thread) can do.
      const server = threads > 0 && listener.securityProtocol === 'PLAINTEXT'
        ? new ThreadedKafkaServer(dispatcher, { ...listenerOptions, threads, onFatal: (reason) => {
          // The listener lost a thread: stop the broker the way a signal does (seal, commit, close).
          log.error({ listener: listener.name, reason }, 'network thread lost; shutting down');
          process.kill(process.pid, 'SIGTERM');
        } })
        : new KafkaServer(dispatcher, listenerOptions);
      servers.push(server);
      ports[listener.name] = await server.listen();
      if (security?.tls) {
        let stop = () => {};
        const watch = (tls: TlsSettings) => {
          stop();
          stop = watchTlsFiles(tls, (options) => {
            server.setSecureContext(options);
            log.info({ listener: listener.name }, 'TLS key and certificates reloaded');
          }, (err) => log.error({ listener: listener.name, err: err.message }, 'TLS files changed but cannot be used; keeping the previous ones'));
        };
        watch(security.tls);
        stopWatching.push(() => stop());
        // A dynamic key or trust store (IncrementalAlterConfigs on this broker): new connections use it.
        broker.brokerConfigs.onTlsChange(listener.name, (tls) => {
          try {
            server.setSecureContext(secureContextOptions(tls));
            watch(tls);
            log.info({ listener: listener.name }, 'TLS key and certificates changed dynamically');
          } catch (err) {
            log.error({ listener: listener.name, err: (err as Error).message }, 'dynamic TLS key or trust store cannot be used; keeping the previous ones');
          }
        });
      }
    }
  } catch (err) {
    await Promise.allSettled(servers.map((s) => s.close()));
    await Promise.allSettled([broker.storage.classic.close(), unfollow(), objectStore.close(), coordinator.close()]);
    throw err;
  }
  const listener = config.listeners[0]!;
  const port = ports[listener.name]!;
  // Advertised listeners on port 0 (or on the port configured to bind) get the port actually bound.
  for (const [name, e] of Object.entries(broker.advertised.endpoints ?? {})) {
    const bound = config.listeners.find((l) => l.name === name);
    if (bound && (e.port === 0 || e.port === bound.port)) (e as { port: number }).port = ports[name]!;
  }
  const first = config.advertisedListeners[0] ?? listener;
  const firstBound = config.listeners.find((l) => l.name === first.name) ?? listener;
  if (broker.advertised.port === 0 || broker.advertised.port === firstBound.port) broker.advertised.port = ports[firstBound.name] ?? port;
  const server = { close: () => Promise.all(servers.map((s) => s.close())).then(() => undefined) };
  try {
    await broker.membership.join();
    await broker.groups.configs.start();
    await broker.groups.load(); // the groups placed on this broker, now that the live brokers are known
  } catch (err) {
    await broker.groups.shutdown();
    await Promise.allSettled([server.close(), broker.storage.classic.close(), unfollow()]);
    await Promise.allSettled([objectStore.close(), coordinator.close()]);
    throw err;
  }
  broker.groups.start();
  broker.maintenance.start();
  broker.transactions.start();
  instrumentBroker(broker, servers, requestMemory);
  const metricsServer = config.metricsListener
    ? await startMetricsServer(config.metricsListener, metrics, metricsSecurity(config.metricsListener, config),
      (err) => log.error({ err: err.message }, 'metrics TLS files changed but cannot be used; keeping the previous ones'))
    : null;
  if (metricsServer && config.metricsListener?.startsWith('http:') && metricsSecurity(config.metricsListener, config).basicAuthUsers.size > 0) {
    log.warn('metrics.basic.auth.users is set on an http:// metrics.listener: passwords cross the network in clear (use https://)');
  }
  const consoleServer = await startConsole(config, { ports, objects: coordinator, credentials: coordinator, metrics: metrics.registry, authorizer: broker.authorizer });
  log.info({ host: listener.host || '0.0.0.0', port, metricsPort: metricsServer?.port ?? null, nodeId: config.nodeId, dataDir: config.dataDir, clusterId }, 'Floe broker started');

  let closing: Promise<void> | null = null;
  const close = () => (closing ??= (async () => {
    for (const stop of stopWatching) stop();
    log.info('shutting down: sealing and committing the open object');
    broker.storage.stopWaiting();
    await broker.groups.shutdown(); // answers waiting JoinGroup/SyncGroup requests before connections drain
    await broker.membership.leave(); // peers take over this broker's partitions and groups at once
    await consoleServer?.close();
    await Promise.all([server.close(), broker.storage.diskless.flush(), metricsServer?.close()]);
    await broker.storage.diskless.flush();
    await broker.maintenance.stop();
    await broker.transactions.stop();
    await broker.storage.close(); // withdraws unused object-key registrations, closes the classic logs cleanly
    await unfollow();
    await broker.acls.stop();
    await broker.brokerConfigs.stop();
    await broker.groups.configs.stop();
    await broker.quotas.stop();
    await objectStore.close();
    await coordinator.close();
    log.info('shut down');
  })());
  return { broker, port, ports, metricsPort: metricsServer?.port ?? null, consolePort: consoleServer?.port ?? null, close };
}

function advertisedHost(listener: Listener): string {
  return listener.host === '' || listener.host === '0.0.0.0' || listener.host === '::' ? 'localhost' : listener.host;
}

/**
 * Brokers sharing a coordinator are one cluster with one id, kept in the coordinator: the first broker's
 * (cluster.id, else the one in meta.properties, else a new one) is stored; the others adopt it.
 */
async function resolveClusterId(config: BrokerConfig, meta: Map<string, string>, coordinator: Coordinator): Promise<string> {
  const proposed = config.clusterId ?? meta.get('cluster.id') ?? randomBytes(16).toString('base64url');
  const clusterId = await coordinator.clusterId(proposed);
  if (config.clusterId !== null && config.clusterId !== clusterId) {
    throw new Error(`cluster.id ${config.clusterId} does not match the cluster id ${clusterId} of the brokers sharing this coordinator; remove cluster.id or set it to ${clusterId}`);
  }
  const kept = meta.get('cluster.id');
  if (kept !== undefined && kept !== clusterId) log.warn({ dataDir: config.dataDir, kept, clusterId }, 'data.dir was written for another cluster id; adopting the coordinator\'s');
  return clusterId;
}

/** node.id when configured; else the one kept in meta.properties; else a new one from the coordinator. */
async function resolveNodeId(config: BrokerConfig, meta: Map<string, string>, coordinator: Coordinator): Promise<number> {
  if (config.nodeId >= 0) return config.nodeId;
  const kept = Number(meta.get('node.id'));
  if (meta.has('node.id') && Number.isInteger(kept) && kept >= 0) return kept;
  const allocated = await coordinator.allocateNodeId();
  log.info({ nodeId: allocated }, 'node.id not set: allocated one (kept in meta.properties)');
  return allocated;
}

/** Like Kafka's meta.properties: the cluster id and the node id, made once and kept with the data. */
async function readMetaProperties(dataDir: string): Promise<Map<string, string>> {
  const props = new Map<string, string>();
  try {
    for (const line of (await readFile(join(dataDir, 'meta.properties'), 'utf8')).split('\n')) {
      const m = /^([\w.]+)=(.*)$/.exec(line.trim());
      if (m) props.set(m[1]!, m[2]!.trim());
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return props;
}

async function writeMetaProperties(dataDir: string, props: Record<string, string>): Promise<void> {
  const path = join(dataDir, 'meta.properties');
  const lines = Object.entries(props).map(([k, v]) => `${k}=${v}`);
  await writeFile(`${path}.tmp`, `# Written by Floe\nversion=1\n${lines.join('\n')}\n`);
  await rename(`${path}.tmp`, path);
}
