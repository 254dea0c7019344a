/**
 * A small Kafka admin client over KafkaConnection: what `floe topics|groups|configs` need, speaking the
 * Kafka protocol to any broker (Floe or Apache Kafka). Requests about a group go to the group's
 * coordinator (FindCoordinator), ListOffsets to each partition's leader, the rest to the bootstrap broker.
 * A non-zero error code becomes a KafkaError carrying Kafka's error name.
 */
import type {
  ConsumerProtocolAssignment,
  AlterClientQuotasResponse,
  AlterUserScramCredentialsResponse,
  DescribeClientQuotasResponse,
  CreateAclsResponse,
  CreatePartitionsResponse,
  DeleteAclsResponse,
  DeleteRecordsResponse,
  DescribeAclsResponse,
  DescribeUserScramCredentialsResponse,
  CreateTopicsResponse,
  DeleteGroupsResponse,
  DeleteTopicsResponse,
  DescribeConfigsResponse,
  DescribeConfigsResponseDescribeConfigsResourceResult,
  DescribeGroupsResponse,
  DescribeGroupsResponseDescribedGroup,
  DescribeLogDirsResponse,
  FetchResponse,
  FindCoordinatorResponse,
  IncrementalAlterConfigsResponse,
  ListGroupsResponse,
  ListGroupsResponseListedGroup,
  ListOffsetsResponse,
  MetadataResponse,
  MetadataResponseBroker,
  MetadataResponseTopic,
  OffsetCommitResponse,
  OffsetFetchResponse,
} from '../protocol/gen/messages/index.ts';
import { decodeConsumerProtocolAssignment } from '../protocol/gen/messages/consumer-protocol-assignment.ts';
import { Reader } from '../protocol/reader.ts';
import { readRecords } from '../protocol/records.ts';
import { ConnectionError, KafkaConnection, type ConnectOptions } from './kafka-connection.ts';
import { KafkaError } from './kafka-error.ts';

export { KafkaError };

export const RESOURCE_TOPIC = 2;
export const RESOURCE_BROKER = 4;
export const RESOURCE_GROUP = 32;
/** IncrementalAlterConfigs operations. */
export const CONFIG_SET = 0;
export const CONFIG_DELETE = 1;
/** ListOffsets timestamps. */
export const LATEST = -1n;
export const EARLIEST = -2n;

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: bigint;
}

/** One ACL as CreateAcls/DescribeAcls/DeleteAcls carry it (Kafka's codes: authorizer.ts). */
export interface AclEntry {
  resourceType: number;
  resourceName: string;
  patternType: number;
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}

/** A DescribeAcls/DeleteAcls filter: null names match any, ANY (1) codes match any. */
export interface AclEntryFilter {
  resourceType: number;
  resourceName: string | null;
  patternType: number;
  principal: string | null;
  host: string | null;
  operation: number;
  permissionType: number;
}

export interface ScramUpsertion {
  user: string;
  mechanism: number;
  iterations: number;
  salt: Buffer;
  saltedPassword: Buffer;
}

export interface MemberDescription {
  memberId: string;
  clientId: string;
  clientHost: string;
  groupInstanceId: string | null;
  assignment: { topic: string; partitions: number[] }[];
}

export interface GroupDescription {
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: MemberDescription[];
}

/** A record as a browser shows it: offset, timestamp, key/value/headers as raw bytes. */
export interface FetchedRecord {
  partition: number;
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

export function parseBootstrap(servers: string): { host: string; port: number }[] {
  const out: { host: string; port: number }[] = [];
  for (const s of servers.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s);
    if (!m) throw new ConnectionError(`bad --bootstrap-server entry '${s}': expected host:port`);
    out.push({ host: m[1] ?? m[2]!, port: Number(m[3]) });
  }
  if (out.length === 0) throw new ConnectionError('--bootstrap-server is empty');
  return out;
}

export class AdminClient {
  private readonly byNode = new Map<number, Promise<KafkaConnection>>();
  private brokers: MetadataResponseBroker[] = [];

  private constructor(private readonly bootstrap: KafkaConnection, private readonly timeoutMs: number, private readonly options: ConnectOptions) {}

  /** Connects to the first bootstrap server that answers (over TLS and with SASL as `options.security` says). */
  static async connect(servers: string, options: ConnectOptions = {}): Promise<AdminClient> {
    let last: Error | null = null;
    for (const { host, port } of parseBootstrap(servers)) {
      try {
        return new AdminClient(await KafkaConnection.connect(host, port, options), options.timeoutMs ?? 30_000, options);
      } catch (err) {
        if (err instanceof KafkaError) throw err; // a refused login: another bootstrap server would refuse it too
        last = err as Error;
      }
    }
    throw last!;
  }

  close(): void {
    this.bootstrap.close();
    for (const p of this.byNode.values()) p.then((c) => c.close(), () => {});
  }

  // ---- topics and cluster

  /** Metadata for `topics` (null: every topic). */
  async metadata(topics: string[] | null): Promise<MetadataResponse> {
    const { body } = await this.bootstrap.request<MetadataResponse>(3, 1, 12, {
      topics: topics === null ? null : topics.map((name) => ({ name, topicId: '00000000-0000-0000-0000-000000000000' })),
      allowAutoTopicCreation: false,
    });
    this.brokers = body.brokers;
    return body;
  }

  /** One topic's metadata; a KafkaError if it does not exist. */
  async topic(name: string): Promise<MetadataResponseTopic> {
    const md = await this.metadata([name]);
    const t = md.topics.find((x) => x.name === name);
    if (!t) throw new KafkaError(3, `topic '${name}'`);
    if (t.errorCode !== 0) throw new KafkaError(t.errorCode, `topic '${name}'`);
    return t;
  }

  async createTopic(name: string, partitions: number, replicationFactor: number, configs: Record<string, string>): Promise<{ partitions: number; replicationFactor: number }> {
    const { body } = await this.bootstrap.request<CreateTopicsResponse>(19, 2, 5, {
      topics: [{ name, numPartitions: partitions, replicationFactor, assignments: [], configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })) }],
      timeoutMs: this.timeoutMs,
      validateOnly: false,
    });
    const r = body.topics[0]!;
    if (r.errorCode !== 0) throw new KafkaError(r.errorCode, `topic '${name}'`, r.errorMessage);
    return { partitions: r.numPartitions, replicationFactor: r.replicationFactor };
  }

  async deleteTopic(name: string): Promise<void> {
    const { body } = await this.bootstrap.request<DeleteTopicsResponse>(20, 1, 5, { topicNames: [name], topics: [{ name, topicId: '00000000-0000-0000-0000-000000000000' }], timeoutMs: this.timeoutMs });
    const r = body.responses[0]!;
    if (r.errorCode !== 0) throw new KafkaError(r.errorCode, `topic '${name}'`, r.errorMessage);
  }

  async createPartitions(name: string, count: number): Promise<void> {
    const { body } = await this.bootstrap.request<CreatePartitionsResponse>(37, 0, 2, { topics: [{ name, count, assignments: null }], timeoutMs: this.timeoutMs, validateOnly: false });
    const r = body.results[0]!;
    if (r.errorCode !== 0) throw new KafkaError(r.errorCode, `topic '${name}'`, r.errorMessage);
  }

  /** ListOffsets at `timestamp` (LATEST, EARLIEST or a time in ms) for every partition given, from their leaders. */
  async listOffsets(topic: MetadataResponseTopic, timestamp: bigint): Promise<Map<number, bigint>> {
    const byLeader = new Map<number, number[]>();
    for (const p of topic.partitions) {
      const list = byLeader.get(p.leaderId) ?? [];
      list.push(p.partitionIndex);
      byLeader.set(p.leaderId, list);
    }
    const out = new Map<number, bigint>();
    await Promise.all([...byLeader].map(async ([leader, partitions]) => {
      const conn = await this.node(leader);
      const { body } = await conn.request<ListOffsetsResponse>(2, 1, 7, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: topic.name!, partitions: partitions.map((p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp })) }],
      });
      for (const t of body.topics) {
        for (const p of t.partitions) {
          if (p.errorCode !== 0) throw new KafkaError(p.errorCode, `partition ${t.name}-${p.partitionIndex}`);
          out.set(p.partitionIndex, p.offset);
        }
      }
    }));
    return out;
  }

  /** Up to `maxRecords` records of one partition from `offset` (read_uncommitted; control batches skipped). */
  async fetchRecords(topic: MetadataResponseTopic, partition: number, offset: bigint, maxRecords: number): Promise<{ records: FetchedRecord[]; highWatermark: bigint; logStartOffset: bigint }> {
    const p = topic.partitions.find((x) => x.partitionIndex === partition);
    if (!p) throw new KafkaError(3, `partition ${topic.name}-${partition}`);
    const conn = await this.node(p.leaderId);
    const { body } = await conn.request<FetchResponse>(1, 4, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 4 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: topic.name!, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1n, partitionMaxBytes: 4 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    if (body.errorCode !== 0) throw new KafkaError(body.errorCode, `fetch ${topic.name}-${partition}`);
    const pd = body.responses[0]!.partitions[0]!;
    if (pd.errorCode !== 0) throw new KafkaError(pd.errorCode, `fetch ${topic.name}-${partition} at ${offset}`);
    const records: FetchedRecord[] = [];
    const data = pd.records ?? Buffer.alloc(0);
    let at = 0;
    while (at + 61 <= data.length && records.length < maxRecords) {
      const length = data.readInt32BE(at + 8);
      if (at + 12 + length > data.length) break; // a partial batch at the end of the response
      const batch = data.subarray(at, at + 12 + length);
      at += 12 + length;
      if (batch.readInt8(16) !== 2) continue; // only v2 batches are browsed
      const attributes = batch.readInt16BE(21);
      if ((attributes & 0x20) !== 0) continue; // transaction markers
      const baseOffset = batch.readBigInt64BE(0);
      const baseTimestamp = batch.readBigInt64BE(27);
      const maxTimestamp = batch.readBigInt64BE(35);
      for (const r of await readRecords(batch)) {
        const o = baseOffset + BigInt(r.offsetDelta);
        if (o < offset) continue;
        if (records.length >= maxRecords) break;
        records.push({ partition, offset: o, timestamp: (attributes & 0x08) !== 0 ? maxTimestamp : baseTimestamp + r.timestampDelta, key: r.key, value: r.value, headers: r.headers });
      }
    }
    return { records, highWatermark: pd.highWatermark, logStartOffset: pd.logStartOffset };
  }

  /** Bytes per topic over every broker's log dirs (DescribeLogDirs; Floe reports diskless partitions too). */
  async topicSizes(): Promise<Map<string, bigint>> {
    const md = await this.metadata([]);
    const sizes = new Map<string, bigint>();
    await Promise.all(md.brokers.map(async (b) => {
      const conn = await this.node(b.nodeId);
      const { body } = await conn.request<DescribeLogDirsResponse>(35, 1, 4, { topics: null });
      for (const dir of body.results) {
        for (const t of dir.topics) for (const p of t.partitions) if (!p.isFutureKey) sizes.set(t.name, (sizes.get(t.name) ?? 0n) + p.partitionSize);
      }
    }));
    return sizes;
  }

  /** Topic configs of many topics in one request: name -> configs (missing when that topic failed). */
  async describeTopicConfigs(names: string[]): Promise<Map<string, DescribeConfigsResponseDescribeConfigsResourceResult[]>> {
    const out = new Map<string, DescribeConfigsResponseDescribeConfigsResourceResult[]>();
    if (names.length === 0) return out;
    const { body } = await this.bootstrap.request<DescribeConfigsResponse>(32, 1, 4, {
      resources: names.map((resourceName) => ({ resourceType: RESOURCE_TOPIC, resourceName, configurationKeys: null })),
      includeSynonyms: false,
      includeDocumentation: false,
    });
    for (const r of body.results) if (r.errorCode === 0) out.set(r.resourceName, r.configs);
    return out;
  }

  // ---- groups

  async listGroups(): Promise<ListGroupsResponseListedGroup[]> {
    const md = await this.metadata([]);
    const seen = new Map<string, ListGroupsResponseListedGroup>();
    // Each broker lists the groups it coordinates: ask them all.
    await Promise.all(md.brokers.map(async (b) => {
      const conn = await this.node(b.nodeId);
      const { body } = await conn.request<ListGroupsResponse>(16, 0, 4, { statesFilter: [] });
      if (body.errorCode !== 0) throw new KafkaError(body.errorCode, `ListGroups on broker ${b.nodeId}`);
      for (const g of body.groups) seen.set(g.groupId, g);
    }));
    return [...seen.values()].sort((a, b) => a.groupId.localeCompare(b.groupId));
  }

  async describeGroup(groupId: string): Promise<GroupDescription> {
    const conn = await this.coordinator(groupId);
    const { body } = await conn.request<DescribeGroupsResponse>(15, 0, 5, { groups: [groupId] });
    const g: DescribeGroupsResponseDescribedGroup = body.groups[0]!;
    if (g.errorCode !== 0) throw new KafkaError(g.errorCode, `group '${groupId}'`, g.errorMessage);
    return {
      groupId,
      state: g.groupState,
      protocolType: g.protocolType,
      protocol: g.protocolData,
      members: g.members.map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        groupInstanceId: m.groupInstanceId,
        assignment: g.protocolType === 'consumer' ? decodeAssignment(m.memberAssignment) : [],
      })),
    };
  }

  /** The group's committed offsets (every partition it has one for). */
  async fetchOffsets(groupId: string): Promise<TopicPartitionOffset[]> {
    const conn = await this.coordinator(groupId);
    const { body } = await conn.request<OffsetFetchResponse>(9, 1, 7, { groupId, topics: null });
    if (body.errorCode !== 0) throw new KafkaError(body.errorCode, `group '${groupId}'`);
    const out: TopicPartitionOffset[] = [];
    for (const t of body.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== 0) throw new KafkaError(p.errorCode, `group '${groupId}' partition ${t.name}-${p.partitionIndex}`);
        if (p.committedOffset >= 0n) out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset });
      }
    }
    return out;
  }

  /** Commits offsets as an admin (no member, generation -1): Kafka accepts this only for an empty group. */
  async commitOffsets(groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    const conn = await this.coordinator(groupId);
    const byTopic = new Map<string, TopicPartitionOffset[]>();
    for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
    const { body } = await conn.request<OffsetCommitResponse>(8, 2, 8, {
      groupId,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [...byTopic].map(([name, list]) => ({ name, partitions: list.map((o) => ({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: -1, committedMetadata: '' })) })),
    });
    for (const t of body.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== 0) throw new KafkaError(p.errorCode, `group '${groupId}' partition ${t.name}-${p.partitionIndex}`);
      }
    }
  }

  async deleteGroup(groupId: string): Promise<void> {
    const conn = await this.coordinator(groupId);
    const { body } = await conn.request<DeleteGroupsResponse>(42, 0, 2, { groupsNames: [groupId] });
    const r = body.results[0]!;
    if (r.errorCode !== 0) throw new KafkaError(r.errorCode, `group '${groupId}'`);
  }

  // ---- configs

  async describeConfigs(resourceType: number, resourceName: string): Promise<DescribeConfigsResponseDescribeConfigsResourceResult[]> {
    const { body } = await this.bootstrap.request<DescribeConfigsResponse>(32, 1, 4, {
      resources: [{ resourceType, resourceName, configurationKeys: null }],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const r = body.results[0]!;
    if (r.errorCode !== 0) throw new KafkaError(r.errorCode, `${resourceType === RESOURCE_TOPIC ? 'topic' : resourceType === RESOURCE_GROUP ? 'group' : 'broker'} '${resourceName}'`, r.errorMessage);
    return r.configs;
  }

  async alterConfigs(resourceType: number, resourceName: string, ops: { name: string; op: number; value: string | null }[]): Promise<void> {
    const { body } = await this.bootstrap.request<IncrementalAlterConfigsResponse>(44, 0, 1, {
      resources: [{ resourceType, resourceName, configs: ops.map((o) => ({ name: o.name, configOperation: o.op, value: o.value })) }],
      validateOnly: false,
    });
    const r = body.responses[0]!;
    if (r.errorCode !== 0) throw new KafkaError(r.errorCode, `${resourceType === RESOURCE_TOPIC ? 'topic' : resourceType === RESOURCE_GROUP ? 'group' : 'broker'} '${resourceName}'`, r.errorMessage);
  }

  // ---- ACLs (the bootstrap broker: ACLs are the cluster's, kept in the coordinator)

  async createAcls(acls: AclEntry[]): Promise<void> {
    if (acls.length === 0) return;
    const { body } = await this.bootstrap.request<CreateAclsResponse>(30, 1, 3, {
      creations: acls.map((a) => ({ resourceType: a.resourceType, resourceName: a.resourceName, resourcePatternType: a.patternType, principal: a.principal, host: a.host, operation: a.operation, permissionType: a.permissionType })),
    });
    body.results.forEach((r, i) => {
      if (r.errorCode !== 0) throw new KafkaError(r.errorCode, `CreateAcls ${acls[i]!.principal} on ${acls[i]!.resourceName}`, r.errorMessage);
    });
  }

  async describeAcls(f: AclEntryFilter): Promise<AclEntry[]> {
    const { body } = await this.bootstrap.request<DescribeAclsResponse>(29, 1, 3, {
      resourceTypeFilter: f.resourceType, resourceNameFilter: f.resourceName, patternTypeFilter: f.patternType,
      principalFilter: f.principal, hostFilter: f.host, operation: f.operation, permissionType: f.permissionType,
    });
    if (body.errorCode !== 0) throw new KafkaError(body.errorCode, 'DescribeAcls', body.errorMessage);
    return body.resources.flatMap((r) => r.acls.map((a) => ({ resourceType: r.resourceType, resourceName: r.resourceName, patternType: r.patternType, ...a })));
  }

  /** Deletes what each filter matches; returns the ACLs deleted. */
  async deleteAcls(filters: AclEntryFilter[]): Promise<AclEntry[]> {
    if (filters.length === 0) return [];
    const { body } = await this.bootstrap.request<DeleteAclsResponse>(31, 1, 3, {
      filters: filters.map((f) => ({ resourceTypeFilter: f.resourceType, resourceNameFilter: f.resourceName, patternTypeFilter: f.patternType, principalFilter: f.principal, hostFilter: f.host, operation: f.operation, permissionType: f.permissionType })),
    });
    const out: AclEntry[] = [];
    for (const r of body.filterResults) {
      if (r.errorCode !== 0) throw new KafkaError(r.errorCode, 'DeleteAcls', r.errorMessage);
      for (const m of r.matchingAcls) {
        if (m.errorCode !== 0) throw new KafkaError(m.errorCode, `DeleteAcls ${m.principal} on ${m.resourceName}`, m.errorMessage);
        out.push({ resourceType: m.resourceType, resourceName: m.resourceName, patternType: m.patternType, principal: m.principal, host: m.host, operation: m.operation, permissionType: m.permissionType });
      }
    }
    return out;
  }

  // ---- SCRAM users

  /** The SCRAM credentials of `users` (null: every user); a user without any is an error (RESOURCE_NOT_FOUND) unless listing all. */
  async describeScramCredentials(users: string[] | null): Promise<{ user: string; credentials: { mechanism: number; iterations: number }[] }[]> {
    const { body } = await this.bootstrap.request<DescribeUserScramCredentialsResponse>(50, 0, 0, { users: users === null ? null : users.map((name) => ({ name })) });
    if (body.errorCode !== 0) throw new KafkaError(body.errorCode, 'DescribeUserScramCredentials', body.errorMessage);
    return body.results.map((r) => {
      if (r.errorCode !== 0) throw new KafkaError(r.errorCode, `SCRAM credentials of user '${r.user}'`, r.errorMessage);
      return { user: r.user, credentials: r.credentialInfos.map((c) => ({ mechanism: c.mechanism, iterations: c.iterations })) };
    });
  }

  async alterScramCredentials(upsertions: ScramUpsertion[], deletions: { user: string; mechanism: number }[]): Promise<void> {
    const { body } = await this.bootstrap.request<AlterUserScramCredentialsResponse>(51, 0, 0, {
      deletions: deletions.map((d) => ({ name: d.user, mechanism: d.mechanism })),
      upsertions: upsertions.map((u) => ({ name: u.user, mechanism: u.mechanism, iterations: u.iterations, salt: u.salt, saltedPassword: u.saltedPassword })),
    });
    for (const r of body.results) if (r.errorCode !== 0) throw new KafkaError(r.errorCode, `SCRAM credentials of user '${r.user}'`, r.errorMessage);
  }

  // ---- client quotas

  /**
   * The quotas of one entity type ('user', 'client-id'): `name` a name, '' the default, null every entity of
   * the type (strict: entities of that type alone). Entity name '' in the result is the default.
   */
  async describeClientQuotas(entityType: string, name: string | null): Promise<{ name: string; values: Record<string, number> }[]> {
    const { body } = await this.bootstrap.request<DescribeClientQuotasResponse>(48, 0, 1, {
      components: [{ entityType, matchType: name === null ? 2 : name === '' ? 1 : 0, match: name === null || name === '' ? null : name }],
      strict: true,
    });
    if (body.errorCode !== 0) throw new KafkaError(body.errorCode, 'DescribeClientQuotas', body.errorMessage);
    return (body.entries ?? []).map((e) => ({ name: e.entity[0]?.entityName ?? '', values: Object.fromEntries(e.values.map((v) => [v.key, v.value])) }));
  }

  /** Sets (value) and removes (null) quotas of one entity ('' = the default). */
  async alterClientQuotas(entityType: string, name: string, ops: { key: string; value: number | null }[]): Promise<void> {
    const { body } = await this.bootstrap.request<AlterClientQuotasResponse>(49, 0, 1, {
      entries: [{ entity: [{ entityType, entityName: name === '' ? null : name }], ops: ops.map((o) => ({ key: o.key, value: o.value ?? 0, remove: o.value === null })) }],
      validateOnly: false,
    });
    for (const e of body.entries) if (e.errorCode !== 0) throw new KafkaError(e.errorCode, `quotas of ${entityType} '${name}'`, e.errorMessage);
  }

  // ---- records

  /** DeleteRecords: moves each partition's log start up to `offset` (-1: the high watermark); returns the new low watermarks. */
  async deleteRecords(topic: MetadataResponseTopic, offsets: Map<number, bigint>): Promise<Map<number, bigint>> {
    const byLeader = new Map<number, number[]>();
    for (const p of topic.partitions) {
      if (!offsets.has(p.partitionIndex)) continue;
      byLeader.set(p.leaderId, [...(byLeader.get(p.leaderId) ?? []), p.partitionIndex]);
    }
    for (const p of offsets.keys()) if (!topic.partitions.some((x) => x.partitionIndex === p)) throw new KafkaError(3, `partition ${topic.name}-${p}`);
    const out = new Map<number, bigint>();
    await Promise.all([...byLeader].map(async ([leader, partitions]) => {
      const conn = await this.node(leader);
      const { body } = await conn.request<DeleteRecordsResponse>(21, 0, 2, {
        topics: [{ name: topic.name!, partitions: partitions.map((p) => ({ partitionIndex: p, offset: offsets.get(p)! })) }],
        timeoutMs: this.timeoutMs,
      });
      for (const t of body.topics) {
        for (const p of t.partitions) {
          if (p.errorCode !== 0) throw new KafkaError(p.errorCode, `delete records of ${t.name}-${p.partitionIndex}`);
          out.set(p.partitionIndex, p.lowWatermark);
        }
      }
    }));
    return out;
  }

  // ---- connections

  private async coordinator(groupId: string): Promise<KafkaConnection> {
    const { body } = await this.bootstrap.request<FindCoordinatorResponse>(10, 1, 3, { key: groupId, keyType: 0 });
    if (body.errorCode !== 0) throw new KafkaError(body.errorCode, `coordinator of group '${groupId}'`, body.errorMessage);
    return this.connection(body.nodeId, body.host, body.port);
  }

  private async node(nodeId: number): Promise<KafkaConnection> {
    if (this.brokers.length === 0) await this.metadata([]);
    const b = this.brokers.find((x) => x.nodeId === nodeId);
    if (!b) throw new KafkaError(5, `broker ${nodeId}`, 'not in the cluster metadata');
    return this.connection(nodeId, b.host, b.port);
  }

  private connection(nodeId: number, host: string, port: number): Promise<KafkaConnection> {
    let p = this.byNode.get(nodeId);
    if (p === undefined) {
      p = host === this.bootstrap.host && port === this.bootstrap.port ? Promise.resolve(this.bootstrap) : KafkaConnection.connect(host, port, { ...this.options, timeoutMs: this.timeoutMs });
      this.byNode.set(nodeId, p);
      p.catch(() => this.byNode.delete(nodeId));
    }
    return p;
  }
}

function decodeAssignment(bytes: Buffer): { topic: string; partitions: number[] }[] {
  if (bytes.length < 2) return [];
  try {
    const r = new Reader(bytes);
    const version = r.int16();
    const a: ConsumerProtocolAssignment = decodeConsumerProtocolAssignment(r, Math.min(version, 3));
    return a.assignedPartitions.map((t) => ({ topic: t.topic, partitions: [...t.partitions].sort((x, y) => x - y) }));
  } catch {
    return []; // not the consumer protocol's encoding: show no assignment rather than fail the command
  }
}
