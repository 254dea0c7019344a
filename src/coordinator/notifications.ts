/**
 * The coordinator's notification channels (PostgreSQL NOTIFY, sent inside the transactions of the SQL
 * functions of migrations 6 and 7, so a change is announced if and only if it committed) and the parsers of
 * their payloads.
 * Payloads are compact text, as NOTIFY payloads must stay under 8000 bytes.
 *
 * - `floe_commits`, one per committed object: `<brokerId> <logAppendTime> <batches> <objectKey>` where
 *   `<batches>` lists the object's committed batches, `;`-separated, each
 *   `topicId,partition,byteOffset,byteSize,baseOffset,lastOffset,maxTimestamp,timestampType,logStartOffset[,txnKind]`
 *   (topicId left empty when it is the previous batch's; txnKind only for batches of transactions, migration 9), or is `*` when the list does not fit (ask
 *   `Coordinator.objectBatches`), or `?` when even the key does not fit (assume anything changed).
 * - `floe_topics`, one per topic change (create, delete, alter configs, create partitions):
 *   `<op> <topicId> <name>`.
 * - `floe_log_starts`, when DeleteRecords or retention move log start offsets:
 *   `topicId,partition,logStartOffset;…`, or `*` when the list does not fit (re-read them all).
 * - `floe_brokers`, on every membership change: the membership epoch (migration 6).
 * - `floe_compactions`, when compaction swapped a diskless partition's batches (migration 10):
 *   `<topicId>,<partition>`.
 */
import type { ObjectBatch, PartitionKey, TimestampType, TxnKind } from './coordinator.ts';

export const COMMITS_CHANNEL = 'floe_commits';
export const TOPICS_CHANNEL = 'floe_topics';
export const LOG_STARTS_CHANNEL = 'floe_log_starts';
export const BROKERS_CHANNEL = 'floe_brokers';
export const COMPACTIONS_CHANNEL = 'floe_compactions';

export interface CommitNotification {
  brokerId: number;
  objectKey: string;
  /** The object's batches; 'lookup': too many to list (ask objectBatches); 'unknown': not even the key fit. */
  batches: ObjectBatch[] | 'lookup' | 'unknown';
}

/** null for a payload that cannot be read (the caller resyncs). */
export function parseCommitNotification(payload: string): CommitNotification | null {
  const s1 = payload.indexOf(' ');
  const s2 = payload.indexOf(' ', s1 + 1);
  const s3 = payload.indexOf(' ', s2 + 1);
  if (s1 < 0 || s2 < 0) return null;
  const brokerId = Number(payload.slice(0, s1));
  const logAppendTime = Number(payload.slice(s1 + 1, s2));
  const list = s3 < 0 ? payload.slice(s2 + 1) : payload.slice(s2 + 1, s3);
  const objectKey = s3 < 0 ? '' : payload.slice(s3 + 1);
  if (!Number.isInteger(brokerId) || !Number.isFinite(logAppendTime)) return null;
  if (list === '?') return { brokerId, objectKey, batches: 'unknown' };
  if (objectKey === '') return null;
  if (list === '*') return { brokerId, objectKey, batches: 'lookup' };
  const batches: ObjectBatch[] = [];
  let topicId = '';
  for (const item of list.split(';')) {
    const f = item.split(',');
    if (f.length !== 9 && f.length !== 10) return null;
    if (f[0] !== '') topicId = f[0]!;
    const batch: ObjectBatch = {
      topicId,
      partition: Number(f[1]),
      objectKey,
      byteOffset: Number(f[2]),
      byteSize: Number(f[3]),
      baseOffset: Number(f[4]),
      lastOffset: Number(f[5]),
      maxTimestamp: Number(f[6]),
      logAppendTime,
      timestampType: Number(f[7]) as TimestampType,
      logStartOffset: Number(f[8]),
    };
    if (f.length === 10) batch.txnKind = Number(f[9]) as TxnKind;
    if (topicId === '' || !Number.isInteger(batch.baseOffset) || !Number.isInteger(batch.lastOffset) || !Number.isInteger(batch.partition)) return null;
    batches.push(batch);
  }
  return { brokerId, objectKey, batches };
}

export interface TopicNotification {
  op: string;
  topicId: string;
  name: string;
}

export function parseTopicNotification(payload: string): TopicNotification | null {
  const s1 = payload.indexOf(' ');
  const s2 = payload.indexOf(' ', s1 + 1);
  if (s1 < 0 || s2 < 0) return null;
  return { op: payload.slice(0, s1), topicId: payload.slice(s1 + 1, s2), name: payload.slice(s2 + 1) };
}

/** The moved log starts; 'all' when the list did not fit; null for a payload that cannot be read. */
export function parseLogStartsNotification(payload: string): (PartitionKey & { logStartOffset: number })[] | 'all' | null {
  if (payload === '*') return 'all';
  const out: (PartitionKey & { logStartOffset: number })[] = [];
  for (const item of payload.split(';')) {
    const f = item.split(',');
    if (f.length !== 3) return null;
    const partition = Number(f[1]);
    const logStartOffset = Number(f[2]);
    if (!Number.isInteger(partition) || !Number.isInteger(logStartOffset)) return null;
    out.push({ topicId: f[0]!, partition, logStartOffset });
  }
  return out;
}
