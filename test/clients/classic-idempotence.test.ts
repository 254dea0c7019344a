/**
 * librdkafka's idempotent producer (5 requests in flight per connection) against a classic topic, through a
 * proxy that cuts every client connection now and then: librdkafka retries the requests whose answers were
 * lost, the partition log answers the retries of batches it already holds with their first offsets, and
 * every record is consumed exactly once, in send order. (The diskless variant, with object store faults, is
 * test/clients/idempotence.test.ts; both use test/clients/confluent_idempotence.py.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startBrokerBehindProxy } from '../helpers/tcp-proxy.ts';
import { ProducerStateManager } from '../../src/storage/classic/producer-state.ts';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, 'confluent_idempotence.py');
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
  const cutter = setInterval(() => proxy.cutAll(), 1000);
  let stdout: string;
  try {
    ({ stdout } = await run('/usr/bin/python3', [SCRIPT, `127.0.0.1:${proxy.port}`, 'idem-classic', '3', '20000', JSON.stringify(PRODUCER)], { maxBuffer: 64 << 20, timeout: 300_000 }));
  } finally {
    clearInterval(cutter);
    ProducerStateManager.prototype.check = check;
  }
  const r = JSON.parse(stdout.trim().split('\n').pop()!);
  assert.equal(broker.broker.topics.get('idem-classic')?.diskless, false);
  assert.deepEqual(r.fatal, [], 'no fatal idempotence error');
  assert.equal(r.error_count, 0, `delivery errors: ${JSON.stringify(r.errors)}`);
  assert.equal(r.acked, 20000);
  for (let p = 0; p < 3; p++) {
    const expected = Array.from({ length: r.sent[p] }, (_, i) => `${p}-${i}`);
    assert.equal(r.read[p].length, expected.length, `partition ${p}: ${r.read[p].length} records read for ${expected.length} sent`);
    assert.deepEqual(r.read[p], expected, `partition ${p}: every record once, in send order`);
  }
  t.diagnostic(`sequence verdicts: ${JSON.stringify(Object.fromEntries(verdicts))}; librdkafka eos: ${JSON.stringify(r.eos)}`);
});
