/**
 * TopicRegistry lookups (src/broker/topics.ts): a name unknown here is looked up in the coordinator once;
 * names no topic can have are not looked up; a request naming many unknown names costs one read of every
 * topic, not one query per name (a Metadata request naming 100,000 unknown topics took 189 s and stalled
 * the broker when each name was a query of its own).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicRegistry } from '../../src/broker/topics.ts';
import { defaultBrokerConfig } from '../../src/config/broker-config.ts';
import type { Coordinator, TopicInfo } from '../../src/coordinator/coordinator.ts';

function fakeCoordinator(topics: TopicInfo[]) {
  const calls = { getTopic: 0, listTopics: 0 };
  const coordinator = {
    async getTopic(name: string) {
      calls.getTopic++;
      return topics.find((t) => t.name === name) ?? null;
    },
    async listTopics() {
      calls.listTopics++;
      return topics;
    },
  } as unknown as Coordinator;
  return { coordinator, calls };
}

const topic = (name: string, i: number): TopicInfo => ({ topicId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name, partitionCount: 1, diskless: true, configs: {} });

test('a few unknown names: one query each; names no topic can have: none', async () => {
  const { coordinator, calls } = fakeCoordinator([topic('a', 1)]);
  const registry = new TopicRegistry(coordinator, defaultBrokerConfig());
  await registry.ensure([{ name: 'a' }, { name: 'b' }, { name: 'nul\0name' }, { name: 'bad\uFFFDname' }]);
  assert.equal(calls.getTopic, 2);
  assert.equal(calls.listTopics, 0);
  assert.equal(registry.get('a')?.name, 'a');
  assert.equal(registry.ensure([{ name: 'b' }]), undefined, 'a miss is not asked again at once');
});

test('many unknown names in one request: one read of every topic', async () => {
  const { coordinator, calls } = fakeCoordinator([topic('t7', 1), topic('t99999', 2)]);
  const registry = new TopicRegistry(coordinator, defaultBrokerConfig());
  const refs = Array.from({ length: 100_000 }, (_, i) => ({ name: `t${i}` }));
  await registry.ensure(refs);
  assert.deepEqual(calls, { getTopic: 0, listTopics: 1 });
  assert.equal(registry.get('t7')?.topicId, topic('t7', 1).topicId);
  assert.equal(registry.get('t99999')?.name, 't99999');
  assert.equal(registry.ensure(refs), undefined, 'the misses are remembered');
});
