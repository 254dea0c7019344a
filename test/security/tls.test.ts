/**
 * Certificate principals (security/tls.ts): the RFC 2253 subject of a real certificate made with openssl,
 * and Kafka's ssl.principal.mapping.rules (the examples of Kafka's documentation).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { makeCerts } from '../helpers/certs.ts';
import { applyPrincipalMappingRules, rfc2253Subject } from '../../src/security/tls.ts';

test('the subject in RFC 2253 order: most specific RDN first', async () => {
  const certs = await makeCerts();
  assert.equal(rfc2253Subject(new X509Certificate(await readFile(certs.clientCert))), 'CN=alice,O=floe-test');
});

test('ssl.principal.mapping.rules as Kafka applies them', () => {
  const rules = 'RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT';
  assert.equal(applyPrincipalMappingRules('CN=kafka-server1,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown', rules), 'kafka-server1');
  assert.equal(applyPrincipalMappingRules('CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Santa Clara,ST=CA,C=US', rules), 'duke@javasoft');
  assert.equal(applyPrincipalMappingRules('OU=JavaSoft,O=Sun Microsystems,C=US,CN=Admin.User', rules), 'admin.user');
  assert.equal(applyPrincipalMappingRules('O=no-cn', rules), 'O=no-cn');
  assert.equal(applyPrincipalMappingRules('CN=Bob,O=x', 'RULE:^CN=(.*?),.*$/$1/U'), 'BOB');
  assert.equal(applyPrincipalMappingRules('CN=Bob,O=x', 'DEFAULT'), 'CN=Bob,O=x');
});
