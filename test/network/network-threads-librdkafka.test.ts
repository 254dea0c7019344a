/**
 * num.network.threads > 0 with librdkafka (kcat): produce and consume through three network threads (with every
 * compression codec, to a compacted and a classic topic too), and a frame larger than socket.request.max.bytes
 * closing only its own connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startTestBroker } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { withClient } from '../helpers/raw-client.ts';
import { CLASSIC, createTopic } from '../helpers/topics.ts';

test('librdkafka through network threads, and a malformed frame closes only its connection', { timeout: 180_000 }, async () => {
  const b = await startTestBroker({ 'num.network.threads': 3 });
  // A frame larger than socket.request.max.bytes: Kafka closes that connection; the broker serves on.
  const closed = await new Promise<boolean>((resolve) => {
    const s = connect(b.port, '127.0.0.1', () => s.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])));
    s.on('close', () => resolve(true));
    s.on('error', () => undefined);
    setTimeout(() => { s.destroy(); resolve(false); }, 30_000).unref();
  });
  assert.ok(closed, 'the broker closed the connection that sent an oversized frame');
  const lines = Array.from({ length: 3000 }, (_, i) => `v${i}`);
  await kcatProduce(b.bootstrap, 'kcat-threads', lines, ['-X', 'linger.ms=5']);
  const got = await kcatConsume(b.bootstrap, 'kcat-threads', '%s\\n', ['-c', String(lines.length)]);
  assert.deepEqual(got, lines);
  // Frames from a network thread are in shared memory: the codecs and checks that read batches (native
  // addons among them) take such buffers too. Compacted topics make the broker decompress every batch to
  // check its keys; a classic one stores them on disk.
  await withClient(b.port, async (c) => {
    await createTopic(c, 'kcat-threads-compact', 1, { 'cleanup.policy': 'compact' });
    await createTopic(c, 'kcat-threads-classic', 1, CLASSIC);
  });
  for (const topic of ['kcat-threads-compact', 'kcat-threads-classic']) {
    const expected: string[] = [];
    for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
      const keyed = Array.from({ length: 500 }, (_, i) => `${codec}-${i}:${codec}-value-${i}`);
      await kcatProduce(b.bootstrap, topic, keyed, ['-z', codec, '-X', 'linger.ms=5']);
      expected.push(...keyed);
    }
    const read = await kcatConsume(b.bootstrap, topic, '%k:%s\\n', ['-c', String(expected.length)]);
    assert.deepEqual(read, expected, `${topic}: every compressed record read back`);
  }
  await b.close();
});
