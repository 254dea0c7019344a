/**
 * Coordinator conformance, notifications (migration 7): a listener hears every committed object with its
 * batches (or, when they do not fit a payload, its key, and `objectBatches` lists them), every topic change,
 * and log-start moves; nothing after it unsubscribes. Called from `coordinatorConformance` inside its
 * describe block, so it shares its coordinator and its run-scoped names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommitBatch, Coordinator, TopicInfo } from '../../src/coordinator/coordinator.ts';
import {
  COMMITS_CHANNEL,
  LOG_STARTS_CHANNEL,
  TOPICS_CHANNEL,
  parseCommitNotification,
  parseLogStartsNotification,
} from '../../src/coordinator/notifications.ts';

export interface NotificationsConformanceContext {
  coordinator(): Coordinator;
  topic(n: string, partitionCount?: number): Promise<TopicInfo>;
  batch(topic: TopicInfo, partition: number, recordCount: number, opts?: { byteSize?: number; byteOffset?: number; maxTimestamp?: number }): CommitBatch;
  objectKey(): string;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function notificationsConformance(x: NotificationsConformanceContext): void {
  test('notifications: commits, topic changes and log-start moves are announced; unsubscribe stops them', async () => {
    const c = x.coordinator();
    const commits: string[] = [];
    const topics: string[] = [];
    const starts: string[] = [];
    const stop = await Promise.all([
      c.listen(COMMITS_CHANNEL, (p) => commits.push(p)),
      c.listen(TOPICS_CHANNEL, (p) => topics.push(p)),
      c.listen(LOG_STARTS_CHANNEL, (p) => starts.push(p)),
    ]);
    const t = await x.topic('notify', 2);
    const key = x.objectKey();
    const batches = [
      x.batch(t, 0, 5, { byteOffset: 0, byteSize: 100, maxTimestamp: 5_000 }),
      x.batch(t, 0, 3, { byteOffset: 100, byteSize: 50, maxTimestamp: 6_000 }),
      x.batch(t, 1, 2, { byteOffset: 150, byteSize: 70 }),
    ];
    const results = await c.commitObject({ objectKey: key, objectSize: 220, brokerId: 7, batches });
    await waitFor('the commit notification', () => commits.some((p) => p.endsWith(` ${key}`)));
    const n = parseCommitNotification(commits.find((p) => p.endsWith(` ${key}`))!)!;
    assert.equal(n.brokerId, 7);
    assert.equal(n.objectKey, key);
    assert.ok(Array.isArray(n.batches));
    const expected = batches.map((b, i) => ({
      topicId: t.topicId, partition: b.partition, objectKey: key, byteOffset: b.byteOffset, byteSize: b.byteSize,
      baseOffset: results[i]!.baseOffset, lastOffset: results[i]!.baseOffset + b.recordCount - 1, maxTimestamp: b.maxTimestamp,
      logAppendTime: results[i]!.logAppendTime, timestampType: 0, logStartOffset: 0,
    }));
    assert.deepEqual(n.batches, expected);
    assert.deepEqual(await c.objectBatches(key), expected, 'objectBatches lists the same batches');
    assert.deepEqual(await c.objectBatches(`${key}-unknown`), []);

    // Topic changes, in commit order, each naming the topic.
    await c.alterTopicConfigs(t.name, { 'retention.ms': '1000' });
    await c.createPartitions(t.name, 3);
    const [moved] = await c.deleteRecords([{ topicId: t.topicId, partition: 0, offset: 5 }]);
    assert.equal(moved!.logStartOffset, 5);
    await waitFor('the log-start notification', () => starts.some((p) => p.includes(t.topicId)));
    assert.deepEqual(parseLogStartsNotification(starts.find((p) => p.includes(t.topicId))!), [{ topicId: t.topicId, partition: 0, logStartOffset: 5 }]);
    await c.deleteTopic(t.name);
    const mine = () => topics.filter((p) => p.endsWith(` ${t.name}`));
    await waitFor('four topic notifications', () => mine().length >= 4);
    assert.deepEqual(mine(), ['create', 'alter', 'partitions', 'delete'].map((op) => `${op} ${t.topicId} ${t.name}`));

    // A failed change announces nothing; neither does anything after unsubscribing.
    await assert.rejects(() => c.createPartitions(`${t.name}-missing`, 2));
    await Promise.all(stop.map((s) => s()));
    const after = await x.topic('notify-after', 1);
    await c.commitObject({ objectKey: x.objectKey(), objectSize: 10, brokerId: 7, batches: [x.batch(after, 0, 1, { byteSize: 10 })] });
    await sleep(200);
    assert.equal(topics.filter((p) => p.includes('-missing') || p.endsWith(` ${after.name}`)).length, 0);
    assert.equal(commits.filter((p) => p.includes(after.topicId)).length, 0);
  });

  test('notifications: an object with too many batches to list is announced by its key, and objectBatches lists them', async () => {
    const c = x.coordinator();
    const t = await x.topic('notify-big', 50);
    const heard: string[] = [];
    const stop = await c.listen(COMMITS_CHANNEL, (p) => heard.push(p));
    try {
      const key = x.objectKey();
      const batches: CommitBatch[] = [];
      for (let i = 0; i < 300; i++) batches.push(x.batch(t, i % 50, 1, { byteOffset: i * 10, byteSize: 10 }));
      batches.sort((a, b) => a.partition - b.partition || a.byteOffset - b.byteOffset);
      await c.commitObject({ objectKey: key, objectSize: 3000, brokerId: 9, batches });
      await waitFor('the commit notification', () => heard.some((p) => p.endsWith(` ${key}`)));
      const n = parseCommitNotification(heard.find((p) => p.endsWith(` ${key}`))!)!;
      assert.deepEqual([n.brokerId, n.objectKey, n.batches], [9, key, 'lookup']);
      const listed = await c.objectBatches(key);
      assert.equal(listed.length, 300);
      assert.deepEqual(listed.map((b) => [b.partition, b.baseOffset, b.byteOffset]), batches.map((b) => [b.partition, Math.floor(b.byteOffset / 10 / 50), b.byteOffset]));
    } finally {
      await stop();
    }
  });
}
