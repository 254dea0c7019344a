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
import { checkObjectStore, openObjectStore } from '../objectstore/open.ts';
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
import { followCoordinator } from './coherence.ts';
import { Membership } from '../cluster/membership.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { hashString, partitionKey, pickBroker, zoneCandidates } from '../cluster/placement.ts';

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
  /** The consumer groups this broker coordinates (placed by hash over the live brokers). */
  readonly groups: GroupCoordinator;
  /** The listener as clients should reach it; the port is known once listening. */
  advertised: BrokerNode;
  /** Registration, heartbeats and the live brokers. */
  readonly membership: Membership;
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
    const listener = config.advertisedListeners[0] ?? config.listeners[0]!;
    this.advertised = { nodeId: config.nodeId, host: advertisedHost(listener), port: listener.port, rack: config.brokerRack };
    this.membership = new Membership(coordinator, this.advertised, {
      heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
      sessionTimeoutMs: config.brokerSessionTimeoutMs,
    });
    this.groups = new GroupCoordinator(coordinator, { ...groupOptionsFromConfig(config), owns: (groupId) => this.groupCoordinatorOf(groupId).nodeId === config.nodeId });
    this.membership.onChange(() => this.groups.ownershipChanged());
  }

  get nodeId(): number {
    return this.config.nodeId;
  }

  /** The live broker that coordinates a consumer group. */
  groupCoordinatorOf(groupId: string): BrokerNode {
    return pickBroker(this.membership.live(), hashString(groupId)) ?? this.advertised;
  }

  /** The broker leading a classic topic's partitions (recorded at creation; this one when unknown). */
  classicLeader(topic: Topic): number {
    return topic.leaderBrokerId ?? this.config.nodeId;
  }

  /** Live brokers, as Metadata and DescribeCluster report them (by node id). */
  liveBrokers(): readonly BrokerNode[] {
    return this.membership.live();
  }

  /**
   * The error for a request's CurrentLeaderEpoch. Any broker serves a diskless partition, so any epoch is
   * served (the epoch only orders clients' metadata); a newer one than ours means our view of the live
   * brokers is behind: refresh it. A classic partition's epoch is 0.
   */
  leaderEpochError(diskless: boolean, currentLeaderEpoch: number): number {
    if (!diskless) return currentLeaderEpoch > 0 ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.NONE;
    if (currentLeaderEpoch > this.membership.epoch) void this.membership.refresh();
    return ErrorCode.NONE;
  }

  /** For a client of zone `az` not served by this broker: the zone's broker for the partition (else null). */
  preferredReadReplica(az: string, topicId: string, partition: number): number | null {
    const candidates = zoneCandidates(this.membership.live(), az);
    if (candidates.some((b) => b.nodeId === this.config.nodeId)) return null;
    return pickBroker(candidates, partitionKey(hashString(topicId), partition))?.nodeId ?? null;
  }

  /** Kafka clients want a controller id: the live broker with the lowest id. */
  controllerId(): number {
    return this.membership.live()[0]?.nodeId ?? this.config.nodeId;
  }
}

export interface RunningBroker {
  broker: Broker;
  port: number;
  /** Where /metrics is served; null when metrics.listener is empty. */
  metricsPort: number | null;
  close(): Promise<void>;
}

export async function startBroker(configured: BrokerConfig, opts: { loaded?: LoadedBrokerConfig } = {}): Promise<RunningBroker> {
  await mkdir(configured.dataDir, { recursive: true });
  const meta = await readMetaProperties(configured.dataDir);
  const objectStore = openObjectStore(configured);
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
  await broker.classic.start(broker.topics.all().filter((t) => !t.diskless && broker.classicLeader(t) === config.nodeId));

  const listener = config.listeners[0]!;
  const server = new KafkaServer(new RequestDispatcher(broker, HANDLERS), {
    host: listener.host,
    port: listener.port,
    socketRequestMaxBytes: config.socketRequestMaxBytes,
    connectionsMaxIdleMs: config.connectionsMaxIdleMs,
    // A diskless produce waits for its object's commit (hundreds of ms) and librdkafka pipelines many
    // requests per connection, so a low cap makes it send in bursts (fewer, later objects). Memory is
    // bounded by the writer's pending bytes (back-pressure), not by this count.
    maxInFlightRequests: 1000,
    meter: metrics,
  });
  const port = await server.listen();
  if (broker.advertised.port === 0 || broker.advertised.port === listener.port) broker.advertised.port = port;
  try {
    await broker.membership.join();
    await broker.groups.load(); // the groups placed on this broker, now that the live brokers are known
  } catch (err) {
    await broker.groups.shutdown();
    await Promise.allSettled([server.close(), broker.classic.close(), unfollow()]);
    await Promise.allSettled([objectStore.close(), coordinator.close()]);
    throw err;
  }
  broker.groups.start();
  broker.maintenance.start();
  instrumentBroker(broker, server);
  const metricsServer = config.metricsListener ? await startMetricsServer(config.metricsListener, metrics) : null;
  log.info({ host: listener.host || '0.0.0.0', port, metricsPort: metricsServer?.port ?? null, nodeId: config.nodeId, dataDir: config.dataDir, clusterId }, 'Floe broker started');

  let closing: Promise<void> | null = null;
  const close = () => (closing ??= (async () => {
    log.info('shutting down: sealing and committing the open object');
    broker.closing = true;
    broker.storage.waiters.notifyAll();
    await broker.groups.shutdown(); // answers waiting JoinGroup/SyncGroup requests before connections drain
    await broker.membership.leave(); // peers take over this broker's partitions and groups at once
    await Promise.all([server.close(), broker.storage.flush(), metricsServer?.close()]);
    await broker.storage.flush();
    await broker.maintenance.stop();
    await broker.storage.close(); // withdraws unused object-key registrations
    await broker.classic.close();
    await unfollow();
    await objectStore.close();
    await coordinator.close();
    log.info('shut down');
  })());
  return { broker, port, metricsPort: metricsServer?.port ?? null, close };
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
