/** /metrics is scraped over HTTP after real traffic, and the counters move with it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { fetchPartition, fetchRequest } from '../helpers/fetch.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { produce } from '../helpers/produce.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { CLASSIC, createTopic } from '../helpers/topics.ts';

function value(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  assert.ok(line, `metric ${name}{${labels}} is exported`);
  return Number(line.split(' ').pop());
}

test('GET /metrics exports request, object store, coordinator, cache and connection metrics', async () => {
  const broker = await startTestBroker({ 'metrics.listener': 'http://127.0.0.1:0' });
  assert.ok(broker.metricsPort);
  const c = await RawClient.connect(broker.port);
  await createTopic(c, 'm');
  const records = await batchOf(['a', 'b']);
  assert.equal((await produce(c, 'm', 0, records, { timeoutMs: 5000 })).errorCode, 0);
  for (let i = 0; i < 2; i++) await fetchPartition(c, 'm', 0);

  const res = await fetch(`http://127.0.0.1:${broker.metricsPort}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.equal(value(text, 'kafka_network_requestmetrics_requests_total', 'request="Produce",version="9"'), 1);
  assert.equal(value(text, 'kafka_network_requestmetrics_requests_total', 'request="Fetch",version="11"'), 2);
  assert.equal(value(text, 'kafka_server_brokertopicmetrics_messagesin_total'), 2);
  assert.equal(value(text, 'kafka_server_brokertopicmetrics_bytesin_total'), records.length);
  assert.equal(value(text, 'kafka_server_brokertopicmetrics_bytesout_total'), records.length * 2);
  assert.equal(value(text, 'floe_objectstore_requests_total', 'op="put"'), 1);
  assert.equal(value(text, 'floe_objectstore_bytes_total', 'op="put"'), records.length);
  assert.equal(value(text, 'floe_coordinator_operations_total', 'op="commitObject"'), 1);
  assert.equal(value(text, 'floe_diskless_objects_committed_total'), 1);
  assert.equal(value(text, 'floe_fetch_coordinator_queries_total'), 0, 'tail fetches are answered from the batch index cache');
  assert.equal(value(text, 'floe_cache_hits_total', 'cache="batch_index"'), 2);
  // One broker: its own commits' notifications are skipped (nothing learned from other brokers, nothing missed).
  assert.equal(value(text, 'floe_commit_notifications_total', 'how="listed"'), 0);
  assert.equal(value(text, 'floe_commit_notifications_total', 'how="lookup"'), 0);
  assert.equal(value(text, 'floe_notification_resyncs_total'), 0);
  assert.equal(value(text, 'floe_coordinator_operations_total', 'op="listen"'), 9, 'the metered coordinator passes listen through (commits, topics, log starts, brokers, compactions, security, broker configs, group configs, transaction markers)');
  assert.equal(value(text, 'kafka_server_socketservermetrics_connection_count'), 1);
  assert.ok(value(text, 'floe_network_received_bytes_total') > records.length);
  assert.match(text, /kafka_network_requestmetrics_totaltime_seconds_bucket\{le="0.001",request="Produce"\}/);
  assert.equal((await fetch(`http://127.0.0.1:${broker.metricsPort}/other`)).status, 404);
  assert.equal(value(text, 'kafka_server_fetchsessioncache_numincrementalfetchsessions'), 0, 'sessionless fetches open no session');
  // A full fetch with session epoch 0 opens one (KIP-227).
  const full = await c.request(ApiKey.Fetch, 12, { ...fetchRequest([{ topic: 'm', partition: 0, offset: 2n }]), sessionEpoch: 0 });
  assert.ok(full.sessionId > 0);
  const after = await (await fetch(`http://127.0.0.1:${broker.metricsPort}/metrics`)).text();
  assert.equal(value(after, 'kafka_server_fetchsessioncache_numincrementalfetchsessions'), 1);
  assert.equal(value(after, 'kafka_server_fetchsessioncache_numincrementalfetchpartitionscached'), 1);
  assert.equal(value(after, 'kafka_server_fetchsessioncache_incrementalfetchsessionevictions_total'), 0);
  c.close();
});

test('classic topics: the write path by stage (per round) is exported', async () => {
  const broker = await startTestBroker({ 'metrics.listener': 'http://127.0.0.1:0' });
  const c = await RawClient.connect(broker.port);
  await createTopic(c, 'cm', 1, CLASSIC);
  const records = await batchOf(['a', 'b', 'c']);
  for (let i = 0; i < 3; i++) assert.equal((await produce(c, 'cm', 0, records, { timeoutMs: 5000 })).errorCode, 0);
  const text = await (await fetch(`http://127.0.0.1:${broker.metricsPort}/metrics`)).text();
  for (const stage of ['queued', 'write', 'sync', 'total']) {
    assert.equal(value(text, 'floe_classic_write_stage_seconds_count', `stage="${stage}"`), 3, `one ${stage} time per round (3 sequential produces)`);
  }
  assert.ok(value(text, 'floe_classic_write_stage_seconds_sum', 'stage="total"') >= value(text, 'floe_classic_write_stage_seconds_sum', 'stage="sync"'), 'total covers the fsync');
  c.close();
});
