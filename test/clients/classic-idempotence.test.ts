/**
 * librdkafka's idempotent producer (5 requests in flight per connection) against a classic topic, through a
 * proxy that cuts every client connection now and then: librdkafka retries the requests whose answers were
 * lost, the partition log answers the retries of batches it already holds with their first offsets, and
 * every record is consumed exactly once, in send order. (The diskless variant, with object store faults, is
 * test/clients/idempotence.test.ts; both use test/clients/confluent_idempotence.py.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkExactlyOnceInOrder, runIdempotentProducer, type IdempotenceReport } from '../helpers/confluent.ts';
import { startBrokerBehindProxy } from '../helpers/tcp-proxy.ts';
import { ProducerStateManager } from '../../src/storage/classic/producer-state.ts';
const PRODUCER = { 'request.timeout.ms': 5000, 'reconnect.backoff.ms': 20, 'reconnect.backoff.max.ms': 100, 'linger.ms': 2, 'batch.num.messages': 20 };

test('librdkafka idempotent producer, cut connections, classic topic: consumed exactly once and in order', async (t) => {
  // The script creates its topic with the broker's default: classic here.
  const { broker, proxy } = await startBrokerBehindProxy({ 'log.diskless.enable': false });
  const verdicts = new Map<string, number>();
  const check = ProducerStateManager.prototype.check;
  ProducerStateManager.prototype.check = function (this: ProducerStateManager, ...args: Parameters<typeof check>) {
    const v = check.apply(this, args);
    const k = v.kind === 'error' ? String(v.errorCode) : v.kind;
    verdicts.set(k, (verdicts.get(k) ?? 0) + 1);
    return v;
  };
  let r: IdempotenceReport;
  try {
    r = await runIdempotentProducer(proxy, 'idem-classic', 3, 20000, PRODUCER);
  } finally {
    ProducerStateManager.prototype.check = check;
  }
  assert.equal(broker.broker.topics.get('idem-classic')?.diskless, false);
  checkExactlyOnceInOrder(r, 3, 20000);
  t.diagnostic(`sequence verdicts: ${JSON.stringify(Object.fromEntries(verdicts))}; librdkafka eos: ${JSON.stringify(r.eos)}`);
});
