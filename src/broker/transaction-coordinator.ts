/**
 * The transaction coordinator (KIP-98) as handlers reach it: its state lives in the batch coordinator
 * (TransactionStore), so every broker can serve every transactional id; this class adds what needs the
 * partition seam — writing the commit/abort markers — and the janitor that finishes what a dead broker left.
 *
 * Markers are control batches appended like any batch, through `Partitions.serve`:
 * - diskless partitions: the marker joins this broker's open object, and its commit (floe_commit_object)
 *   takes the partition out of the transaction in the same database transaction that gives the marker its
 *   offset. Markers of one EndTxn share one object, so they commit together. Why in an object rather than
 *   only a row: every reader (batch index cache, notifications, object cache, retention, consumers) handles
 *   them as the batches they are, at the cost of one commit interval of EndTxn latency;
 * - classic partitions led here: appended to the local log, then reported (`markerWritten`);
 * - classic partitions led by another broker: that broker's janitor writes them (it polls for prepared
 *   transactions every transaction.marker.retry.interval.ms), so no broker-to-broker call is needed.
 * A diskless partition whose marker was already written (a retry, another broker's janitor) refuses the
 * duplicate in the commit (INVALID_TXN_STATE), which counts as written. A classic log cannot tell a late marker
 * from the producer's next transaction (transaction version 1 keeps the epoch), so this broker writes a
 * transaction's markers one `finish` at a time and writes a classic marker only while the coordinator says
 * the partition still waits for it: a janitor holding a stale list would otherwise end the next transaction.
 *
 * A classic partition checks a transactional batch's epoch but not (as diskless commits do) that the partition
 * is in the producer's transaction, so a zombie producer could leave a transaction open there that no
 * coordinator will end; the janitor aborts such hanging transactions once they are older than
 * transaction.max.timeout.ms (abortHanging).
 */
import type { EndingTransaction, TransactionStore, TxnState } from '../coordinator/transaction-store.ts';
import { TXN_ABORT_MARKER, TXN_COMMIT_MARKER, type TimestampType } from '../coordinator/coordinator.ts';
import type { ProducedBatch } from '../storage/partition-log.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { ControlType, controlBatch } from '../protocol/record-batch.ts';
import { childLogger } from '../observability/log.ts';
import { isServeError, type Partitions } from './partitions.ts';
import type { TopicRegistry } from './topics.ts';

const log = childLogger('transactions');

export interface TransactionOptions {
  maxTimeoutMs: number;
  abortTimedOutIntervalMs: number;
  markerRetryIntervalMs: number;
  /** transactional.id.expiration.ms */
  idExpirationMs: number;
}

/** Transactions the janitor takes per pass. */
const JANITOR_BATCH = 100;
/** A prepared transaction younger than this is left to the broker that ended it. */
const PREPARED_MIN_AGE_MS = 500;

export class TransactionCoordinator {
  private timers: NodeJS.Timeout[] = [];
  private janitorRun: Promise<void> | null = null;
  /** Per transactional id, the `finish` running on this broker (they run one after the other). */
  private readonly finishing = new Map<string, Promise<boolean>>();
  private stopped = false;
  markersWritten = 0;
  timedOutAborts = 0;
  hangingAborted = 0;
  idsExpired = 0;

  constructor(
    readonly store: TransactionStore,
    private readonly topics: TopicRegistry,
    private readonly partitions: Partitions,
    readonly options: TransactionOptions,
  ) {}

  /**
   * Writes the markers this broker can write and ends the transaction when none is missing. Resolves true
   * when the transaction is complete; false when some marker is left (a retriable failure, or a classic
   * partition led elsewhere): the janitors finish it.
   */
  finish(ending: EndingTransaction): Promise<boolean> {
    const id = ending.transactionalId;
    const previous = this.finishing.get(id) ?? Promise.resolve(true);
    const run = previous.catch(() => true).then(() => this.writeMarkers(ending));
    this.finishing.set(id, run);
    const forget = () => {
      if (this.finishing.get(id) === run) this.finishing.delete(id);
    };
    run.then(forget, forget);
    return run;
  }

  private async writeMarkers(ending: EndingTransaction): Promise<boolean> {
    const ensured = this.topics.ensure(ending.partitions.map((p) => ({ name: null, topicId: p.topicId, partitionCount: p.partition + 1 })));
    if (ensured) await ensured.catch(() => undefined);
    const classic = ending.partitions.some((p) => this.topics.getById(p.topicId)?.diskless === false);
    const awaiting = classic ? new Set((await this.store.awaitingMarkers(ending)).map((p) => `${p.topicId}:${p.partition}`)) : null;
    await Promise.all(ending.partitions.map(async (key) => {
      const topic = this.topics.getById(key.topicId);
      if (!topic) return;
      if (!topic.diskless && !awaiting!.has(`${key.topicId}:${key.partition}`)) return; // written already, or the transaction moved on
      const partitionLog = this.partitions.serve(topic, key.partition);
      if (isServeError(partitionLog)) return;
      const result = await partitionLog.append(markerBatch(ending.producerId, ending.producerEpoch, ending.commit, topic.config.messageTimestampType), -1);
      if (result.errorCode !== ErrorCode.NONE && result.errorCode !== ErrorCode.INVALID_TXN_STATE) {
        log.warn({ transactionalId: ending.transactionalId, topic: topic.name, partition: key.partition, errorCode: result.errorCode }, 'writing a transaction marker failed; it will be retried');
        return;
      }
      if (result.errorCode === ErrorCode.NONE) this.markersWritten++;
      if (!topic.diskless) await this.store.markerWritten(ending, key);
    }));
    return this.store.complete(ending, Date.now());
  }

  start(): void {
    const every = (ms: number, task: () => Promise<void>) => {
      const timer = setInterval(() => {
        if (this.janitorRun || this.stopped) return;
        this.janitorRun = task()
          .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'transaction janitor pass failed'))
          .finally(() => { this.janitorRun = null; });
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.abortTimedOutIntervalMs, async () => {
      await this.abortTimedOut();
      await this.abortHanging();
    });
    every(this.options.markerRetryIntervalMs, () => this.finishPrepared());
    every(60_000, async () => {
      await this.store.dropPassedAborts();
      this.idsExpired += await this.store.expireIds(Date.now(), this.options.idExpirationMs);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.janitorRun;
  }

  /** Transactions past their timeout: aborted, their producer fenced. */
  async abortTimedOut(): Promise<void> {
    const endings = await this.store.abortTimedOut(Date.now(), JANITOR_BATCH);
    for (const ending of endings) {
      this.timedOutAborts++;
      log.info({ transactionalId: ending.transactionalId }, 'aborting a transaction past its timeout');
      await this.finish(ending);
    }
  }

  /**
   * Hanging transactions of the classic partitions led here: open longer than transaction.max.timeout.ms
   * and in no transaction the coordinator knows of (a zombie producer wrote to a partition it had not
   * added; the coordinator aborts every real transaction within its timeout). Each gets an abort marker, as
   * `kafka-transactions.sh abort` would write, so the partition's last stable offset moves on.
   */
  async abortHanging(): Promise<void> {
    const now = Date.now();
    for (const partitionLog of this.partitions.openClassicLogs()) {
      for (const open of partitionLog.openTransactions()) {
        if (now - open.sinceMs <= this.options.maxTimeoutMs) continue;
        if (await this.store.includes(open.producerId, partitionLog)) continue;
        log.warn({ topicId: partitionLog.topicId, partition: partitionLog.partition, producerId: open.producerId, firstOffset: open.firstOffset },
          'aborting a hanging transaction (open past transaction.max.timeout.ms, unknown to the coordinator)');
        const result = await partitionLog.append(markerBatch(open.producerId, open.producerEpoch, false, 0), -1);
        if (result.errorCode === ErrorCode.NONE) this.hangingAborted++;
      }
    }
  }

  /** Prepared transactions still missing markers. */
  async finishPrepared(): Promise<void> {
    const endings = await this.store.prepared(Date.now(), PREPARED_MIN_AGE_MS, JANITOR_BATCH);
    for (const ending of endings) await this.finish(ending);
  }
}

/**
 * PRODUCER_FENCED as a request of `apiVersion` may carry it: versions before `firstVersion` (KIP-588) get
 * INVALID_PRODUCER_EPOCH instead, as Kafka answers older clients.
 */
export function fencedError(errorCode: number, apiVersion: number, firstVersion: number): number {
  return errorCode === ErrorCode.PRODUCER_FENCED && apiVersion < firstVersion ? ErrorCode.INVALID_PRODUCER_EPOCH : errorCode;
}

const KAFKA_TXN_STATES: Record<TxnState, string> = {
  empty: 'Empty',
  ongoing: 'Ongoing',
  prepare_commit: 'PrepareCommit',
  prepare_abort: 'PrepareAbort',
  complete_commit: 'CompleteCommit',
  complete_abort: 'CompleteAbort',
};

/** A transaction state as Kafka's admin APIs name it. */
export function kafkaTxnState(state: TxnState): string {
  return KAFKA_TXN_STATES[state];
}

export const TXN_STATE_BY_KAFKA_NAME: ReadonlyMap<string, TxnState> = new Map(Object.entries(KAFKA_TXN_STATES).map(([s, name]) => [name, s as TxnState]));

/** A commit or abort marker of the producer's transaction, as a batch to append. */
function markerBatch(producerId: number, producerEpoch: number, commit: boolean, timestampType: TimestampType): ProducedBatch {
  const now = Date.now();
  return {
    data: controlBatch(BigInt(producerId), producerEpoch, commit ? ControlType.COMMIT : ControlType.ABORT, 0, BigInt(now)),
    recordCount: 1,
    baseTimestamp: now,
    maxTimestamp: now,
    timestampType,
    producerId,
    producerEpoch,
    baseSequence: -1,
    lastSequence: -1,
    txnKind: commit ? TXN_COMMIT_MARKER : TXN_ABORT_MARKER,
  };
}
