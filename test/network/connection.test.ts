/**
 * Connection behaviour: idle reaping (connections.max.idle.ms), responses in request order when later
 * requests finish first, and requests read whole however the bytes arrive (direct reads, connection.ts, and
 * the network threads' own, network-thread-source.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestBroker } from '../helpers/broker.ts';
import { fetchRequest } from '../helpers/fetch.ts';
import { createTopic } from '../helpers/topics.ts';
import { sleep } from '../helpers/wait.ts';
import { produceRequest } from '../helpers/produce.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { mulberry32 } from '../helpers/random.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';

test('an idle connection is closed after connections.max.idle.ms; an active one is not', async () => {
  const broker = await startTestBroker({ 'connections.max.idle.ms': 400 });
  const idle = await RawClient.connect(broker.port);
  const active = await RawClient.connect(broker.port);
  const start = Date.now();
  for (let i = 0; i < 6; i++) {
    await sleep(150);
    await active.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'floe-test', clientSoftwareVersion: '1' });
  }
  assert.equal(idle.closed, true, 'the idle connection was reaped');
  assert.ok(Date.now() - start >= 400);
  assert.equal(active.closed, false, 'the active connection survives');
  active.close();
});

test('a slow request (long poll) does not let a later fast request overtake its response', async () => {
  const broker = await startTestBroker();
  const c = await RawClient.connect(broker.port);
  await createTopic(c, 'order');
  c.write(RawClient.frame(ApiKey.Fetch, 11, fetchRequest([{ topic: 'order', partition: 0, offset: 0n }], { maxWaitMs: 500, minBytes: 1 }), 100));
  c.write(RawClient.frame(ApiKey.ApiVersions, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' }, 101));
  const start = Date.now();
  const first = await c.readResponse(ApiKey.Fetch, 11, 100);
  assert.ok(Date.now() - start >= 450, 'the fetch waited for max.wait.ms');
  assert.equal(first.responses[0].partitions[0].errorCode, 0);
  const second = await c.readResponse(ApiKey.ApiVersions, 3, 101);
  assert.equal(second.errorCode, 0);
  c.close();
});

/** Sends pipelined Produce (1 to 600 records of 1 KB) and ApiVersions requests in pieces of every size; checks every answer. */
async function sendInPieces(c: RawClient, topic: string, seed: number): Promise<void> {
  const random = mulberry32(seed);
  // Small requests (read in the shared scratch buffer), and produce requests from a few hundred bytes to
  // 600 KiB (read into buffers of their own), their boundaries anywhere within the pieces below.
  const frames: { apiKey: number; records: number }[] = [];
  const bytes: Buffer[] = [];
  let id = 1000;
  for (const records of [1, 3, 70, 1, 400, 2, 1, 600, 5, 90, 1, 1, 250]) {
    const values = Array.from({ length: records }, (_, i) => `${records}:${i}:`.padEnd(1000, String.fromCharCode(97 + (i % 26))));
    const batch = await batchOf(values);
    bytes.push(RawClient.frame(ApiKey.Produce, 9, produceRequest([{ topic, partition: 0, records: batch }]), id++));
    frames.push({ apiKey: ApiKey.Produce, records });
    bytes.push(RawClient.frame(ApiKey.ApiVersions, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' }, id++));
    frames.push({ apiKey: ApiKey.ApiVersions, records: 0 });
  }
  const all = Buffer.concat(bytes);
  const sizes = [1, 2, 3, 5, 4096, 65535, 65536, 65537, 200_000, 7];
  for (let at = 0; at < all.length;) {
    const n = Math.min(all.length - at, sizes[Math.floor(random() * sizes.length)]!);
    c.write(all.subarray(at, at + n));
    at += n;
    if (random() < 0.3) await sleep(2); // separate reads on the broker's side
  }
  let offset = 0n;
  id = 1000;
  for (const f of frames) {
    if (f.apiKey === ApiKey.Produce) {
      const r = await c.readResponse(ApiKey.Produce, 9, id++);
      const p = r.responses[0].partitionResponses[0];
      assert.equal(p.errorCode, 0, `the produce request of ${f.records} records was read intact (its CRC checked)`);
      assert.equal(p.baseOffset, offset);
      offset += BigInt(f.records);
    } else {
      assert.equal((await c.readResponse(ApiKey.ApiVersions, 3, id++)).errorCode, 0);
    }
  }
}

for (const [what, config] of [
  ['', {}],
  [', reading paused by a small queued.max.request.bytes', { 'queued.max.request.bytes': 100_000 }],
  [', over a network thread', { 'num.network.threads': 1 }],
  [', over network threads, reading paused by a small queued.max.request.bytes', { 'num.network.threads': 2, 'queued.max.request.bytes': 100_000 }],
] as const) {
  test(`pipelined requests of every size, sent in pieces of every size on two connections at once, are read whole and answered in order${what}`, async () => {
    const broker = await startTestBroker(config);
    const [a, b] = await Promise.all([RawClient.connect(broker.port), RawClient.connect(broker.port)]);
    await createTopic(a, 'pieces-a');
    await createTopic(a, 'pieces-b');
    await Promise.all([sendInPieces(a, 'pieces-a', 19), sendInPieces(b, 'pieces-b', 7)]);
    a.close();
    b.close();
  });
}
