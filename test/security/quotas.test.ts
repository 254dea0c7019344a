/**
 * Client quotas (issue 16): AlterClientQuotas/DescribeClientQuotas kept in the coordinator, and a producer
 * over its producer_byte_rate throttled to about its rate (throttle_time_ms reported, connection muted),
 * while another client id is not. Kafka's precedence of user / client-id / default entities.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { produceRequest } from '../helpers/produce.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { createTopic } from '../helpers/topics.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ClientQuotas, entityKey } from '../../src/security/quotas.ts';

let broker: TestBroker;
const RATE = 100 * 1024;

test('setup: a broker with a 2-second quota window', async () => {
  broker = await startTestBroker({ 'quota.window.num': 2, 'quota.window.size.seconds': 1 });
  const c = await RawClient.connect(broker.port);
  await createTopic(c, 'quota-topic');
  c.close();
});

test('AlterClientQuotas and DescribeClientQuotas: set, validate, match, remove', async () => {
  const c = await RawClient.connect(broker.port);
  const alter = (entries: unknown[], validateOnly = false) => c.request(ApiKey.AlterClientQuotas, 1, { entries, validateOnly });
  const set = await alter([
    { entity: [{ entityType: 'client-id', entityName: 'slow' }], ops: [{ key: 'producer_byte_rate', value: RATE, remove: false }] },
    { entity: [{ entityType: 'user', entityName: null }], ops: [{ key: 'consumer_byte_rate', value: 5e6, remove: false }] },
    { entity: [{ entityType: 'user', entityName: 'x' }], ops: [{ key: 'no_such_quota', value: 1, remove: false }] },
    { entity: [{ entityType: 'ip', entityName: '1.2.3.4' }, { entityType: 'user', entityName: 'x' }], ops: [] },
    { entity: [{ entityType: 'user', entityName: 'y' }], ops: [{ key: 'request_percentage', value: -1, remove: false }] },
  ]);
  assert.deepEqual(set.entries.map((e: any) => e.errorCode), [0, 0, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]);
  const all = await c.request(ApiKey.DescribeClientQuotas, 1, { components: [], strict: false });
  assert.equal(all.errorCode, 0);
  assert.equal(all.entries.length, 2);
  const defaults = await c.request(ApiKey.DescribeClientQuotas, 1, { components: [{ entityType: 'user', matchType: 1, match: null }], strict: true });
  assert.deepEqual(defaults.entries, [{ entity: [{ entityType: 'user', entityName: null }], values: [{ key: 'consumer_byte_rate', value: 5e6 }] }]);
  const exact = await c.request(ApiKey.DescribeClientQuotas, 1, { components: [{ entityType: 'client-id', matchType: 0, match: 'slow' }], strict: false });
  assert.deepEqual(exact.entries[0].values, [{ key: 'producer_byte_rate', value: RATE }]);
  const removed = await alter([{ entity: [{ entityType: 'user', entityName: null }], ops: [{ key: 'consumer_byte_rate', value: 0, remove: true }] }]);
  assert.equal(removed.entries[0].errorCode, 0);
  assert.equal((await c.request(ApiKey.DescribeClientQuotas, 1, { components: [], strict: false })).entries.length, 1);
  c.close();
});

test(`a producer over producer_byte_rate=${RATE} is throttled to about its rate; another client id is not`, async (t) => {
  const record = 'x'.repeat(60 * 1024);
  const produceFor = async (clientId: string, requests: number) => {
    const c = await RawClient.connect(broker.port);
    c.clientId = clientId;
    const throttles: number[] = [];
    const start = performance.now();
    for (let i = 0; i < requests; i++) {
      const res = await c.request(ApiKey.Produce, 9, produceRequest([{ topic: 'quota-topic', partition: 0, records: await batchOf(record) }]));
      assert.equal(res.responses[0].partitionResponses[0].errorCode, 0);
      throttles.push(res.throttleTimeMs);
    }
    // The last request's throttle is still owed: the client may send again only after it.
    const elapsedMs = performance.now() - start + throttles[throttles.length - 1]!;
    c.close();
    return { throttles, elapsedMs };
  };
  const slow = await produceFor('slow', 10);
  assert.ok(slow.throttles.some((t) => t > 0), `throttle_time_ms reported: ${slow.throttles}`);
  const rate = (10 * record.length) / (slow.elapsedMs / 1000);
  assert.ok(rate < RATE * 1.6, `throttled to about ${RATE} B/s: ${Math.round(rate)} B/s over ${Math.round(slow.elapsedMs)} ms`);
  t.diagnostic(`throttled producer: ${Math.round(rate)} B/s (quota ${RATE}), throttles ${slow.throttles.join(',')} ms`);
  const fast = await produceFor('fast', 10);
  assert.deepEqual(fast.throttles, new Array(10).fill(0), 'no quota for client id fast');
});

test('quota precedence follows Kafka: user+client, user+default client, user, default user…, client, default client', () => {
  const q = new ClientQuotas(null as never);
  const e = (parts: [string, string | null][]) => entityKey(parts.map(([entityType, entityName]) => ({ entityType, entityName })));
  q.setValues([
    { entity: e([['client-id', null]]), key: 'producer_byte_rate', value: 1 },
    { entity: e([['client-id', 'c']]), key: 'producer_byte_rate', value: 2 },
    { entity: e([['user', null]]), key: 'producer_byte_rate', value: 3 },
    { entity: e([['user', 'u']]), key: 'producer_byte_rate', value: 4 },
    { entity: e([['user', 'u'], ['client-id', 'c']]), key: 'producer_byte_rate', value: 5 },
  ]);
  assert.equal(q.resolve('u', 'c', 'producer_byte_rate')!.quota, 5);
  assert.equal(q.resolve('u', 'd', 'producer_byte_rate')!.quota, 4);
  assert.equal(q.resolve('v', 'c', 'producer_byte_rate')!.quota, 3);
  assert.equal(q.resolve('v', 'c', 'consumer_byte_rate'), null);
});
