/**
 * Keeps a broker's caches coherent with the other brokers sharing its coordinator (DESIGN.md, "Fetch path"
 * step 4 and "Routing and the cluster"): subscribes to the coordinator's notifications (coordinator/
 * notifications.ts) and routes them to the parts that cache.
 *
 * - `floe_commits` → diskless storage: other brokers' batches extend the batch index cache and wake long polls.
 * - `floe_topics` → the topic registry reads the changed topic again; a deleted topic's storage caches and
 *   (when led here) classic logs are dropped as a local DeleteTopics would; a classic topic led here that
 *   grew gets its new logs.
 * - `floe_log_starts` → the index cache's log starts (DeleteRecords or retention on any broker).
 * - On resync (the listener reconnected: notifications may have been missed) the index cache is dropped,
 *   every long poll re-reads, the topics and log starts are read again. The topics are also read again
 *   every TOPIC_RELOAD_MS, a safety net that costs one small query.
 *
 * Subscribed before the topics are first loaded, so no change falls between the load and the subscription.
 */
import type { ClusterView } from '../cluster/cluster-view.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { COMMITS_CHANNEL, BROKERS_CHANNEL, COMPACTIONS_CHANNEL, LOG_STARTS_CHANNEL, TOPICS_CHANNEL } from '../coordinator/notifications.ts';
import { childLogger } from '../observability/log.ts';
import type { Storage } from '../storage/storage.ts';
import type { TopicAdmin } from './topic-admin.ts';
import type { TopicRegistry } from './topics.ts';

/** The parts of a broker that follow the coordinator. */
export interface CoherentParts {
  coordinator: Pick<Coordinator, 'listen'>;
  storage: Storage;
  topics: TopicRegistry;
  admin: TopicAdmin;
  cluster: ClusterView;
}

const log = childLogger('coherence');

export const TOPIC_RELOAD_MS = 30_000;

/** Starts following the coordinator's notifications; resolves with the function that stops it. */
export async function followCoordinator(parts: CoherentParts): Promise<() => Promise<void>> {
  const { coordinator, storage, topics, admin, cluster } = parts;
  const diskless = storage.diskless;
  const warn = (what: string) => (err: unknown) => log.warn({ err: (err as Error).message }, what);
  const ledHere = (topic: Parameters<ClusterView['classicLeader']>[0]) => !topic.diskless && cluster.classicLeader(topic) === cluster.nodeId;

  topics.onDropped = (topic) => {
    log.info({ topic: topic.name, topicId: topic.topicId }, 'topic deleted through another broker');
    diskless.dropTopic(topic.topicId);
    if (ledHere(topic)) storage.classic.dropTopic(topic).catch(warn('dropping classic logs failed'));
  };
  topics.onGrown = (topic) => {
    if (ledHere(topic)) admin.openClassicLogs(topic).catch(warn('creating classic logs failed'));
  };

  const unsubscribe = await Promise.all([
    coordinator.listen(COMMITS_CHANNEL, (payload) => diskless.onCommitNotification(payload), () => diskless.resync()),
    coordinator.listen(TOPICS_CHANNEL, (payload) => topics.onNotification(payload), () => void topics.load().catch(warn('topic reload failed'))),
    coordinator.listen(LOG_STARTS_CHANNEL, (payload) => diskless.onLogStartsNotification(payload), () => void diskless.refreshLogStarts().catch(warn('log start refresh failed'))),
    // Compaction rewrote a partition's batches: forget its cached locations (on resync: all of them).
    coordinator.listen(COMPACTIONS_CHANNEL, (payload) => diskless.onCompactionNotification(payload), () => diskless.resync()),
    // A broker joined or left: refresh the live set now rather than at the next heartbeat.
    coordinator.listen(BROKERS_CHANNEL, () => cluster.refresh(), () => cluster.refresh()),
  ]);
  const timer = setInterval(() => void topics.load().catch(warn('periodic topic reload failed')), TOPIC_RELOAD_MS);
  timer.unref();

  return async () => {
    clearInterval(timer);
    await Promise.allSettled(unsubscribe.map((u) => u()));
  };
}
