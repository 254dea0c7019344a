/**
 * Read-only queries over the coordinator's object tables for `floe objects ls|du` and the console: what is
 * in the bucket, how much of it still holds live batches, and what waits for the cleaner. Nothing here
 * writes; the queries only read `objects`, `batches` and `pending_objects`.
 */
import type { SqlConnection } from './sql-connection.ts';

type SqlInt = number | string | bigint;

export interface ObjectEntry {
  key: string;
  size: number;
  /** 'uploaded' (live or not yet merged) or 'deleting' (waiting for the cleaner). */
  state: string;
  brokerId: number;
  createdMs: number;
  batches: number;
  /** Bytes of the object still referenced by batches. */
  liveBytes: number;
}

export interface ObjectUsage {
  objects: number;
  bytes: number;
  liveBytes: number;
  /** Objects marked for deletion and their bytes. */
  deletingObjects: number;
  deletingBytes: number;
  /** Uploaded objects no batch refers to any more (the cleaner marks them next). */
  unreferencedObjects: number;
  unreferencedBytes: number;
  /** Uploads registered but not (yet) committed; old ones are reaped as orphans. */
  pendingUploads: number;
  /** Sizes by power of two: `upTo` bytes (exclusive) -> count and bytes. */
  histogram: { upTo: number; objects: number; bytes: number }[];
}

const n = (v: SqlInt | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));

export async function listObjects(db: SqlConnection, limit: number): Promise<ObjectEntry[]> {
  const res = await db.query<{ object_key: string; size: SqlInt; state: string; broker_id: SqlInt; created_ms: SqlInt; batches: SqlInt; live_bytes: SqlInt }>(
    `SELECT o.object_key, o.size, o.state, o.broker_id,
            floor(extract(epoch FROM o.created_at) * 1000)::bigint AS created_ms,
            count(b.object_id) AS batches, coalesce(sum(b.byte_size), 0)::bigint AS live_bytes
       FROM objects o LEFT JOIN batches b ON b.object_id = o.object_id
      GROUP BY o.object_id
      ORDER BY o.object_id
      LIMIT $1`,
    [limit],
  );
  return res.rows.map((r) => ({
    key: r.object_key,
    size: n(r.size),
    state: r.state,
    brokerId: n(r.broker_id),
    createdMs: n(r.created_ms),
    batches: n(r.batches),
    liveBytes: n(r.live_bytes),
  }));
}

export async function objectUsage(db: SqlConnection): Promise<ObjectUsage> {
  const totals = await db.query<{ objects: SqlInt; bytes: SqlInt; deleting_objects: SqlInt; deleting_bytes: SqlInt; unref_objects: SqlInt; unref_bytes: SqlInt }>(
    `SELECT count(*) AS objects, coalesce(sum(size), 0)::bigint AS bytes,
            count(*) FILTER (WHERE state = 'deleting') AS deleting_objects,
            coalesce(sum(size) FILTER (WHERE state = 'deleting'), 0)::bigint AS deleting_bytes,
            count(*) FILTER (WHERE state = 'uploaded' AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.object_id = o.object_id)) AS unref_objects,
            coalesce(sum(size) FILTER (WHERE state = 'uploaded' AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.object_id = o.object_id)), 0)::bigint AS unref_bytes
       FROM objects o`,
  );
  const live = await db.query<{ live: SqlInt }>('SELECT coalesce(sum(byte_size), 0)::bigint AS live FROM batches');
  const pending = await db.query<{ c: SqlInt }>('SELECT count(*) AS c FROM pending_objects');
  const hist = await db.query<{ bucket: SqlInt; objects: SqlInt; bytes: SqlInt }>(
    `SELECT floor(log(2, greatest(size, 1)::numeric))::int AS bucket, count(*) AS objects, sum(size)::bigint AS bytes
       FROM objects GROUP BY 1 ORDER BY 1`,
  );
  const t = totals.rows[0]!;
  return {
    objects: n(t.objects),
    bytes: n(t.bytes),
    liveBytes: n(live.rows[0]!.live),
    deletingObjects: n(t.deleting_objects),
    deletingBytes: n(t.deleting_bytes),
    unreferencedObjects: n(t.unref_objects),
    unreferencedBytes: n(t.unref_bytes),
    pendingUploads: n(pending.rows[0]!.c),
    histogram: hist.rows.map((r) => ({ upTo: 2 ** (n(r.bucket) + 1), objects: n(r.objects), bytes: n(r.bytes) })),
  };
}
