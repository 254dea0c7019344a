/**
 * diskless.buffer.idle.ms with a real idempotent producer (kcat, librdkafka 2.0.2: at most 5 requests in
 * flight, one per partition, each answered only once its object is committed): once its requests are all in
 * and the object holds diskless.buffer.idle.min.bytes, the object is sealed without waiting out the commit
 * interval; with it off, every object waits for the interval. Either way every record is stored once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestBroker } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';

const lines = Array.from({ length: 12_000 }, (_, i) => `k${i}:${String(i).padStart(1_000, '0')}`);
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

for (const idleMs of [10, 0]) {
  test(`an idempotent producer's objects ${idleMs > 0 ? 'are sealed once idle' : 'wait for the interval'} (diskless.buffer.idle.ms=${idleMs})`, async (t) => {
    const broker = await startTestBroker({ 'num.partitions': 6, 'diskless.commit.interval.ms': 1_500, 'diskless.buffer.idle.ms': idleMs, 'diskless.buffer.idle.min.bytes': 1_048_576 });
    const started = performance.now();
    await kcatProduce(broker.bootstrap, 'idle-seal', lines, ['-X', 'enable.idempotence=true']);
    const seconds = (performance.now() - started) / 1000;
    const { sealed, objectsCommitted } = broker.broker.storage.diskless.writer.stats;
    t.diagnostic(`diskless.buffer.idle.ms=${idleMs}: 12 MB in ${seconds.toFixed(1)} s, ${objectsCommitted} objects, sealed ${JSON.stringify(sealed)}`);
    if (idleMs > 0) {
      assert.ok(sealed.idle >= 2, `objects sealed for being idle: ${JSON.stringify(sealed)}`);
    } else {
      assert.equal(sealed.idle, 0);
      assert.ok(sealed.interval >= 2, `objects sealed by the interval: ${JSON.stringify(sealed)}`);
    }
    const read = await kcatConsume(broker.bootstrap, 'idle-seal', '%k:%s\\n');
    assert.deepEqual(read.sort(byText), [...lines].sort(byText), 'every record once');
  });
}
