/**
 * Dynamic broker configs (issue 16 item 6) on two brokers sharing one PostgreSQL coordinator: a change made
 * through one broker (kafkajs admin alterConfigs, confluent-kafka AdminClient alter_configs, raw
 * IncrementalAlterConfigs) is described by the other with Kafka's sources and synonyms, and takes effect
 * there (a produce over the new message.max.bytes refused, topics inheriting the new defaults, the log
 * cleaner's settings, new PLAIN users on a SASL listener). Static keys are refused as Kafka refuses them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { Kafka, logLevel } from 'kafkajs';

const { ConfigResourceTypes } = kafkajs;
import { startTestBroker, tempDir, type TestBroker } from '../helpers/broker.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { RawClient, withClient } from '../helpers/raw-client.ts';
import { createTopic } from '../helpers/topics.ts';
import { produce } from '../helpers/produce.ts';
import { waitFor, waitForValue } from '../helpers/wait.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { CONFIG_SOURCE_CODES } from '../../src/config/config-def.ts';

const run = promisify(execFile);
const BROKER = 4;
const TOPIC = 2;

let a: TestBroker;
let b: TestBroker;

test('setup: two brokers on one coordinator', async () => {
  const url = await freshDatabase();
  const objects = await tempDir('floe-dyn-objects-');
  const shared = { 'diskless.coordinator.url': url, 'diskless.object.store.url': `file://${objects}` };
  a = await startTestBroker({ ...shared, 'node.id': 1, 'log.retention.hours': 100 });
  b = await startTestBroker({
    ...shared, 'node.id': 2,
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";',
  });
});

async function describeBroker(port: number, name: string, keys: string[] | null = null): Promise<any> {
  const r = await withClient(port, (c) => c.request(ApiKey.DescribeConfigs, 4, {
    resources: [{ resourceType: BROKER, resourceName: name, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: false,
  }));
  return r.results[0];
}

async function incremental(port: number, name: string, configs: { name: string; configOperation: number; value: string | null }[], validateOnly = false): Promise<any> {
  const r = await withClient(port, (c) => c.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: BROKER, resourceName: name, configs }], validateOnly }));
  return r.responses[0];
}

test('the cluster default set through broker 1 (as kafka-configs --entity-default sends it): broker 2 describes it to kafkajs and refuses a larger batch; kafkajs alterConfigs per broker', async () => {
  // kafkajs and librdkafka 2.0.2 refuse the empty resource name client-side; Kafka's own tools send it.
  const set = await incremental(a.port, '', [{ name: 'message.max.bytes', configOperation: 0, value: '2000' }]);
  assert.equal(set.errorCode, ErrorCode.NONE, set.errorMessage);
  const defaults = await describeBroker(b.port, '');
  assert.equal(defaults.errorCode, ErrorCode.NONE);
  assert.deepEqual(defaults.configs.map((c: any) => [c.name, c.value, c.configSource]), [['message.max.bytes', '2000', CONFIG_SOURCE_CODES.DYNAMIC_DEFAULT_BROKER_CONFIG]]);

  // kafkajs sends a BROKER resource to that broker: broker 2 got the default through the coordinator's notification.
  const admin = new Kafka({ clientId: 'dyn', brokers: [a.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const describe2 = async () => {
    const d = await admin.describeConfigs({ includeSynonyms: true, resources: [{ type: ConfigResourceTypes.BROKER, name: '2', configNames: ['message.max.bytes'] }] });
    return d.resources[0]!.configEntries[0]!;
  };
  const entry = await waitForValue('broker 2 describes message.max.bytes=2000', describe2, (e) => e.configValue === '2000');
  assert.equal(entry.configSource, CONFIG_SOURCE_CODES.DYNAMIC_DEFAULT_BROKER_CONFIG);
  assert.equal(entry.readOnly, false);
  assert.deepEqual(entry.configSynonyms.map((s: any) => [s.configValue, s.configSource]), [
    ['2000', CONFIG_SOURCE_CODES.DYNAMIC_DEFAULT_BROKER_CONFIG], ['1048588', CONFIG_SOURCE_CODES.DEFAULT_CONFIG],
  ]);

  // Effective on broker 2: a batch of ~5 kB is too large for a topic inheriting the default.
  const client = await RawClient.connect(b.port);
  await createTopic(client, 'dyn-limit');
  assert.equal((await produce(client, 'dyn-limit', 0, 'x'.repeat(5000))).errorCode, ErrorCode.MESSAGE_TOO_LARGE);
  assert.equal((await produce(client, 'dyn-limit', 0, 'small')).errorCode, ErrorCode.NONE);
  const topic = await client.request(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: TOPIC, resourceName: 'dyn-limit', configurationKeys: ['max.message.bytes'] }], includeSynonyms: true, includeDocumentation: false });
  assert.equal(topic.results[0].configs[0].value, '2000');
  assert.equal(topic.results[0].configs[0].configSource, CONFIG_SOURCE_CODES.DYNAMIC_DEFAULT_BROKER_CONFIG);

  // kafkajs alterConfigs on broker 2 only: broker 2 takes 5 kB, broker 1 still refuses it.
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '2', configEntries: [{ name: 'message.max.bytes', value: '8000' }] }] });
  const own = await waitForValue('broker 2 describes its own 8000', describe2, (e) => e.configValue === '8000');
  assert.deepEqual(own.configSynonyms.map((s: any) => [s.configValue, s.configSource]), [
    ['8000', CONFIG_SOURCE_CODES.DYNAMIC_BROKER_CONFIG], ['2000', CONFIG_SOURCE_CODES.DYNAMIC_DEFAULT_BROKER_CONFIG], ['1048588', CONFIG_SOURCE_CODES.DEFAULT_CONFIG],
  ]);
  assert.equal((await produce(client, 'dyn-limit', 0, 'x'.repeat(5000))).errorCode, ErrorCode.NONE);
  const clientA = await RawClient.connect(a.port);
  await waitFor('broker 1 refuses 5 kB', async () => (await produce(clientA, 'dyn-limit', 0, 'x'.repeat(5000))).errorCode === ErrorCode.MESSAGE_TOO_LARGE);

  // Removed again (AlterConfigs replaces an entity's whole set): both take 5 kB.
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '2', configEntries: [] }] });
  assert.equal((await incremental(b.port, '', [{ name: 'message.max.bytes', configOperation: 1, value: null }])).errorCode, ErrorCode.NONE);
  await waitFor('broker 1 accepts 5 kB again', async () => (await produce(clientA, 'dyn-limit', 0, 'x'.repeat(5000))).errorCode === ErrorCode.NONE);
  await waitFor('broker 2 accepts 5 kB again', async () => (await produce(client, 'dyn-limit', 0, 'x'.repeat(5000))).errorCode === ErrorCode.NONE);
  assert.equal(b.broker.config.messageMaxBytes, 1048588);
  client.close();
  clientA.close();
  await admin.disconnect();
});

test('confluent-kafka AdminClient: per-broker alter_configs on broker 2, describe_configs with sources; static keys refused', async () => {
  const script = `
import json, sys
from confluent_kafka.admin import AdminClient, ConfigResource
def describe(admin, name, key):
    r = ConfigResource('broker', name)
    entries = admin.describe_configs([r])[r].result(30)
    e = entries[key]
    return {'value': e.value, 'source': e.source, 'readOnly': e.is_read_only, 'synonyms': [[s.value, s.source] for s in e.synonyms.values()]}
b = AdminClient({'bootstrap.servers': sys.argv[1]})
out = {}
r = ConfigResource('broker', '2', set_config={'log.retention.ms': '123456', 'log.cleaner.backoff.ms': '777'})
admin_futures = b.alter_configs([r])
admin_futures[r].result(30)
out['retention'] = describe(b, '2', 'log.retention.ms')
bad = ConfigResource('broker', '2', set_config={'num.partitions': '3'})
try:
    b.alter_configs([bad])[bad].result(30)
    out['static'] = 'accepted'
except Exception as e:
    out['static'] = str(e)
print(json.dumps(out))
`;
  const { stdout } = await run('/usr/bin/python3', ['-c', script, b.bootstrap], { timeout: 120_000 });
  const out = JSON.parse(stdout.trim().split('\n').pop()!);
  assert.equal(out.retention.value, '123456');
  assert.equal(out.retention.source, CONFIG_SOURCE_CODES.DYNAMIC_BROKER_CONFIG);
  assert.equal(out.retention.readOnly, false);
  assert.deepEqual(out.retention.synonyms[0], ['123456', CONFIG_SOURCE_CODES.DYNAMIC_BROKER_CONFIG]);
  assert.match(out.static, /Cannot update these configs dynamically: Set\(num\.partitions\)/);

  // Effective on broker 2 only: topics inherit the retention, the log cleaner its backoff.
  const client = await RawClient.connect(b.port);
  await createTopic(client, 'dyn-retention');
  client.close();
  await waitFor('broker 2 resolves retention.ms from its own dynamic config', () => b.broker.topics.get('dyn-retention')?.config.retentionMs === 123456);
  assert.equal(b.broker.storage.classic.cleaner.settings.backoffMs, 777);
  await waitFor('broker 1 knows the topic', () => a.broker.topics.get('dyn-retention') !== undefined, { timeoutMs: 30_000 });
  assert.equal(a.broker.topics.get('dyn-retention')!.config.retentionMs, 100 * 3_600_000, 'broker 1 keeps its static log.retention.hours');
  assert.equal(a.broker.storage.classic.cleaner.settings.backoffMs, 15_000);

  // Broker 1 describes broker 1 with the static value as STATIC_BROKER_CONFIG, and refuses broker 2's id.
  const own = await describeBroker(a.port, '1', ['log.retention.hours', 'node.id']);
  const hours = own.configs.find((c: any) => c.name === 'log.retention.hours');
  assert.equal(hours.value, '100');
  assert.equal(hours.configSource, CONFIG_SOURCE_CODES.STATIC_BROKER_CONFIG);
  assert.equal(own.configs.find((c: any) => c.name === 'node.id').readOnly, true);
  assert.equal((await describeBroker(a.port, '2')).errorCode, ErrorCode.INVALID_REQUEST);
});

test('IncrementalAlterConfigs: APPEND to a list default, DELETE, bad values, per-broker keys, validateOnly', async () => {
  const appended = await incremental(a.port, '', [{ name: 'log.cleanup.policy', configOperation: 2, value: 'compact' }]);
  assert.equal(appended.errorCode, ErrorCode.NONE, appended.errorMessage);
  const client = await RawClient.connect(b.port);
  await createTopic(client, 'dyn-policy');
  await waitFor('broker 2 topics inherit delete,compact', () => b.broker.topics.get('dyn-policy')?.config.cleanupPolicy.join(',') === 'delete,compact');
  assert.deepEqual((await describeBroker(a.port, '')).configs.map((c: any) => [c.name, c.value]), [['log.cleanup.policy', 'delete,compact']]);
  const deleted = await incremental(b.port, '', [{ name: 'log.cleanup.policy', configOperation: 1, value: null }]);
  assert.equal(deleted.errorCode, ErrorCode.NONE);
  await waitFor('broker 1 is back to delete', () => a.broker.config.logCleanupPolicy.join(',') === 'delete');

  const bad = await incremental(a.port, '', [{ name: 'log.retention.bytes', configOperation: 0, value: 'lots' }]);
  assert.equal(bad.errorCode, ErrorCode.INVALID_CONFIG);
  assert.match(bad.errorMessage, /log\.retention\.bytes/);
  const tooSmall = await incremental(a.port, '1', [{ name: 'log.cleaner.dedupe.buffer.size', configOperation: 0, value: '1000' }]);
  assert.equal(tooSmall.errorCode, ErrorCode.INVALID_CONFIG);
  const perBroker = await incremental(a.port, '', [{ name: 'listener.name.sasl_plaintext.plain.sasl.jaas.config', configOperation: 0, value: 'x' }]);
  assert.equal(perBroker.errorCode, ErrorCode.INVALID_REQUEST);
  assert.match(perBroker.errorMessage, /broker id must be specified/);
  const notAnId = await incremental(a.port, 'abc', [{ name: 'message.max.bytes', configOperation: 0, value: '10' }]);
  assert.equal(notAnId.errorCode, ErrorCode.INVALID_REQUEST);
  const validateOnly = await incremental(a.port, '', [{ name: 'message.max.bytes', configOperation: 0, value: '10' }], true);
  assert.equal(validateOnly.errorCode, ErrorCode.NONE);
  assert.equal((await describeBroker(a.port, '')).configs.length, 0, 'validateOnly changed nothing');
  client.close();
});

test('a PLAIN user added dynamically to broker 2\'s SASL listener can log in; the JAAS text is never described', async () => {
  const saslBootstrap = `127.0.0.1:${b.ports.SASL_PLAINTEXT}`;
  const login = async (username: string, password: string) => {
    const admin = new Kafka({ clientId: 'dyn-sasl', brokers: [saslBootstrap], sasl: { mechanism: 'plain', username, password }, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    try {
      await admin.connect();
      await admin.listTopics();
      return true;
    } catch {
      return false;
    } finally {
      await admin.disconnect();
    }
  };
  assert.equal(await login('carol', 'carol-secret'), false);
  const key = 'listener.name.sasl_plaintext.plain.sasl.jaas.config';
  const jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_carol="carol-secret";';
  // Sent to broker 1: it stores the change, broker 2 applies it.
  const r = await incremental(a.port, '2', [{ name: key, configOperation: 0, value: jaas }]);
  assert.equal(r.errorCode, ErrorCode.NONE, r.errorMessage);
  await waitFor('carol logs in on broker 2', () => login('carol', 'carol-secret'), { timeoutMs: 20_000 });
  const described = (await describeBroker(b.port, '2')).configs.find((c: any) => c.name === key);
  assert.equal(described.configSource, CONFIG_SOURCE_CODES.DYNAMIC_BROKER_CONFIG);
  assert.equal(described.isSensitive, true);
  assert.equal(described.value, null);
  const broken = await incremental(b.port, '2', [{ name: key, configOperation: 0, value: 'not jaas' }]);
  assert.equal(broken.errorCode, ErrorCode.INVALID_CONFIG);
});
