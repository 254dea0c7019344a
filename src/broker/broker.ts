/**
 * One Floe broker: wires the coordinator, the object store, diskless storage, the topic registry and the
 * Kafka listener. `startBroker` is what `floe start` and the tests call.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrokerConfig, Listener, LoadedBrokerConfig } from '../config/broker-config.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { openCoordinator } from '../coordinator/open.ts';
import { openObjectStore } from '../objectstore/open.ts';
import { backendConfig } from '../config/backend-config.ts';
import type { ObjectStore } from '../objectstore/object-store.ts';
import { KafkaServer } from '../network/server.ts';
import { DisklessStorage } from '../storage/diskless/diskless-storage.ts';
import { DisklessMaintenance, maintenanceSettings } from '../storage/diskless/maintenance.ts';
import { ClassicStorage } from '../storage/classic/classic-storage.ts';
import { GroupCoordinator, groupOptionsFromConfig } from '../groups/group-coordinator.ts';
import { childLogger } from '../observability/log.ts';
import { BrokerMetrics } from '../observability/metrics.ts';
import { instrumentBroker, meteredSeams } from '../observability/broker-metrics.ts';
import { startMetricsServer } from '../observability/metrics-server.ts';
import { RequestDispatcher } from './dispatch.ts';
import { HANDLERS } from './handlers/index.ts';
import type { AnyHandler } from './handler.ts';
import { TopicRegistry, type Topic } from './topics.ts';

const log = childLogger('broker');

export interface BrokerNode {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export class Broker {
  readonly topics: TopicRegistry;
  readonly storage: DisklessStorage;
  /** Retention, object cleaner, orphan reaper, log-start refresh (started by startBroker). */
  readonly maintenance: DisklessMaintenance;
  /** The local logs of the classic partitions this broker leads. */
  readonly classic: ClassicStorage;
  /** The consumer groups this broker coordinates (all of them, for now). */
  readonly groups: GroupCoordinator;
  /** The listener as clients should reach it; the port is known once listening. */
  advertised: BrokerNode;
  /** The Kafka APIs this broker serves (ApiVersions reports them). */
  readonly handlers: readonly AnyHandler[] = HANDLERS;
  /** Set when shutdown begins: long polls answer at once. */
  closing = false;

  constructor(
    readonly config: BrokerConfig,
    readonly loaded: LoadedBrokerConfig | undefined,
    readonly clusterId: string,
    readonly coordinator: Coordinator,
    readonly objectStore: ObjectStore,
    readonly metrics: BrokerMetrics = new BrokerMetrics(),
  ) {
    this.topics = new TopicRegistry(coordinator, config);
    this.storage = new DisklessStorage(coordinator, objectStore, {
      brokerId: config.nodeId,
      commitIntervalMs: config.disklessCommitIntervalMs,
      bufferMaxBytes: config.disklessBufferMaxBytes,
      cacheMaxBytes: config.disklessCacheMaxBytes,
      commitRetryTimeoutMs: backendConfig(config).coordinator.commitRetryTimeoutMs,
      orphanMinAgeMs: maintenanceSettings(config).orphanMinAgeMs,
    });
    this.maintenance = new DisklessMaintenance(coordinator, objectStore, this.storage, {
      brokerId: config.nodeId,
      config,
      uploadAndCommitMs: backendConfig(config).objectStore.requestTimeoutMs + backendConfig(config).coordinator.commitRetryTimeoutMs,
    });
    this.classic = new ClassicStorage({
      brokerId: config.nodeId,
      logDirs: config.logDirs ?? [join(config.dataDir, 'logs')],
      retentionCheckIntervalMs: config.logRetentionCheckIntervalMs ?? 300_000,
      topicConfig: (topicId) => this.topics.getById(topicId)?.config,
      onVisible: (key) => this.storage.waiters.notify([key]),
      producerIdExpirationMs: config.producerIdExpirationMs,
    });
    this.groups = new GroupCoordinator(coordinator, groupOptionsFromConfig(config));
    const listener = config.advertisedListeners[0] ?? config.listeners[0]!;
    this.advertised = { nodeId: config.nodeId, host: advertisedHost(listener), port: listener.port, rack: config.brokerRack };
  }

  /** The broker leading a classic topic's partitions (recorded at creation; this one when unknown). */
  classicLeader(topic: Topic): number {
    return topic.leaderBrokerId ?? this.config.nodeId;
  }

  /** Live brokers, as Metadata and DescribeCluster report them. One for now. */
  liveBrokers(): BrokerNode[] {
    return [this.advertised];
  }
}

export interface RunningBroker {
  broker: Broker;
  port: number;
  /** Where /metrics is served; null when metrics.listener is empty. */
  metricsPort: number | null;
  close(): Promise<void>;
}

export async function startBroker(config: BrokerConfig, opts: { loaded?: LoadedBrokerConfig } = {}): Promise<RunningBroker> {
  await mkdir(config.dataDir, { recursive: true });
  const clusterId = config.clusterId ?? (await loadOrCreateClusterId(config.dataDir));
  const objectStore = openObjectStore(config);
  const coordinator = await openCoordinator(config).catch(async (err: unknown) => {
    await objectStore.close().catch(() => undefined);
    throw err;
  });
  const metrics = new BrokerMetrics();
  const metered = meteredSeams(metrics, coordinator, objectStore);
  const broker = new Broker(config, opts.loaded, clusterId, metered.coordinator, metered.objectStore, metrics);
  await broker.topics.load();
  await broker.classic.start(broker.topics.all().filter((t) => !t.diskless && broker.classicLeader(t) === config.nodeId));
  await broker.groups.load();

  const listener = config.listeners[0]!;
  const server = new KafkaServer(new RequestDispatcher(broker, HANDLERS), {
    host: listener.host,
    port: listener.port,
    socketRequestMaxBytes: config.socketRequestMaxBytes,
    connectionsMaxIdleMs: config.connectionsMaxIdleMs,
    maxInFlightRequests: 64,
    meter: metrics,
  });
  const port = await server.listen();
  broker.groups.start();
  broker.maintenance.start();
  instrumentBroker(broker, server);
  const metricsServer = config.metricsListener ? await startMetricsServer(config.metricsListener, metrics) : null;
  if (broker.advertised.port === 0 || broker.advertised.port === listener.port) broker.advertised.port = port;
  log.info({ host: listener.host || '0.0.0.0', port, metricsPort: metricsServer?.port ?? null, nodeId: config.nodeId, dataDir: config.dataDir, clusterId }, 'Floe broker started');

  let closing: Promise<void> | null = null;
  const close = () => (closing ??= (async () => {
    log.info('shutting down: sealing and committing the open object');
    broker.closing = true;
    broker.storage.waiters.notifyAll();
    await broker.groups.shutdown(); // answers waiting JoinGroup/SyncGroup requests before connections drain
    await Promise.all([server.close(), broker.storage.flush(), metricsServer?.close()]);
    await broker.storage.flush();
    await broker.maintenance.stop();
    await broker.storage.close(); // withdraws unused object-key registrations
    await broker.classic.close();
    await objectStore.close();
    await coordinator.close();
    log.info('shut down');
  })());
  return { broker, port, metricsPort: metricsServer?.port ?? null, close };
}

function advertisedHost(listener: Listener): string {
  return listener.host === '' || listener.host === '0.0.0.0' || listener.host === '::' ? 'localhost' : listener.host;
}

/** Like Kafka's meta.properties: the cluster id is made once and kept with the data. */
async function loadOrCreateClusterId(dataDir: string): Promise<string> {
  const path = join(dataDir, 'meta.properties');
  try {
    const text = await readFile(path, 'utf8');
    const match = /^cluster\.id=(.+)$/m.exec(text);
    if (match) return match[1]!.trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomBytes(16).toString('base64url');
  await writeFile(`${path}.tmp`, `# Written by Floe\nversion=1\ncluster.id=${id}\n`);
  await rename(`${path}.tmp`, path);
  return id;
}
