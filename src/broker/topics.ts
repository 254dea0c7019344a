/**
 * The broker's view of topics: a cache of the coordinator's topic rows with each topic's resolved
 * configuration. Creation and deletion through this broker update it at once (`remember`, `forget`);
 * changes made through any broker reach it through the coordinator's `floe_topics` notifications
 * (`onNotification`: that topic is read again), a full reload on resync and every few seconds
 * (`load`), and a lookup when a request names a topic or partition not known here yet (`ensure`).
 *
 * Reads from the coordinator are applied one at a time, in the order they were asked for, so an older
 * answer never overwrites a newer one. A topic that disappears is passed to `onDropped` (storage caches,
 * classic logs); one that gains partitions to `onGrown`.
 */
import type { Coordinator, TopicInfo } from '../coordinator/coordinator.ts';
import { parseTopicNotification } from '../coordinator/notifications.ts';
import type { BrokerConfig } from '../config/broker-config.ts';
import { resolveTopicConfig, type TopicConfig } from '../config/topic-config.ts';
import { childLogger } from '../observability/log.ts';
import { topicNameError } from './topic-names.ts';

const log = childLogger('topics');

export interface Topic extends TopicInfo {
  config: TopicConfig;
}

/** A topic a request names: by name or by id, and the partition count it needs. */
export interface TopicRef {
  name?: string | null;
  topicId?: string;
  /** The request names partitions below this. */
  partitionCount?: number;
}

/** A name or id the coordinator did not know is asked again only after this long (or a notification). */
const MISS_RETRY_MS = 1_000;
/** More unknown names than this in one request are looked up by reading every topic once. */
const MAX_NAME_LOOKUPS = 16;

export class TopicRegistry {
  private byName = new Map<string, Topic>();
  private byId = new Map<string, Topic>();
  private chain: Promise<void> = Promise.resolve();
  private queuedLoad: Promise<void> | null = null;
  private readonly lookups = new Map<string, Promise<void>>();
  private readonly misses = new Map<string, number>();
  /** Called when a topic this registry knew is gone (deleted through another broker). */
  onDropped: ((topic: Topic) => void) | null = null;
  /** Called when a topic gained partitions through another broker. */
  onGrown: ((topic: Topic) => void) | null = null;

  constructor(private readonly coordinator: Coordinator, private readonly brokerConfig: BrokerConfig) {}

  /** Reads every topic again (queued behind reads already asked for; coalesced with one not started yet). */
  load(): Promise<void> {
    this.queuedLoad ??= this.enqueue(async () => {
      this.queuedLoad = null;
      const topics = await this.coordinator.listTopics();
      this.misses.clear();
      const seen = new Set<string>();
      for (const t of topics) {
        seen.add(t.topicId);
        this.apply(t.name, t);
      }
      for (const t of [...this.byId.values()]) if (!seen.has(t.topicId)) this.drop(t);
    });
    return this.queuedLoad;
  }

  /** Reads one topic again (a notification named it). */
  refresh(name: string): Promise<void> {
    return this.enqueue(async () => {
      this.apply(name, await this.coordinator.getTopic(name));
    });
  }

  /** A `floe_topics` notification. */
  onNotification(payload: string): void {
    const n = parseTopicNotification(payload);
    this.misses.clear();
    const done = n === null ? this.load() : this.refresh(n.name);
    done.catch((err: unknown) => log.warn({ err: (err as Error).message, payload }, 'could not read a changed topic'));
  }

  /**
   * Makes sure the topics a request names are known if they exist: a name, id or partition not known here
   * is looked up once (a topic created or grown through another broker a moment ago). Undefined when
   * everything is known, so callers only wait when they must.
   */
  ensure(refs: readonly TopicRef[]): Promise<void> | undefined {
    // Many names unknown here (a request naming thousands of topics): one read of every topic, not one
    // query per name, so such a request costs one coordinator query and cannot queue thousands.
    const unknown = refs.filter((ref) => this.lookupKey(ref)?.startsWith('n:'));
    if (unknown.length > MAX_NAME_LOOKUPS) return this.lookupAll(unknown.map((ref) => this.lookupKey(ref)!));
    let pending: Promise<void>[] | undefined;
    for (const ref of refs) {
      const lookup = this.lookupFor(ref);
      if (lookup) (pending ??= []).push(lookup);
    }
    return pending && Promise.all(pending).then(() => undefined);
  }

  get(name: string): Topic | undefined {
    return this.byName.get(name);
  }

  getById(topicId: string): Topic | undefined {
    return this.byId.get(topicId);
  }

  all(): Topic[] {
    return [...this.byName.values()];
  }

  remember(info: TopicInfo): Topic {
    const topic: Topic = { ...info, config: resolveTopicConfig(info.configs, this.brokerConfig) };
    const old = this.byName.get(topic.name);
    if (old && old.topicId !== topic.topicId) this.byId.delete(old.topicId);
    this.byName.set(topic.name, topic);
    this.byId.set(topic.topicId, topic);
    this.misses.delete(`n:${topic.name}`);
    this.misses.delete(`i:${topic.topicId}`);
    return topic;
  }

  /** Resolves every known topic's config again (the broker defaults it inherits changed: dynamic broker configs). */
  reresolve(): void {
    for (const topic of this.all()) this.remember(topic);
  }

  forget(topic: TopicInfo): void {
    if (this.byName.get(topic.name)?.topicId === topic.topicId) this.byName.delete(topic.name);
    this.byId.delete(topic.topicId);
  }

  /** The lookup key (`n:name` / `i:id`) of a ref not known well enough here, or undefined. */
  private keyOf(ref: TopicRef): string | undefined {
    if (ref.name !== undefined && ref.name !== null && ref.name !== '') {
      const known = this.byName.get(ref.name);
      if (known && known.partitionCount >= (ref.partitionCount ?? 0)) return undefined;
      // A name no topic can have (NUL, invalid UTF-8 decoded as U+FFFD, …) is unknown without asking.
      if (!known && topicNameError(ref.name) !== null) return undefined;
      return `n:${ref.name}`;
    }
    if (ref.topicId !== undefined) {
      const known = this.byId.get(ref.topicId);
      if (known && known.partitionCount >= (ref.partitionCount ?? 0)) return undefined;
      return `i:${ref.topicId}`;
    }
    return undefined;
  }

  private missedLately(key: string): boolean {
    const missedAt = this.misses.get(key);
    return missedAt !== undefined && Date.now() - missedAt < MISS_RETRY_MS;
  }

  /** The lookup key of a ref that needs a lookup now (unknown, not running, not missed lately). */
  private lookupKey(ref: TopicRef): string | undefined {
    const key = this.keyOf(ref);
    return key === undefined || this.lookups.has(key) || this.missedLately(key) ? undefined : key;
  }

  /** One read of every topic standing for the lookups of `keys`. */
  private lookupAll(keys: readonly string[]): Promise<void> {
    const lookup = this.load()
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'topic lookup failed'))
      .finally(() => {
        const now = Date.now();
        for (const key of keys) {
          this.lookups.delete(key);
          this.misses.set(key, now);
        }
      });
    for (const key of keys) this.lookups.set(key, lookup);
    return lookup;
  }

  private lookupFor(ref: TopicRef): Promise<void> | undefined {
    const key = this.keyOf(ref);
    if (key === undefined) return undefined;
    const running = this.lookups.get(key);
    if (running) return running;
    if (this.missedLately(key)) return undefined;
    // By name: that topic. By id: everything (there is no lookup by id, and topics are few).
    const lookup = (key.startsWith('n:') ? this.refresh(ref.name!) : this.load())
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'topic lookup failed'))
      .finally(() => {
        this.lookups.delete(key);
        this.misses.set(key, Date.now());
      });
    this.lookups.set(key, lookup);
    return lookup;
  }

  /** The coordinator's row for `name` (null: none), applied. */
  private apply(name: string, info: TopicInfo | null): void {
    const old = this.byName.get(name);
    if (info === null) {
      if (old) this.drop(old);
      return;
    }
    if (old && old.topicId !== info.topicId) this.drop(old); // deleted and created again
    const topic = this.remember(info);
    if (old && old.topicId === info.topicId && info.partitionCount > old.partitionCount) this.onGrown?.(topic);
  }

  private drop(topic: Topic): void {
    this.forget(topic);
    try {
      this.onDropped?.(topic);
    } catch (err) {
      log.error({ err, topic: topic.name }, 'dropping a deleted topic failed');
    }
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
