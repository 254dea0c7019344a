/**
 * confluent-kafka (Python, librdkafka 2.0.2 from Debian) against a real broker over real sockets; the admin
 * calls also on librdkafka 2.15 (test/helpers/librdkafka.ts), which sends newer versions of the admin APIs.
 * The driver script is test/clients/confluent_client.py; it must run under /usr/bin/python3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { checkRoundTrip, confluent, confluentWith } from '../helpers/confluent.ts';
import { modernLibrdkafkaEnv } from '../helpers/librdkafka.ts';

test('confluent-kafka: produce (acks=all) and consume by assign() for every compression type, diskless and classic topics', async () => {
  const broker = await startTestBroker();
  for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    for (const [topic, configs] of [[`ck-${compression}`, ''], [`ck-classic-${compression}`, 'diskless.enable=false']] as const) {
      const r = await confluent(broker.bootstrap, 'roundtrip', topic, '3000', compression, configs);
      assert.deepEqual(r.errors, []);
      assert.equal(r.acked.length, 3000);
      assert.equal(r.consumed.length, 3000, `${topic}: everything acknowledged is consumed`);
      checkRoundTrip(r.acked, r.consumed);
    }
  }
  assert.equal(broker.broker.topics.get('ck-classic-none')?.diskless, false);
});

for (const library of ['2.0.2', '2.15'] as const) {
  test(`confluent-kafka AdminClient on librdkafka ${library}: validate_only, configs, duplicate, invalid name, absurd compaction ratio refused, partitions, alter, list groups, delete`, async () => {
    const broker = await startTestBroker();
    const r = library === '2.0.2'
      ? await confluent(broker.bootstrap, 'admin', 'ck-admin')
      : await confluentWith(await modernLibrdkafkaEnv(), broker.bootstrap, 'admin', 'ck-admin');
    assert.equal(r.validate_only_exists, false, 'validate_only creates nothing');
    assert.equal(r['retention.ms'], '3600000');
    assert.equal(r['retention.ms.source'], 1, 'DYNAMIC_TOPIC_CONFIG');
    assert.equal(r['diskless.enable'], 'true');
    assert.equal(r.duplicate, 'TOPIC_ALREADY_EXISTS');
    assert.equal(r.bad_name, 'TOPIC_EXCEPTION'); // librdkafka's name for INVALID_TOPIC_EXCEPTION (17)
    assert.equal(r.compact, 'INVALID_CONFIG');
    assert.equal(r.partitions_after_create_partitions, 4);
    assert.equal(r['retention.ms.altered'], '7200000');
    assert.equal(r.list_groups_error, null);
    assert.equal(r.after_delete_exists, false);
    assert.equal(r['classic.diskless.enable'], 'false');
    assert.equal(r.classic_rf3, 'INVALID_REPLICATION_FACTOR');
    assert.match(r.classic_rf3_message, /replicated classic topics are not supported yet/);
  });
}
