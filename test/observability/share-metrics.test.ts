/**
 * Share-group metrics on /metrics, scraped over HTTP after a known share-group exchange against an embedded
 * broker: share groups by state, ShareFetch and acknowledgement requests (all and failed, per topic as Kafka
 * counts them), records acknowledged by type, records acquired, acquisition locks that expired and records
 * archived at the delivery-count limit. (Records archived as aborted transactions: share-group-configs.test.ts
 * drives those; this file checks the series exists.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startTestBroker } from '../helpers/broker.ts';
import { produce } from '../helpers/produce.ts';
import { withClient } from '../helpers/raw-client.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { ACCEPT, acksOf, REJECT, RELEASE, ShareConsumer } from '../helpers/share-consumer.ts';
import { createTopic, topicMetadata } from '../helpers/topics.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

function value(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  assert.ok(line, `metric ${name}{${labels}} is exported`);
  return Number(line.split(' ').pop());
}

test('share-group metrics: groups by state, share requests, acknowledgements by type, acquisitions, lock timeouts, archiving at the delivery limit', { timeout: 120_000 }, async () => {
  const LOCK_MS = 3000;
  const broker = await startTestBroker({
    'metrics.listener': 'http://127.0.0.1:0',
    'group.share.record.lock.duration.ms': LOCK_MS,
    'group.share.min.record.lock.duration.ms': 1000,
    'group.share.delivery.count.limit': 2,
    'group.share.heartbeat.interval.ms': 500,
    'group.share.min.heartbeat.interval.ms': 500,
    'diskless.commit.interval.ms': 20,
  });
  const scrape = async () => (await fetch(`http://127.0.0.1:${broker.metricsPort}/metrics`)).text();
  const topic = 'share-metrics';
  const group = 'share-metrics-group';
  const topicId = await withClient(broker.port, async (c) => {
    await createTopic(c, topic, 1);
    return (await topicMetadata(c, topic)).topicId;
  });
  const before = await scrape();
  for (const name of ['kafka_server_brokertopicmetrics_totalsharefetchrequests_total', 'floe_share_records_acquired_total', 'floe_share_acquisition_lock_timeouts_total']) {
    assert.equal(value(before, name), 0, `${name} starts at 0`);
  }
  assert.equal(value(before, 'kafka_server_group_coordinator_metrics_share_group_count', 'state="Stable"'), 0);

  let fetches = 0;
  const a = await ShareConsumer.join(broker.port, group, topic, topicId);
  const b = await ShareConsumer.join(broker.port, group, topic, topicId);
  await a.fetch(0, [], { maxWaitMs: 0 });
  await b.fetch(0, [], { maxWaitMs: 0 });
  fetches += 2;
  await withClient(broker.port, async (c) => {
    for (const tag of ['x', 'y']) assert.equal((await produce(c, topic, 0, await batchOf([0, 1, 2, 3, 4].map((i) => `${tag}${i}`)))).errorCode, ErrorCode.NONE);
  });
  // a: offsets 0-9 (acquired 10).
  const held: number[] = [];
  await waitFor('a holds the ten records', async () => {
    fetches += 1;
    held.push(...(await a.fetch(0, [], { maxWaitMs: 500 })).acquired.map((r) => r.offset));
    return held.length === 10;
  });
  // Accept 0-3, reject 4-5, release 6-7 (delivery count 1: available again); 8-9 kept until their lock expires.
  assert.equal((await a.acknowledge(0, [{ firstOffset: 0, lastOffset: 7, types: [ACCEPT, ACCEPT, ACCEPT, ACCEPT, REJECT, REJECT, RELEASE, RELEASE] }])).partitionError, ErrorCode.NONE);
  assert.equal((await a.acknowledge(0, acksOf([0], ACCEPT))).partitionError, ErrorCode.INVALID_RECORD_STATE, 'a failed acknowledgement');
  const heldAt = Date.now();
  // b, once a's lock expired: 6-7 (released) and 8-9 (timed out), 4 more acquired, each at delivery count 2 (the limit).
  await sleep(LOCK_MS + 200 - (Date.now() - heldAt));
  const second: { offset: number; deliveryCount: number }[] = [];
  await waitFor('b gets the released and the timed-out records', async () => {
    fetches += 1;
    second.push(...(await b.fetch(0, [], { maxWaitMs: 300 })).acquired);
    return second.length === 4;
  }, { timeoutMs: 20_000 });
  assert.ok(Date.now() - heldAt >= LOCK_MS);
  assert.deepEqual(second.map((r) => r.offset).sort(), [6, 7, 8, 9]);
  assert.ok(second.every((r) => r.deliveryCount === 2));
  // Released at the limit: archived.
  assert.equal((await b.acknowledge(0, acksOf([6, 7, 8, 9], RELEASE))).partitionError, ErrorCode.NONE);
  // A fetch of a topic that does not exist fails for its partition.
  const stray = await ShareConsumer.join(broker.port, 'share-metrics-stray', topic, randomUUID());
  const failed = await stray.fetchRaw(0, [], { maxWaitMs: 0 });
  assert.equal(failed.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  fetches += 1;

  const text = await scrape();
  assert.equal(value(text, 'kafka_server_brokertopicmetrics_totalsharefetchrequests_total'), fetches);
  assert.equal(value(text, 'kafka_network_requestmetrics_requests_total', 'request="ShareFetch",version="1"'), fetches, 'one topic per ShareFetch');
  assert.equal(value(text, 'kafka_server_brokertopicmetrics_failedsharefetchrequests_total'), 1);
  assert.equal(value(text, 'kafka_server_brokertopicmetrics_totalshareacknowledgementrequests_total'), 3);
  assert.equal(value(text, 'kafka_server_brokertopicmetrics_failedshareacknowledgementrequests_total'), 1);
  assert.equal(value(text, 'kafka_server_sharegroupmetrics_recordacknowledgements_total', 'ack_type="Accept"'), 4);
  assert.equal(value(text, 'kafka_server_sharegroupmetrics_recordacknowledgements_total', 'ack_type="Reject"'), 2);
  assert.equal(value(text, 'kafka_server_sharegroupmetrics_recordacknowledgements_total', 'ack_type="Release"'), 6);
  assert.equal(value(text, 'kafka_server_sharegroupmetrics_recordacknowledgements_total', 'ack_type="Renew"'), 0);
  assert.equal(value(text, 'floe_share_records_acquired_total'), 14);
  assert.equal(value(text, 'floe_share_acquisition_lock_timeouts_total'), 2, 'the locks of 8 and 9 expired');
  assert.equal(value(text, 'floe_share_records_archived_total', 'reason="delivery_limit"'), 4);
  assert.equal(value(text, 'floe_share_records_archived_total', 'reason="aborted_transaction"'), 0);
  assert.equal(value(text, 'kafka_server_group_coordinator_metrics_share_group_count', 'state="Stable"'), 2);
  assert.equal(value(text, 'kafka_server_group_coordinator_metrics_share_group_count', 'state="Empty"'), 0);

  for (const c of [a, b, stray]) await c.leave();
  const after = await scrape();
  assert.equal(value(after, 'kafka_server_group_coordinator_metrics_share_group_count', 'state="Stable"'), 0);
  assert.equal(value(after, 'kafka_server_group_coordinator_metrics_share_group_count', 'state="Empty"'), 2, 'the groups stay, empty');
});
