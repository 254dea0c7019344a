/**
 * TransactionStore over the batch coordinator's SQL (PostgreSQL or PGlite; tables: migration 9). Each
 * operation is one database transaction that locks the transactional id's row first, so two brokers
 * serving the same id (a client that moved, a janitor) take turns. Transactions are rare next to produce
 * and fetch, so these are plain statements, not stored functions; the commit path (floe_commit_object) is
 * where batches and markers are checked against this state.
 *
 * Error codes are Kafka's TransactionCoordinator's: a producer id other than the id's →
 * INVALID_PRODUCER_ID_MAPPING, an older epoch → PRODUCER_FENCED (handlers turn it into
 * INVALID_PRODUCER_EPOCH for versions before KIP-588), a transaction being ended → CONCURRENT_TRANSACTIONS.
 */
import { ErrorCode } from '../protocol/gen/errors.ts';
import { num, type SqlConnection, type SqlInt } from './sql-connection.ts';
import type {
  DescribedTransaction,
  EndingTransaction,
  EndTxnResult,
  InitTransactionalResult,
  PartitionKey,
  TransactionStore,
  TxnOffset,
  TxnProducer,
  TxnState,
  TxnView,
  TxnViewRequest,
} from './transaction-store.ts';
import { TXN_MARKERS_CHANNEL } from './transaction-store.ts';


interface TxnRow {
  transactional_id: string;
  producer_id: SqlInt;
  producer_epoch: SqlInt;
  last_producer_epoch: SqlInt;
  state: TxnState;
  timeout_ms: SqlInt;
  started_at: SqlInt;
}

const TXN_COLUMNS = 'transactional_id, producer_id, producer_epoch, last_producer_epoch, state, timeout_ms, started_at';

/** The largest epoch handed out; past it the id gets a new producer id (Kafka: Short.MaxValue - 1). */
const MAX_EPOCH = 32766;

export class SqlTransactionStore implements TransactionStore {
  constructor(private readonly db: SqlConnection) {}

  private async lock(tx: SqlConnection, transactionalId: string): Promise<TxnRow | undefined> {
    const res = await tx.query<TxnRow>(`SELECT ${TXN_COLUMNS} FROM transactions WHERE transactional_id = $1 FOR UPDATE`, [transactionalId]);
    return res.rows[0];
  }

  private async partitionsOf(tx: SqlConnection, transactionalId: string): Promise<PartitionKey[]> {
    // Partitions whose topic is gone need no marker.
    await tx.query(
      `DELETE FROM transaction_partitions tp
        WHERE tp.transactional_id = $1
          AND NOT EXISTS (SELECT 1 FROM partitions p WHERE p.topic_id = tp.topic_id AND p.partition = tp.partition)`,
      [transactionalId],
    );
    const res = await tx.query<{ topic_id: string; partition: SqlInt }>(
      'SELECT topic_id::text AS topic_id, partition FROM transaction_partitions WHERE transactional_id = $1 ORDER BY topic_id, partition',
      [transactionalId],
    );
    return res.rows.map((r) => ({ topicId: r.topic_id, partition: num(r.partition) }));
  }

  private async ending(tx: SqlConnection, row: TxnRow): Promise<EndingTransaction> {
    return {
      transactionalId: row.transactional_id,
      producerId: num(row.producer_id),
      producerEpoch: num(row.producer_epoch),
      commit: row.state === 'prepare_commit',
      partitions: await this.partitionsOf(tx, row.transactional_id),
    };
  }

  /** The checks every request of an ongoing transaction passes: 0, or its error. */
  private static check(row: TxnRow | undefined, producer: TxnProducer): number {
    if (!row || num(row.producer_id) !== producer.producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (num(row.producer_epoch) !== producer.producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (row.state === 'prepare_commit' || row.state === 'prepare_abort') return ErrorCode.CONCURRENT_TRANSACTIONS;
    return ErrorCode.NONE;
  }

  /** Moves the id's transaction to ongoing (its timeout starts) unless it already is. */
  private static async begin(tx: SqlConnection, row: TxnRow, now: number): Promise<void> {
    if (row.state === 'ongoing') return;
    await tx.query(`UPDATE transactions SET state = 'ongoing', started_at = $2, updated_at = $2 WHERE transactional_id = $1`, [row.transactional_id, now]);
  }

  initProducerId(transactionalId: string, timeoutMs: number, producerId: number, producerEpoch: number, now: number): Promise<InitTransactionalResult> {
    return this.db.transaction(async (tx) => {
      const row = await this.lock(tx, transactionalId);
      if (!row) {
        const res = await tx.query<{ producer_id: SqlInt }>(
          `INSERT INTO transactions (transactional_id, producer_id, producer_epoch, state, timeout_ms, updated_at)
           VALUES ($1, nextval('producer_id_seq'), 0, 'empty', $2, $3) RETURNING producer_id`,
          [transactionalId, timeoutMs, now],
        );
        return { errorCode: ErrorCode.NONE, producerId: num(res.rows[0]!.producer_id), producerEpoch: 0 };
      }
      const currentId = num(row.producer_id);
      const currentEpoch = num(row.producer_epoch);
      if (producerId >= 0) {
        // KIP-360: a producer recovering from an error names itself; only the current one (or the one a
        // timeout just fenced) may.
        if (producerId !== currentId) return { errorCode: ErrorCode.INVALID_PRODUCER_ID_MAPPING, producerId: -1, producerEpoch: -1 };
        if (producerEpoch !== currentEpoch && producerEpoch !== num(row.last_producer_epoch)) {
          return { errorCode: ErrorCode.PRODUCER_FENCED, producerId: -1, producerEpoch: -1 };
        }
      }
      if (row.state === 'ongoing') {
        // Fence the previous producer: its transaction is aborted with the next epoch, so its late batches
        // (older epoch) are refused. A producer re-initialising itself (KIP-360) may still name its old epoch.
        const next = await this.nextEpoch(tx, row);
        await tx.query(
          `UPDATE transactions SET producer_id = $2, producer_epoch = $3, state = 'prepare_abort', updated_at = $4, last_producer_epoch = $5
            WHERE transactional_id = $1`,
          [transactionalId, next.producerId, next.producerEpoch, now, next.producerId === currentId ? currentEpoch : -1],
        );
        await tx.query('DELETE FROM transaction_offsets WHERE transactional_id = $1', [transactionalId]);
        await tx.query('DELETE FROM transaction_groups WHERE transactional_id = $1', [transactionalId]);
        return { ending: await this.ending(tx, { ...row, producer_id: next.producerId, producer_epoch: next.producerEpoch, state: 'prepare_abort' }) };
      }
      if (row.state === 'prepare_commit' || row.state === 'prepare_abort') return { ending: await this.ending(tx, row) };
      const next = await this.nextEpoch(tx, row);
      await tx.query(
        `UPDATE transactions SET producer_id = $2, producer_epoch = $3, state = 'empty', timeout_ms = $4, started_at = -1, updated_at = $5, last_producer_epoch = -1
          WHERE transactional_id = $1`,
        [transactionalId, next.producerId, next.producerEpoch, timeoutMs, now],
      );
      return { errorCode: ErrorCode.NONE, ...next };
    });
  }

  /** The epoch after the row's: the same producer id, or a new one once the epoch is exhausted. */
  private async nextEpoch(tx: SqlConnection, row: TxnRow): Promise<{ producerId: number; producerEpoch: number }> {
    const epoch = num(row.producer_epoch);
    if (epoch < MAX_EPOCH) return { producerId: num(row.producer_id), producerEpoch: epoch + 1 };
    const res = await tx.query<{ id: SqlInt }>(`SELECT nextval('producer_id_seq') AS id`);
    return { producerId: num(res.rows[0]!.id), producerEpoch: 0 };
  }

  addPartitions(producer: TxnProducer, partitions: readonly PartitionKey[], now: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      const row = await this.lock(tx, producer.transactionalId);
      const error = SqlTransactionStore.check(row, producer);
      if (error !== ErrorCode.NONE) return error;
      await SqlTransactionStore.begin(tx, row!, now);
      await tx.query(
        `INSERT INTO transaction_partitions (transactional_id, topic_id, partition)
         SELECT $1, r.topic_id, r.partition FROM unnest($2::uuid[], $3::integer[]) AS r(topic_id, partition)
         ON CONFLICT DO NOTHING`,
        [producer.transactionalId, partitions.map((p) => p.topicId), partitions.map((p) => p.partition)],
      );
      return ErrorCode.NONE;
    });
  }

  async verifyPartitions(producer: TxnProducer, partitions: readonly PartitionKey[]): Promise<number | boolean[]> {
    const res = await this.db.query<TxnRow>(`SELECT ${TXN_COLUMNS} FROM transactions WHERE transactional_id = $1`, [producer.transactionalId]);
    const row = res.rows[0];
    const error = SqlTransactionStore.check(row, producer);
    if (error !== ErrorCode.NONE) return error;
    if (row!.state !== 'ongoing') return partitions.map(() => false);
    const added = await this.db.query<{ i: SqlInt }>(
      `SELECT r.i FROM unnest($2::uuid[], $3::integer[]) WITH ORDINALITY AS r(topic_id, partition, i)
         JOIN transaction_partitions tp ON tp.transactional_id = $1 AND tp.topic_id = r.topic_id AND tp.partition = r.partition`,
      [producer.transactionalId, partitions.map((p) => p.topicId), partitions.map((p) => p.partition)],
    );
    const out = partitions.map(() => false);
    for (const r of added.rows) out[num(r.i) - 1] = true;
    return out;
  }

  addOffsets(producer: TxnProducer, groupId: string, now: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      const row = await this.lock(tx, producer.transactionalId);
      const error = SqlTransactionStore.check(row, producer);
      if (error !== ErrorCode.NONE) return error;
      await SqlTransactionStore.begin(tx, row!, now);
      await tx.query('INSERT INTO transaction_groups (transactional_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [producer.transactionalId, groupId]);
      return ErrorCode.NONE;
    });
  }

  commitOffsets(producer: TxnProducer, groupId: string, offsets: readonly TxnOffset[]): Promise<number> {
    return this.db.transaction(async (tx) => {
      const row = await this.lock(tx, producer.transactionalId);
      const error = SqlTransactionStore.check(row, producer);
      if (error !== ErrorCode.NONE) return error;
      const added = await tx.query('SELECT 1 FROM transaction_groups WHERE transactional_id = $1 AND group_id = $2', [producer.transactionalId, groupId]);
      if (row!.state !== 'ongoing' || added.rows.length === 0) return ErrorCode.INVALID_TXN_STATE;
      await tx.query(
        `INSERT INTO transaction_offsets AS o (transactional_id, group_id, topic_id, partition, committed_offset, leader_epoch, metadata)
         SELECT DISTINCT ON (r.topic_id, r.partition) $1, $2, r.topic_id, r.partition, r.committed_offset, r.leader_epoch, r.metadata
           FROM unnest($3::uuid[], $4::integer[], $5::bigint[], $6::integer[], $7::text[]) WITH ORDINALITY
                  AS r(topic_id, partition, committed_offset, leader_epoch, metadata, i)
          ORDER BY r.topic_id, r.partition, r.i DESC
         ON CONFLICT (transactional_id, group_id, topic_id, partition) DO UPDATE
            SET committed_offset = EXCLUDED.committed_offset, leader_epoch = EXCLUDED.leader_epoch, metadata = EXCLUDED.metadata`,
        [
          producer.transactionalId,
          groupId,
          offsets.map((o) => o.topicId),
          offsets.map((o) => o.partition),
          offsets.map((o) => o.offset.toString()),
          offsets.map((o) => o.leaderEpoch),
          offsets.map((o) => o.metadata),
        ],
      );
      return ErrorCode.NONE;
    });
  }

  endTxn(producer: TxnProducer, commit: boolean, now: number): Promise<EndTxnResult> {
    return this.db.transaction(async (tx) => {
      const row = await this.lock(tx, producer.transactionalId);
      if (!row || num(row.producer_id) !== producer.producerId) return { errorCode: ErrorCode.INVALID_PRODUCER_ID_MAPPING };
      if (num(row.producer_epoch) !== producer.producerEpoch) return { errorCode: ErrorCode.PRODUCER_FENCED };
      const prepared = commit ? 'prepare_commit' : 'prepare_abort';
      const completed = commit ? 'complete_commit' : 'complete_abort';
      if (row.state === completed) return { errorCode: ErrorCode.NONE }; // a retry
      if (row.state === prepared) return { ending: await this.ending(tx, row) };
      if (row.state !== 'ongoing') return { errorCode: ErrorCode.INVALID_TXN_STATE };
      if (commit) {
        // The decision is durable from here: the transaction's group offsets become the groups' committed
        // offsets now (Kafka writes them with the markers; no order between the two is promised there either).
        await tx.query(
          `INSERT INTO group_offsets AS g (group_id, topic_id, partition, committed_offset, leader_epoch, metadata, commit_timestamp, expire_timestamp)
           SELECT o.group_id, o.topic_id, o.partition, o.committed_offset, o.leader_epoch, o.metadata, $2, -1
             FROM transaction_offsets o
             JOIN partitions p ON p.topic_id = o.topic_id AND p.partition = o.partition
            WHERE o.transactional_id = $1
           ON CONFLICT (group_id, topic_id, partition) DO UPDATE
              SET committed_offset = EXCLUDED.committed_offset, leader_epoch = EXCLUDED.leader_epoch, metadata = EXCLUDED.metadata,
                  commit_timestamp = EXCLUDED.commit_timestamp, expire_timestamp = EXCLUDED.expire_timestamp`,
          [producer.transactionalId, now],
        );
      }
      await tx.query('DELETE FROM transaction_offsets WHERE transactional_id = $1', [producer.transactionalId]);
      await tx.query('DELETE FROM transaction_groups WHERE transactional_id = $1', [producer.transactionalId]);
      await tx.query('UPDATE transactions SET state = $2, updated_at = $3 WHERE transactional_id = $1', [producer.transactionalId, prepared, now]);
      return { ending: await this.ending(tx, { ...row, state: prepared }) };
    });
  }

  async awaitingMarkers(ending: EndingTransaction): Promise<PartitionKey[]> {
    const res = await this.db.query<{ topic_id: string; partition: SqlInt }>(
      `SELECT tp.topic_id::text AS topic_id, tp.partition FROM transactions t
         JOIN transaction_partitions tp ON tp.transactional_id = t.transactional_id
        WHERE t.transactional_id = $1 AND t.producer_id = $2 AND t.producer_epoch = $3 AND t.state = $4`,
      [ending.transactionalId, ending.producerId, ending.producerEpoch, ending.commit ? 'prepare_commit' : 'prepare_abort'],
    );
    return res.rows.map((r) => ({ topicId: r.topic_id, partition: num(r.partition) }));
  }

  async markerWritten(ending: EndingTransaction, partition: PartitionKey): Promise<void> {
    await this.db.query(
      `DELETE FROM transaction_partitions tp USING transactions t
        WHERE t.transactional_id = $1 AND t.producer_id = $2 AND t.producer_epoch = $3 AND t.state IN ('prepare_commit', 'prepare_abort')
          AND tp.transactional_id = t.transactional_id AND tp.topic_id = $4 AND tp.partition = $5`,
      [ending.transactionalId, ending.producerId, ending.producerEpoch, partition.topicId, partition.partition],
    );
  }

  complete(ending: EndingTransaction, now: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const row = await this.lock(tx, ending.transactionalId);
      if (!row || num(row.producer_id) !== ending.producerId || num(row.producer_epoch) !== ending.producerEpoch) return true;
      if (row.state !== 'prepare_commit' && row.state !== 'prepare_abort') return true;
      if ((await this.partitionsOf(tx, ending.transactionalId)).length > 0) return false;
      await tx.query(`UPDATE transactions SET state = $2, started_at = -1, updated_at = $3 WHERE transactional_id = $1`, [
        ending.transactionalId,
        row.state === 'prepare_commit' ? 'complete_commit' : 'complete_abort',
        now,
      ]);
      return true;
    });
  }

  abortTimedOut(now: number, limit: number): Promise<EndingTransaction[]> {
    return this.db.transaction(async (tx) => {
      const res = await tx.query<TxnRow>(
        `SELECT ${TXN_COLUMNS} FROM transactions
          WHERE state = 'ongoing' AND started_at >= 0 AND started_at + timeout_ms < $1
          ORDER BY started_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [now, limit],
      );
      const out: EndingTransaction[] = [];
      for (const row of res.rows) {
        // Kafka bumps the epoch: the timed-out producer is fenced, and may re-initialise with its old epoch.
        const next = await this.nextEpoch(tx, row);
        await tx.query(
          `UPDATE transactions SET producer_id = $2, producer_epoch = $3, last_producer_epoch = $4, state = 'prepare_abort', updated_at = $5
            WHERE transactional_id = $1`,
          [row.transactional_id, next.producerId, next.producerEpoch, next.producerId === num(row.producer_id) ? num(row.producer_epoch) : -1, now],
        );
        await tx.query('DELETE FROM transaction_offsets WHERE transactional_id = $1', [row.transactional_id]);
        await tx.query('DELETE FROM transaction_groups WHERE transactional_id = $1', [row.transactional_id]);
        out.push(await this.ending(tx, { ...row, producer_id: next.producerId, producer_epoch: next.producerEpoch, state: 'prepare_abort' }));
      }
      return out;
    });
  }

  prepared(now: number, minAgeMs: number, limit: number): Promise<EndingTransaction[]> {
    return this.db.transaction(async (tx) => {
      const res = await tx.query<TxnRow>(
        `SELECT ${TXN_COLUMNS} FROM transactions
          WHERE state IN ('prepare_commit', 'prepare_abort') AND updated_at <= $1
          ORDER BY updated_at LIMIT $2`,
        [now - minAgeMs, limit],
      );
      const out: EndingTransaction[] = [];
      for (const row of res.rows) out.push(await this.ending(tx, row));
      return out;
    });
  }

  preparedEnding(transactionalId: string): Promise<EndingTransaction | null> {
    return this.db.transaction(async (tx) => {
      const res = await tx.query<TxnRow>(
        `SELECT ${TXN_COLUMNS} FROM transactions WHERE transactional_id = $1 AND state IN ('prepare_commit', 'prepare_abort')`,
        [transactionalId],
      );
      return res.rows[0] ? this.ending(tx, res.rows[0]) : null;
    });
  }

  async requestMarkers(transactionalId: string): Promise<void> {
    // A NOTIFY payload must stay under 8000 bytes; a longer id asks for every prepared transaction ('*').
    const payload = Buffer.byteLength(transactionalId) < 4000 ? transactionalId : '*';
    await this.db.query('SELECT pg_notify($1::text, $2::text)', [TXN_MARKERS_CHANNEL, payload]);
  }

  async dropPassedAborts(): Promise<number> {
    const res = await this.db.query<{ n: SqlInt }>(
      `WITH gone AS (
         DELETE FROM aborted_transactions a
          WHERE NOT EXISTS (SELECT 1 FROM partitions p
                             WHERE p.topic_id = a.topic_id AND p.partition = a.partition AND a.last_offset >= p.log_start_offset)
         RETURNING 1)
       SELECT count(*) AS n FROM gone`,
    );
    return num(res.rows[0]?.n);
  }

  async includes(producerId: number, partition: PartitionKey): Promise<boolean> {
    const res = await this.db.query(
      `SELECT 1 FROM transactions t
         JOIN transaction_partitions tp ON tp.transactional_id = t.transactional_id
        WHERE t.producer_id = $1 AND tp.topic_id = $2::uuid AND tp.partition = $3`,
      [producerId, partition.topicId, partition.partition],
    );
    return res.rows.length > 0;
  }

  async expireIds(now: number, maxIdleMs: number): Promise<number> {
    const res = await this.db.query<{ n: SqlInt }>(
      `WITH gone AS (
         DELETE FROM transactions
          WHERE state IN ('empty', 'complete_commit', 'complete_abort') AND updated_at < $1
         RETURNING 1)
       SELECT count(*) AS n FROM gone`,
      [now - maxIdleMs],
    );
    return num(res.rows[0]?.n);
  }

  async view(requests: readonly TxnViewRequest[]): Promise<TxnView[]> {
    if (requests.length === 0) return [];
    const params = [requests.map((r) => r.topicId), requests.map((r) => r.partition), requests.map((r) => r.fromOffset)];
    // One snapshot for both: a range below the open transactions' first offsets is decided in it.
    const res = await this.db.query<{ i: SqlInt; first_open: SqlInt | null; producer_id: SqlInt | null; first_offset: SqlInt | null; has_aborts: boolean }>(
      `SELECT r.i,
              (SELECT min(tp.first_offset) FROM transaction_partitions tp
                WHERE tp.topic_id = r.topic_id AND tp.partition = r.partition AND tp.first_offset >= 0) AS first_open,
              EXISTS (SELECT 1 FROM aborted_transactions x WHERE x.topic_id = r.topic_id AND x.partition = r.partition) AS has_aborts,
              a.producer_id, a.first_offset
         FROM unnest($1::uuid[], $2::integer[], $3::bigint[]) WITH ORDINALITY AS r(topic_id, partition, from_offset, i)
         LEFT JOIN aborted_transactions a
                ON a.topic_id = r.topic_id AND a.partition = r.partition AND a.last_offset >= r.from_offset
        ORDER BY r.i, a.first_offset`,
      params,
    );
    const out: TxnView[] = requests.map((r) => ({ lastStableOffset: r.highWatermark, aborted: [], transactional: false }));
    for (const row of res.rows) {
      const i = num(row.i) - 1;
      const view = out[i]!;
      if (row.first_open !== null) {
        view.lastStableOffset = Math.min(requests[i]!.highWatermark, num(row.first_open));
        view.transactional = true;
      }
      if (row.has_aborts) view.transactional = true;
      if (row.producer_id !== null) view.aborted.push({ producerId: num(row.producer_id), firstOffset: num(row.first_offset) });
    }
    return out;
  }

  async pendingOffsets(groupId: string): Promise<PartitionKey[]> {
    const res = await this.db.query<{ topic_id: string; partition: SqlInt }>(
      'SELECT DISTINCT topic_id::text AS topic_id, partition FROM transaction_offsets WHERE group_id = $1',
      [groupId],
    );
    return res.rows.map((r) => ({ topicId: r.topic_id, partition: num(r.partition) }));
  }

  async describe(transactionalIds: readonly string[]): Promise<(DescribedTransaction | null)[]> {
    const res = await this.db.query<TxnRow>(`SELECT ${TXN_COLUMNS} FROM transactions WHERE transactional_id = ANY ($1::text[])`, [[...transactionalIds]]);
    const parts = await this.db.query<{ transactional_id: string; topic_id: string; partition: SqlInt }>(
      'SELECT transactional_id, topic_id::text AS topic_id, partition FROM transaction_partitions WHERE transactional_id = ANY ($1::text[]) ORDER BY topic_id, partition',
      [[...transactionalIds]],
    );
    const byId = new Map(res.rows.map((r) => [r.transactional_id, described(r)]));
    for (const p of parts.rows) byId.get(p.transactional_id)?.partitions.push({ topicId: p.topic_id, partition: num(p.partition) });
    return transactionalIds.map((id) => byId.get(id) ?? null);
  }

  async list(states: readonly TxnState[], producerIds: readonly number[], minDurationMs: number, now: number, idPattern: string | null): Promise<DescribedTransaction[]> {
    const res = await this.db.query<TxnRow>(
      `SELECT ${TXN_COLUMNS} FROM transactions
        WHERE (cardinality($1::text[]) = 0 OR state = ANY ($1::text[]))
          AND (cardinality($2::bigint[]) = 0 OR producer_id = ANY ($2::bigint[]))
          AND ($3::bigint < 0 OR (started_at >= 0 AND $4::bigint - started_at >= $3::bigint))
          AND ($5::text IS NULL OR transactional_id ~ $5::text)
        ORDER BY transactional_id`,
      [[...states], [...producerIds], minDurationMs, now, idPattern],
    );
    return res.rows.map(described);
  }
}

function described(r: TxnRow): DescribedTransaction {
  return {
    transactionalId: r.transactional_id,
    producerId: num(r.producer_id),
    producerEpoch: num(r.producer_epoch),
    state: r.state,
    timeoutMs: num(r.timeout_ms),
    startedAt: num(r.started_at),
    partitions: [],
  };
}
