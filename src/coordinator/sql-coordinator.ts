/**
 * The batch coordinator over SQL (DESIGN.md, "Coordinator contract"). One schema and one set of SQL for
 * every backend: PGlite (embedded, `pglite.ts`) and PostgreSQL (`pg.ts`). Backends only provide a
 * `SqlConnection`.
 *
 * Requests carrying many partitions are sent as one JSON array parameter (`$1::text::jsonb`, unpacked
 * with `jsonb_to_recordset`), so each operation is one statement and one round trip, whatever the
 * driver's array handling.
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

interface BatchRow {
  object_key: string | null;
  byte_offset: SqlInt;
  byte_size: SqlInt;
  base_offset: SqlInt | null;
  last_offset: SqlInt;
  max_timestamp: SqlInt;
  log_append_time: SqlInt;
  timestamp_type: SqlInt;
}

function toBatch(r: BatchRow): BatchLocation {
  return {
    objectKey: r.object_key as string,
    byteOffset: num(r.byte_offset),
    byteSize: num(r.byte_size),
    baseOffset: num(r.base_offset),
    lastOffset: num(r.last_offset),
    maxTimestamp: num(r.max_timestamp),
    logAppendTime: num(r.log_append_time),
    timestampType: num(r.timestamp_type) as TimestampType,
  };
}

/** Batch columns, qualified by `alias`, as read by `toBatch` (plus the object key joined as `o`). */
function batchColumns(alias: string): string {
  return [
    'o.object_key',
    `${alias}.byte_offset`,
    `${alias}.byte_size`,
    `${alias}.base_offset`,
    `${alias}.last_offset`,
    `${alias}.max_timestamp`,
    `${alias}.log_append_time`,
    `${alias}.timestamp_type`,
  ].join(', ');
}

/** Effective timestamp of a batch row: log-append time for LogAppendTime batches, else max timestamp. */
function effectiveTs(alias: string): string {
  return `(CASE WHEN ${alias}.timestamp_type = 1 THEN ${alias}.log_append_time ELSE ${alias}.max_timestamp END)`;
}

const COMMIT_SQL = `
SELECT o_idx, o_error_code, o_base_offset, o_log_append_time, o_log_start_offset
  FROM floe_commit_object($1::text, $2::bigint, $3::integer, $4::text::jsonb)`;

/*
 * One statement for all partitions. `walk` follows each partition's batches in offset order, one index
 * probe per batch, and stops as soon as the sizes so far reach max_bytes (the first batch is always
 * taken), so a lagging consumer never makes the database read the whole tail of a partition.
 */
const FIND_BATCHES_SQL = `
WITH RECURSIVE req AS (
  SELECT r.i, r.topic_id, r.partition, r.fetch_offset, r.max_bytes,
         p.log_start_offset, p.high_watermark
    FROM jsonb_to_recordset($1::text::jsonb)
           AS r(i integer, topic_id uuid, partition integer, fetch_offset bigint, max_bytes bigint)
    LEFT JOIN partitions p ON p.topic_id = r.topic_id AND p.partition = r.partition
), walk AS (
  SELECT q.i, q.max_bytes, b.topic_id, b.partition, b.base_offset, b.last_offset, b.object_id,
         b.byte_offset, b.byte_size, b.max_timestamp, b.log_append_time, b.timestamp_type,
         b.byte_size AS total_bytes
    FROM req q
   CROSS JOIN LATERAL (
           SELECT f.* FROM batches f
            WHERE f.topic_id = q.topic_id AND f.partition = q.partition AND f.last_offset >= q.fetch_offset
            ORDER BY f.last_offset
            LIMIT 1) b
   WHERE q.fetch_offset >= q.log_start_offset AND q.fetch_offset < q.high_watermark
  UNION ALL
  SELECT w.i, w.max_bytes, n.topic_id, n.partition, n.base_offset, n.last_offset, n.object_id,
         n.byte_offset, n.byte_size, n.max_timestamp, n.log_append_time, n.timestamp_type,
         w.total_bytes + n.byte_size
    FROM walk w
   CROSS JOIN LATERAL (
           SELECT f.* FROM batches f
            WHERE f.topic_id = w.topic_id AND f.partition = w.partition AND f.base_offset > w.last_offset
            ORDER BY f.base_offset
            LIMIT 1) n
   WHERE w.total_bytes < w.max_bytes
)
SELECT q.i, q.fetch_offset, q.log_start_offset, q.high_watermark, ${batchColumns('w')}
  FROM req q
  LEFT JOIN walk w ON w.i = q.i
  LEFT JOIN objects o ON o.object_id = w.object_id
 ORDER BY q.i, w.base_offset`;

/*
 * By timestamp T: the answer is the first batch (at or after log start) whose effective timestamp is
 * >= T. Since max_timestamp_so_far is a running maximum, no such batch lies before the first batch with
 * max_timestamp_so_far >= T: one index probe finds where to start, and the scan from there normally
 * stops at its first row.
 * Max timestamp (-3): the first batch holding the partition's largest timestamp. The first batch whose
 * running maximum reaches the partition's maximum is it, unless that batch is gone or before log
 * start (records deleted); then scan the retained batches.
 */
const LIST_OFFSETS_SQL = `
SELECT q.i, p.log_start_offset, p.high_watermark, ${batchColumns('b')}
  FROM jsonb_to_recordset($1::text::jsonb) AS q(i integer, topic_id uuid, partition integer, ts bigint)
  LEFT JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition
  LEFT JOIN LATERAL (
    SELECT CASE
      WHEN q.ts >= 0 THEN (
        SELECT t.base_offset FROM batches t
         WHERE t.topic_id = q.topic_id AND t.partition = q.partition
           AND t.base_offset >= (
                 SELECT s.base_offset FROM batches s
                  WHERE s.topic_id = q.topic_id AND s.partition = q.partition AND s.max_timestamp_so_far >= q.ts
                  ORDER BY s.max_timestamp_so_far, s.base_offset
                  LIMIT 1)
           AND t.last_offset >= p.log_start_offset
           AND ${effectiveTs('t')} >= q.ts
         ORDER BY t.base_offset
         LIMIT 1)
      WHEN q.ts = -3 THEN coalesce(
        (SELECT CASE WHEN s.last_offset >= p.log_start_offset AND ${effectiveTs('s')} >= p.max_timestamp
                     THEN s.base_offset END
           FROM batches s
          WHERE s.topic_id = q.topic_id AND s.partition = q.partition AND s.max_timestamp_so_far >= p.max_timestamp
          ORDER BY s.max_timestamp_so_far, s.base_offset
          LIMIT 1),
        (SELECT t.base_offset FROM batches t
          WHERE t.topic_id = q.topic_id AND t.partition = q.partition AND t.last_offset >= p.log_start_offset
          ORDER BY ${effectiveTs('t')} DESC, t.base_offset
          LIMIT 1))
    END AS found_offset
  ) x ON p.topic_id IS NOT NULL
  LEFT JOIN batches b ON b.topic_id = q.topic_id AND b.partition = q.partition AND b.base_offset = x.found_offset
  LEFT JOIN objects o ON o.object_id = b.object_id
 ORDER BY q.i`;

const PARTITION_OFFSETS_SQL = `
SELECT q.i, p.log_start_offset, p.high_watermark
  FROM jsonb_to_recordset($1::text::jsonb) AS q(i integer, topic_id uuid, partition integer)
  LEFT JOIN partitions p ON p.topic_id = q.topic_id AND p.partition = q.partition
 ORDER BY q.i`;

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

function isUuid(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}

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
    const batches = request.batches.map((b, i) => ({
      i,
      // A malformed id cannot name a partition; send a valid uuid that matches none (error 3).
      topic_id: isUuid(b.topicId) ? b.topicId : '00000000-0000-0000-0000-000000000000',
      partition: b.partition,
      byte_offset: b.byteOffset,
      byte_size: b.byteSize,
      record_count: b.recordCount,
      base_timestamp: b.baseTimestamp,
      max_timestamp: b.maxTimestamp,
      timestamp_type: b.timestampType,
      producer_id: b.producerId,
      producer_epoch: b.producerEpoch,
      base_sequence: b.baseSequence,
      last_sequence: b.lastSequence,
    }));
    const res = await this.db.query<{
      o_idx: SqlInt;
      o_error_code: SqlInt;
      o_base_offset: SqlInt;
      o_log_append_time: SqlInt;
      o_log_start_offset: SqlInt;
    }>(COMMIT_SQL, [request.objectKey, request.objectSize, request.brokerId, JSON.stringify(batches)]);
    const out = new Array<CommitBatchResult>(batches.length);
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
    const params = requests.map((r, i) => ({
      i,
      topic_id: isUuid(r.topicId) ? r.topicId : '00000000-0000-0000-0000-000000000000',
      partition: r.partition,
      fetch_offset: r.offset,
      max_bytes: r.maxBytes,
    }));
    const res = await this.db.query<
      BatchRow & { i: SqlInt; fetch_offset: SqlInt; log_start_offset: SqlInt | null; high_watermark: SqlInt | null }
    >(FIND_BATCHES_SQL, [JSON.stringify(params)]);
    const out: FindBatchesResult[] = requests.map(() => ({
      errorCode: UNKNOWN_TOPIC_OR_PARTITION,
      logStartOffset: -1,
      highWatermark: -1,
      batches: [],
    }));
    for (const r of res.rows) {
      const o = out[num(r.i)]!;
      if (r.log_start_offset === null || r.high_watermark === null) continue; // unknown partition
      o.logStartOffset = num(r.log_start_offset);
      o.highWatermark = num(r.high_watermark);
      const offset = num(r.fetch_offset);
      o.errorCode = offset < o.logStartOffset || offset > o.highWatermark ? OFFSET_OUT_OF_RANGE : 0;
      if (r.base_offset !== null) o.batches.push(toBatch(r));
    }
    return out;
  }

  async listOffsets(requests: readonly ListOffsetsRequest[]): Promise<ListOffsetsResult[]> {
    if (requests.length === 0) return [];
    const params = requests.map((r, i) => ({
      i,
      topic_id: isUuid(r.topicId) ? r.topicId : '00000000-0000-0000-0000-000000000000',
      partition: r.partition,
      ts: r.timestamp,
    }));
    const res = await this.db.query<
      BatchRow & { i: SqlInt; log_start_offset: SqlInt | null; high_watermark: SqlInt | null }
    >(LIST_OFFSETS_SQL, [JSON.stringify(params)]);
    const out: ListOffsetsResult[] = requests.map(() => ({
      errorCode: UNKNOWN_TOPIC_OR_PARTITION,
      logStartOffset: -1,
      highWatermark: -1,
      batch: null,
    }));
    for (const r of res.rows) {
      if (r.log_start_offset === null || r.high_watermark === null) continue;
      out[num(r.i)] = {
        errorCode: 0,
        logStartOffset: num(r.log_start_offset),
        highWatermark: num(r.high_watermark),
        batch: r.base_offset === null ? null : toBatch(r),
      };
    }
    return out;
  }

  async getPartitionOffsets(keys: readonly PartitionKey[]): Promise<(PartitionOffsets | null)[]> {
    if (keys.length === 0) return [];
    const params = keys.map((k, i) => ({
      i,
      topic_id: isUuid(k.topicId) ? k.topicId : '00000000-0000-0000-0000-000000000000',
      partition: k.partition,
    }));
    const res = await this.db.query<{ i: SqlInt; log_start_offset: SqlInt | null; high_watermark: SqlInt | null }>(
      PARTITION_OFFSETS_SQL,
      [JSON.stringify(params)],
    );
    const out: (PartitionOffsets | null)[] = keys.map(() => null);
    for (const r of res.rows) {
      if (r.log_start_offset === null || r.high_watermark === null) continue;
      out[num(r.i)] = { logStartOffset: num(r.log_start_offset), highWatermark: num(r.high_watermark) };
    }
    return out;
  }

  async listObjectKeys(): Promise<string[]> {
    const res = await this.db.query<{ object_key: string }>('SELECT object_key FROM objects ORDER BY object_id');
    return res.rows.map((r) => r.object_key);
  }
}
