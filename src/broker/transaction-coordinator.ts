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
 * - classic partitions led by another broker: the ending broker asks for them through the coordinator
 *   (NOTIFY on TXN_MARKERS_CHANNEL) and their leaders write them at once; should that be lost, the leader's
 *   janitor finds them (it polls for prepared transactions every transaction.marker.retry.interval.ms).
 *   No broker-to-broker call is needed.
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
import { TXN_MARKERS_CHANNEL, type EndingTransaction, type TransactionStore, type TxnState } from '../coordinator/transaction-store.ts';
import { TXN_ABORT_MARKER, TXN_COMMIT_MARKER, type TimestampType } from '../coordinator/coordinator.ts';
import type { PartitionLog, ProducedBatch } from '../storage/partition-log.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { ControlType, controlBatch } from '../protocol/record-batch.ts';
import { childLogger } from '../observability/log.ts';
import { isServeError, type Partitions } from './partitions.ts';
import type { Topic, TopicRegistry } from './topics.ts';

const log = childLogger('transactions');

export interface TransactionOptions {
  maxTimeoutMs: number;
  abortTimedOutIntervalMs: number;
  markerRetryIntervalMs: number;
  /** transactional.id.expiration.ms */
  idExpirationMs: number;
}

export interface FinishOptions {
  /** Ask the leaders of the classic partitions led elsewhere to write their markers now (the ending broker). */
  requestLeaders?: boolean;
  /** Write only the classic markers of partitions led here (a leader asked by the ending broker). */
  classicOnly?: boolean;
}

type Listen = (channel: string, onPayload: (payload: string) => void, onResync?: () => void) => Promise<() => Promise<void>>;

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
  private unlisten: Promise<() => Promise<void>> | null = null;
  markersWritten = 0;
  timedOutAborts = 0;
  hangingAborted = 0;
  idsExpired = 0;

  constructor(
    readonly store: TransactionStore,
    private readonly topics: TopicRegistry,
    private readonly partitions: Partitions,
    readonly options: TransactionOptions,
    /** The coordinator's LISTEN (Coordinator.listen); absent: only the janitor writes markers led elsewhere. */
    private readonly listen?: Listen,
  ) {}

  /**
   * Writes the markers this broker can write and ends the transaction when none is missing. Resolves true
   * when the transaction is complete; false when some marker is left (a retriable failure, or a classic
   * partition led elsewhere): the janitors finish it.
   */
  finish(ending: EndingTransaction, options: FinishOptions = {}): Promise<boolean> {
    const id = ending.transactionalId;
    const previous = this.finishing.get(id) ?? Promise.resolve(true);
    const run = previous.catch(() => true).then(() => this.writeMarkers(ending, options));
    this.finishing.set(id, run);
    const forget = () => {
      if (this.finishing.get(id) === run) this.finishing.delete(id);
    };
    run.then(forget, forget);
    return run;
  }

  private async writeMarkers(ending: EndingTransaction, options: FinishOptions): Promise<boolean> {
    const ensured = this.topics.ensure(ending.partitions.map((p) => ({ name: null, topicId: p.topicId, partitionCount: p.partition + 1 })));
    if (ensured) await ensured.catch(() => undefined);
    const classic = ending.partitions.some((p) => this.topics.getById(p.topicId)?.diskless === false);
    const awaiting = classic ? new Set((await this.store.awaitingMarkers(ending)).map((p) => `${p.topicId}:${p.partition}`)) : null;
    const targets: { topic: Topic; partition: number; log: PartitionLog }[] = [];
    let ledElsewhere = false;
    for (const key of ending.partitions) {
      const topic = this.topics.getById(key.topicId);
      if (!topic || (topic.diskless && options.classicOnly)) continue;
      if (!topic.diskless && !awaiting!.has(`${key.topicId}:${key.partition}`)) continue; // written already, or the transaction moved on
      const partitionLog = this.partitions.serve(topic, key.partition);
      if (isServeError(partitionLog)) {
        if (!topic.diskless) ledElsewhere = true;
        continue;
      }
      targets.push({ topic, partition: key.partition, log: partitionLog });
    }
    // The leaders write their markers while this broker writes its own.
    if (ledElsewhere && options.requestLeaders) {
      this.store.requestMarkers(ending.transactionalId).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'asking the leaders for transaction markers failed; their janitors will write them'));
    }
    await Promise.all(targets.map(async ({ topic, partition, log: partitionLog }) => {
      const result = await partitionLog.append(markerBatch(ending.producerId, ending.producerEpoch, ending.commit, topic.config.messageTimestampType), -1);
      if (result.errorCode !== ErrorCode.NONE && result.errorCode !== ErrorCode.INVALID_TXN_STATE) {
        log.warn({ transactionalId: ending.transactionalId, topic: topic.name, partition, errorCode: result.errorCode }, 'writing a transaction marker failed; it will be retried');
        return;
      }
      if (result.errorCode === ErrorCode.NONE) this.markersWritten++;
      if (!topic.diskless) await this.store.markerWritten(ending, { topicId: topic.topicId, partition });
    }));
    return this.store.complete(ending, Date.now());
  }

  /**
   * Another broker ended a transaction with classic partitions it does not lead (TXN_MARKERS_CHANNEL):
   * this broker writes the markers of those it leads at once, rather than on its janitor's next pass.
   */
  private onMarkersRequested(payload: string): void {
    if (this.stopped) return;
    const run = async () => {
      const endings = payload === '*'
        ? await this.store.prepared(Date.now(), 0, JANITOR_BATCH)
        : [await this.store.preparedEnding(payload)].filter((e): e is EndingTransaction => e !== null);
      for (const ending of endings) {
        if (this.leadsClassicPartitionOf(ending)) await this.finish(ending, { classicOnly: true });
      }
    };
    run().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'writing requested transaction markers failed; the janitor will retry'));
  }

  private leadsClassicPartitionOf(ending: EndingTransaction): boolean {
    return ending.partitions.some((key) => {
      const topic = this.topics.getById(key.topicId);
      return topic !== undefined && !topic.diskless && !isServeError(this.partitions.serve(topic, key.partition));
    });
  }

  start(): void {
    this.unlisten = this.listen?.(TXN_MARKERS_CHANNEL, (payload) => this.onMarkersRequested(payload), () => void this.finishPrepared().catch(() => undefined))
      .catch((err: unknown) => {
        log.warn({ err: (err as Error).message }, 'cannot listen for transaction marker requests; the janitor writes them');
        return async () => {};
      }) ?? null;
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
    await (await this.unlisten)?.();
    await this.janitorRun;
  }

  /** Transactions past their timeout: aborted, their producer fenced. */
  async abortTimedOut(): Promise<void> {
    const endings = await this.store.abortTimedOut(Date.now(), JANITOR_BATCH);
    for (const ending of endings) {
      this.timedOutAborts++;
      log.info({ transactionalId: ending.transactionalId }, 'aborting a transaction past its timeout');
      await this.finish(ending, { requestLeaders: true });
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
