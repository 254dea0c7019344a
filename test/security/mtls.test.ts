/**
 * Mutual TLS (issue 16) with kcat: ssl.client.auth=required serves clients with a certificate the trust store
 * signed and refuses the others (inline PEM key and chain); with `requested`, the certificate subject mapped by
 * ssl.principal.mapping.rules is the principal the authorizer sees, and a client without one is anonymous.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { startTestBroker } from '../helpers/broker.ts';
import { makeCerts, type TestCerts } from '../helpers/certs.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';

let certs: TestCerts;
const sslArgs = () => ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${certs.ca}`];

test('setup: certificates', async () => {
  certs = await makeCerts();
});

test('mTLS: ssl.client.auth=required serves clients with a trusted certificate and refuses the others', async () => {
  const mtls = await startTestBroker({
    listeners: 'SSL://127.0.0.1:0',
    'listener.security.protocol.map': 'SSL:SSL',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.key': await readFile(certs.brokerKey, 'utf8'),
    'ssl.keystore.certificate.chain': await readFile(certs.brokerCert, 'utf8'),
    'ssl.truststore.location': certs.ca,
    'ssl.client.auth': 'required',
  });
  const bootstrap = `127.0.0.1:${mtls.port}`;
  const withCert = [...sslArgs(), '-X', `ssl.certificate.location=${certs.clientCert}`, '-X', `ssl.key.location=${certs.clientKey}`];
  await kcatProduce(bootstrap, 'mtls', ['k:v'], withCert);
  assert.deepEqual(await kcatConsume(bootstrap, 'mtls', '%s\n', withCert), ['v']);
  const refused = await new Promise<string>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: mtls.port, ca: [], rejectUnauthorized: false }, () => {
      s.write(RawClient.frame(ApiKey.ApiVersions, 0, {}, 1));
    });
    s.on('data', () => resolve('answered'));
    s.on('error', (e) => resolve(`error: ${e.message}`));
    s.on('close', () => resolve('closed'));
  });
  assert.notEqual(refused, 'answered');
});

test('mTLS principal: ssl.principal.mapping.rules turn the certificate subject into User:alice, whom the authorizer knows', async () => {
  const b = await startTestBroker({
    listeners: 'SSL://127.0.0.1:0',
    'listener.security.protocol.map': 'SSL:SSL',
    'ssl.keystore.location': certs.brokerPem,
    'ssl.truststore.location': certs.ca,
    'ssl.client.auth': 'requested',
    'ssl.principal.mapping.rules': 'RULE:^CN=(.*?),.*$/$1/,DEFAULT',
    'authorizer.class.name': 'kafka.security.authorizer.AclAuthorizer',
    'super.users': 'User:alice',
  });
  const bootstrap = `127.0.0.1:${b.port}`;
  const withCert = [...sslArgs(), '-X', `ssl.certificate.location=${certs.clientCert}`, '-X', `ssl.key.location=${certs.clientKey}`];
  await kcatProduce(bootstrap, 'mtls-acl', ['k:v'], withCert);
  // Without a certificate (requested, not required) the client is served as User:ANONYMOUS: refused.
  await assert.rejects(kcatProduce(bootstrap, 'mtls-acl', ['k:w'], [...sslArgs(), '-X', 'message.timeout.ms=8000']), /authoriz/i);
  assert.deepEqual(await kcatConsume(bootstrap, 'mtls-acl', '%s\n', withCert), ['v']);
});
