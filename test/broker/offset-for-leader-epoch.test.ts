/**
 * OffsetForLeaderEpoch (KIP-320) on both kinds of partition: an epoch >= 0 ends at the high watermark with
 * epoch 0 (the epoch every stored batch carries), an epoch < 0 is unknown, CurrentLeaderEpoch is checked as
 * in Fetch; and librdkafka, which validates its position with it once the broker advertises it, consumes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, withClient } from '../helpers/raw-client.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { produce } from '../helpers/produce.ts';
import { CLASSIC, createTopics } from '../helpers/topics.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
  await withClient(broker.port, async (c) => {
    await createTopics(c, [{ name: 'epochs', partitions: 2 }, { name: 'epochs-classic', partitions: 1, configs: CLASSIC }]);
    for (const topic of ['epochs', 'epochs-classic']) {
      for (let i = 0; i < 3; i++) assert.equal((await produce(c, topic, 0, await batchOf(['a', 'b']))).errorCode, 0);
    }
  });
});
after(() => broker.close());

async function endOffsets(c: RawClient, version: number, topic: string, parts: { partition: number; currentLeaderEpoch: number; leaderEpoch: number }[]) {
  const r = await c.request(ApiKey.OffsetForLeaderEpoch, version, { replicaId: -1, topics: [{ topic, partitions: parts }] });
  return r.topics[0].partitions.map((p: any) => [p.partition, p.errorCode, p.leaderEpoch, p.endOffset]);
}

test('an epoch >= 0 ends at the high watermark with epoch 0, an epoch < 0 is unknown, at v2-v4, on both kinds', async () => {
  const c = await RawClient.connect(broker.port);
  for (const version of [2, 3, 4]) {
    assert.deepEqual(await endOffsets(c, version, 'epochs', [
      { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 },
      { partition: 1, currentLeaderEpoch: 999, leaderEpoch: 5 }, // any current epoch is served for diskless
      { partition: 0, currentLeaderEpoch: -1, leaderEpoch: -1 },
    ]), [[0, 0, 0, 6n], [1, 0, 0, 0n], [0, 0, -1, -1n]], `v${version}`);
    assert.deepEqual(await endOffsets(c, version, 'epochs-classic', [
      { partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 },
      { partition: 0, currentLeaderEpoch: 1, leaderEpoch: 0 },
    ]), [[0, 0, 0, 6n], [0, ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1n]], `classic v${version}`);
  }
  assert.deepEqual(await endOffsets(c, 4, 'epochs', [{ partition: 7, currentLeaderEpoch: -1, leaderEpoch: 0 }]), [[7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1n]]);
  assert.deepEqual(await endOffsets(c, 4, 'no-such-topic', [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }]), [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1n]]);
  const versions = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'floe-test', clientSoftwareVersion: '1' });
  const advertised = versions.apiKeys.find((k: any) => k.apiKey === ApiKey.OffsetForLeaderEpoch);
  assert.deepEqual([advertised.minVersion, advertised.maxVersion], [0, 4]);
  c.close();
});

test('v0-1 (Kafka 3.9 and older): no current leader epoch; v0 answers no leader epoch', async () => {
  const c = await RawClient.connect(broker.port);
  for (const version of [0, 1]) {
    const epoch = version === 0 ? -1 : 0; // v0's response has no leader epoch: it decodes as the default, -1
    assert.deepEqual(await endOffsets(c, version, 'epochs', [
      { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 },
      { partition: 0, currentLeaderEpoch: -1, leaderEpoch: -1 },
    ]), [[0, 0, epoch, 6n], [0, 0, -1, -1n]], `v${version}`);
    assert.deepEqual(await endOffsets(c, version, 'epochs-classic', [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }]), [[0, 0, epoch, 6n]], `classic v${version}`);
  }
  c.close();
});
