/**
 * The batch coordinator over SQL (DESIGN.md, "Coordinator contract"). One schema and one set of SQL for
 * every backend: PGlite (embedded, `pglite.ts`) and PostgreSQL (`pg.ts`). Backends only provide a
 * `SqlConnection`.
 *
 * Each operation is one statement (one round trip); the hot ones (commit, find batches, list offsets)
 * call plpgsql functions created by the migrations, so their plans are cached. Requests carrying many
 * batches or partitions are sent as parallel arrays (`$n::bigint[]`, one element per item): `pg` and
 * PGlite both serialise JS arrays to PostgreSQL array literals.
 */
import {
  CoordinatorError,
  type BatchLocation,
  type CommitBatchResult,
  type CommitObjectRequest,
  type Coordinator,
  type CreateTopicSpec,
  type FindBatchesRequest,
  type FindBatchesResult,
  type ListOffsetsRequest,
  type ListOffsetsResult,
  type PartitionKey,
  type PartitionOffsets,
  type TimestampType,
  type TopicInfo,
} from './coordinator.ts';
import { CREATE_MIGRATIONS_TABLE, MIGRATIONS, MIGRATION_LOCK_KEY, type Migration } from './sql/migrations.ts';

/**
 * The smallest connection a backend must provide. `query` runs one statement (positional `$n`
 * parameters); outside `transaction` it is its own transaction. `transaction` runs `fn` in one
 * transaction (commit on success, rollback when it throws); calling `transaction` on a `tx` runs `fn`
 * inside the same transaction. Column values may come back as JS numbers, strings or bigints for
 * int8/numeric columns depending on the driver: the coordinator converts them.
 */
export interface SqlConnection {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  transaction<T>(fn: (tx: SqlConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// Kafka error codes (numeric literals: this layer imports nothing from src/protocol).
const OFFSET_OUT_OF_RANGE = 1;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const TOPIC_ALREADY_EXISTS = 36;
const INVALID_PARTITIONS = 37;

type SqlInt = number | string | bigint;

/** int8 / numeric column → JS number (drivers differ: `pg` gives strings, PGlite numbers). */
function num(v: SqlInt | null | undefined): number {
  if (v === null || v === undefined) return -1;
  return typeof v === 'number' ? v : Number(v);
}

interface TopicRow {
  topic_id: string;
  name: string;
  partition_count: SqlInt;
  diskless: boolean;
  configs: Record<string, string> | string | null;
}

const TOPIC_COLUMNS = 'topic_id::text AS topic_id, name, partition_count, diskless, configs';

function toTopic(r: TopicRow): TopicInfo {
  const configs = typeof r.configs === 'string' ? (JSON.parse(r.configs) as Record<string, string>) : r.configs;
  return {
    topicId: r.topic_id,
    name: r.name,
    partitionCount: num(r.partition_count),
    diskless: r.diskless,
    configs: { ...(configs ?? {}) },
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

const COMMIT_SQL = `
SELECT o_idx, o_error_code, o_base_offset, o_log_append_time, o_log_start_offset
  FROM floe_commit_object($1::text, $2::bigint, $3::integer, $4::uuid[], $5::integer[], $6::bigint[],
                          $7::bigint[], $8::integer[], $9::bigint[], $10::bigint[], $11::smallint[],
                          $12::bigint[], $13::smallint[], $14::integer[], $15::integer[])`;

const BATCH_RESULT_COLUMNS =
  'o_object_key, o_byte_offset, o_byte_size, o_base_offset, o_last_offset, o_max_timestamp, o_log_append_time, o_timestamp_type';

const FIND_BATCHES_SQL = `
SELECT o_idx, o_log_start_offset, o_high_watermark, ${BATCH_RESULT_COLUMNS}
  FROM floe_find_batches($1::uuid[], $2::integer[], $3::bigint[], $4::bigint[])`;

const LIST_OFFSETS_SQL = `
SELECT o_idx, o_log_start_offset, o_high_watermark, ${BATCH_RESULT_COLUMNS}
  FROM floe_list_offsets($1::uuid[], $2::integer[], $3::bigint[])`;

const PARTITION_OFFSETS_SQL = `
SELECT (q.i - 1)::integer AS o_idx, p.log_start_offset AS o_log_start_offset, p.high_watermark AS o_high_watermark
  FROM unnest($1::uuid[], $2::integer[]) WITH ORDINALITY AS q(topic_id, partition, i)
  LEFT JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition`;

const CREATE_TOPIC_SQL = `
WITH t AS (
  INSERT INTO topics (name, partition_count, diskless, configs)
  VALUES ($1::text, $2::integer, $3::boolean, $4::text::jsonb)
  ON CONFLICT (name) DO NOTHING
  RETURNING topic_id, name, partition_count, diskless, configs
), p AS (
  INSERT INTO partitions (topic_id, partition)
  SELECT t.topic_id, g FROM t CROSS JOIN generate_series(0, $2::integer - 1) AS g
)
SELECT ${TOPIC_COLUMNS} FROM t`;

export class SqlCoordinator implements Coordinator {
  constructor(private readonly db: SqlConnection) {}

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
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    });
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async createTopic(spec: CreateTopicSpec): Promise<TopicInfo> {
    if (!Number.isInteger(spec.partitionCount) || spec.partitionCount < 1) {
      throw new CoordinatorError(INVALID_PARTITIONS, `invalid partition count ${spec.partitionCount}`);
    }
    const res = await this.db.query<TopicRow>(CREATE_TOPIC_SQL, [
      spec.name,
      spec.partitionCount,
      spec.diskless,
      JSON.stringify(spec.configs ?? {}),
    ]);
    const row = res.rows[0];
    if (row === undefined) throw new CoordinatorError(TOPIC_ALREADY_EXISTS, `topic '${spec.name}' already exists`);
    return toTopic(row);
  }

  async deleteTopic(name: string): Promise<TopicInfo | null> {
    return this.db.transaction(async (tx) => {
      const t = await tx.query<TopicRow>(`SELECT ${TOPIC_COLUMNS} FROM topics WHERE name = $1 FOR UPDATE`, [name]);
      const row = t.rows[0];
      if (row === undefined) return null;
      // Same lock order as commits: partitions by (topic_id, partition).
      await tx.query('SELECT 1 FROM partitions WHERE topic_id = $1 ORDER BY partition FOR UPDATE', [row.topic_id]);
      // Objects that lose their last batch become 'deleting' in this transaction. The NOT EXISTS sees
      // the statement's snapshot (before the DELETE), hence the topic_id filter.
      await tx.query(
        `WITH gone AS (
           DELETE FROM batches WHERE topic_id = $1 RETURNING object_id
         )
         UPDATE objects o
            SET state = 'deleting', marked_for_deletion_at = now()
          WHERE o.object_id IN (SELECT DISTINCT object_id FROM gone)
            AND o.state = 'uploaded'
            AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.object_id = o.object_id AND b.topic_id <> $1)`,
        [row.topic_id],
      );
      await tx.query('DELETE FROM partitions WHERE topic_id = $1', [row.topic_id]);
      await tx.query('DELETE FROM topics WHERE topic_id = $1', [row.topic_id]);
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
    ]);
    const out = new Array<CommitBatchResult>(bs.length);
    for (const r of res.rows) {
      out[num(r.o_idx)] = {
        errorCode: num(r.o_error_code),
        baseOffset: num(r.o_base_offset),
        logAppendTime: num(r.o_log_append_time),
        logStartOffset: num(r.o_log_start_offset),
      };
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
      errorCode: UNKNOWN_TOPIC_OR_PARTITION,
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
      o.errorCode = offset < o.logStartOffset || offset > o.highWatermark ? OFFSET_OUT_OF_RANGE : 0;
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
      errorCode: UNKNOWN_TOPIC_OR_PARTITION,
      logStartOffset: -1,
      highWatermark: -1,
      batch: null,
    }));
    for (const r of res.rows) {
      if (r.o_log_start_offset === null || r.o_high_watermark === null) continue;
      out[num(r.o_idx)] = {
        errorCode: 0,
        logStartOffset: num(r.o_log_start_offset),
        highWatermark: num(r.o_high_watermark),
        batch: r.o_base_offset === null ? null : toBatch(r),
      };
    }
    return out;
  }

  async getPartitionOffsets(keys: readonly PartitionKey[]): Promise<(PartitionOffsets | null)[]> {
    if (keys.length === 0) return [];
    const res = await this.db.query<OffsetsRow>(PARTITION_OFFSETS_SQL, [
      keys.map((k) => topicIdParam(k.topicId)),
      keys.map((k) => k.partition),
    ]);
    const out: (PartitionOffsets | null)[] = keys.map(() => null);
    for (const r of res.rows) {
      if (r.o_log_start_offset === null || r.o_high_watermark === null) continue;
      out[num(r.o_idx)] = { logStartOffset: num(r.o_log_start_offset), highWatermark: num(r.o_high_watermark) };
    }
    return out;
  }

  async listObjectKeys(): Promise<string[]> {
    const res = await this.db.query<{ object_key: string }>('SELECT object_key FROM objects ORDER BY object_id');
    return res.rows.map((r) => r.object_key);
  }
}
