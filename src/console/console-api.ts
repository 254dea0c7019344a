/**
 * The console's JSON API. It reads the cluster as any Kafka client would, through the broker's own Kafka
 * listener (AdminClient: metadata, configs, log-dir sizes, group lag, fetch), so every broker shows the
 * whole cluster; objects come from the coordinator and request counts (for cost and throughput) from this
 * broker's metrics registry. Writes are refused unless console.write.enable is set.
 *
 * On a secured broker there is one ConsoleApi per login session (console-sessions.ts): its admin client is
 * logged in as the session's user, so the broker authorizes every Kafka request as that principal, and
 * `access` checks what is read outside the Kafka protocol (objects, cost: DESCRIBE on the cluster).
 */
import { CONFIG_DELETE, CONFIG_SET, EARLIEST, LATEST, RESOURCE_TOPIC, type TopicPartitionOffset } from '../client/admin-client.ts';
import { describeLag } from '../client/group-lag.ts';
import type { ConsoleConfig } from '../config/console-config.ts';
import type { ObjectEntry, ObjectUsage } from '../coordinator/object-inventory.ts';
import type { AdminClient } from '../client/admin-client.ts';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/authorizer.ts';

/** Who uses a session's API, and the broker's authorizer for what the console reads outside Kafka. */
export interface ConsoleAccess {
  principal: string;
  authorize(resourceType: number, name: string, operation: number): boolean;
}

/** What the console reads of the coordinator. */
export interface ObjectInventory {
  listObjects(limit: number): Promise<ObjectEntry[]>;
  objectUsage(): Promise<ObjectUsage>;
}

/** Counters as prom-client's registry reports them. */
export interface MetricsSource {
  getMetricsAsJSON(): Promise<{ name: string; values: { value: number; labels: Partial<Record<string, string | number>> }[] }[]>;
}

/** An error the API answers with an HTTP status and a message (Kafka errors keep their names). */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const GIB = 1024 ** 3;

export class ConsoleApi {
  private admin: Promise<AdminClient> | null = null;

  constructor(
    private readonly connect: () => Promise<AdminClient>,
    private readonly objects: ObjectInventory | null,
    private readonly metrics: MetricsSource,
    private readonly config: ConsoleConfig,
    private readonly access: ConsoleAccess | null = null,
  ) {}

  /** Refuses a principal without DESCRIBE on the cluster (secured brokers only), as Kafka's cluster-wide reads do. */
  private requireClusterDescribe(): void {
    if (this.access && !this.access.authorize(ResourceType.CLUSTER, CLUSTER_NAME, AclOperation.DESCRIBE)) {
      throw new ApiError(403, `CLUSTER_AUTHORIZATION_FAILED: ${this.access.principal} is not allowed to DESCRIBE the cluster`);
    }
  }

  close(): void {
    this.admin?.then((a) => a.close(), () => {});
    this.admin = null;
  }

  /** Runs `f` with the admin client; a broken connection is dropped so the next call reconnects. */
  private async withAdmin<T>(f: (a: AdminClient) => Promise<T>): Promise<T> {
    if (this.admin === null) {
      this.admin = this.connect();
      this.admin.catch(() => { this.admin = null; });
    }
    const admin = await this.admin;
    try {
      return await f(admin);
    } catch (err) {
      if ((err as Error).constructor.name === 'ConnectionError') this.close();
      throw err;
    }
  }

  async cluster(): Promise<unknown> {
    return this.withAdmin(async (a) => {
      const md = await a.metadata([]);
      const counters = await this.counters();
      return {
        clusterId: md.clusterId,
        controllerId: md.controllerId,
        brokers: md.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })).sort((x, y) => x.nodeId - y.nodeId),
        writeEnabled: this.config.writeEnable,
        user: this.access?.principal ?? null,
        // this broker's totals; the page turns successive samples into rates
        thisBroker: { bytesIn: counters.bytesIn, bytesOut: counters.bytesOut, requests: counters.requests },
        sampledAtMs: Date.now(),
      };
    });
  }

  async topics(): Promise<unknown> {
    return this.withAdmin(async (a) => {
      const md = await a.metadata(null);
      const names = md.topics.filter((t) => t.errorCode === 0).map((t) => t.name!).sort();
      const [configs, sizes] = await Promise.all([a.describeTopicConfigs(names), a.topicSizes().catch(() => new Map<string, bigint>())]);
      return md.topics.filter((t) => t.errorCode === 0).sort((x, y) => x.name!.localeCompare(y.name!)).map((t) => {
        const c = new Map((configs.get(t.name!) ?? []).map((x) => [x.name, x.value]));
        return {
          name: t.name,
          kind: c.get('diskless.enable') === 'false' ? 'classic' : 'diskless',
          partitions: t.partitions.length,
          replicationFactor: t.partitions[0]?.replicaNodes.length ?? 0,
          sizeBytes: Number(sizes.get(t.name!) ?? 0n),
          cleanupPolicy: c.get('cleanup.policy') ?? null,
          retentionMs: c.get('retention.ms') ?? null,
          retentionBytes: c.get('retention.bytes') ?? null,
        };
      });
    });
  }

  async topic(name: string): Promise<unknown> {
    return this.withAdmin(async (a) => {
      const t = await a.topic(name);
      const [configs, earliest, latest] = await Promise.all([a.describeConfigs(RESOURCE_TOPIC, name), a.listOffsets(t, EARLIEST), a.listOffsets(t, LATEST)]);
      return {
        name,
        topicId: t.topicId,
        partitions: t.partitions.sort((x, y) => x.partitionIndex - y.partitionIndex).map((p) => ({
          partition: p.partitionIndex, leader: p.leaderId, replicas: p.replicaNodes, isr: p.isrNodes,
          startOffset: Number(earliest.get(p.partitionIndex) ?? 0n), endOffset: Number(latest.get(p.partitionIndex) ?? 0n),
        })),
        configs: configs.sort((x, y) => x.name.localeCompare(y.name)).map((c) => ({ name: c.name, value: c.isSensitive ? null : c.value, source: c.configSource, readOnly: c.readOnly })),
      };
    });
  }

  /**
   * Records of one partition from `offset`, or from the first record at or after `timestamp` (ms; ListOffsets
   * by timestamp, as Kafka's offsetsForTimes), else the last `limit`; bytes as base64.
   */
  async messages(name: string, partition: number, offset: bigint | null, limit: number, timestamp: bigint | null = null): Promise<unknown> {
    return this.withAdmin(async (a) => {
      const t = await a.topic(name);
      const [earliest, latest, atTime] = await Promise.all([a.listOffsets(t, EARLIEST), a.listOffsets(t, LATEST), timestamp === null ? null : a.listOffsets(t, timestamp)]);
      const lo = earliest.get(partition);
      const hi = latest.get(partition);
      if (lo === undefined || hi === undefined) throw new ApiError(404, `partition ${name}-${partition}: UNKNOWN_TOPIC_OR_PARTITION`);
      // No record at or after the timestamp: ListOffsets answers -1; show nothing (start at the end).
      const byTime = atTime === null ? null : (atTime.get(partition) ?? -1n) < 0n ? hi : atTime.get(partition)!;
      let from = byTime ?? offset ?? (hi - BigInt(limit) > lo ? hi - BigInt(limit) : lo);
      if (from < lo) from = lo;
      const records = from >= hi ? [] : (await a.fetchRecords(t, partition, from, limit)).records;
      const b64 = (b: Buffer | null) => (b === null ? null : b.toString('base64'));
      return {
        topic: name, partition, startOffset: Number(lo), endOffset: Number(hi), from: Number(from), timestamp: timestamp === null ? null : Number(timestamp),
        records: records.map((r) => ({ offset: Number(r.offset), timestamp: Number(r.timestamp), key: b64(r.key), value: b64(r.value), headers: r.headers.map((h) => ({ key: h.key, value: b64(h.value) })) })),
      };
    });
  }

  async groups(): Promise<unknown> {
    return this.withAdmin(async (a) => (await a.listGroups()).map((g) => ({ groupId: g.groupId, state: g.groupState, protocolType: g.protocolType })));
  }

  async group(groupId: string): Promise<unknown> {
    return this.withAdmin(async (a) => {
      const [lag, desc] = await Promise.all([describeLag(a, groupId), a.describeGroup(groupId)]);
      const num = (v: bigint | null) => (v === null ? null : Number(v));
      return {
        groupId, state: desc.state, protocolType: desc.protocolType, protocol: desc.protocol,
        members: desc.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, host: m.clientHost, assignment: m.assignment })),
        partitions: lag.partitions.map((p) => ({ ...p, currentOffset: num(p.currentOffset), logEndOffset: Number(p.logEndOffset), lag: num(p.lag) })),
        totalLag: lag.partitions.reduce((n, p) => n + Number(p.lag ?? 0n), 0),
      };
    });
  }

  async objectsView(): Promise<unknown> {
    this.requireClusterDescribe();
    if (this.objects === null) throw new ApiError(404, 'no coordinator');
    const [usage, list] = await Promise.all([this.objects.objectUsage(), this.objects.listObjects(200)]);
    return { usage, objects: list };
  }

  async cost(): Promise<unknown> {
    this.requireClusterDescribe();
    const c = await this.counters();
    const stored = this.objects ? (await this.objects.objectUsage()).bytes : 0;
    const puts = (c.ops.put ?? 0) + (c.ops.list ?? 0);
    const gets = c.ops.get ?? 0;
    const p = this.config;
    return {
      prices: { putPer1000: p.putPer1000, getPer1000: p.getPer1000, storagePerGibMonth: p.storagePerGibMonth },
      sinceStart: { puts, gets, deletes: c.ops.delete ?? 0, putCost: (puts / 1000) * p.putPer1000, getCost: (gets / 1000) * p.getPer1000 },
      storage: { bytes: stored, perMonth: (stored / GIB) * p.storagePerGibMonth },
      uptimeSeconds: process.uptime(),
    };
  }

  // ---- writes (console.write.enable)

  private requireWrite(): void {
    if (!this.config.writeEnable) throw new ApiError(403, 'the console is read-only (set console.write.enable=true to allow changes)');
  }

  async createTopic(body: { name?: unknown; partitions?: unknown; configs?: unknown }): Promise<unknown> {
    this.requireWrite();
    if (typeof body.name !== 'string' || body.name === '') throw new ApiError(400, 'name is required');
    const partitions = body.partitions === undefined ? -1 : Number(body.partitions);
    if (!Number.isInteger(partitions) || (partitions < 1 && partitions !== -1)) throw new ApiError(400, 'partitions must be a positive integer');
    const configs = (body.configs ?? {}) as Record<string, string>;
    return this.withAdmin((a) => a.createTopic(body.name as string, partitions, -1, configs));
  }

  async deleteTopic(name: string): Promise<unknown> {
    this.requireWrite();
    await this.withAdmin((a) => a.deleteTopic(name));
    return { deleted: name };
  }

  async alterTopicConfigs(name: string, body: { set?: Record<string, string>; delete?: string[] }): Promise<unknown> {
    this.requireWrite();
    const ops = [...Object.entries(body.set ?? {}).map(([k, v]) => ({ name: k, op: CONFIG_SET, value: String(v) })), ...(body.delete ?? []).map((k) => ({ name: k, op: CONFIG_DELETE, value: null }))];
    if (ops.length === 0) throw new ApiError(400, 'nothing to change');
    await this.withAdmin((a) => a.alterConfigs(RESOURCE_TOPIC, name, ops));
    return { altered: name };
  }

  /** DeleteRecords: every record of a partition before `offset` (-1: up to the high watermark) is deleted. */
  async deleteRecords(name: string, body: { partition?: unknown; offset?: unknown }): Promise<unknown> {
    this.requireWrite();
    const partition = Number(body.partition);
    if (!Number.isInteger(partition) || partition < 0) throw new ApiError(400, 'partition must be a number');
    const offsetText = String(body.offset ?? '');
    if (!/^(-1|\d+)$/.test(offsetText)) throw new ApiError(400, 'offset must be an offset, or -1 for the high watermark');
    return this.withAdmin(async (a) => {
      const t = await a.topic(name);
      const low = await a.deleteRecords(t, new Map([[partition, BigInt(offsetText)]]));
      return { topic: name, partition, lowWatermark: Number(low.get(partition)) };
    });
  }

  /** Resets a group's offsets on a topic to earliest/latest/an offset (the group must be empty, as with Kafka). */
  async resetOffsets(groupId: string, body: { topic?: string; to?: string; offset?: number }): Promise<unknown> {
    this.requireWrite();
    if (typeof body.topic !== 'string') throw new ApiError(400, 'topic is required');
    return this.withAdmin(async (a) => {
      const desc = await a.describeGroup(groupId);
      if (desc.members.length > 0) throw new ApiError(409, `group '${groupId}' has active members (state ${desc.state}): stop them first`);
      const t = await a.topic(body.topic!);
      const [lo, hi] = await Promise.all([a.listOffsets(t, EARLIEST), a.listOffsets(t, LATEST)]);
      const plan: TopicPartitionOffset[] = t.partitions.map((p) => {
        const min = lo.get(p.partitionIndex)!;
        const max = hi.get(p.partitionIndex)!;
        let o = body.to === 'earliest' ? min : body.to === 'latest' ? max : BigInt(body.offset ?? 0);
        if (o < min) o = min;
        if (o > max) o = max;
        return { topic: body.topic!, partition: p.partitionIndex, offset: o };
      });
      await a.commitOffsets(groupId, plan);
      return { groupId, offsets: plan.map((p) => ({ ...p, offset: Number(p.offset) })) };
    });
  }

  private async counters(): Promise<{ bytesIn: number; bytesOut: number; requests: number; ops: Record<string, number> }> {
    const all = await this.metrics.getMetricsAsJSON();
    const sum = (name: string) => (all.find((m) => m.name === name)?.values ?? []).reduce((n, v) => n + v.value, 0);
    const ops: Record<string, number> = {};
    for (const v of all.find((m) => m.name === 'floe_objectstore_requests_total')?.values ?? []) ops[String(v.labels.op)] = (ops[String(v.labels.op)] ?? 0) + v.value;
    return { bytesIn: sum('floe_network_received_bytes_total'), bytesOut: sum('floe_network_sent_bytes_total'), requests: sum('kafka_network_requestmetrics_requests_total'), ops };
  }
}
