/**
 * A diskless partition behind the partition seam: a small view over the broker's one diskless storage.
 * Any broker serves any diskless partition, so there is no per-partition state here: appends join the
 * broker's open object, reads go through its batch index and object caches, and the coordinator calls of
 * one request's partitions are gathered into one (CallBatcher).
 */
import type { Coordinator, DeleteRecordsRequest, ListOffsetsRequest } from '../../coordinator/coordinator.ts';
import { endOffsetOfStoredEpoch, LATEST_TIMESTAMP, READ_COMMITTED, READ_UNCOMMITTED, type ActiveProducer, type AppendResult, type IsolationLevel, type DeleteRecordsAnswer, type EpochEndOffset, type OffsetAnswer, type PartitionLog, type ProducedBatch, type ReadPlan } from '../partition-log.ts';
import type { CallBatcher } from './call-batcher.ts';
import type { DisklessReader } from './diskless-reader.ts';
import type { DisklessWriter } from './diskless-writer.ts';
import type { TxnViews } from './txn-views.ts';

/** The parts of diskless storage (diskless-storage.ts) a partition uses. */
export interface DisklessParts {
  readonly writer: DisklessWriter;
  readonly reader: DisklessReader;
  readonly offsetQueries: CallBatcher<ListOffsetsRequest, OffsetAnswer>;
  readonly deletions: CallBatcher<DeleteRecordsRequest, DeleteRecordsAnswer>;
  readonly txns: TxnViews;
  readonly coordinator: Pick<Coordinator, 'activeProducers'>;
}

export class DisklessPartition implements PartitionLog {
  constructor(private readonly storage: DisklessParts, readonly topicId: string, readonly partition: number) {}

  /** acks=1 and acks=all are the same: the batch is answered once its object is stored and committed. */
  append(batch: ProducedBatch, _acks: number): Promise<AppendResult> {
    return this.storage.writer.append({ topicId: this.topicId, partition: this.partition, batches: [batch] });
  }

  plan(offset: number, maxBytes: number, isolation: IsolationLevel): Promise<ReadPlan> {
    return this.storage.reader.plan({ topicId: this.topicId, partition: this.partition, offset, maxBytes }, isolation);
  }

  async listOffset(timestamp: number, isolation: IsolationLevel = READ_UNCOMMITTED): Promise<OffsetAnswer> {
    const answer = await this.storage.offsetQueries.call({ topicId: this.topicId, partition: this.partition, timestamp });
    if (timestamp !== LATEST_TIMESTAMP || isolation !== READ_COMMITTED || answer.errorCode !== 0) return answer;
    const view = await this.storage.txns.view({ topicId: this.topicId, partition: this.partition, fromOffset: answer.offset, highWatermark: answer.offset });
    return { ...answer, offset: view.lastStableOffset };
  }

  deleteRecords(offset: number): Promise<DeleteRecordsAnswer> {
    return this.storage.deletions.call({ topicId: this.topicId, partition: this.partition, offset });
  }

  endOffsetForEpoch(leaderEpoch: number): Promise<EpochEndOffset> {
    return endOffsetOfStoredEpoch(this, leaderEpoch);
  }

  activeProducers(): Promise<ActiveProducer[]> {
    return this.storage.coordinator.activeProducers({ topicId: this.topicId, partition: this.partition });
  }
}
