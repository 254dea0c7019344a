import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { defaultBrokerConfig, loadBrokerConfig } from '../../src/config/broker-config.ts';
import { describeTopicConfigs, resolveTopicConfig, TOPIC_CONFIG_KEYS, validateTopicConfigs } from '../../src/config/topic-config.ts';

const broker = defaultBrokerConfig();
const classicBroker = defaultBrokerConfig({ 'log.diskless.enable': 'false' });

function refused(configs: Record<string, string | null>, message: string | RegExp, b = broker) {
  const r = validateTopicConfigs(configs, b);
  assert.equal(r.ok, false, `expected ${JSON.stringify(configs)} to be refused`);
  if (r.ok) return;
  assert.equal(r.errorCode, ErrorCode.INVALID_CONFIG);
  if (typeof message === 'string') assert.equal(r.message, message);
  else assert.match(r.message, message);
}

function accepted(configs: Record<string, string | null>, b = broker): Record<string, string> {
  const r = validateTopicConfigs(configs, b);
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.configs;
}

describe('validateTopicConfigs', () => {
  test('unknown key, like Kafka', () => {
    refused({ 'retention.ms': '1000', 'no.such.key': '1' }, 'Unknown topic config name: no.such.key');
    refused({ 'log.retention.ms': '1000' }, 'Unknown topic config name: log.retention.ms');
    refused({ 'message.format.version': '3.0' }, 'Unknown topic config name: message.format.version');
  });

  test('null values are refused (CreateTopics)', () => {
    refused({ 'retention.ms': null }, 'Null value not supported for topic configs: retention.ms');
  });

  test("bad values, with Kafka's messages", () => {
    refused({ 'retention.ms': 'abc' }, 'Invalid value abc for configuration retention.ms: Not a number of type LONG');
    refused({ 'retention.ms': '-2' }, 'Invalid value -2 for configuration retention.ms: Value must be at least -1');
    refused({ 'max.message.bytes': '-1' }, 'Invalid value -1 for configuration max.message.bytes: Value must be at least 0');
    refused({ 'max.message.bytes': '4294967296' }, 'Invalid value 4294967296 for configuration max.message.bytes: Not a number of type INT');
    refused({ 'message.timestamp.type': 'createtime' }, 'Invalid value createtime for configuration message.timestamp.type: String must be one of: CreateTime, LogAppendTime');
    refused({ 'message.timestamp.after.max.ms': '-1' }, /message\.timestamp\.after\.max\.ms: Value must be at least 0/);
    refused({ 'compression.type': 'brotli' }, /compression\.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer/);
    refused({ 'cleanup.policy': 'delete,shred' }, /cleanup\.policy: String must be one of: compact, delete/);
    refused({ 'diskless.enable': 'yes' }, 'Invalid value yes for configuration diskless.enable: Expected value to be either true or false');
    refused({ 'segment.bytes': '1000' }, /segment\.bytes: Value must be at least 1048576/);
    refused({ 'min.cleanable.dirty.ratio': '1.5' }, /min\.cleanable\.dirty\.ratio: Value must be no more than 1/);
    refused({ 'compression.gzip.level': '0' }, /compression\.gzip\.level: Value must be between 1 and 9, or -1/);
    refused({ 'leader.replication.throttled.replicas': 'x' }, /leader\.replication\.throttled\.replicas: must be the literal '\*'/);
  });

  test('values are normalised as Kafka shows them; diskless.enable is pinned', () => {
    assert.deepEqual(accepted({ 'diskless.enable': 'TRUE', 'retention.ms': ' 007 ', 'compression.type': 'zstd ' }), {
      'diskless.enable': 'true',
      'retention.ms': '7',
      'compression.type': 'zstd',
    });
    assert.deepEqual(accepted({}), { 'diskless.enable': 'true' });
    assert.deepEqual(accepted({}, classicBroker), { 'diskless.enable': 'false' });
    assert.deepEqual(accepted({ 'diskless.enable': 'false', 'cleanup.policy': 'delete , compact' }), {
      'diskless.enable': 'false',
      'cleanup.policy': 'delete,compact',
    });
    assert.deepEqual(accepted({ 'cleanup.policy': '' }), { 'diskless.enable': 'true', 'cleanup.policy': '' });
    const r = validateTopicConfigs({ 'diskless.enable': 'false' }, broker);
    assert.ok(r.ok && r.diskless === false);
  });

  test('keys without effect on diskless topics are accepted and stored', () => {
    const configs = {
      'segment.bytes': '1048576', 'segment.ms': '1', 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false',
      'flush.messages': '1', 'flush.ms': '0', 'min.compaction.lag.ms': '0', 'delete.retention.ms': '0', 'file.delete.delay.ms': '0',
      'index.interval.bytes': '0', 'local.retention.ms': '-2', 'preallocate': 'true', 'max.compaction.lag.ms': '1',
      'leader.replication.throttled.replicas': '0:1,1:2', 'follower.replication.throttled.replicas': '*',
    };
    assert.deepEqual(accepted(configs), { ...configs, 'diskless.enable': 'true' });
  });

  test('cleanup.policy=compact is accepted on both kinds (diskless topics are compacted by the compaction job)', () => {
    accepted({ 'cleanup.policy': 'compact' });
    accepted({ 'cleanup.policy': 'delete,compact', 'diskless.enable': 'true' });
    accepted({ 'cleanup.policy': 'compact', 'diskless.enable': 'false' });
    accepted({ 'cleanup.policy': 'compact' }, classicBroker);
    accepted({ 'diskless.enable': 'true' }, defaultBrokerConfig({ 'log.cleanup.policy': 'compact' }));
  });

  test('absurd compaction settings are refused with INVALID_CONFIG naming the key', () => {
    refused({ 'min.cleanable.dirty.ratio': '1.5' }, /min\.cleanable\.dirty\.ratio/);
    refused({ 'min.cleanable.dirty.ratio': '-0.5' }, /min\.cleanable\.dirty\.ratio/);
    refused({ 'min.compaction.lag.ms': '-1' }, /min\.compaction\.lag\.ms/);
    refused({ 'max.compaction.lag.ms': '0' }, /max\.compaction\.lag\.ms/);
    refused({ 'delete.retention.ms': '-1' }, /delete\.retention\.ms/);
  });

  test('remote storage and conflicting compaction lags are refused like Kafka', () => {
    refused({ 'remote.storage.enable': 'true' }, /Tiered Storage functionality is disabled in the broker/);
    accepted({ 'remote.storage.enable': 'false' });
    refused({ 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': '5' }, 'conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)');
  });

  test('diskless.enable cannot change on an existing topic', () => {
    const existing = { 'diskless.enable': 'true', 'retention.ms': '1000' };
    const r1 = validateTopicConfigs({ 'diskless.enable': 'false' }, broker, { existing });
    assert.ok(!r1.ok && /cannot be changed after a topic is created \(it is true\)/.test(r1.message));
    // Removing the key keeps the old value, even when the broker default differs.
    const r2 = validateTopicConfigs({ 'retention.ms': '5' }, classicBroker, { existing });
    assert.ok(r2.ok);
    assert.deepEqual(r2.configs, { 'retention.ms': '5', 'diskless.enable': 'true' });
  });
});

describe('resolveTopicConfig', () => {
  test('broker defaults', () => {
    assert.deepEqual(resolveTopicConfig({}, broker), {
      diskless: true,
      retentionMs: 604800000,
      retentionBytes: -1,
      maxMessageBytes: 1048588,
      messageTimestampType: 0,
      messageTimestampBeforeMaxMs: Number.MAX_SAFE_INTEGER,
      messageTimestampAfterMaxMs: 3600000,
      messageDownconversionEnable: true,
      cleanupPolicy: ['delete'],
      compressionType: 'producer',
      segmentBytes: 1073741824,
      segmentMs: 604800000,
      segmentJitterMs: 0,
      segmentIndexBytes: 10485760,
      indexIntervalBytes: 4096,
      flushMessages: 1, // Floe's default: acknowledged classic writes are fsynced
      flushMs: Number.MAX_SAFE_INTEGER,
      fileDeleteDelayMs: 60000,
      minCleanableDirtyRatio: 0.5,
      minCompactionLagMs: 0,
      maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
      deleteRetentionMs: 86400000,
    });
  });

  test('classic log settings flow through their synonyms (log.roll.hours → segment.ms, …)', () => {
    const c = resolveTopicConfig({ 'flush.messages': '10000' }, defaultBrokerConfig({
      'log.segment.bytes': '2097152', 'log.roll.hours': '2', 'log.roll.jitter.ms': '5', 'log.index.interval.bytes': '100', 'log.flush.interval.ms': '250',
    }));
    assert.equal(c.segmentBytes, 2097152);
    assert.equal(c.segmentMs, 7_200_000);
    assert.equal(c.segmentJitterMs, 5);
    assert.equal(c.indexIntervalBytes, 100);
    assert.equal(c.flushMs, 250);
    assert.equal(c.flushMessages, 10000);
  });

  test('broker settings flow through their synonyms', () => {
    const b = defaultBrokerConfig({
      'log.retention.hours': '2', 'message.max.bytes': '2000', 'log.message.timestamp.type': 'LogAppendTime',
      'log.retention.bytes': '123', 'compression.type': 'lz4', 'log.diskless.enable': 'false',
    });
    const c = resolveTopicConfig({}, b);
    assert.equal(c.retentionMs, 7_200_000);
    assert.equal(c.maxMessageBytes, 2000);
    assert.equal(c.messageTimestampType, 1);
    assert.equal(c.retentionBytes, 123);
    assert.equal(c.compressionType, 'lz4');
    assert.equal(c.diskless, false);
  });

  test('topic settings win; negative retention means -1', () => {
    const c = resolveTopicConfig(
      { 'retention.ms': '1000', 'retention.bytes': '-5', 'message.timestamp.type': 'LogAppendTime', 'message.timestamp.before.max.ms': '60000', 'cleanup.policy': '', 'diskless.enable': 'true' },
      classicBroker,
    );
    assert.equal(c.retentionMs, 1000);
    assert.equal(c.retentionBytes, -1);
    assert.equal(c.messageTimestampType, 1);
    assert.equal(c.messageTimestampBeforeMaxMs, 60000);
    assert.deepEqual(c.cleanupPolicy, []);
    assert.equal(c.diskless, true);
  });

  test('typed BrokerConfig fields win over its values (hand-patched configs)', () => {
    assert.equal(resolveTopicConfig({}, { ...broker, logRetentionMs: 42 }).retentionMs, 42);
  });
});

describe('describeTopicConfigs', () => {
  test('every key, with sources and synonyms like Kafka', () => {
    const loaded = loadBrokerConfig({ overrides: ['log.retention.hours=24'] });
    const described = describeTopicConfigs({ 'max.message.bytes': '500', 'diskless.enable': 'true' }, loaded);
    assert.deepEqual(described.map((d) => d.name), TOPIC_CONFIG_KEYS.map((k) => k.key));
    const by = new Map(described.map((d) => [d.name, d]));

    const retention = by.get('retention.ms')!;
    assert.equal(retention.value, '86400000');
    assert.equal(retention.source, 'STATIC_BROKER_CONFIG');
    assert.deepEqual(retention.synonyms, [
      { name: 'log.retention.hours', value: '24', source: 'STATIC_BROKER_CONFIG' },
      { name: 'log.retention.hours', value: '168', source: 'DEFAULT_CONFIG' },
    ]);
    assert.equal(retention.type, 'LONG');
    assert.equal(retention.readOnly, false);

    const max = by.get('max.message.bytes')!;
    assert.equal(max.value, '500');
    assert.equal(max.source, 'DYNAMIC_TOPIC_CONFIG');
    assert.deepEqual(max.synonyms, [
      { name: 'max.message.bytes', value: '500', source: 'DYNAMIC_TOPIC_CONFIG' },
      { name: 'message.max.bytes', value: '1048588', source: 'DEFAULT_CONFIG' },
    ]);

    const before = by.get('message.timestamp.before.max.ms')!;
    assert.equal(before.value, '9223372036854775807');
    assert.equal(before.source, 'DEFAULT_CONFIG');

    assert.equal(by.get('segment.ms')!.value, '604800000');
    assert.equal(by.get('diskless.enable')!.readOnly, true);
    const throttled = by.get('leader.replication.throttled.replicas')!;
    assert.deepEqual([throttled.value, throttled.source, throttled.synonyms], ['', 'DEFAULT_CONFIG', []]);
    assert.ok(described.every((d) => !d.isSensitive && d.documentation.length > 0));
  });

  test('a bare BrokerConfig works too', () => {
    const described = describeTopicConfigs({}, defaultBrokerConfig({ 'log.roll.hours': '1' }));
    const segmentMs = described.find((d) => d.name === 'segment.ms')!;
    assert.equal(segmentMs.value, '3600000');
    assert.equal(segmentMs.source, 'DEFAULT_CONFIG');
  });
});
