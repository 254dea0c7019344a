import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { renderConfigDoc, CONFIG_DOC_PATH } from '../../tools/docs/config-doc.ts';
import {
  BROKER_CONFIG_KEYS,
  ConfigError,
  defaultBrokerConfig,
  describeBrokerConfigs,
  redactUrlPassword,
  envVarName,
  loadBrokerConfig,
} from '../../src/config/broker-config.ts';
import { parseProperties } from '../../src/config/properties.ts';

const dir = mkdtempSync(join(tmpdir(), 'floe-config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const path = join(dir, `server-${n++}.properties`);
  writeFileSync(path, text);
  return path;
}
const props = (text: string) => Object.fromEntries(parseProperties(text).map((e) => [e.key, e.value]));

describe('properties parsing (java.util.Properties)', () => {
  test('comments, blank lines and the three separators', () => {
    assert.deepEqual(props('# comment\n! also a comment\n\n   \na=1\nb:2\nc 3\n  d = 4\ne\t:\t5\nf\n'), {
      a: '1', b: '2', c: '3', d: '4', e: '5', f: '',
    });
  });

  test('only the first separator splits; the value keeps = and :', () => {
    assert.deepEqual(props('listeners=PLAINTEXT://localhost:9092\nx = a=b:c\n'), { listeners: 'PLAINTEXT://localhost:9092', x: 'a=b:c' });
  });

  test('line continuations drop the backslash, the newline and leading blanks', () => {
    assert.deepEqual(props('a=one, \\\n    two, \\\n\tthree\nb=x\n'), { a: 'one, two, three', b: 'x' });
  });

  test('an even number of trailing backslashes is an escaped backslash, not a continuation', () => {
    assert.deepEqual(props('a=x\\\\\nb=y\n'), { a: 'x\\', b: 'y' });
  });

  test('a comment line does not continue even if it ends with a backslash', () => {
    assert.deepEqual(props('# comment \\\na=1\n'), { a: '1' });
  });

  test('escapes in keys and values', () => {
    assert.deepEqual(props('key\\:with\\=seps\\ and\\ space=v\nu=\\u0041\\u00e9\nt=a\\tb\\nc\nq=\\q\\#\n'), {
      'key:with=seps and space': 'v',
      u: 'Aé',
      t: 'a\tb\nc',
      q: 'q#',
    });
  });

  test('CRLF and CR line ends', () => {
    assert.deepEqual(props('a=1\r\nb=2\rc=3'), { a: '1', b: '2', c: '3' });
  });

  test('a malformed \\u escape is an error', () => {
    assert.throws(() => parseProperties('a=\\u00zz\n'), /malformed \\uxxxx/);
  });

  test('duplicates are kept in order, with line numbers', () => {
    assert.deepEqual(parseProperties('a=1\n\na=2\n'), [
      { key: 'a', value: '1', line: 1 },
      { key: 'a', value: '2', line: 3 },
    ]);
  });
});

describe('loadBrokerConfig', () => {
  test('defaults', () => {
    const { config, warnings, raw } = loadBrokerConfig({});
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.listeners, [{ name: 'PLAINTEXT', host: 'localhost', port: 9092, securityProtocol: 'PLAINTEXT' }]);
    assert.deepEqual(config.advertisedListeners, config.listeners);
    assert.equal(config.nodeId, -1); // allocated by the coordinator at the first start
    assert.equal(config.brokerRack, null);
    assert.equal(config.clusterId, null);
    assert.equal(config.dataDir, resolve('data'));
    assert.equal(config.logDisklessEnable, true);
    assert.equal(config.disklessCommitIntervalMs, 250);
    assert.equal(config.disklessBufferMaxBytes, 8388608);
    assert.equal(config.disklessBufferMaxPendingBytes, 67108864);
    assert.equal(config.disklessUploadHedgePercentile, 75);
    assert.equal(config.disklessCacheMaxBytes, 268435456);
    assert.equal(config.messageMaxBytes, 1048588);
    assert.equal(config.socketRequestMaxBytes, 104857600);
    assert.equal(config.autoCreateTopicsEnable, true);
    assert.equal(config.numPartitions, 1);
    assert.equal(config.defaultReplicationFactor, 1);
    assert.equal(config.connectionsMaxIdleMs, 600000);
    assert.equal(config.logRetentionMs, 604800000);
    assert.equal(config.logRetentionBytes, -1);
    assert.equal(config.logMessageTimestampType, 'CreateTime');
    assert.equal(config.logMessageTimestampBeforeMaxMs, Number.MAX_SAFE_INTEGER);
    assert.equal(config.logMessageTimestampAfterMaxMs, 3600000);
    assert.equal(config.compressionType, 'producer');
    assert.deepEqual(config.logCleanupPolicy, ['delete']);
    assert.equal(config.groupInitialRebalanceDelayMs, 3000);
    assert.equal(config.offsetsRetentionMinutes, 10080);
    assert.deepEqual(raw.get('node.id'), { value: '-1', source: 'default' });
    assert.deepEqual(raw.get('log.message.timestamp.before.max.ms'), { value: '9223372036854775807', source: 'default' });
    assert.equal(raw.has('log.retention.ms'), false, 'unset keys without default have no raw value');
  });

  test('precedence: default < file < env < --override', () => {
    const path = file('node.id=2\nnum.partitions=3\nmessage.max.bytes=100\n');
    const { config, raw, warnings } = loadBrokerConfig({
      file: path,
      env: { FLOE_NODE_ID: '3', FLOE_NUM_PARTITIONS: '4', FLOE_LOG_LEVEL: 'debug', PATH: '/bin' },
      overrides: ['node.id=4'],
    });
    assert.deepEqual(warnings, []);
    assert.equal(config.nodeId, 4);
    assert.equal(config.numPartitions, 4);
    assert.equal(config.messageMaxBytes, 100);
    assert.equal(config.autoCreateTopicsEnable, true);
    assert.equal(raw.get('node.id')?.source, 'override');
    assert.equal(raw.get('num.partitions')?.source, 'env');
    assert.equal(raw.get('message.max.bytes')?.source, 'file');
    assert.equal(raw.get('auto.create.topics.enable')?.source, 'default');
  });

  test('env names: FLOE_ + key upper-cased with . as _', () => {
    assert.equal(envVarName('log.diskless.enable'), 'FLOE_LOG_DISKLESS_ENABLE');
    const { config, raw } = loadBrokerConfig({ env: { FLOE_LOG_DISKLESS_ENABLE: 'FALSE', FLOE_BROKER_RACK: 'az-1' } });
    assert.equal(config.logDisklessEnable, false);
    assert.equal(raw.get('log.diskless.enable')?.value, 'false', 'normalised like Kafka');
    assert.equal(config.brokerRack, 'az-1');
  });

  test('an override value may contain =', () => {
    const { config } = loadBrokerConfig({ overrides: ['broker.rack=a=b'] });
    assert.equal(config.brokerRack, 'a=b');
  });

  test('values are trimmed, as Kafka does', () => {
    const { config } = loadBrokerConfig({ file: file('node.id = 7   \nlog.cleanup.policy = delete \n') });
    assert.equal(config.nodeId, 7);
    assert.deepEqual(config.logCleanupPolicy, ['delete']);
  });

  test('unknown keys and unsupported Kafka keys are warnings, not errors', () => {
    const { warnings } = loadBrokerConfig({
      file: file('foo.bar=1\nnum.io.threads=8\nssl.endpoint.identification.algorithm=https\n'),
      env: { FLOE_NO_SUCH_THING: '1', FLOE_TEST_WHATEVER: '1' },
      overrides: ['zzz=1'],
    });
    assert.equal(warnings.length, 5, warnings.join('\n'));
    assert.match(warnings[0]!, /unknown config key 'foo\.bar' .*ignored/);
    assert.match(warnings[1]!, /'num\.io\.threads' .*not supported by Floe, ignored/);
    assert.match(warnings[2]!, /'ssl\.endpoint\.identification\.algorithm' .*not supported by Floe/);
    assert.match(warnings[3]!, /unknown config key 'no\.such\.thing' \(env FLOE_NO_SUCH_THING\) ignored/);
    assert.match(warnings[4]!, /unknown config key 'zzz' \(--override zzz=1\) ignored/);
  });

  test('a key set twice in the file warns; the last value wins', () => {
    const { config, warnings } = loadBrokerConfig({ file: file('node.id=2\nnode.id=3\n') });
    assert.equal(config.nodeId, 3);
    assert.match(warnings[0]!, /'node\.id' is set twice .*lines 1 and 2/);
  });

  test("Kafka's stock KRaft server.properties loads, with warnings", () => {
    const kafka = file(`process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
`);
    const { config, warnings } = loadBrokerConfig({ file: kafka });
    assert.deepEqual(config.listeners, [{ name: 'PLAINTEXT', host: '', port: 9092, securityProtocol: 'PLAINTEXT' }]);
    assert.deepEqual(config.advertisedListeners, [{ name: 'PLAINTEXT', host: 'localhost', port: 9092, securityProtocol: 'PLAINTEXT' }]);
    assert.ok(warnings.some((w) => /listener CONTROLLER is a KRaft controller listener/.test(w)));
    assert.deepEqual(config.logDirs, ['/tmp/kraft-combined-logs'], 'log.dirs is where classic topics keep their logs');
    assert.ok(warnings.every((w) => !/unknown config key/.test(w)), warnings.join('\n'));
  });

  test('retention: ms > minutes > hours, negative means -1', () => {
    assert.equal(defaultBrokerConfig({ 'log.retention.hours': '1' }).logRetentionMs, 3_600_000);
    assert.equal(defaultBrokerConfig({ 'log.retention.hours': '1', 'log.retention.minutes': '2' }).logRetentionMs, 120_000);
    assert.equal(defaultBrokerConfig({ 'log.retention.minutes': '2', 'log.retention.ms': '5' }).logRetentionMs, 5);
    assert.equal(defaultBrokerConfig({ 'log.retention.ms': '-1' }).logRetentionMs, -1);
    assert.equal(defaultBrokerConfig({ 'log.retention.hours': '-3' }).logRetentionMs, -1);
    assert.equal(defaultBrokerConfig({ 'log.retention.bytes': '-7' }).logRetentionBytes, -1);
  });

  test('longs: exact in raw, clamped to MAX_SAFE_INTEGER as numbers, int64 overflow refused', () => {
    const { config, raw } = loadBrokerConfig({ overrides: ['log.message.timestamp.after.max.ms=9223372036854775807'] });
    assert.equal(config.logMessageTimestampAfterMaxMs, Number.MAX_SAFE_INTEGER);
    assert.equal(raw.get('log.message.timestamp.after.max.ms')?.value, '9223372036854775807');
    assert.throws(
      () => loadBrokerConfig({ overrides: ['log.message.timestamp.after.max.ms=9223372036854775808'] }),
      /Invalid value 9223372036854775808 for configuration log\.message\.timestamp\.after\.max\.ms .*Not a number of type LONG/,
    );
  });

  test('listeners: empty host, port 0, IPv6, names upper-cased', () => {
    const a = loadBrokerConfig({ overrides: ['listeners=plaintext://:0'] });
    assert.deepEqual(a.config.listeners, [{ name: 'PLAINTEXT', host: '', port: 0, securityProtocol: 'PLAINTEXT' }]);
    assert.deepEqual(a.config.advertisedListeners, [{ name: 'PLAINTEXT', host: 'localhost', port: 0, securityProtocol: 'PLAINTEXT' }]);
    assert.match(a.warnings[0]!, /binds all interfaces .*advertised\.listeners/);
    const b = loadBrokerConfig({ overrides: ['listeners=PLAINTEXT://[::1]:9092'] });
    assert.deepEqual(b.config.listeners, [{ name: 'PLAINTEXT', host: '::1', port: 9092, securityProtocol: 'PLAINTEXT' }]);
    const c = loadBrokerConfig({
      overrides: ['listeners=INTERNAL://127.0.0.1:9092', 'listener.security.protocol.map=INTERNAL:PLAINTEXT', 'advertised.listeners=INTERNAL://broker1.example:19092'],
    });
    assert.deepEqual(c.config.listeners, [{ name: 'INTERNAL', host: '127.0.0.1', port: 9092, securityProtocol: 'PLAINTEXT' }]);
    assert.deepEqual(c.config.advertisedListeners, [{ name: 'INTERNAL', host: 'broker1.example', port: 19092, securityProtocol: 'PLAINTEXT' }]);
  });

  test('broker.id is accepted as the old name of node.id', () => {
    assert.equal(defaultBrokerConfig({ 'broker.id': '5' }).nodeId, 5);
    assert.equal(defaultBrokerConfig({ 'broker.id': '5', 'node.id': '5' }).nodeId, 5);
    assert.throws(() => defaultBrokerConfig({ 'broker.id': '5', 'node.id': '6' }), /broker\.id .* and node\.id .* must be equal/);
  });

  test('data.dir is made absolute', () => {
    assert.equal(defaultBrokerConfig({ 'data.dir': 'x/y' }).dataDir, resolve('x/y'));
    assert.equal(defaultBrokerConfig({ 'data.dir': '/var/lib/floe' }).dataDir, '/var/lib/floe');
  });

  const bad: [string, RegExp][] = [
    ['node.id=abc', /^Invalid value abc for configuration node\.id \(from --override node\.id=abc\): Not a number of type INT\. Accepted: INT \[-1,\.\.\.,2147483647\]$/],
    ['node.id=-2', /node\.id .*Value must be at least -1/],
    ['node.id=2147483648', /node\.id .*Not a number of type INT/],
    ['diskless.commit.interval.ms=0', /diskless\.commit\.interval\.ms .*Value must be at least 1\. Accepted: INT \[1,\.\.\.,60000\]/],
    ['diskless.commit.interval.ms=60001', /Value must be no more than 60000/],
    ['log.diskless.enable=yes', /Invalid value yes for configuration log\.diskless\.enable .*Expected value to be either true or false/],
    ['compression.type=brotli', /compression\.type .*String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer/],
    ['log.message.timestamp.type=createtime', /String must be one of: CreateTime, LogAppendTime/],
    ['log.cleanup.policy=delete,shred', /log\.cleanup\.policy .*String must be one of: compact, delete/],
    ['num.partitions=0', /num\.partitions .*Value must be at least 1/],
    ['message.max.bytes=1.5', /message\.max\.bytes .*Not a number of type INT/],
    ['listeners=SSL://:9093', /listener SSL uses TLS but has no key: set ssl\.keystore\.location/],
    ['authorizer.class.name=com.example.Other', /authorizer\.class\.name=com\.example\.Other is not supported/],
    ['listeners=localhost:9092', /Invalid value localhost:9092 for configuration listeners .*expected NAME:\/\/host:port/],
    ['listeners=PLAINTEXT://:99999', /port 99999 is not in \[0,\.\.\.,65535\]/],
    ['listeners=PLAINTEXT://:9092,PLAINTEXT://:9093', /different name/],
    ['listeners=FOO://:9092', /listener FOO .*has no security protocol/],
    ['advertised.listeners=PLAINTEXT://0.0.0.0:9092', /advertised\.listeners .*routable host/],
    ['advertised.listeners=OTHER://h:9092', /listener name OTHER is not one of the listeners/],
    ['log.cleaner.dedupe.buffer.size=1048575', /log\.cleaner\.dedupe\.buffer\.size .*must be at least 1MiB per cleaner thread/],
    ['log.cleaner.threads=0', /log\.cleaner\.threads/],
    ['cluster.id=', /cluster\.id .*non-empty/],
  ];
  for (const [override, message] of bad) {
    test(`refuses ${override}`, () => {
      assert.throws(() => loadBrokerConfig({ overrides: [override] }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, message);
        return true;
      });
    });
  }

  test('security: PEM only, per-listener settings win over global ones, PLAIN users from JAAS', () => {
    assert.throws(() => loadBrokerConfig({ overrides: ['listeners=SSL://:9093', 'ssl.keystore.type=JKS', 'ssl.keystore.location=/x.jks'] }), /listener SSL: ssl\.keystore\.type=JKS is not supported; Floe reads PEM/);
    const { config } = loadBrokerConfig({
      overrides: [
        'listeners=PLAINTEXT://:9092,SASL_SSL://:9093,SSL://:9094',
        'ssl.keystore.location=/global.pem',
        'listener.name.ssl.ssl.keystore.location=/ssl.pem',
        'listener.name.ssl.ssl.client.auth=required',
        'ssl.truststore.location=/ca.pem',
        'sasl.enabled.mechanisms=SCRAM-SHA-512,GSSAPI,PLAIN',
        'listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="x" user_admin="admin-secret" user_b="p;w=\\"q\\"";',
        'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        'super.users=User:admin;User:CN=broker',
      ],
    });
    const sec = config.security!;
    assert.equal(sec.listeners.SSL!.tls!.keystoreLocation, '/ssl.pem');
    assert.equal(sec.listeners.SSL!.tls!.clientAuth, 'required');
    assert.equal(sec.listeners.SASL_SSL!.tls!.keystoreLocation, '/global.pem');
    assert.equal(sec.listeners.SASL_SSL!.tls!.clientAuth, 'none');
    assert.deepEqual(sec.listeners.SASL_SSL!.saslMechanisms, ['SCRAM-SHA-512', 'PLAIN']);
    assert.deepEqual([...sec.listeners.SASL_SSL!.plainUsers], [['admin', 'admin-secret'], ['b', 'p;w="q"']]);
    assert.equal(sec.listeners.PLAINTEXT!.tls, null);
    assert.equal(sec.authorizerEnabled, true);
    assert.deepEqual(sec.superUsers, ['User:admin', 'User:CN=broker']);
    assert.deepEqual(config.listeners.map((l) => l.securityProtocol), ['PLAINTEXT', 'SASL_SSL', 'SSL']);
  });

  test('bad values name their origin', () => {
    assert.throws(() => loadBrokerConfig({ env: { FLOE_NODE_ID: 'x' } }), /node\.id \(from env FLOE_NODE_ID\)/);
    const path = file('# c\nnode.id=x\n');
    assert.throws(() => loadBrokerConfig({ file: path }), new RegExp(`node\\.id \\(from ${path.replace(/[.]/g, '\\.')} line 2\\)`));
  });

  test('compact as broker default is fine for both kinds of topics', () => {
    assert.deepEqual(defaultBrokerConfig({ 'log.cleanup.policy': 'compact', 'log.diskless.enable': 'false' }).logCleanupPolicy, ['compact']);
    assert.deepEqual(defaultBrokerConfig({ 'log.cleanup.policy': 'compact' }).logCleanupPolicy, ['compact']);
  });

  test('--override without = and a missing file are ConfigErrors', () => {
    assert.throws(() => loadBrokerConfig({ overrides: ['node.id'] }), /--override expects key=value, got 'node\.id'/);
    assert.throws(() => loadBrokerConfig({ file: join(dir, 'missing.properties') }), /cannot read config file .*missing\.properties: no such file/);
    assert.throws(() => loadBrokerConfig({ file: file('a=\\uzz\n') }), (err: unknown) => err instanceof ConfigError && /:1: malformed/.test(err.message));
  });
});

describe('describeBrokerConfigs', () => {
  test('every key, read-only, with STATIC_BROKER_CONFIG for set keys', () => {
    const loaded = loadBrokerConfig({ overrides: ['node.id=9'], env: { FLOE_LOG_RETENTION_HOURS: '24' } });
    const described = describeBrokerConfigs(loaded);
    assert.deepEqual(described.map((d) => d.name), BROKER_CONFIG_KEYS.map((k) => k.key));
    const by = new Map(described.map((d) => [d.name, d]));
    assert.deepEqual(by.get('node.id'), {
      name: 'node.id', value: '9', source: 'STATIC_BROKER_CONFIG', readOnly: true, type: 'INT',
      documentation: BROKER_CONFIG_KEYS[0]!.doc, isSensitive: false,
    });
    assert.equal(by.get('log.retention.hours')?.source, 'STATIC_BROKER_CONFIG');
    assert.equal(by.get('num.partitions')?.source, 'DEFAULT_CONFIG');
    assert.equal(by.get('num.partitions')?.value, '1');
    assert.equal(by.get('log.retention.ms')?.value, null);
    assert.ok(described.every((d) => d.readOnly && d.isSensitive === (d.type === 'PASSWORD') && d.documentation.length > 0));
  });

  test('secrets (PASSWORD keys) are sensitive: described without their value', () => {
    const loaded = loadBrokerConfig({ overrides: ['diskless.s3.access.key.id=AKIA1', 'diskless.s3.secret.access.key=s3cret', 'diskless.coordinator.password=pw'], env: {} });
    const by = new Map(describeBrokerConfigs(loaded).map((d) => [d.name, d]));
    for (const key of ['diskless.s3.secret.access.key', 'diskless.coordinator.password']) {
      assert.equal(by.get(key)?.isSensitive, true, key);
      assert.equal(by.get(key)?.value, null, key);
      assert.equal(by.get(key)?.source, 'STATIC_BROKER_CONFIG', key);
    }
    assert.equal(by.get('diskless.s3.access.key.id')?.value, 'AKIA1');
  });

  test('a password written into diskless.coordinator.url is hidden, the rest of the URL is kept', () => {
    const loaded = loadBrokerConfig({ overrides: ['diskless.coordinator.url=postgresql://floe:p%40ss:w@rd@db.internal:5432/floe?sslmode=require'], env: {} });
    const url = describeBrokerConfigs(loaded).find((d) => d.name === 'diskless.coordinator.url')!;
    assert.equal(url.value, 'postgresql://floe:(hidden)@db.internal:5432/floe?sslmode=require');
    assert.equal(redactUrlPassword('postgres://floe@db/floe'), 'postgres://floe@db/floe');
    assert.equal(redactUrlPassword('postgres://db:5432/floe'), 'postgres://db:5432/floe');
    assert.equal(redactUrlPassword('s3://bucket/prefix'), 's3://bucket/prefix');
  });

  test('a bare BrokerConfig describes its values as defaults', () => {
    const described = describeBrokerConfigs(defaultBrokerConfig({ 'node.id': '3' }));
    const nodeId = described.find((d) => d.name === 'node.id')!;
    assert.equal(nodeId.value, '3');
    assert.equal(nodeId.source, 'DEFAULT_CONFIG');
  });
});

test('docs/configuration.md is generated from the tables (npx tsx tools/docs/config-doc.ts)', () => {
  assert.equal(readFileSync(CONFIG_DOC_PATH, 'utf8'), renderConfigDoc());
});
