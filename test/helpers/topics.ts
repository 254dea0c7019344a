/**
 * Topics for tests, through raw requests: `createTopics` / `createTopic` (CreateTopics v7) create them and
 * fail the test with the broker's message when one is not created; `topicMetadata` reads one back
 * (Metadata v12). Tests of CreateTopics itself (refusals, validateOnly) send their own requests.
 */
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import type { CreateTopicsResponse } from '../../src/protocol/gen/messages/create-topics.ts';
import type { MetadataResponse, MetadataResponseTopic } from '../../src/protocol/gen/messages/metadata.ts';
import { ZERO_UUID } from '../../src/protocol/uuid.ts';
import type { RawClient } from './raw-client.ts';

export interface TopicSpec {
  name: string;
  /** Default 1. */
  partitions?: number;
  configs?: Record<string, string>;
  /** Default 1. */
  replicationFactor?: number;
}

/** The topic config of a classic topic (one whose data lives in the leader's log, not in objects). */
export const CLASSIC: Readonly<Record<string, string>> = { 'diskless.enable': 'false' };

export async function createTopics(client: RawClient, topics: TopicSpec[]): Promise<void> {
  const r = await client.request<CreateTopicsResponse>(ApiKey.CreateTopics, 7, {
    topics: topics.map((t) => ({
      name: t.name,
      numPartitions: t.partitions ?? 1,
      replicationFactor: t.replicationFactor ?? 1,
      configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
    })),
    timeoutMs: 5000,
  });
  assert.deepEqual(r.topics.map((t) => t.name), topics.map((t) => t.name), 'one CreateTopics answer per topic');
  for (const t of r.topics) assert.equal(t.errorCode, 0, `create topic ${t.name}: ${t.errorMessage}`);
}

export function createTopic(client: RawClient, name: string, partitions = 1, configs: Record<string, string> = {}): Promise<void> {
  return createTopics(client, [{ name, partitions, configs }]);
}

/** The topic's entry in a Metadata (v12) response: errorCode, topicId, partitions (no auto-creation). */
export async function topicMetadata(client: RawClient, name: string): Promise<MetadataResponseTopic> {
  const md = await client.request<MetadataResponse>(ApiKey.Metadata, 12, {
    topics: [{ name, topicId: ZERO_UUID }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false,
  });
  return md.topics[0]!;
}
