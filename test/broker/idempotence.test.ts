/**
 * Idempotent producers through the Kafka protocol: InitProducerId at every served version, and Produce
 * with producer ids and sequences (duplicates answered with the original offset and not stored twice,
 * gaps, fenced epochs, producers without state), plus a transactional batch outside any transaction (refused).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { fetchValues } from '../helpers/fetch.ts';
import { produce as produceTo, produceRequest } from '../helpers/produce.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { createTopic } from '../helpers/topics.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

let broker: TestBroker;
let client: RawClient;

before(async () => {
  broker = await startTestBroker();
  client = await RawClient.connect(broker.port);
  await createTopic(client, 'idem', 2);
});

function initRequest(producerId = -1n, producerEpoch = -1, transactionalId: string | null = null) {
  return { transactionalId, transactionTimeoutMs: 60_000, producerId, producerEpoch };
}

/** `count` records `<pid>-<epoch>-<sequence>` from sequence `seq` to a partition of idem: the answer's error code and base offset. */
async function produce(partition: number, pid: bigint, epoch: number, seq: number, count: number, opts: { transactional?: boolean } = {}) {
  const values = Array.from({ length: count }, (_, i) => `${pid}-${epoch}-${seq + i}`);
  const records = await batchOf(values, { producerId: pid, producerEpoch: epoch, baseSequence: seq, transactional: opts.transactional });
  const p = await produceTo(client, 'idem', partition, records, { timeoutMs: 5000 });
  return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
}

test('InitProducerId v0-v5: distinct ids, epoch 0; v3+ re-init with the current epoch bumps it', async () => {
  const ids = new Set<bigint>();
  for (let v = 0; v <= 5; v++) {
    const r = await client.request(ApiKey.InitProducerId, v, initRequest());
    assert.equal(r.errorCode, ErrorCode.NONE, `v${v}`);
    assert.equal(r.producerEpoch, 0);
    assert.ok(r.producerId >= 0n);
    ids.add(r.producerId);
  }
  assert.equal(ids.size, 6);
  const first = await client.request(ApiKey.InitProducerId, 4, initRequest());
  const bumped = await client.request(ApiKey.InitProducerId, 4, initRequest(first.producerId, 0));
  assert.deepEqual([bumped.errorCode, bumped.producerId, bumped.producerEpoch], [0, first.producerId, 1]);
  const half = await client.request(ApiKey.InitProducerId, 3, initRequest(first.producerId, -1));
  assert.equal(half.errorCode, ErrorCode.INVALID_REQUEST);
  const versions = await client.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'floe-test', clientSoftwareVersion: '1' });
  const entry = versions.apiKeys.find((k: { apiKey: number }) => k.apiKey === ApiKey.InitProducerId);
  assert.deepEqual([entry.minVersion, entry.maxVersion], [0, 5]);
});

test('a transactional id gets its own producer id; a transactional batch outside any transaction is refused (INVALID_TXN_STATE)', async () => {
  const r = await client.request(ApiKey.InitProducerId, 4, initRequest(-1n, -1, 'my-txn'));
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.ok(r.producerId >= 0n);
  const { producerId } = await client.request(ApiKey.InitProducerId, 4, initRequest());
  assert.notEqual(producerId, r.producerId);
  // An idempotent (not transactional) producer id has no transaction to write into.
  assert.equal((await produce(1, producerId, 0, 0, 1, { transactional: true })).errorCode, ErrorCode.INVALID_TXN_STATE);
});

test('Produce: a retried batch is answered with its first offset and stored once; gaps, old epochs and unknown producers are refused', async () => {
  const { producerId: pid } = await client.request(ApiKey.InitProducerId, 4, initRequest());
  assert.deepEqual(await produce(0, pid, 0, 0, 3), { errorCode: 0, baseOffset: 0 });
  assert.deepEqual(await produce(0, pid, 0, 3, 2), { errorCode: 0, baseOffset: 3 });
  assert.deepEqual(await produce(0, pid, 0, 0, 3), { errorCode: 0, baseOffset: 0 }, 'duplicate of the first batch');
  assert.deepEqual(await produce(0, pid, 0, 3, 2), { errorCode: 0, baseOffset: 3 }, 'duplicate of the second batch');
  assert.equal((await produce(0, pid, 0, 7, 1)).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  const { producerEpoch } = await client.request(ApiKey.InitProducerId, 4, initRequest(pid, 0));
  assert.equal(producerEpoch, 1);
  assert.deepEqual(await produce(0, pid, 1, 0, 1), { errorCode: 0, baseOffset: 5 });
  assert.equal((await produce(0, pid, 0, 5, 1)).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  const { producerId: other } = await client.request(ApiKey.InitProducerId, 4, initRequest());
  assert.equal((await produce(0, other, 0, 4, 1)).errorCode, ErrorCode.UNKNOWN_PRODUCER_ID);

  const values = await fetchValues(client, 'idem', 0, 0n, { version: 12 });
  assert.deepEqual(values, [0, 1, 2, 3, 4].map((s) => `${pid}-0-${s}`).concat([`${pid}-1-0`]), 'every record once, in order');
});

test('Produce: five batches pipelined on one connection, then all five again: the retries are answered with the first offsets', async () => {
  const { producerId: pid } = await client.request(ApiKey.InitProducerId, 4, initRequest());
  const send = async (seq: number, id: number) => {
    const records = await batchOf(`${pid}-0-${seq}`, { producerId: pid, producerEpoch: 0, baseSequence: seq });
    client.write(RawClient.frame(ApiKey.Produce, 9, produceRequest([{ topic: 'idem', partition: 1, records }], { timeoutMs: 5000 }), id));
  };
  const offsets = async (ids: number[]) => {
    const out: number[] = [];
    for (const id of ids) {
      const r = await client.readResponse(ApiKey.Produce, 9, id);
      const p = r.responses[0].partitionResponses[0];
      assert.equal(p.errorCode, 0);
      out.push(Number(p.baseOffset));
    }
    return out;
  };
  for (let s = 0; s < 5; s++) await send(s, 5000 + s);
  const firstOffsets = await offsets([5000, 5001, 5002, 5003, 5004]);
  for (let s = 0; s < 5; s++) await send(s, 6000 + s);
  assert.deepEqual(await offsets([6000, 6001, 6002, 6003, 6004]), firstOffsets);
  const mine = (await fetchValues(client, 'idem', 1, 0n, { version: 12 })).filter((v) => v.startsWith(`${pid}-`));
  assert.deepEqual(mine, [0, 1, 2, 3, 4].map((s) => `${pid}-0-${s}`));
});
