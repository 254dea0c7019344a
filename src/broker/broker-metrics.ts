/**
 * Wires a broker's parts to its metrics: the two backend seams are wrapped (every object store request and
 * coordinator operation counted and timed), and the counters storage and the server keep anyway are read
 * at scrape time. It lives with the broker because it reads the broker's parts; observability/ only
 * provides the registry (metrics.ts), which knows nothing of them.
 */
import type { TransactionCoordinator } from './transaction-coordinator.ts';
import type { FetchSessionCache } from './fetch/fetch-session-cache.ts';
import type { ShareGroups } from '../groups/share-groups.ts';
import type { ClusterView } from '../cluster/cluster-view.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import type { KafkaServer } from '../network/server.ts';
import type { RequestMemoryPool } from '../network/request-memory-pool.ts';
import { MeteredObjectStore } from '../objectstore/metered.ts';
import type { ObjectStore } from '../objectstore/object-store.ts';
import { meterAsyncMethods, type BrokerMetrics } from '../observability/metrics.ts';
import type { DisklessMaintenance } from '../storage/diskless/maintenance.ts';
import type { Storage } from '../storage/storage.ts';

/** The parts whose counters are exported. */
export interface MeteredParts {
  metrics: BrokerMetrics;
  storage: Storage;
  maintenance: DisklessMaintenance;
  transactions: TransactionCoordinator;
  fetchSessions: FetchSessionCache;
  shareGroups: ShareGroups;
  cluster: ClusterView;
}

export function meteredSeams(metrics: BrokerMetrics, coordinator: Coordinator, objectStore: ObjectStore): { coordinator: Coordinator; objectStore: ObjectStore } {
  return {
    coordinator: meterAsyncMethods(coordinator, (op, seconds, failed) => {
      metrics.coordinatorOps.inc({ op });
      metrics.coordinatorSeconds.observe({ op }, seconds);
      if (failed) metrics.coordinatorErrors.inc({ op });
    }),
    objectStore: new MeteredObjectStore(objectStore, metrics),
  };
}

export function instrumentBroker(parts: MeteredParts, servers: readonly Pick<KafkaServer, 'connections'>[], requestMemory: RequestMemoryPool): void {
  const { metrics } = parts;
  // Kafka's SocketServer MemoryPoolUsed / MemoryPoolAvailable (queued.max.request.bytes; available -1: unbounded).
  metrics.observe('kafka_network_socketserver_memorypoolused', 'Bytes of requests read and not yet answered (queued.max.request.bytes), network threads included.', 'gauge', () => requestMemory.usedBytes);
  metrics.observe('kafka_network_socketserver_memorypoolavailable', 'Bytes queued.max.request.bytes leaves for requests (-1: unbounded).', 'gauge',
    () => requestMemory.maxBytes < 0 ? -1 : Math.max(0, requestMemory.maxBytes - requestMemory.usedBytes));
  const storage = parts.storage.diskless;
  const classic = parts.storage.classic;
  classic.onStage = (stage, seconds) => metrics.classicWriteStageSeconds.observe({ stage }, seconds);
  metrics.observe('kafka_server_socketservermetrics_connection_count', 'Open client connections.', 'gauge', () => servers.reduce((n, s) => n + s.connections.size, 0));
  metrics.observe('floe_cache_hits_total', 'Cache hits, by cache (object, batch_index).', 'counter',
    () => ({ object: storage.objectCache.stats.hits, batch_index: storage.index.hits }), 'cache');
  metrics.observe('floe_cache_misses_total', 'Cache misses, by cache (object, batch_index).', 'counter',
    () => ({ object: storage.objectCache.stats.misses, batch_index: storage.index.misses }), 'cache');
  metrics.observe('floe_object_cache_bytes', 'Bytes held by the object cache.', 'gauge', () => storage.objectCache.snapshot().bytes);
  metrics.observe('floe_lagging_cache_bytes', 'Bytes held or being read by the lagging read cache (diskless.lagging.cache.max.bytes).', 'gauge', () => storage.laggingCache.bytes);
  metrics.observe('floe_lagging_reads_total', 'Byte ranges lagging fetches asked the lagging read cache for, by outcome (hit: held or in flight, read ahead or shared; miss).', 'counter',
    () => ({ hit: storage.laggingCache.stats.hits, miss: storage.laggingCache.stats.misses }), 'outcome');
  metrics.observe('floe_read_ahead_total', 'Read-ahead ranges of lagging partitions, by outcome (issued; skipped: no room in diskless.lagging.cache.max.bytes; wasted: evicted unread; promoted: a queued read-ahead GET a fetch needed, started ahead of its turn).', 'counter',
    () => ({ issued: storage.laggingCache.stats.prefetches, skipped: storage.laggingCache.stats.prefetchesSkipped, wasted: storage.laggingCache.stats.evictedUnread, promoted: storage.laggingCache.stats.promoted }), 'outcome');
  metrics.observe('floe_lagging_gets', 'GETs of the lagging read cache, by state (in_flight; queued: read-ahead waiting for one of diskless.fetch.max.concurrent.gets).', 'gauge',
    () => ({ in_flight: storage.laggingCache.getsInFlightNow, queued: storage.laggingCache.queuedGets }), 'state');
  metrics.observe('floe_classic_partitions', 'Classic partitions whose local log this broker holds.', 'gauge', () => classic.stats.partitions);
  metrics.observe('floe_classic_pending_bytes', 'Bytes appended to classic logs and not answered yet (waiting for their write and, by default, fsync).', 'gauge', () => classic.stats.pendingBytes);
  metrics.observe('floe_classic_segments_deleted_total', 'Classic log segments deleted by the retention passes (retention.ms, retention.bytes, log start offset).', 'counter', () => classic.stats.segmentsDeleted);
  const cleaner = classic.cleaner;
  metrics.observe('floe_log_cleaner_runs_total', 'Compactions of classic logs (one per log cleaned, of one or more passes).', 'counter', () => cleaner.stats.runs);
  metrics.observe('floe_log_cleaner_passes_total', 'Log cleaner passes (a log with more dirty keys than the key map holds takes several).', 'counter', () => cleaner.stats.passes);
  metrics.observe('floe_log_cleaner_bytes_total', 'Bytes the log cleaner read from and wrote to classic logs, by direction (read, written).', 'counter',
    () => ({ read: cleaner.stats.bytesRead, written: cleaner.stats.bytesWritten }), 'direction');
  metrics.observe('floe_log_cleaner_records_removed_total', 'Records removed by compaction (superseded, expired tombstones, keyless).', 'counter', () => cleaner.stats.recordsRemoved);
  metrics.observe('floe_log_cleaner_failures_total', 'Compactions that failed (tried again after log.cleaner.backoff.ms).', 'counter', () => cleaner.stats.failures);
  metrics.observe('kafka_log_logcleanermanager_max_dirty_percent', 'Largest dirty share (percent) of the compacted classic logs.', 'gauge',
    () => Math.round(100 * Math.max(0, ...cleaner.dirtyRatios.values())));
  metrics.observe('floe_log_cleaner_dirty_ratio', 'Dirty share (0-1) of each compacted classic log, by partition (topic id:partition).', 'gauge',
    () => Object.fromEntries(cleaner.dirtyRatios), 'partition');
  const compactor = parts.maintenance.compactor;
  metrics.observe('floe_diskless_compaction_runs_total', 'Compactions of diskless partitions run by this broker (while it held the compaction lease).', 'counter', () => compactor.stats.runs);
  metrics.observe('floe_diskless_compaction_passes_total', 'Diskless compaction passes (one swap transaction each; several when the key map fills).', 'counter', () => compactor.stats.passes);
  metrics.observe('floe_diskless_compaction_bytes_total', 'Batch bytes diskless compaction read and wrote, by direction (read, written).', 'counter',
    () => ({ read: compactor.stats.bytesRead, written: compactor.stats.bytesWritten }), 'direction');
  metrics.observe('floe_diskless_compaction_records_removed_total', 'Records removed by diskless compaction.', 'counter', () => compactor.stats.recordsRemoved);
  metrics.observe('floe_diskless_compaction_objects_total', 'Objects written by diskless compaction, and old objects it released (now deleting), by kind.', 'counter',
    () => ({ written: compactor.stats.objectsWritten, released: compactor.stats.objectsReleased }), 'kind');
  metrics.observe('floe_diskless_compaction_conflicts_total', 'Compaction swaps refused because retention, DeleteRecords or topic deletion moved the partition meanwhile.', 'counter', () => compactor.stats.conflicts);
  metrics.observe('floe_diskless_compaction_failures_total', 'Diskless compactions that failed (tried again next pass).', 'counter', () => compactor.stats.failures);
  metrics.observe('floe_diskless_compaction_dirty_ratio', 'Dirty share (0-1) of each compacted diskless partition, by partition (topic id:partition), as last seen by this broker\'s compaction job.', 'gauge',
    () => Object.fromEntries(compactor.dirtyRatios), 'partition');
  const merger = parts.maintenance.merger;
  metrics.observe('floe_diskless_merge_passes_total', 'Merge passes this broker completed (while it held the merge lease).', 'counter', () => merger.stats.passes);
  metrics.observe('floe_diskless_merge_objects_total', 'Objects merged by this broker (inputs, now deleting) and merged objects it wrote, by kind (merged, written).', 'counter',
    () => ({ merged: merger.stats.objectsMerged, written: merger.stats.objectsWritten }), 'kind');
  metrics.observe('floe_diskless_merge_bytes_total', 'Bytes the merge job read and wrote, by direction (read, written).', 'counter',
    () => ({ read: merger.stats.bytesRead, written: merger.stats.bytesWritten }), 'direction');
  metrics.observe('floe_diskless_merge_lag_seconds', 'How long the oldest small object has waited to be merged past diskless.merge.min.age.ms, as last seen by this broker\'s merge job (0: none waits).', 'gauge',
    () => merger.stats.lagMs / 1000);
  metrics.observe('floe_diskless_merge_pending_objects', 'Small objects old enough to be merged, as last seen by this broker\'s merge job (at most 2,000).', 'gauge', () => merger.stats.pendingObjects);
  metrics.observe('floe_diskless_merge_conflicts_total', 'Merge swaps refused because retention, DeleteRecords, compaction or topic deletion changed the objects meanwhile.', 'counter', () => merger.stats.conflicts);
  metrics.observe('floe_diskless_merge_failures_total', 'Merges that failed (tried again next pass).', 'counter', () => merger.stats.failures);
  metrics.observe('floe_diskless_merge_throttled_seconds_total', 'Time the merge job waited to stay under diskless.merge.io.max.bytes.per.second.', 'counter', () => merger.stats.throttledSeconds);
  metrics.observe('floe_diskless_pending_bytes', 'Bytes in the open object and in objects being uploaded or committed.', 'gauge', () => storage.writer.stats.pendingBytes);
  metrics.observe('floe_diskless_pending_bytes_max', 'The most bytes pending at once (open, uploading or waiting for their commit) since the previous scrape: how close the write path\'s queue came to diskless.buffer.max.pending.bytes.', 'gauge',
    () => storage.writer.takePendingPeak());
  metrics.observe('floe_diskless_backpressure_events_total', 'Times producers were made to wait because too many bytes were pending.', 'counter',
    () => storage.writer.stats.backPressureEvents);
  storage.writer.onStage = (stage, seconds) => metrics.disklessWriteStageSeconds.observe({ stage }, seconds);
  metrics.observe('floe_diskless_objects_sealed_total', 'WAL objects sealed, by reason: interval (diskless.commit.interval.ms), size (diskless.buffer.max.bytes), idle (diskless.buffer.idle.ms), flush (shutdown).', 'counter',
    () => ({ ...storage.writer.stats.sealed }), 'reason');
  metrics.observe('floe_diskless_upload_hedges_total', 'Hedged object uploads (diskless.upload.hedge.percentile): second PUTs sent, those that finished first, and those the hedging budget refused, by result (sent, won, over_budget).', 'counter',
    () => ({ sent: storage.writer.stats.hedgedPuts, won: storage.writer.stats.hedgeWins, over_budget: storage.writer.stats.hedgesOverBudget }), 'result');
  metrics.observe('floe_diskless_objects_committed_total', 'WAL objects uploaded and committed.', 'counter', () => storage.writer.stats.objectsCommitted);
  metrics.observe('floe_diskless_upload_failures_total', 'WAL object uploads that failed.', 'counter', () => storage.writer.stats.uploadFailures);
  metrics.observe('floe_diskless_commit_failures_total', 'WAL object commits that failed or whose outcome is unknown.', 'counter', () => storage.writer.stats.commitFailures);
  metrics.observe('kafka_server_brokertopicmetrics_messagesin_total', 'Records appended to diskless topics (committed).', 'counter', () => storage.writer.stats.recordsCommitted);
  metrics.observe('kafka_server_brokertopicmetrics_bytesin_total', 'Record batch bytes appended to diskless topics (committed).', 'counter', () => storage.writer.stats.bytesCommitted);
  metrics.observe('kafka_server_brokertopicmetrics_bytesout_total', 'Record batch bytes read for consumers from diskless topics.', 'counter', () => storage.reader.bytesRead);
  const sessions = parts.fetchSessions;
  metrics.observe('kafka_server_fetchsessioncache_numincrementalfetchsessions', 'Fetch sessions (KIP-227) this broker keeps.', 'gauge', () => sessions.stats().sessions);
  metrics.observe('kafka_server_fetchsessioncache_numincrementalfetchpartitionscached', 'Partitions in this broker\'s fetch sessions.', 'gauge', () => sessions.stats().partitions);
  metrics.observe('kafka_server_fetchsessioncache_incrementalfetchsessionevictions_total', 'Fetch sessions evicted to make room for new ones.', 'counter', () => sessions.stats().evictions);
  const notified = storage.notificationStats;
  metrics.observe('floe_commit_notifications_total', 'Other brokers\' commits learned from coordinator notifications, by how (listed: the batches came in the notification; lookup: one coordinator query).', 'counter',
    () => ({ listed: notified.commits - notified.lookups, lookup: notified.lookups }), 'how');
  metrics.observe('floe_notification_resyncs_total', 'Times the batch index cache was dropped because coordinator notifications may have been missed.', 'counter', () => notified.resyncs);
  metrics.observe('floe_fetch_coordinator_queries_total', 'Coordinator queries made by fetches (batch index cache misses).', 'counter', () => storage.reader.coordinatorQueries);
  const gc = parts.maintenance.totals;
  metrics.observe('floe_retention_batches_deleted_total', 'Batches deleted by this broker\'s retention passes (retention.ms, retention.bytes, DeleteRecords leftovers).', 'counter', () => gc.batchesDeleted);
  metrics.observe('floe_objects_deleted_total', 'Objects deleted from the store by this broker\'s cleaner after the grace period.', 'counter', () => gc.objectsDeleted);
  metrics.observe('floe_orphan_objects_reaped_total', 'Objects uploaded but never committed that this broker\'s cleaner reaped.', 'counter', () => gc.orphansReaped);
  metrics.observe('floe_producer_states_expired_total', 'Idempotent producer states dropped after producer.id.expiration.ms.', 'counter', () => gc.producersExpired);
  const txns = parts.transactions;
  metrics.observe('floe_transaction_markers_written_total', 'Transaction commit/abort markers this broker wrote (EndTxn, fencing, timeouts, finishing prepared transactions).', 'counter', () => txns.markersWritten);
  metrics.observe('floe_transactions_hanging_aborted_total', 'Hanging transactions of classic partitions (open past transaction.max.timeout.ms, unknown to the coordinator) this broker aborted.', 'counter', () => txns.hangingAborted);
  metrics.observe('floe_transactions_timed_out_total', 'Transactions this broker aborted because they were open past their transaction.timeout.ms.', 'counter', () => txns.timedOutAborts);
  instrumentShareGroups(metrics, parts.shareGroups, parts.cluster);
  metrics.observe('floe_read_committed_coordinator_queries_total', 'Coordinator queries for last stable offsets and aborted ranges (read_committed fetches of diskless partitions with transactions).', 'counter', () => storage.txns.queries);
}

/**
 * Share groups (KIP-932), named after Kafka's metrics where Kafka has one: share-group-count of the group
 * coordinator (the groups this broker coordinates, so the brokers' values add up to the cluster's), the
 * BrokerTopicMetrics share request meters (once per topic of a request, as Kafka marks them) and
 * ShareGroupMetrics' RecordAcknowledgementsPerSec by acknowledge type; the record events Kafka has no meter
 * for (acquired, archived, lock timeouts) as floe_share_…. All counted by the broker that served the request.
 */
function instrumentShareGroups(metrics: BrokerMetrics, shares: ShareGroups, cluster: ClusterView): void {
  const stats = shares.stats;
  metrics.observe('kafka_server_group_coordinator_metrics_share_group_count', 'Share groups this broker coordinates, by state (Empty, Stable).', 'gauge',
    () => shares.countByState((groupId) => cluster.groupCoordinator(groupId).nodeId === cluster.nodeId), 'state');
  metrics.observe('kafka_server_brokertopicmetrics_totalsharefetchrequests_total', 'ShareFetch requests, counted once per topic they fetch.', 'counter', () => stats.fetchRequests);
  metrics.observe('kafka_server_brokertopicmetrics_failedsharefetchrequests_total', 'ShareFetch requests with a partition in error, counted once per such topic.', 'counter', () => stats.failedFetchRequests);
  metrics.observe('kafka_server_brokertopicmetrics_totalshareacknowledgementrequests_total', 'Acknowledgements (ShareAcknowledge, or piggy-backed on ShareFetch), counted once per topic they acknowledge.', 'counter',
    () => stats.acknowledgementRequests);
  metrics.observe('kafka_server_brokertopicmetrics_failedshareacknowledgementrequests_total', 'Acknowledgements refused for a partition (INVALID_RECORD_STATE and the like), counted once per such topic.', 'counter',
    () => stats.failedAcknowledgementRequests);
  metrics.observe('kafka_server_sharegroupmetrics_recordacknowledgements_total', 'Records acknowledged, by acknowledge type (Accept, Release, Reject, Renew).', 'counter',
    () => ({ Accept: stats.acknowledged[1] ?? 0, Release: stats.acknowledged[2] ?? 0, Reject: stats.acknowledged[3] ?? 0, Renew: stats.acknowledged[4] ?? 0 }), 'ack_type');
  metrics.observe('floe_share_records_acquired_total', 'Records acquired by share consumers (each delivery counts).', 'counter', () => stats.acquired);
  metrics.observe('floe_share_records_archived_total', 'Records archived without being accepted or rejected, by reason (delivery_limit: released or timed out at group.share.delivery.count.limit; aborted_transaction: passed by a read_committed share group).', 'counter',
    () => ({ delivery_limit: stats.archivedAtLimit, aborted_transaction: stats.archivedAborted }), 'reason');
  metrics.observe('floe_share_acquisition_lock_timeouts_total', 'Acquired records whose acquisition lock expired before they were acknowledged (records; Kafka\'s AcquisitionLockTimeoutPerSec counts the locks).', 'counter',
    () => stats.lockTimeouts);
}
