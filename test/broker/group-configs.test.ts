/**
 * Per-group configs (Kafka 4.1's GROUP resource, type 32) over real sockets, on two brokers sharing one
 * PostgreSQL coordinator: DescribeConfigs shows every group key with its value and source (the broker's
 * group.* key while the group does not set it, GROUP_CONFIG once it does), IncrementalAlterConfigs and
 * AlterConfigs change them with Kafka's validation (unknown names, types, broker bounds, session >
 * heartbeat: INVALID_CONFIG), and a consumer group (ConsumerGroupHeartbeat) gets its own heartbeat interval
 * from whichever broker coordinates it, as soon as the change is made through any broker.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopic } from '../helpers/topics.ts';
import { waitFor } from '../helpers/wait.ts';

const GROUP = 32;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const GROUP_CONFIG_SOURCE = 8;
const STATIC_BROKER_CONFIG = 4;
const DEFAULT_CONFIG = 5;

let a: TestBroker;
let b: TestBroker;
let ca: RawClient;
let cb: RawClient;

before(async () => {
  const url = await freshDatabase();
  const objects = await tempDir('floe-gc-objects-');
  const shared = {
    'diskless.coordinator.url': url,
    'diskless.object.store.url': `file://${objects}`,
    'group.consumer.heartbeat.interval.ms': 3000,
    'group.consumer.min.heartbeat.interval.ms': 500,
    'group.consumer.min.session.timeout.ms': 2000,
  };
  a = await startTestBroker({ ...shared, 'node.id': 1 });
  b = await startTestBroker({ ...shared, 'node.id': 2 });
  [ca, cb] = await Promise.all([RawClient.connect(a.port), RawClient.connect(b.port)]);
  await createTopic(ca, 'gc-topic', 2);
});

after(() => {
  ca?.close();
  cb?.close();
});

async function describe(c: RawClient, group: string, keys: string[] | null = null): Promise<any> {
  const r = await c.request(ApiKey.DescribeConfigs, 4, {
    resources: [{ resourceType: GROUP, resourceName: group, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: true,
  });
  return r.results[0];
}

async function alter(c: RawClient, group: string, configs: { name: string; op: number; value: string | null }[], validateOnly = false): Promise<any> {
  const r = await c.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [{ resourceType: GROUP, resourceName: group, configs: configs.map((x) => ({ name: x.name, configOperation: x.op, value: x.value })) }],
    validateOnly,
  });
  return r.responses[0];
}

const entry = (res: any, name: string) => res.configs.find((c: any) => c.name === name);

/** Joins a consumer group through the broker that coordinates it; returns the heartbeat interval it was given. */
async function joinedInterval(group: string): Promise<number> {
  for (const c of [ca, cb]) {
    const r = await c.request(ApiKey.ConsumerGroupHeartbeat, 0, {
      groupId: group, memberId: '', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 30_000,
      subscribedTopicNames: ['gc-topic'], serverAssignor: null, topicPartitions: [],
    });
    if (r.errorCode === ErrorCode.NOT_COORDINATOR) continue;
    assert.equal(r.errorCode, 0, r.errorMessage);
    // Leave again so that the next join starts afresh.
    await c.request(ApiKey.ConsumerGroupHeartbeat, 0, {
      groupId: group, memberId: r.memberId, memberEpoch: -1, instanceId: null, rackId: null, rebalanceTimeoutMs: -1,
      subscribedTopicNames: null, serverAssignor: null, topicPartitions: null,
    });
    return r.heartbeatIntervalMs;
  }
  throw new Error('no broker coordinates the group');
}

test('DescribeConfigs GROUP: every Kafka 4.1 group key, inherited from the broker until the group sets it', async () => {
  const res = await describe(ca, 'gc-fresh');
  assert.equal(res.errorCode, 0, res.errorMessage);
  assert.deepEqual(res.configs.map((c: any) => c.name).sort(), [
    'consumer.heartbeat.interval.ms', 'consumer.session.timeout.ms', 'share.auto.offset.reset', 'share.heartbeat.interval.ms',
    'share.isolation.level', 'share.record.lock.duration.ms', 'share.session.timeout.ms', 'streams.heartbeat.interval.ms',
    'streams.num.standby.replicas', 'streams.session.timeout.ms',
  ]);
  const hb = entry(res, 'consumer.heartbeat.interval.ms');
  assert.equal(hb.value, '3000');
  assert.equal(hb.configSource, STATIC_BROKER_CONFIG);
  assert.equal(hb.synonyms[0].name, 'group.consumer.heartbeat.interval.ms');
  assert.equal(hb.configType, 3); // INT
  assert.ok(hb.documentation.length > 0);
  const session = entry(res, 'consumer.session.timeout.ms');
  assert.equal(session.value, '45000');
  assert.equal(session.configSource, DEFAULT_CONFIG);
  assert.equal(entry(res, 'share.auto.offset.reset').value, 'latest');
  assert.equal(entry(res, 'share.isolation.level').value, 'read_uncommitted');
  assert.equal(entry(res, 'share.record.lock.duration.ms').value, '30000');

  const some = await describe(ca, 'gc-fresh', ['share.isolation.level']);
  assert.deepEqual(some.configs.map((c: any) => c.name), ['share.isolation.level']);
  const empty = await describe(ca, '');
  assert.equal(empty.errorCode, ErrorCode.INVALID_REQUEST);
});

test('IncrementalAlterConfigs GROUP: set on one broker, seen by both; a consumer group gets its heartbeat interval wherever it is coordinated', async () => {
  assert.equal(await joinedInterval('gc-applied'), 3000);
  const r = await alter(ca, 'gc-applied', [
    { name: 'consumer.heartbeat.interval.ms', op: SET, value: '700' },
    { name: 'consumer.session.timeout.ms', op: SET, value: ' 4000' },
    { name: 'share.auto.offset.reset', op: SET, value: 'by_duration:PT1H' },
    { name: 'share.isolation.level', op: SET, value: 'read_committed' },
  ]);
  assert.equal(r.errorCode, 0, r.errorMessage);
  for (const c of [ca, cb]) {
    await waitFor('the change to reach the broker', async () => entry(await describe(c, 'gc-applied'), 'consumer.heartbeat.interval.ms').value === '700', { timeoutMs: 10_000 });
    const res = await describe(c, 'gc-applied');
    const hb = entry(res, 'consumer.heartbeat.interval.ms');
    assert.equal(hb.configSource, GROUP_CONFIG_SOURCE);
    assert.deepEqual(hb.synonyms.map((s: any) => [s.name, s.source]), [
      ['consumer.heartbeat.interval.ms', GROUP_CONFIG_SOURCE], ['group.consumer.heartbeat.interval.ms', STATIC_BROKER_CONFIG], ['group.consumer.heartbeat.interval.ms', DEFAULT_CONFIG],
    ]);
    assert.equal(entry(res, 'consumer.session.timeout.ms').value, '4000'); // normalised
    assert.equal(entry(res, 'share.auto.offset.reset').value, 'by_duration:PT1H');
  }
  assert.equal(await joinedInterval('gc-applied'), 700);
  assert.equal(await joinedInterval('gc-other'), 3000, 'another group keeps the broker default');

  // DELETE: back to the broker's value.
  assert.equal((await alter(cb, 'gc-applied', [{ name: 'consumer.heartbeat.interval.ms', op: DELETE, value: null }])).errorCode, 0);
  await waitFor('the deletion to reach broker A', async () => entry(await describe(ca, 'gc-applied'), 'consumer.heartbeat.interval.ms').configSource === STATIC_BROKER_CONFIG, { timeoutMs: 10_000 });
  assert.equal(await joinedInterval('gc-applied'), 3000);
  assert.equal(entry(await describe(ca, 'gc-applied'), 'share.isolation.level').value, 'read_committed', 'the other keys stay');
});

test('Group configs are validated as Kafka does: names, values, broker bounds, session > heartbeat; validateOnly changes nothing', async () => {
  const cases: [{ name: string; op: number; value: string | null }[], number, string][] = [
    [[{ name: 'no.such.key', op: SET, value: '1' }], ErrorCode.INVALID_CONFIG, 'Unknown group config name: no.such.key'],
    [[{ name: 'consumer.session.timeout.ms', op: SET, value: 'abc' }], ErrorCode.INVALID_CONFIG, 'Invalid value abc for configuration consumer.session.timeout.ms: Not a number of type INT'],
    [[{ name: 'consumer.session.timeout.ms', op: SET, value: '1000' }], ErrorCode.INVALID_CONFIG, 'consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms'],
    [[{ name: 'consumer.session.timeout.ms', op: SET, value: '70000' }], ErrorCode.INVALID_CONFIG, 'consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms'],
    [[{ name: 'consumer.heartbeat.interval.ms', op: SET, value: '100' }], ErrorCode.INVALID_CONFIG, 'consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms'],
    [[{ name: 'consumer.session.timeout.ms', op: SET, value: '2500' }, { name: 'consumer.heartbeat.interval.ms', op: SET, value: '2500' }], ErrorCode.INVALID_CONFIG,
      'consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms'],
    [[{ name: 'share.record.lock.duration.ms', op: SET, value: '999' }], ErrorCode.INVALID_CONFIG, 'Invalid value 999 for configuration share.record.lock.duration.ms: Value must be at least 1000'],
    [[{ name: 'share.record.lock.duration.ms', op: SET, value: '5000' }], ErrorCode.INVALID_CONFIG, 'share.record.lock.duration.ms must be greater than or equal to group.share.min.record.lock.duration.ms'],
    [[{ name: 'share.isolation.level', op: SET, value: 'serializable' }], ErrorCode.INVALID_CONFIG, 'Invalid value serializable for configuration share.isolation.level: String must be one of: read_committed, read_uncommitted'],
    [[{ name: 'share.auto.offset.reset', op: SET, value: 'by_duration:-PT1H' }], ErrorCode.INVALID_CONFIG, ''],
    [[{ name: 'share.auto.offset.reset', op: SET, value: 'sometimes' }], ErrorCode.INVALID_CONFIG, ''],
    [[{ name: 'streams.num.standby.replicas', op: SET, value: '3' }], ErrorCode.INVALID_CONFIG, 'streams.num.standby.replicas must be less than or equal to group.streams.max.standby.replicas'],
    [[{ name: 'share.session.timeout.ms', op: APPEND, value: '50000' }], ErrorCode.INVALID_CONFIG, 'Config value append is not allowed for config key: share.session.timeout.ms'],
    [[{ name: 'share.session.timeout.ms', op: SET, value: null }], ErrorCode.INVALID_REQUEST, ''],
  ];
  for (const [ops, code, message] of cases) {
    const r = await alter(ca, 'gc-bad', ops);
    assert.equal(r.errorCode, code, `${JSON.stringify(ops)}: ${r.errorMessage}`);
    if (message !== '') assert.equal(r.errorMessage, message);
  }
  const emptyName = await alter(ca, '', [{ name: 'share.session.timeout.ms', op: SET, value: '50000' }]);
  assert.equal(emptyName.errorCode, ErrorCode.INVALID_REQUEST);
  const dry = await alter(ca, 'gc-bad', [{ name: 'consumer.session.timeout.ms', op: SET, value: '50000' }], true);
  assert.equal(dry.errorCode, 0);
  assert.equal(entry(await describe(ca, 'gc-bad'), 'consumer.session.timeout.ms').configSource, DEFAULT_CONFIG, 'validateOnly stores nothing');
});

test('AlterConfigs GROUP replaces the group\'s whole set', async () => {
  assert.equal((await alter(ca, 'gc-replace', [
    { name: 'share.session.timeout.ms', op: SET, value: '50000' },
    { name: 'share.isolation.level', op: SET, value: 'read_committed' },
  ])).errorCode, 0);
  const r = await cb.request(ApiKey.AlterConfigs, 2, {
    resources: [{ resourceType: GROUP, resourceName: 'gc-replace', configs: [{ name: 'share.heartbeat.interval.ms', value: '6000' }] }], validateOnly: false,
  });
  assert.equal(r.responses[0].errorCode, 0, r.responses[0].errorMessage);
  await waitFor('the replacement to reach broker A', async () => entry(await describe(ca, 'gc-replace'), 'share.heartbeat.interval.ms').value === '6000', { timeoutMs: 10_000 });
  const res = await describe(ca, 'gc-replace');
  assert.equal(entry(res, 'share.session.timeout.ms').value, '45000');
  assert.notEqual(entry(res, 'share.session.timeout.ms').configSource, GROUP_CONFIG_SOURCE);
  assert.equal(entry(res, 'share.isolation.level').value, 'read_uncommitted');
});
