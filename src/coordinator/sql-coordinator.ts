/**
 * The batch coordinator over SQL (DESIGN.md, "Coordinator contract"). One schema and one set of SQL for
 * every backend: PGlite (embedded, `pglite.ts`) and PostgreSQL (`pg.ts`). Backends only provide a
 * `SqlConnection`.
 *
 * Each operation is one statement (one round trip), except deleteTopic and expireProducers (a few
 * statements in one transaction) and init (the migrations, sql/migrations.ts). The hot and the many-step
 * operations (commit, find batches, list offsets, DeleteRecords, retention, group offsets, membership) call
 * plpgsql functions created by the migrations, so their plans are cached; the current text of each is in
 * sql/functions/<name>.sql. Requests carrying many batches or partitions are sent as parallel arrays
 * (`$n::bigint[]`, one element per item): `pg` and PGlite both serialise JS arrays to PostgreSQL array
 * literals. Kafka error codes come from the generated ErrorCode; the functions return them as numbers.
 */
import { SqlSecurityStore, type SecurityStore } from './security-store.ts';
import { SqlGroupConfigStore, type GroupConfigStore } from './group-config-store.ts';
import {
  CoordinatorError,
  type BatchLocation,
  type TxnKind,
  type BrokerRegistration,
  type CommitBatchResult,
  type CommitObjectRequest,
  type Coordinator,
  type CommittedOffset,
  type CompactionSwap,
  type CompactionSwapResult,
  type CompactionView,
  type CreateTopicSpec,
  type DeleteRecordsRequest,
  type DeleteRecordsResult,
  type ExpiredGroup,
  type ShareStateUpdate,
  type SharePartitionKey,
  type StoredSharePartition,
  type StoredShareGroup,
  type GroupOffsetCommit,
  type GroupRecord,
  type FindBatchesRequest,
  type FindBatchesResult,
  type ListOffsetsRequest,
  type ListOffsetsResult,
  type MergeCandidate,
  type MergeInput,
  type MergeSwap,
  type MergeSwapResult,
  type MembershipView,
  type ObjectBatch,
  type PartitionKey,
  type PartitionOffsets,
  type ProducerIdAndEpoch,
  type RegisteredBroker,
  type RetentionStepResult,
  type RetentionTopic,
  type StoredConsumerGroup,
  type TimestampType,
  type TopicInfo,
} from './coordinator.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import type { Migration } from './sql/migration.ts';
import { CREATE_MIGRATIONS_TABLE, MIGRATIONS, MIGRATION_LOCK_KEY, RECORD_MIGRATION } from './sql/migrations.ts';

import { listObjects, objectUsage, type ObjectEntry, type ObjectUsage } from './object-inventory.ts';
import { num, type SqlConnection, type SqlInt } from './sql-connection.ts';
import { SqlTransactionStore } from './sql-transaction-store.ts';
import type { TransactionStore } from './transaction-store.ts';

export type { SqlConnection };


interface TopicRow {
  topic_id: string;
  name: string;
  partition_count: SqlInt;
  diskless: boolean;
  configs: Record<string, string> | string | null;
  leader_broker_id?: SqlInt | null;
}

const TOPIC_COLUMNS = 'topic_id::text AS topic_id, name, partition_count, diskless, configs, leader_broker_id';

function toTopic(r: TopicRow): TopicInfo {
  const configs = typeof r.configs === 'string' ? (JSON.parse(r.configs) as Record<string, string>) : r.configs;
  return {
    topicId: r.topic_id,
    name: r.name,
    partitionCount: num(r.partition_count),
    diskless: r.diskless,
    configs: { ...(configs ?? {}) },
    leaderBrokerId: r.leader_broker_id === null || r.leader_broker_id === undefined ? null : num(r.leader_broker_id),
  };
}

/** Batch-location columns of `floe_find_batches` / `floe_list_offsets` results (null: no batch). */
interface BatchRow {
  o_object_key: string | null;
  o_byte_offset: SqlInt;
  o_byte_size: SqlInt;
  o_base_offset: SqlInt | null;
  o_last_offset: SqlInt;
  o_max_timestamp: SqlInt;
  o_log_append_time: SqlInt;
  o_timestamp_type: SqlInt;
}

/** Partition columns of results (null: unknown partition). */
interface OffsetsRow {
  o_idx: SqlInt;
  o_log_start_offset: SqlInt | null;
  o_high_watermark: SqlInt | null;
}

function toBatch(r: BatchRow): BatchLocation {
  return {
    objectKey: r.o_object_key as string,
    byteOffset: num(r.o_byte_offset),
    byteSize: num(r.o_byte_size),
    baseOffset: num(r.o_base_offset),
    lastOffset: num(r.o_last_offset),
    maxTimestamp: num(r.o_max_timestamp),
    logAppendTime: num(r.o_log_append_time),
    timestampType: num(r.o_timestamp_type) as TimestampType,
  };
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** A malformed topic id cannot name a partition: send a valid uuid that matches none. */
function topicIdParam(id: string): string {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id) ? id : NIL_UUID;
}

// floe_commit_object_once (migrations 4, 9): idempotent by object key, so a commit whose outcome is unknown can be
// retried; through floe_commit_object_notify (migration 7), which announces the committed batches to every broker.
const COMMIT_SQL = `
SELECT o_idx, o_error_code, o_base_offset, o_log_append_time, o_log_start_offset
  FROM floe_commit_object_notify($1::text, $2::bigint, $3::integer, $4::uuid[], $5::integer[], $6::bigint[],
                          $7::bigint[], $8::integer[], $9::bigint[], $10::bigint[], $11::smallint[],
                          $12::bigint[], $13::smallint[], $14::integer[], $15::integer[], $16::smallint[])`;

const BATCH_RESULT_COLUMNS =
  'o_object_key, o_byte_offset, o_byte_size, o_base_offset, o_last_offset, o_max_timestamp, o_log_append_time, o_timestamp_type';

const FIND_BATCHES_SQL = `
SELECT o_idx, o_log_start_offset, o_high_watermark, ${BATCH_RESULT_COLUMNS}
  FROM floe_find_batches($1::uuid[], $2::integer[], $3::bigint[], $4::bigint[])`;

const LIST_OFFSETS_SQL = `
SELECT o_idx, o_log_start_offset, o_high_watermark, ${BATCH_RESULT_COLUMNS}
  FROM floe_list_offsets($1::uuid[], $2::integer[], $3::bigint[])`;

const PARTITION_OFFSETS_SQL = `
SELECT (q.i - 1)::integer AS o_idx, p.log_start_offset AS o_log_start_offset, p.high_watermark AS o_high_watermark,
       p.compaction_epoch AS o_compaction_epoch, p.merge_epoch AS o_merge_epoch
  FROM unnest($1::uuid[], $2::integer[]) WITH ORDINALITY AS q(topic_id, partition, i)
  LEFT JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition`;

const CREATE_TOPIC_SQL = `
WITH t AS (
  INSERT INTO topics (name, partition_count, diskless, configs, leader_broker_id)
  VALUES ($1::text, $2::integer, $3::boolean, $4::text::jsonb, $5::integer)
  ON CONFLICT (name) DO NOTHING
  RETURNING topic_id, name, partition_count, diskless, configs, leader_broker_id
), p AS (
  INSERT INTO partitions (topic_id, partition)
  SELECT t.topic_id, g FROM t CROSS JOIN generate_series(0, $2::integer - 1) AS g
)
SELECT ${TOPIC_COLUMNS}, floe_notify_topic('create', topic_id::text, name) AS notified FROM t`;

// ---- Topic administration and consumer groups (migration 2) ----

const ALTER_TOPIC_CONFIGS_SQL = `
WITH u AS (
  UPDATE topics SET configs = $2::text::jsonb WHERE name = $1::text RETURNING ${TOPIC_COLUMNS}
)
SELECT u.*, floe_notify_topic('alter', u.topic_id, u.name) AS notified FROM u`;

/** One row when the topic exists: its old count, and the topic after the change (nulls when unchanged). */
const CREATE_PARTITIONS_SQL = `
WITH cur AS (
  SELECT topic_id, partition_count FROM topics WHERE name = $1::text FOR UPDATE
), upd AS (
  UPDATE topics t SET partition_count = $2::integer
    FROM cur WHERE t.topic_id = cur.topic_id AND cur.partition_count < $2::integer
  RETURNING t.topic_id::text AS topic_id, t.name, t.partition_count, t.diskless, t.configs, t.leader_broker_id
), ins AS (
  INSERT INTO partitions (topic_id, partition)
  SELECT cur.topic_id, g FROM cur CROSS JOIN generate_series(cur.partition_count, $2::integer - 1) AS g
   WHERE cur.partition_count < $2::integer
)
SELECT cur.partition_count AS old_count, upd.topic_id, upd.name, upd.partition_count, upd.diskless, upd.configs, upd.leader_broker_id,
       floe_notify_topic('partitions', upd.topic_id, upd.name) AS notified
  FROM cur LEFT JOIN upd ON true`;

const DELETE_RECORDS_SQL = `
SELECT o_idx, o_error_code, o_low_watermark FROM floe_delete_records_notify($1::uuid[], $2::integer[], $3::bigint[])`;

const OBJECT_BATCHES_SQL = `
SELECT b.topic_id::text AS topic_id, b.partition, o.object_key AS o_object_key, b.byte_offset AS o_byte_offset,
       b.byte_size AS o_byte_size, b.base_offset AS o_base_offset, b.last_offset AS o_last_offset,
       b.max_timestamp AS o_max_timestamp, b.log_append_time AS o_log_append_time, b.timestamp_type AS o_timestamp_type,
       p.log_start_offset, b.txn_kind
  FROM objects o
  JOIN batches b ON b.object_id = o.object_id
  JOIN partitions p ON p.topic_id = b.topic_id AND p.partition = b.partition
 WHERE o.object_key = $1::text
 ORDER BY b.topic_id, b.partition, b.base_offset`;

const PARTITION_SIZES_SQL = `
SELECT (q.i - 1)::integer AS o_idx, p.byte_size AS o_byte_size
  FROM unnest($1::uuid[], $2::integer[]) WITH ORDINALITY AS q(topic_id, partition, i)
  LEFT JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition`;

const COMMIT_GROUP_OFFSETS_SQL = `
SELECT o_idx FROM floe_commit_group_offsets($1::text, $2::bigint, $3::uuid[], $4::integer[], $5::bigint[],
                                            $6::integer[], $7::text[], $8::bigint[], $9::bigint[])`;

const FETCH_GROUP_OFFSETS_SQL = `
SELECT o.group_id, o.topic_id::text AS topic_id, t.name AS topic_name, o.partition, o.committed_offset::text AS committed_offset,
       o.leader_epoch, o.metadata, o.commit_timestamp
  FROM group_offsets o
  JOIN topics t ON t.topic_id = o.topic_id
 WHERE o.group_id = ANY ($1::text[])
 ORDER BY o.group_id, t.name, o.partition`;

const DELETE_GROUP_OFFSETS_SQL = `
DELETE FROM group_offsets o
 USING unnest($2::uuid[], $3::integer[]) AS q(topic_id, partition)
 WHERE o.group_id = $1::text AND o.topic_id = q.topic_id AND o.partition = q.partition
RETURNING 1`;

// A group id is one kind of group at a time (migration 12): storing a classic generation ends a consumer group of that id.
const SAVE_GROUP_SQL = `
WITH c AS (DELETE FROM consumer_groups WHERE group_id = $1::text)
INSERT INTO groups (group_id, protocol_type, generation, protocol_name, leader, state_timestamp, members)
VALUES ($1::text, $2::text, $3::integer, $4::text, $5::text, $6::bigint, $7::text::jsonb)
ON CONFLICT (group_id) DO UPDATE
   SET protocol_type = EXCLUDED.protocol_type, generation = EXCLUDED.generation,
       protocol_name = EXCLUDED.protocol_name, leader = EXCLUDED.leader,
       state_timestamp = EXCLUDED.state_timestamp, members = EXCLUDED.members`;

const DELETE_GROUPS_SQL = `
WITH o AS (DELETE FROM group_offsets WHERE group_id = ANY ($1::text[])),
     c AS (DELETE FROM consumer_groups WHERE group_id = ANY ($1::text[]))
DELETE FROM groups WHERE group_id = ANY ($1::text[])`;

const SAVE_CONSUMER_GROUP_SQL = `
WITH c AS (DELETE FROM groups WHERE group_id = $1::text)
INSERT INTO consumer_groups AS g (group_id, group_epoch, state, updated_at)
VALUES ($1::text, $2::integer, $3::text::jsonb, $4::bigint)
ON CONFLICT (group_id) DO UPDATE
   SET group_epoch = EXCLUDED.group_epoch, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at
 WHERE g.group_epoch <= EXCLUDED.group_epoch`;

// ---- Share groups (migration 17): a placeholder row makes the key lockable before the first state exists.
const LOCK_SHARE_GROUP_SQL = 'INSERT INTO share_groups (group_id, state, updated_at) VALUES ($1::text, NULL, $2::bigint) ON CONFLICT DO NOTHING';
const SELECT_SHARE_GROUP_FOR_UPDATE_SQL = 'SELECT state FROM share_groups WHERE group_id = $1::text FOR UPDATE';
const SAVE_SHARE_GROUP_SQL = 'UPDATE share_groups SET state = $2::text::jsonb, updated_at = $3::bigint WHERE group_id = $1::text';
const DELETE_SHARE_GROUP_SQL = 'DELETE FROM share_groups WHERE group_id = $1::text';
const LOAD_SHARE_GROUPS_SQL = 'SELECT group_id, state FROM share_groups WHERE state IS NOT NULL AND ($1::text[] IS NULL OR group_id = ANY($1::text[]))';
// Only partitions of existing topics get a row: the topics' rows are held (FOR KEY SHARE) until the transaction
// ends, so a topic deleted meanwhile (deleteTopic takes its row FOR UPDATE and removes its share partitions)
// either waits for this transaction or has already gone, and no share partition of a deleted topic is left.
const LOCK_SHARE_PARTITIONS_SQL = `
WITH live AS (SELECT topic_id::text AS t FROM topics WHERE topic_id = ANY($2::text[]::uuid[]) FOR KEY SHARE)
INSERT INTO share_partitions (group_id, topic_id, partition, state, updated_at)
SELECT $1::text, k.t, k.p, NULL, $4::bigint FROM unnest($2::text[], $3::integer[]) AS k(t, p)
 WHERE k.t IN (SELECT t FROM live)
ON CONFLICT DO NOTHING`;
const SELECT_SHARE_PARTITIONS_FOR_UPDATE_SQL = `
SELECT topic_id, partition, state FROM share_partitions
 WHERE group_id = $1::text AND (topic_id, partition) IN (SELECT k.t, k.p FROM unnest($2::text[], $3::integer[]) AS k(t, p))
 ORDER BY topic_id, partition FOR UPDATE`;
const SAVE_SHARE_PARTITIONS_SQL = `
UPDATE share_partitions s SET state = u.st::jsonb, updated_at = $5::bigint
  FROM unnest($2::text[], $3::integer[], $4::text[]) AS u(t, p, st)
 WHERE s.group_id = $1::text AND s.topic_id = u.t AND s.partition = u.p`;
const DELETE_SHARE_PARTITIONS_SQL = `
DELETE FROM share_partitions s USING unnest($2::text[], $3::integer[]) AS k(t, p)
 WHERE s.group_id = $1::text AND s.topic_id = k.t AND s.partition = k.p`;
const LOAD_SHARE_PARTITIONS_SQL = 'SELECT group_id, topic_id, partition, state FROM share_partitions WHERE state IS NOT NULL AND group_id = ANY($1::text[])';
const LOAD_SOME_SHARE_PARTITIONS_SQL = `
SELECT group_id, topic_id, partition, state FROM share_partitions
 WHERE state IS NOT NULL AND group_id = $1::text
   AND (topic_id, partition) IN (SELECT k.t, k.p FROM unnest($2::text[], $3::integer[]) AS k(t, p))`;
const DELETE_SHARE_GROUPS_SQL = `
WITH p AS (DELETE FROM share_partitions WHERE group_id = ANY($1::text[]))
DELETE FROM share_groups WHERE group_id = ANY($1::text[])`;

const jsonValue = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

const LOAD_CONSUMER_GROUPS_SQL = 'SELECT group_id, group_epoch, state FROM consumer_groups';

const LOAD_GROUPS_SQL = `
SELECT group_id, protocol_type, generation, protocol_name, leader, state_timestamp, members
  FROM groups
UNION ALL
SELECT DISTINCT o.group_id, NULL, 0, NULL, NULL, -1::bigint, '[]'::jsonb
  FROM group_offsets o
 WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.group_id = o.group_id)`;

const HAS_STORED_GROUP_SQL = `
SELECT EXISTS (SELECT 1 FROM groups WHERE group_id = $1)
    OR EXISTS (SELECT 1 FROM consumer_groups WHERE group_id = $1)
    OR EXISTS (SELECT 1 FROM group_offsets WHERE group_id = $1) AS stored`;

const EXPIRE_GROUP_OFFSETS_SQL = `
SELECT o_group_id, o_expired, o_deleted FROM floe_expire_group_offsets($1::bigint, $2::bigint, $3::text[], $4::text[])`;

interface GroupRow {
  group_id: string;
  protocol_type: string | null;
  generation: SqlInt;
  protocol_name: string | null;
  leader: string | null;
  state_timestamp: SqlInt;
  members: unknown;
}

/** Members as stored in `groups.members` (buffers as base64). */
interface StoredMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  subscription: string;
  assignment: string;
}

function toGroupRecord(r: GroupRow): GroupRecord {
  const members = (typeof r.members === 'string' ? JSON.parse(r.members) : r.members) as StoredMember[] | null;
  return {
    groupId: r.group_id,
    protocolType: r.protocol_type,
    generation: num(r.generation),
    protocolName: r.protocol_name,
    leader: r.leader,
    stateTimestamp: num(r.state_timestamp),
    members: (members ?? []).map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId ?? null,
      clientId: m.clientId ?? '',
      clientHost: m.clientHost ?? '',
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      sessionTimeoutMs: m.sessionTimeoutMs,
      subscription: Buffer.from(m.subscription ?? '', 'base64'),
      assignment: Buffer.from(m.assignment ?? '', 'base64'),
    })),
  };
}

/** First key of the brokers' liveness locks ("flol"); the second is the node id (migration 18's floe_broker_heartbeat). */
const LIVENESS_LOCK_KEY = 0x666c6f6c;

export class SqlCoordinator implements Coordinator {
  /** SCRAM credentials, ACLs and quotas (migration 11): security-store.ts. */
  private readonly security: SqlSecurityStore;

  /** Per-group configs (migration 18): group-config-store.ts. */
  private readonly groupConfigs: SqlGroupConfigStore;

  readonly transactions: TransactionStore;

  constructor(private readonly db: SqlConnection) {
    this.security = new SqlSecurityStore(db);
    this.groupConfigs = new SqlGroupConfigStore(db);
    this.transactions = new SqlTransactionStore(db);
  }

  // ---- Security (migration 11, security-store.ts) ----
  scramCredential: SecurityStore['scramCredential'] = (u, m) => this.security.scramCredential(u, m);
  describeScramCredentials: SecurityStore['describeScramCredentials'] = (users) => this.security.describeScramCredentials(users);
  alterScramCredentials: SecurityStore['alterScramCredentials'] = (up, del) => this.security.alterScramCredentials(up, del);
  listAcls: SecurityStore['listAcls'] = () => this.security.listAcls();
  createAcls: SecurityStore['createAcls'] = (b) => this.security.createAcls(b);
  deleteAcls: SecurityStore['deleteAcls'] = (b) => this.security.deleteAcls(b);
  listClientQuotas: SecurityStore['listClientQuotas'] = () => this.security.listClientQuotas();
  alterClientQuotas: SecurityStore['alterClientQuotas'] = (set, rm) => this.security.alterClientQuotas(set, rm);
  securityVersion: SecurityStore['securityVersion'] = () => this.security.securityVersion();
  listDynamicBrokerConfigs: SecurityStore['listDynamicBrokerConfigs'] = () => this.security.listDynamicBrokerConfigs();
  alterDynamicBrokerConfigs: SecurityStore['alterDynamicBrokerConfigs'] = (id, set, rm, replace) => this.security.alterDynamicBrokerConfigs(id, set, rm, replace);

  // ---- Group configs (migration 18, group-config-store.ts) ----
  listGroupConfigs: GroupConfigStore['listGroupConfigs'] = () => this.groupConfigs.listGroupConfigs();
  alterGroupConfigs: GroupConfigStore['alterGroupConfigs'] = (g, set, rm, replace) => this.groupConfigs.alterGroupConfigs(g, set, rm, replace);

  /** The underlying connection (tests, tools). */
  get connection(): SqlConnection {
    return this.db;
  }

  async init(): Promise<void> {
    for (const m of MIGRATIONS) await this.applyMigration(m);
  }

  /**
   * Each migration in its own transaction, under a transaction-scoped advisory lock, so brokers
   * starting together against one PostgreSQL apply it once (even CREATE TABLE IF NOT EXISTS races
   * without the lock).
   */
  private async applyMigration(m: Migration): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
      await tx.query(CREATE_MIGRATIONS_TABLE);
      const done = await tx.query<{ version: number }>('SELECT version FROM schema_migrations WHERE version = $1', [
        m.version,
      ]);
      if (done.rows.length > 0) return;
      for (const statement of m.statements) await tx.query(statement);
      await tx.query(RECORD_MIGRATION, [m.version, m.name]);
    });
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async createTopic(spec: CreateTopicSpec): Promise<TopicInfo> {
    if (!Number.isInteger(spec.partitionCount) || spec.partitionCount < 1) {
      throw new CoordinatorError(ErrorCode.INVALID_PARTITIONS, `invalid partition count ${spec.partitionCount}`);
    }
    const res = await this.db.query<TopicRow>(CREATE_TOPIC_SQL, [
      spec.name,
      spec.partitionCount,
      spec.diskless,
      JSON.stringify(spec.configs ?? {}),
      spec.leaderBrokerId ?? null,
    ]);
    const row = res.rows[0];
    if (row === undefined) throw new CoordinatorError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${spec.name}' already exists`);
    return toTopic(row);
  }

  async deleteTopic(name: string): Promise<TopicInfo | null> {
    return this.db.transaction(async (tx) => {
      const t = await tx.query<TopicRow>(`SELECT ${TOPIC_COLUMNS} FROM topics WHERE name = $1 FOR UPDATE`, [name]);
      const row = t.rows[0];
      if (row === undefined) return null;
      // Exclusive against record deletion (retention, DeleteRecords) on this topic (migration 3's locking).
      await tx.query('SELECT floe_lock_topics(ARRAY[$1]::uuid[], true)', [row.topic_id]);
      // Same lock order as commits: partitions by (topic_id, partition).
      await tx.query('SELECT 1 FROM partitions WHERE topic_id = $1 ORDER BY partition FOR UPDATE', [row.topic_id]);
      // Objects that lose their last batch become 'deleting' in this transaction (floe_release_objects
      // locks them first, so a concurrent deletion of their other batches cannot leave them behind).
      const gone = await tx.query<{ ids: SqlInt[] }>(
        `WITH gone AS (
           DELETE FROM batches WHERE topic_id = $1 RETURNING object_id
         )
         SELECT coalesce(array_agg(DISTINCT object_id), '{}'::bigint[]) AS ids FROM gone`,
        [row.topic_id],
      );
      await tx.query('SELECT floe_release_objects($1::bigint[])', [(gone.rows[0]?.ids ?? []).map(String)]);
      await tx.query('DELETE FROM producer_state WHERE topic_id = $1', [row.topic_id]);
      // Share groups' state of the topic's partitions (a topic created again under the name starts afresh).
      await tx.query('DELETE FROM share_partitions WHERE topic_id = $1::uuid::text', [row.topic_id]);
      await tx.query('DELETE FROM partitions WHERE topic_id = $1', [row.topic_id]);
      await tx.query('DELETE FROM topics WHERE topic_id = $1', [row.topic_id]);
      await tx.query("SELECT floe_notify_topic('delete', $1::text, $2::text)", [row.topic_id, row.name]);
      return toTopic(row);
    });
  }

  async listTopics(): Promise<TopicInfo[]> {
    const res = await this.db.query<TopicRow>(`SELECT ${TOPIC_COLUMNS} FROM topics ORDER BY name`);
    return res.rows.map(toTopic);
  }

  async getTopic(name: string): Promise<TopicInfo | null> {
    const res = await this.db.query<TopicRow>(`SELECT ${TOPIC_COLUMNS} FROM topics WHERE name = $1`, [name]);
    const row = res.rows[0];
    return row === undefined ? null : toTopic(row);
  }

  async commitObject(request: CommitObjectRequest): Promise<CommitBatchResult[]> {
    const bs = request.batches;
    const res = await this.db.query<{
      o_idx: SqlInt;
      o_error_code: SqlInt;
      o_base_offset: SqlInt;
      o_log_append_time: SqlInt;
      o_log_start_offset: SqlInt;
    }>(COMMIT_SQL, [
      request.objectKey,
      request.objectSize,
      request.brokerId,
      bs.map((b) => topicIdParam(b.topicId)),
      bs.map((b) => b.partition),
      bs.map((b) => b.byteOffset),
      bs.map((b) => b.byteSize),
      bs.map((b) => b.recordCount),
      bs.map((b) => b.baseTimestamp),
      bs.map((b) => b.maxTimestamp),
      bs.map((b) => b.timestampType),
      bs.map((b) => b.producerId),
      bs.map((b) => b.producerEpoch),
      bs.map((b) => b.baseSequence),
      bs.map((b) => b.lastSequence),
      bs.map((b) => b.txnKind),
    ]);
    const out = new Array<CommitBatchResult>(bs.length);
    for (const r of res.rows) {
      const errorCode = num(r.o_error_code);
      const result: CommitBatchResult = {
        errorCode,
        baseOffset: num(r.o_base_offset),
        logAppendTime: num(r.o_log_append_time),
        logStartOffset: num(r.o_log_start_offset),
      };
      // floe_commit_object marks an idempotent producer's duplicate with DUPLICATE_SEQUENCE_NUMBER and the
      // original's offset: Kafka answers it as a success.
      if (errorCode === ErrorCode.DUPLICATE_SEQUENCE_NUMBER && result.baseOffset >= 0) {
        result.errorCode = ErrorCode.NONE;
        result.duplicate = true;
      }
      out[num(r.o_idx)] = result;
    }
    return out;
  }

  async findBatches(requests: readonly FindBatchesRequest[]): Promise<FindBatchesResult[]> {
    if (requests.length === 0) return [];
    const res = await this.db.query<OffsetsRow & BatchRow>(FIND_BATCHES_SQL, [
      requests.map((r) => topicIdParam(r.topicId)),
      requests.map((r) => r.partition),
      requests.map((r) => r.offset),
      requests.map((r) => r.maxBytes),
    ]);
    const out: FindBatchesResult[] = requests.map(() => ({
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      logStartOffset: -1,
      highWatermark: -1,
      batches: [],
    }));
    for (const r of res.rows) {
      if (r.o_log_start_offset === null || r.o_high_watermark === null) continue; // unknown partition
      const i = num(r.o_idx);
      const o = out[i]!;
      o.logStartOffset = num(r.o_log_start_offset);
      o.highWatermark = num(r.o_high_watermark);
      const offset = requests[i]!.offset;
      o.errorCode = offset < o.logStartOffset || offset > o.highWatermark ? ErrorCode.OFFSET_OUT_OF_RANGE : ErrorCode.NONE;
      if (r.o_base_offset !== null) o.batches.push(toBatch(r));
    }
    return out;
  }

  async listOffsets(requests: readonly ListOffsetsRequest[]): Promise<ListOffsetsResult[]> {
    if (requests.length === 0) return [];
    const res = await this.db.query<OffsetsRow & BatchRow>(LIST_OFFSETS_SQL, [
      requests.map((r) => topicIdParam(r.topicId)),
      requests.map((r) => r.partition),
      requests.map((r) => r.timestamp),
    ]);
    const out: ListOffsetsResult[] = requests.map(() => ({
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      logStartOffset: -1,
      highWatermark: -1,
      batch: null,
    }));
    for (const r of res.rows) {
      if (r.o_log_start_offset === null || r.o_high_watermark === null) continue;
      out[num(r.o_idx)] = {
        errorCode: ErrorCode.NONE,
        logStartOffset: num(r.o_log_start_offset),
        highWatermark: num(r.o_high_watermark),
        batch: r.o_base_offset === null ? null : toBatch(r),
      };
    }
    return out;
  }

  async getPartitionOffsets(keys: readonly PartitionKey[]): Promise<(PartitionOffsets | null)[]> {
    if (keys.length === 0) return [];
    const res = await this.db.query<OffsetsRow & { o_compaction_epoch: SqlInt | null; o_merge_epoch: SqlInt | null }>(PARTITION_OFFSETS_SQL, [
      keys.map((k) => topicIdParam(k.topicId)),
      keys.map((k) => k.partition),
    ]);
    const out: (PartitionOffsets | null)[] = keys.map(() => null);
    for (const r of res.rows) {
      if (r.o_log_start_offset === null || r.o_high_watermark === null) continue;
      const epoch = num(r.o_compaction_epoch ?? 0);
      const mergeEpoch = num(r.o_merge_epoch ?? 0);
      // Only when compaction or merging ever rewrote the partition (absent means 0).
      out[num(r.o_idx)] = {
        logStartOffset: num(r.o_log_start_offset),
        highWatermark: num(r.o_high_watermark),
        ...(epoch === 0 ? {} : { compactionEpoch: epoch }),
        ...(mergeEpoch === 0 ? {} : { mergeEpoch }),
      };
    }
    return out;
  }

  /** The first `limit` objects with their batches and live bytes (object-inventory.ts; read-only). */
  listObjects(limit: number): Promise<ObjectEntry[]> {
    return listObjects(this.db, limit);
  }

  /** Totals, size histogram and what waits for the cleaner (object-inventory.ts; read-only). */
  objectUsage(): Promise<ObjectUsage> {
    return objectUsage(this.db);
  }

  async listObjectKeys(): Promise<string[]> {
    const res = await this.db.query<{ object_key: string }>('SELECT object_key FROM objects ORDER BY object_id');
    return res.rows.map((r) => r.object_key);
  }

  // ---- Topic administration ----

  async alterTopicConfigs(name: string, configs: Record<string, string>): Promise<TopicInfo | null> {
    const res = await this.db.query<TopicRow>(ALTER_TOPIC_CONFIGS_SQL, [name, JSON.stringify(configs)]);
    const row = res.rows[0];
    return row === undefined ? null : toTopic(row);
  }

  async createPartitions(name: string, partitionCount: number): Promise<TopicInfo> {
    if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > 2 ** 31 - 1) {
      throw new CoordinatorError(ErrorCode.INVALID_PARTITIONS, `invalid partition count ${partitionCount}`);
    }
    const res = await this.db.query<TopicRow & { old_count: SqlInt }>(CREATE_PARTITIONS_SQL, [name, partitionCount]);
    const row = res.rows[0];
    if (row === undefined) throw new CoordinatorError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
    if (row.topic_id === null) {
      const old = num(row.old_count);
      throw new CoordinatorError(
        ErrorCode.INVALID_PARTITIONS,
        old === partitionCount
          ? `Topic already has ${old} partitions.`
          : `Topic currently has ${old} partitions, which is higher than the requested ${partitionCount}.`,
      );
    }
    return toTopic(row);
  }

  async deleteRecords(requests: readonly DeleteRecordsRequest[]): Promise<DeleteRecordsResult[]> {
    if (requests.length === 0) return [];
    const res = await this.db.query<{ o_idx: SqlInt; o_error_code: SqlInt; o_low_watermark: SqlInt }>(DELETE_RECORDS_SQL, [
      requests.map((r) => topicIdParam(r.topicId)),
      requests.map((r) => r.partition),
      requests.map((r) => r.offset),
    ]);
    const out: DeleteRecordsResult[] = requests.map(() => ({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, logStartOffset: -1 }));
    for (const r of res.rows) out[num(r.o_idx)] = { errorCode: num(r.o_error_code), logStartOffset: num(r.o_low_watermark) };
    return out;
  }

  async getPartitionSizes(keys: readonly PartitionKey[]): Promise<(number | null)[]> {
    if (keys.length === 0) return [];
    const res = await this.db.query<{ o_idx: SqlInt; o_byte_size: SqlInt | null }>(PARTITION_SIZES_SQL, [
      keys.map((k) => topicIdParam(k.topicId)),
      keys.map((k) => k.partition),
    ]);
    const out: (number | null)[] = keys.map(() => null);
    for (const r of res.rows) if (r.o_byte_size !== null) out[num(r.o_idx)] = num(r.o_byte_size);
    return out;
  }

  // ---- Consumer groups ----

  async commitGroupOffsets(groupId: string, commitTimestamp: number, commits: readonly GroupOffsetCommit[]): Promise<number[]> {
    if (commits.length === 0) return [];
    const res = await this.db.query<{ o_idx: SqlInt }>(COMMIT_GROUP_OFFSETS_SQL, [
      groupId,
      commitTimestamp,
      commits.map((c) => topicIdParam(c.topicId)),
      commits.map((c) => c.partition),
      // As text: a committed offset is any int64, which a JS number (and PGlite's int8 parser) would round.
      commits.map((c) => c.offset.toString()),
      commits.map((c) => c.leaderEpoch),
      commits.map((c) => c.metadata),
      commits.map((c) => c.expireTimestamp),
      commits.map((c) => c.commitTimestamp ?? -1),
    ]);
    const out: number[] = commits.map(() => ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    for (const r of res.rows) out[num(r.o_idx)] = ErrorCode.NONE;
    return out;
  }

  async fetchGroupOffsets(groupIds: readonly string[]): Promise<CommittedOffset[]> {
    if (groupIds.length === 0) return [];
    const res = await this.db.query<{
      group_id: string;
      topic_id: string;
      topic_name: string;
      partition: SqlInt;
      committed_offset: string;
      leader_epoch: SqlInt;
      metadata: string | null;
      commit_timestamp: SqlInt;
    }>(FETCH_GROUP_OFFSETS_SQL, [[...groupIds]]);
    return res.rows.map((r) => ({
      groupId: r.group_id,
      topicId: r.topic_id,
      topicName: r.topic_name,
      partition: num(r.partition),
      offset: BigInt(r.committed_offset),
      leaderEpoch: num(r.leader_epoch),
      metadata: r.metadata,
      commitTimestamp: num(r.commit_timestamp),
    }));
  }

  async deleteGroupOffsets(groupId: string, keys: readonly PartitionKey[]): Promise<number> {
    if (keys.length === 0) return 0;
    const res = await this.db.query(DELETE_GROUP_OFFSETS_SQL, [
      groupId,
      keys.map((k) => topicIdParam(k.topicId)),
      keys.map((k) => k.partition),
    ]);
    return res.rows.length;
  }

  async saveGroup(group: GroupRecord): Promise<void> {
    const members: StoredMember[] = group.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      sessionTimeoutMs: m.sessionTimeoutMs,
      subscription: m.subscription.toString('base64'),
      assignment: m.assignment.toString('base64'),
    }));
    await this.db.query(SAVE_GROUP_SQL, [
      group.groupId,
      group.protocolType,
      group.generation,
      group.protocolName,
      group.leader,
      group.stateTimestamp,
      JSON.stringify(members),
    ]);
  }

  async saveConsumerGroup(group: StoredConsumerGroup, nowMs: number): Promise<void> {
    await this.db.query(SAVE_CONSUMER_GROUP_SQL, [group.groupId, group.groupEpoch, JSON.stringify(group.state), nowMs]);
  }

  async hasStoredGroup(groupId: string): Promise<boolean> {
    const res = await this.db.query<{ stored: boolean }>(HAS_STORED_GROUP_SQL, [groupId]);
    return res.rows[0]?.stored === true;
  }

  async loadConsumerGroups(): Promise<StoredConsumerGroup[]> {
    const res = await this.db.query<{ group_id: string; group_epoch: SqlInt; state: unknown }>(LOAD_CONSUMER_GROUPS_SQL);
    return res.rows.map((r) => ({ groupId: r.group_id, groupEpoch: num(r.group_epoch), state: typeof r.state === 'string' ? JSON.parse(r.state) : r.state }));
  }

  async updateShareGroup<T>(groupId: string, update: ShareStateUpdate<unknown | null, T>, nowMs: number): Promise<T> {
    return this.db.transaction(async (tx) => {
      await tx.query(LOCK_SHARE_GROUP_SQL, [groupId, nowMs]);
      const res = await tx.query<{ state: unknown }>(SELECT_SHARE_GROUP_FOR_UPDATE_SQL, [groupId]);
      const current = res.rows[0]?.state ?? null;
      const { next, result } = update(current === null ? null : jsonValue(current));
      if (next === null) await tx.query(DELETE_SHARE_GROUP_SQL, [groupId]);
      else if (next !== undefined) await tx.query(SAVE_SHARE_GROUP_SQL, [groupId, JSON.stringify(next), nowMs]);
      return result;
    });
  }

  async loadShareGroups(groupIds: readonly string[] | null): Promise<StoredShareGroup[]> {
    const res = await this.db.query<{ group_id: string; state: unknown }>(LOAD_SHARE_GROUPS_SQL, [groupIds === null ? null : [...groupIds]]);
    return res.rows.map((r) => ({ groupId: r.group_id, state: jsonValue(r.state) }));
  }

  async updateSharePartitions<T>(
    groupId: string,
    keys: readonly SharePartitionKey[],
    update: ShareStateUpdate<(unknown | null)[], T>,
    nowMs: number,
  ): Promise<T> {
    const topicIds = keys.map((k) => k.topicId);
    const parts = keys.map((k) => k.partition);
    return this.db.transaction(async (tx) => {
      await tx.query(LOCK_SHARE_PARTITIONS_SQL, [groupId, topicIds, parts, nowMs]);
      const res = await tx.query<{ topic_id: string; partition: number; state: unknown }>(SELECT_SHARE_PARTITIONS_FOR_UPDATE_SQL, [groupId, topicIds, parts]);
      const byKey = new Map(res.rows.map((r) => [`${r.topic_id}:${r.partition}`, r.state === null ? null : jsonValue(r.state)]));
      const { next, result } = update(keys.map((k) => byKey.get(`${k.topicId}:${k.partition}`) ?? null));
      const save: [string[], number[], string[]] = [[], [], []];
      const drop: [string[], number[]] = [[], []];
      next.forEach((state, i) => {
        const k = keys[i]!;
        // Unchanged rows are written back too when they were placeholders, so that no null row stays behind.
        const st = state === undefined ? byKey.get(`${k.topicId}:${k.partition}`) ?? null : state;
        if (st === null) {
          drop[0].push(k.topicId);
          drop[1].push(k.partition);
        } else if (state !== undefined) {
          save[0].push(k.topicId);
          save[1].push(k.partition);
          save[2].push(JSON.stringify(st));
        }
      });
      if (save[0].length > 0) await tx.query(SAVE_SHARE_PARTITIONS_SQL, [groupId, ...save, nowMs]);
      if (drop[0].length > 0) await tx.query(DELETE_SHARE_PARTITIONS_SQL, [groupId, ...drop]);
      return result;
    });
  }

  async loadSharePartitions(groupIds: readonly string[], keys?: readonly SharePartitionKey[]): Promise<StoredSharePartition[]> {
    if (groupIds.length === 0) return [];
    if (keys && groupIds.length !== 1) throw new Error('loadSharePartitions: keys are for one group');
    const res = keys
      ? await this.db.query<{ group_id: string; topic_id: string; partition: number; state: unknown }>(LOAD_SOME_SHARE_PARTITIONS_SQL, [groupIds[0], keys.map((k) => k.topicId), keys.map((k) => k.partition)])
      : await this.db.query<{ group_id: string; topic_id: string; partition: number; state: unknown }>(LOAD_SHARE_PARTITIONS_SQL, [[...groupIds]]);
    return res.rows.map((r) => ({ groupId: r.group_id, topicId: r.topic_id, partition: Number(r.partition), state: jsonValue(r.state) }));
  }

  async deleteShareGroups(groupIds: readonly string[]): Promise<void> {
    if (groupIds.length === 0) return;
    await this.db.query(DELETE_SHARE_GROUPS_SQL, [[...groupIds]]);
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    if (groupIds.length === 0) return;
    await this.db.query(DELETE_GROUPS_SQL, [[...groupIds]]);
  }

  async loadGroups(): Promise<GroupRecord[]> {
    const res = await this.db.query<GroupRow>(LOAD_GROUPS_SQL);
    return res.rows.map(toGroupRecord);
  }

  async expireGroupOffsets(
    nowMs: number,
    retentionMs: number,
    activeGroupIds: readonly string[],
    emptyGroupIds: readonly string[],
  ): Promise<ExpiredGroup[]> {
    const res = await this.db.query<{ o_group_id: string; o_expired: SqlInt; o_deleted: boolean }>(EXPIRE_GROUP_OFFSETS_SQL, [
      nowMs,
      retentionMs,
      [...activeGroupIds],
      [...emptyGroupIds],
    ]);
    return res.rows.map((r) => ({ groupId: r.o_group_id, expiredOffsets: num(r.o_expired), deleted: r.o_deleted }));
  }

  // ---- Idempotent producers, retention and the object lifecycle (migration 3) ----

  async initProducerId(producerId: number, producerEpoch: number): Promise<ProducerIdAndEpoch> {
    const res = await this.db.query<{ o_producer_id: SqlInt; o_producer_epoch: SqlInt }>(
      'SELECT o_producer_id, o_producer_epoch FROM floe_init_producer_id($1::bigint, $2::smallint)',
      [producerId, producerEpoch],
    );
    const row = res.rows[0]!;
    return { producerId: num(row.o_producer_id), producerEpoch: num(row.o_producer_epoch) };
  }

  async activeProducers(key: PartitionKey): Promise<{ producerId: number; producerEpoch: number; lastSequence: number; lastTimestamp: number; currentTxnStartOffset: number }[]> {
    const res = await this.db.query<{ producer_id: SqlInt; producer_epoch: SqlInt; last_sequence: SqlInt | null; last_update: SqlInt; first_offset: SqlInt | null }>(
      `SELECT s.producer_id, s.producer_epoch, s.last_sequences[cardinality(s.last_sequences)] AS last_sequence, s.last_update,
              (SELECT tp.first_offset FROM transactions t JOIN transaction_partitions tp ON tp.transactional_id = t.transactional_id
                WHERE t.producer_id = s.producer_id AND tp.topic_id = s.topic_id AND tp.partition = s.partition AND tp.first_offset >= 0) AS first_offset
         FROM producer_state s
        WHERE s.topic_id = $1::uuid AND s.partition = $2
        ORDER BY s.producer_id`,
      [topicIdParam(key.topicId), key.partition],
    );
    return res.rows.map((r) => ({
      producerId: num(r.producer_id),
      producerEpoch: num(r.producer_epoch),
      lastSequence: num(r.last_sequence),
      lastTimestamp: num(r.last_update),
      currentTxnStartOffset: num(r.first_offset),
    }));
  }

  async expireProducers(maxIdleMs: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      const states = await tx.query<{ n: SqlInt }>(
        `WITH gone AS (
           DELETE FROM producer_state
            WHERE last_update < floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint - $1::bigint
           RETURNING 1
         )
         SELECT count(*) AS n FROM gone`,
        [maxIdleMs],
      );
      // An id is kept while any partition holds state for it (its epoch may still be bumped).
      await tx.query(
        `DELETE FROM producer_ids i
          WHERE i.last_update < clock_timestamp() - $1::bigint * interval '1 millisecond'
            AND NOT EXISTS (SELECT 1 FROM producer_state s WHERE s.producer_id = i.producer_id)`,
        [maxIdleMs],
      );
      return num(states.rows[0]?.n);
    });
  }

  async enforceRetention(topics: readonly RetentionTopic[], maxBatches: number): Promise<RetentionStepResult> {
    const res = await this.db.query<{
      o_topic_id: string | null;
      o_partition: SqlInt | null;
      o_log_start_offset: SqlInt | null;
      o_batches_deleted: SqlInt | null;
      o_objects_marked: SqlInt | null;
      o_more: boolean | null;
    }>(
      `SELECT o_topic_id::text AS o_topic_id, o_partition, o_log_start_offset, o_batches_deleted, o_objects_marked, o_more
         FROM floe_retention_step_notify($1::uuid[], $2::bigint[], $3::bigint[], $4::integer)`,
      [
        topics.map((t) => topicIdParam(t.topicId)),
        topics.map((t) => t.retentionMs),
        topics.map((t) => t.retentionBytes),
        maxBatches,
      ],
    );
    const out: RetentionStepResult = { logStarts: [], batchesDeleted: 0, objectsMarked: 0, more: false };
    for (const r of res.rows) {
      if (r.o_topic_id === null) {
        out.batchesDeleted = num(r.o_batches_deleted);
        out.objectsMarked = num(r.o_objects_marked);
        out.more = r.o_more === true;
      } else {
        out.logStarts.push({ topicId: r.o_topic_id, partition: num(r.o_partition), logStartOffset: num(r.o_log_start_offset) });
      }
    }
    return out;
  }

  async registerPendingObjects(brokerId: number, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.query(
      'INSERT INTO pending_objects (object_key, broker_id) SELECT k, $1::integer FROM unnest($2::text[]) AS k ON CONFLICT (object_key) DO NOTHING',
      [brokerId, [...keys]],
    );
  }

  async forgetPendingObjects(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.query('DELETE FROM pending_objects WHERE object_key = ANY ($1::text[])', [[...keys]]);
  }

  async reapPendingObjects(minAgeMs: number): Promise<number> {
    // The DELETE takes each registration's row lock: a commit of the same key (which deletes it too) has
    // either already happened (the row is gone, nothing to reap) or fails on the 'deleting' row made here.
    const res = await this.db.query<{ n: SqlInt }>(
      `WITH reaped AS (
         DELETE FROM pending_objects
          WHERE registered_at < clock_timestamp() - $1::bigint * interval '1 millisecond'
         RETURNING object_key, broker_id
       ), marked AS (
         INSERT INTO objects (object_key, size, state, broker_id, marked_for_deletion_at)
         SELECT r.object_key, 0, 'deleting', r.broker_id, now() FROM reaped r
         ON CONFLICT (object_key) DO NOTHING
         RETURNING 1
       )
       SELECT count(*) AS n FROM marked`,
      [minAgeMs],
    );
    return num(res.rows[0]?.n);
  }

  async objectsToDelete(graceMs: number, limit: number): Promise<string[]> {
    const res = await this.db.query<{ object_key: string }>(
      `SELECT o.object_key FROM objects o
        WHERE o.state = 'deleting'
          AND o.marked_for_deletion_at <= now() - $1::bigint * interval '1 millisecond'
          AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.object_id = o.object_id)
        ORDER BY o.marked_for_deletion_at, o.object_id
        LIMIT $2::integer`,
      [graceMs, limit],
    );
    return res.rows.map((r) => r.object_key);
  }

  async markObjectsDeleted(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const res = await this.db.query<{ n: SqlInt }>(
      `WITH gone AS (
         DELETE FROM objects o
          WHERE o.object_key = ANY ($1::text[]) AND o.state = 'deleting'
            AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.object_id = o.object_id)
         RETURNING 1
       )
       SELECT count(*) AS n FROM gone`,
      [[...keys]],
    );
    return num(res.rows[0]?.n);
  }

  async unknownObjectKeys(keys: readonly string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    const res = await this.db.query<{ k: string }>(
      `SELECT k FROM unnest($1::text[]) AS k
        WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE o.object_key = k)
          AND NOT EXISTS (SELECT 1 FROM pending_objects p WHERE p.object_key = k)`,
      [[...keys]],
    );
    return res.rows.map((r) => r.k);
  }

  async tryAcquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const res = await this.db.query(
      `INSERT INTO job_leases AS l (name, holder, expires_at)
       VALUES ($1::text, $2::text, clock_timestamp() + $3::bigint * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE
          SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
        WHERE l.holder = EXCLUDED.holder OR l.expires_at < clock_timestamp()
       RETURNING 1`,
      [name, holder, ttlMs],
    );
    return res.rows.length > 0;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.db.query('DELETE FROM job_leases WHERE name = $1::text AND holder = $2::text', [name, holder]);
  }

  // ---- Notifications between brokers (migration 7) ----

  async listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>> {
    if (!this.db.listen) return async () => {};
    return this.db.listen(channel, onPayload, onResync);
  }

  async objectBatches(objectKey: string): Promise<ObjectBatch[]> {
    const res = await this.db.query<BatchRow & { topic_id: string; partition: SqlInt; log_start_offset: SqlInt; txn_kind: SqlInt }>(OBJECT_BATCHES_SQL, [objectKey]);
    return res.rows.map((r) => ({
      topicId: r.topic_id,
      partition: num(r.partition),
      ...toBatch(r),
      logStartOffset: num(r.log_start_offset),
      // As notifications name it: only for batches of transactions.
      ...(num(r.txn_kind) !== 0 ? { txnKind: num(r.txn_kind) as TxnKind } : {}),
    }));
  }

  // ---- Compaction of diskless partitions (migration 10) ----

  async compactionView(key: PartitionKey): Promise<CompactionView | null> {
    return this.db.transaction(async (tx) => {
      const p = await tx.query<{ log_start_offset: SqlInt; high_watermark: SqlInt; cleaner_checkpoint: SqlInt; compaction_epoch: SqlInt; next_delete_horizon: SqlInt }>(
        `SELECT log_start_offset, high_watermark, cleaner_checkpoint, compaction_epoch, next_delete_horizon
           FROM partitions WHERE topic_id = $1::uuid AND partition = $2::integer`,
        [topicIdParam(key.topicId), key.partition],
      );
      const row = p.rows[0];
      if (row === undefined) return null;
      const b = await tx.query<Record<string, SqlInt> & { object_key: string }>(
        `SELECT o.object_key, b.byte_offset, b.byte_size, b.base_offset, b.last_offset, b.max_timestamp, b.log_append_time,
                b.timestamp_type, b.record_count, b.base_timestamp, b.producer_id, b.producer_epoch, b.base_sequence, b.last_sequence,
                b.txn_kind
           FROM batches b JOIN objects o ON o.object_id = b.object_id
          WHERE b.topic_id = $1::uuid AND b.partition = $2::integer
          ORDER BY b.base_offset`,
        [topicIdParam(key.topicId), key.partition],
      );
      const s = await tx.query<{ producer_id: SqlInt; last_offset: SqlInt }>(
        `SELECT s.producer_id,
                s.base_offsets[cardinality(s.base_offsets)]
                  + ((s.last_sequences[cardinality(s.last_sequences)] - s.base_sequences[cardinality(s.base_sequences)] + 2147483648) % 2147483648) AS last_offset
           FROM producer_state s
          WHERE s.topic_id = $1::uuid AND s.partition = $2::integer AND cardinality(s.base_offsets) > 0`,
        [topicIdParam(key.topicId), key.partition],
      );
      const a = await tx.query<{ producer_id: SqlInt; first_offset: SqlInt; last_offset: SqlInt }>(
        `SELECT producer_id, first_offset, last_offset FROM aborted_transactions
          WHERE topic_id = $1::uuid AND partition = $2::integer ORDER BY first_offset`,
        [topicIdParam(key.topicId), key.partition],
      );
      return {
        logStartOffset: num(row.log_start_offset),
        highWatermark: num(row.high_watermark),
        cleanerCheckpoint: num(row.cleaner_checkpoint),
        compactionEpoch: num(row.compaction_epoch),
        nextDeleteHorizonMs: num(row.next_delete_horizon),
        batches: b.rows.map((r) => ({
          objectKey: r.object_key,
          byteOffset: num(r.byte_offset),
          byteSize: num(r.byte_size),
          baseOffset: num(r.base_offset),
          lastOffset: num(r.last_offset),
          maxTimestamp: num(r.max_timestamp),
          logAppendTime: num(r.log_append_time),
          timestampType: num(r.timestamp_type) as TimestampType,
          recordCount: num(r.record_count),
          baseTimestamp: num(r.base_timestamp),
          producerId: num(r.producer_id),
          producerEpoch: num(r.producer_epoch),
          baseSequence: num(r.base_sequence),
          lastSequence: num(r.last_sequence),
          txnKind: num(r.txn_kind) as TxnKind,
        })),
        producerLastOffsets: new Map(s.rows.map((r) => [num(r.producer_id), num(r.last_offset)])),
        abortedTransactions: a.rows.map((r) => ({ producerId: num(r.producer_id), firstOffset: num(r.first_offset), lastOffset: num(r.last_offset) })),
      };
    });
  }

  async swapCompacted(w: CompactionSwap): Promise<CompactionSwapResult> {
    const bs = w.batches;
    const res = await this.db.query<{ o_ok: boolean; o_reason: string | null; o_released: SqlInt }>(
      `SELECT o_ok, o_reason, o_released FROM floe_compact_partition($1::uuid, $2::integer, $3::bigint, $4::bigint, $5::bigint,
         $6::bigint, $7::bigint[], $8::text, $9::bigint, $10::integer, $11::bigint, $12::bigint, $13::bigint[], $14::bigint[],
         $15::bigint[], $16::bigint[], $17::integer[], $18::bigint[], $19::bigint[], $20::bigint[], $21::smallint[], $22::bigint[],
         $23::smallint[], $24::integer[], $25::integer[], $26::smallint[])`,
      [
        topicIdParam(w.topicId), w.partition, w.expectedEpoch, w.expectedLogStart, w.rangeStart, w.rangeEnd, w.expectedBaseOffsets,
        w.objectKey, w.objectSize, w.brokerId, w.cleanerCheckpoint, w.nextDeleteHorizonMs,
        bs.map((b) => b.baseOffset), bs.map((b) => b.lastOffset), bs.map((b) => b.byteOffset), bs.map((b) => b.byteSize),
        bs.map((b) => b.recordCount), bs.map((b) => b.baseTimestamp), bs.map((b) => b.maxTimestamp), bs.map((b) => b.logAppendTime),
        bs.map((b) => b.timestampType), bs.map((b) => b.producerId), bs.map((b) => b.producerEpoch), bs.map((b) => b.baseSequence),
        bs.map((b) => b.lastSequence), bs.map((b) => b.txnKind),
      ],
    );
    const row = res.rows[0]!;
    return { ok: row.o_ok, reason: row.o_reason, objectsReleased: num(row.o_released) };
  }

  // ---- Merging of small objects (migration 15) ----

  async mergeCandidates(maxObjectBytes: number, minAgeMs: number, limit: number): Promise<MergeCandidate[]> {
    const res = await this.db.query<{ object_key: string; size: SqlInt; age_ms: SqlInt }>(
      `SELECT o.object_key, o.size, floor(extract(epoch FROM now() - o.created_at) * 1000)::bigint AS age_ms
         FROM objects o
        WHERE o.state = 'uploaded' AND o.size < $1::bigint AND o.created_at <= now() - $2::bigint * interval '1 millisecond'
        ORDER BY o.object_id
        LIMIT $3::integer`,
      [maxObjectBytes, minAgeMs, limit],
    );
    return res.rows.map((r) => ({ objectKey: r.object_key, size: num(r.size), ageMs: num(r.age_ms) }));
  }

  async mergeInputs(objectKeys: readonly string[]): Promise<MergeInput[]> {
    if (objectKeys.length === 0) return [];
    const res = await this.db.query<{ object_key: string; topic_id: string; partition: SqlInt; base_offset: SqlInt; byte_offset: SqlInt; byte_size: SqlInt }>(
      `SELECT o.object_key, b.topic_id::text AS topic_id, b.partition, b.base_offset, b.byte_offset, b.byte_size
         FROM objects o JOIN batches b ON b.object_id = o.object_id
        WHERE o.object_key = ANY ($1::text[]) AND o.state = 'uploaded'
        ORDER BY b.topic_id, b.partition, b.base_offset`,
      [objectKeys],
    );
    return res.rows.map((r) => ({
      objectKey: r.object_key,
      topicId: r.topic_id,
      partition: num(r.partition),
      baseOffset: num(r.base_offset),
      byteOffset: num(r.byte_offset),
      byteSize: num(r.byte_size),
    }));
  }

  async swapMerged(w: MergeSwap): Promise<MergeSwapResult> {
    const bs = w.batches;
    const res = await this.db.query<{ o_ok: boolean; o_reason: string | null; o_released: SqlInt }>(
      `SELECT o_ok, o_reason, o_released FROM floe_merge_objects($1::text, $2::bigint, $3::integer, $4::text[], $5::uuid[],
         $6::integer[], $7::bigint[], $8::bigint[], $9::bigint[])`,
      [
        w.objectKey, w.objectSize, w.brokerId, w.oldObjectKeys, bs.map((b) => topicIdParam(b.topicId)), bs.map((b) => b.partition),
        bs.map((b) => b.baseOffset), bs.map((b) => b.oldByteOffset), bs.map((b) => b.newByteOffset),
      ],
    );
    const row = res.rows[0]!;
    return { ok: row.o_ok, reason: row.o_reason, objectsReleased: num(row.o_released) };
  }

  // ---- Broker membership (migration 6) ----

  async clusterId(proposed: string): Promise<string> {
    const res = await this.db.query<{ cluster_id: string }>(
      'UPDATE membership SET cluster_id = coalesce(cluster_id, $1::text) RETURNING cluster_id',
      [proposed],
    );
    return res.rows[0]!.cluster_id;
  }

  async allocateNodeId(): Promise<number> {
    const res = await this.db.query<{ id: SqlInt }>('SELECT floe_allocate_node_id() AS id');
    return num(res.rows[0]!.id);
  }

  async registerBroker(r: BrokerRegistration): Promise<{ nodeId: number; epoch: number }> {
    // One transaction: peers (told by floe_register_broker's notification, sent at commit) see the endpoints too.
    return this.db.transaction(async (tx) => {
      const res = await tx.query<{ o_node_id: SqlInt; o_conflict: string | null; o_epoch: SqlInt | null }>(
        'SELECT o_node_id, o_conflict, o_epoch FROM floe_register_broker($1::integer, $2::text, $3::text, $4::integer, $5::text, $6::bigint)',
        [r.nodeId, r.incarnation, r.host, r.port, r.rack, r.sessionTimeoutMs],
      );
      const row = res.rows[0]!;
      if (row.o_conflict !== null) throw new CoordinatorError(ErrorCode.DUPLICATE_BROKER_REGISTRATION, row.o_conflict);
      await tx.query('UPDATE brokers SET endpoints = $3::text WHERE node_id = $1::integer AND incarnation = $2::text', [r.nodeId, r.incarnation, formatEndpoints(r.endpoints)]);
      return { nodeId: num(row.o_node_id), epoch: num(row.o_epoch!) };
    });
  }

  async holdLivenessLock(nodeId: number): Promise<void> {
    await this.db.holdSessionLock?.(LIVENESS_LOCK_KEY, nodeId);
  }

  async brokerHeartbeat(nodeId: number, incarnation: string, sessionTimeoutMs: number): Promise<MembershipView> {
    // The endpoints (migration 11) are joined in: floe_broker_heartbeat predates them.
    const res = await this.db.query<{ o_known: boolean; o_epoch: SqlInt; o_node_id: SqlInt | null; o_host: string | null; o_port: SqlInt | null; o_rack: string | null; endpoints: string | null }>(
      `SELECT h.o_known, h.o_epoch, h.o_node_id, h.o_host, h.o_port, h.o_rack, b.endpoints
         FROM floe_broker_heartbeat($1::integer, $2::text, $3::bigint) h LEFT JOIN brokers b ON b.node_id = h.o_node_id`,
      [nodeId, incarnation, sessionTimeoutMs],
    );
    const first = res.rows[0]!;
    const brokers: RegisteredBroker[] = [];
    for (const r of res.rows) {
      if (r.o_node_id === null) continue;
      const endpoints = parseEndpoints(r.endpoints ?? '');
      brokers.push({ nodeId: num(r.o_node_id), host: r.o_host!, port: num(r.o_port!), rack: r.o_rack, ...(endpoints ? { endpoints } : {}) });
    }
    return { known: first.o_known, epoch: num(first.o_epoch), brokers };
  }

  async deregisterBroker(nodeId: number, incarnation: string): Promise<void> {
    await this.db.query('SELECT floe_deregister_broker($1::integer, $2::text)', [nodeId, incarnation]);
  }
}

/** Listener endpoints as stored in brokers.endpoints: `NAME://host:port,…` (IPv6 hosts in brackets). */
function formatEndpoints(endpoints: BrokerRegistration['endpoints']): string {
  if (!endpoints) return '';
  return Object.entries(endpoints).map(([name, e]) => `${name}://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`).join(',');
}

function parseEndpoints(text: string): RegisteredBroker['endpoints'] | undefined {
  if (text === '') return undefined;
  const out: Record<string, { host: string; port: number }> = {};
  for (const item of text.split(',')) {
    const m = /^([^:]+):\/\/\[?([^\]]*?)\]?:(\d+)$/.exec(item);
    if (m) out[m[1]!] = { host: m[2]!, port: Number(m[3]) };
  }
  return out;
}
