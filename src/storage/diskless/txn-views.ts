/**
 * What read_committed reads of diskless partitions need of transactions: each partition's last stable offset
 * and aborted ranges, from the coordinator (TransactionStore.view; one query per Fetch, its partitions'
 * questions gathered by a CallBatcher).
 *
 * Most partitions never see a transaction, so a partition the coordinator once answered "nothing to check"
 * for (no open transaction, no aborted range) is remembered as free and read without a query, until a
 * transactional batch or marker touches it (this broker's commits, or other brokers' commit notifications,
 * which name such batches). An answer counts only when no touch arrived since its question was asked (the
 * answer may predate the touch). Notifications may have been lost (resync): everything is forgotten.
 */
import type { TransactionStore, TxnView, TxnViewRequest } from '../../coordinator/transaction-store.ts';
import { partitionKey } from '../partition-log.ts';
import { CallBatcher } from './call-batcher.ts';

export class TxnViews {
  /** Partitions known to have no transaction state. */
  private readonly free = new Set<string>();
  /** Partition → the touch count when a transactional batch last touched it. */
  private readonly touchedAt = new Map<string, number>();
  private touches = 0;
  private horizon = 0;
  queries = 0;
  private readonly batcher = new CallBatcher<TxnViewRequest, TxnView>((requests) => {
    this.queries++;
    return this.store.view(requests);
  });

  constructor(private readonly store: TransactionStore) {}

  /** A transactional batch or marker was committed to the partition. */
  touched(topicId: string, partition: number): void {
    const key = partitionKey(topicId, partition);
    this.free.delete(key);
    this.touchedAt.set(key, ++this.touches);
    // Bounded memory: old touches are forgotten, and answers asked before them no longer count.
    if (this.touchedAt.size > 100_000) {
      this.touchedAt.clear();
      this.horizon = this.touches;
    }
  }

  /** Notifications may have been missed. */
  resync(): void {
    this.free.clear();
    this.horizon = ++this.touches;
  }

  /** True when the partition is known to have no transaction state (read it without asking). */
  isFree(topicId: string, partition: number): boolean {
    return this.free.has(partitionKey(topicId, partition));
  }

  async view(request: TxnViewRequest): Promise<TxnView> {
    const key = partitionKey(request.topicId, request.partition);
    if (this.free.has(key)) return { lastStableOffset: request.highWatermark, aborted: [], transactional: false };
    const asked = this.touches;
    const view = await this.batcher.call(request);
    if (!view.transactional && asked >= this.horizon && (this.touchedAt.get(key) ?? 0) <= asked) this.free.add(key);
    return view;
  }
}
