/**
 * The broker's view of topics: a cache of the coordinator's topic rows with each topic's resolved
 * configuration. Creation and deletion go through here so the cache and the storage caches stay in step.
 */
import type { Coordinator, TopicInfo } from '../coordinator/coordinator.ts';
import type { BrokerConfig } from '../config/broker-config.ts';
import { resolveTopicConfig, type TopicConfig } from '../config/topic-config.ts';

export interface Topic extends TopicInfo {
  config: TopicConfig;
}

export class TopicRegistry {
  private byName = new Map<string, Topic>();
  private byId = new Map<string, Topic>();

  constructor(private readonly coordinator: Coordinator, private readonly brokerConfig: BrokerConfig) {}

  async load(): Promise<void> {
    const topics = await this.coordinator.listTopics();
    this.byName.clear();
    this.byId.clear();
    for (const t of topics) this.remember(t);
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
    this.byName.set(topic.name, topic);
    this.byId.set(topic.topicId, topic);
    return topic;
  }

  forget(topic: TopicInfo): void {
    this.byName.delete(topic.name);
    this.byId.delete(topic.topicId);
  }
}
