/**
 * The rules of dynamic broker configs (src/config/dynamic-broker-config.ts) without a broker: which keys may
 * change and where, value checks, how the layers combine into the typed configuration (and go back when
 * removed), a listener's TLS settings with dynamic key stores; and the OAUTHBEARER keys at load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, defaultBrokerConfig, loadBrokerConfig } from '../../src/config/broker-config.ts';
import { applyDynamicValues, crossCheck, dynamicKey, dynamicTls, normalizeDynamicValue, staticBrokerConfig } from '../../src/config/dynamic-broker-config.ts';
import type { TlsSettings } from '../../src/config/security-config.ts';

test('dynamicKey: cluster-wide keys, per-broker TLS and JAAS keys (also per listener), static keys', () => {
  assert.equal(dynamicKey('log.retention.ms')?.perBrokerOnly, false);
  assert.equal(dynamicKey('message.max.bytes')?.perBrokerOnly, false);
  assert.equal(dynamicKey('log.cleaner.threads')?.perBrokerOnly, false);
  assert.equal(dynamicKey('ssl.keystore.location')?.perBrokerOnly, true);
  const prefixed = dynamicKey('listener.name.sasl_ssl.ssl.keystore.key')!;
  assert.deepEqual([prefixed.listener, prefixed.base, prefixed.perBrokerOnly, prefixed.isSensitive], ['SASL_SSL', 'ssl.keystore.key', true, true]);
  assert.equal(dynamicKey('listener.name.sasl_ssl.plain.sasl.jaas.config')?.isSensitive, true);
  for (const key of ['num.partitions', 'listeners', 'node.id', 'log.cleaner.enable', 'listener.name.sasl_ssl.ssl.client.auth', 'listener.name.SASL_SSL.ssl.keystore.location', 'no.such.key']) {
    assert.equal(dynamicKey(key), null, key);
  }
});

test('normalizeDynamicValue: types, ranges and JAAS are checked with Kafka\'s wording', () => {
  assert.deepEqual(normalizeDynamicValue(dynamicKey('log.retention.ms')!, ' 007 '), { ok: true, value: '7' });
  assert.deepEqual(normalizeDynamicValue(dynamicKey('log.cleanup.policy')!, 'delete , compact'), { ok: true, value: 'delete,compact' });
  const bad = normalizeDynamicValue(dynamicKey('log.cleaner.threads')!, '0');
  assert.equal(bad.ok, false);
  assert.match((bad as { message: string }).message, /Invalid value 0 for configuration log\.cleaner\.threads: Value must be at least 1/);
  assert.equal(normalizeDynamicValue(dynamicKey('listener.name.x.plain.sasl.jaas.config')!, 'nonsense').ok, false);
  assert.match(crossCheck({ 'log.cleaner.threads': '4', 'log.cleaner.dedupe.buffer.size': '2097152' })!, /1MiB per cleaner thread/);
  assert.equal(crossCheck({ 'log.cleaner.threads': '1', 'log.cleaner.dedupe.buffer.size': '2097152' }), null);
});

test('applyDynamicValues: layered values drive the typed fields; ms > minutes > hours across layers; removal restores', () => {
  const config = defaultBrokerConfig({ 'log.retention.ms': '5000', 'message.max.bytes': '3000' });
  const base = staticBrokerConfig(config);
  applyDynamicValues(config, base, new Map([['log.retention.hours', '1'], ['message.max.bytes', '100'], ['log.cleanup.policy', 'compact']]));
  assert.equal(config.logRetentionMs, 5000, 'the static log.retention.ms still wins over a dynamic log.retention.hours, as in Kafka');
  assert.equal(config.messageMaxBytes, 100);
  assert.deepEqual(config.logCleanupPolicy, ['compact']);
  assert.equal(config.values!['message.max.bytes'], '100');
  applyDynamicValues(config, base, new Map([['log.retention.ms', '-5']]));
  assert.equal(config.logRetentionMs, -1);
  assert.equal(config.messageMaxBytes, 3000, 'back to the static value');
  assert.deepEqual(config.logCleanupPolicy, ['delete']);
  applyDynamicValues(config, base, new Map());
  assert.equal(config.logRetentionMs, 5000);
  assert.equal(config.values!['log.retention.ms'], '5000');
});

test('dynamicTls: a listener\'s own key over the bare one; a file replaces inline PEM and the reverse', () => {
  const statics: TlsSettings = {
    keystoreLocation: '/static.pem', keystoreKey: null, keystoreCertificateChain: null, keyPassword: null, truststoreLocation: null,
    truststoreCertificates: 'CA-PEM', clientAuth: 'none', enabledProtocols: ['TLSv1.3'], cipherSuites: null, principalMappingRules: 'DEFAULT',
  };
  const tls = dynamicTls('SSL', statics, new Map([['ssl.keystore.location', '/bare.pem'], ['listener.name.ssl.ssl.keystore.location', '/own.pem'], ['ssl.truststore.location', '/ca.pem']]));
  assert.equal(tls.keystoreLocation, '/own.pem');
  assert.equal(tls.truststoreLocation, '/ca.pem');
  assert.equal(tls.truststoreCertificates, null);
  const inline = dynamicTls('OTHER', statics, new Map([['listener.name.other.ssl.keystore.key', 'KEY'], ['listener.name.other.ssl.keystore.certificate.chain', 'CHAIN']]));
  assert.deepEqual([inline.keystoreLocation, inline.keystoreKey, inline.keystoreCertificateChain], [null, 'KEY', 'CHAIN']);
  assert.equal(dynamicTls('SSL', statics, new Map()).keystoreLocation, '/static.pem');
});

test('OAUTHBEARER keys: required JWKS URL, Kafka\'s mechanism-prefixed per-listener form', () => {
  const base = ['listeners=SASL_PLAINTEXT://127.0.0.1:0', 'sasl.enabled.mechanisms=OAUTHBEARER'];
  assert.throws(() => loadBrokerConfig({ overrides: base }), (err: unknown) => err instanceof ConfigError && /sasl\.oauthbearer\.jwks\.endpoint\.url is not set/.test(err.message));
  assert.throws(() => loadBrokerConfig({ overrides: [...base, 'sasl.oauthbearer.jwks.endpoint.url=ftp://x/jwks'] }), /https:\/\/, http:\/\/ or file:\/\//);
  const loaded = loadBrokerConfig({ overrides: [...base,
    'listener.name.sasl_plaintext.oauthbearer.sasl.oauthbearer.jwks.endpoint.url=file:///etc/jwks.json',
    'sasl.oauthbearer.expected.audience=a, b', 'sasl.oauthbearer.sub.claim.name=client_id'] });
  const settings = loaded.config.security!.listeners.SASL_PLAINTEXT!.oauthbearer!;
  assert.equal(settings.jwksEndpointUrl, 'file:///etc/jwks.json');
  assert.deepEqual(settings.expectedAudience, ['a', 'b']);
  assert.equal(settings.subClaimName, 'client_id');
  assert.equal(settings.clockSkewSeconds, 30);
  assert.deepEqual(loaded.warnings, []);
});
