/**
 * The "done when" (issue 16): `floe add-scram` stores the first SCRAM user before any broker runs;
 * `floe start server.properties` with Kafka's own security keys (PEM key store and trust store by file,
 * PLAINTEXT and SASL_SSL listeners, PLAIN admin from JAAS, StandardAuthorizer, super.users) serves SASL_SSL
 * with PLAIN and SCRAM-SHA-512 and enforces ACLs on both listeners. Real clients: kcat and kafkajs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import kafkajs, { Kafka, logLevel } from 'kafkajs';
import { onCleanup, tempDir } from '../helpers/cleanup.ts';
import { makeCerts } from '../helpers/certs.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { freePort } from '../../tools/dev/local-servers.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const { AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;

test('server.properties with Kafka security keys: SASL_SSL with PLAIN and SCRAM-SHA-512, ACLs, a PLAINTEXT listener beside it', async () => {
  const certs = await makeCerts();
  const dataDir = await tempDir('floe-secure-');
  const added = await run(process.execPath, [join(ROOT, 'bin/floe.js'), 'add-scram', '--override', `data.dir=${dataDir}`, 'SCRAM-SHA-512=[name=alice,password=alice-secret]'], { cwd: ROOT });
  assert.match(added.stdout, /SCRAM credential stored: alice \(SCRAM-SHA-512, 4096 iterations\)/);

  const [plainPort, saslPort] = [await freePort(), await freePort()];
  const file = join(dataDir, 'server.properties');
  await writeFile(file, `listeners=PLAINTEXT://127.0.0.1:${plainPort},SASL_SSL://127.0.0.1:${saslPort}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
ssl.keystore.type=PEM
ssl.keystore.location=${certs.brokerPem}
ssl.truststore.type=PEM
ssl.truststore.location=${certs.ca}
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
data.dir=${dataDir}
diskless.commit.interval.ms=50
`);
  const child = spawn(process.execPath, [join(ROOT, 'bin/floe.js'), 'start', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let output = '';
  await new Promise<void>((res, rej) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Floe broker started')) res();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => rej(new Error(`broker exited ${code}:\n${output}`)));
    setTimeout(() => rej(new Error(`not started:\n${output}`)), 60_000).unref();
  });

  const sasl = `127.0.0.1:${saslPort}`;
  const as = (mechanism: string, user: string, password: string) => [
    '-X', 'security.protocol=sasl_ssl', '-X', `ssl.ca.location=${certs.ca}`, '-X', `sasl.mechanisms=${mechanism}`, '-X', `sasl.username=${user}`, '-X', `sasl.password=${password}`,
  ];
  const alice = as('SCRAM-SHA-512', 'alice', 'alice-secret');
  const admin = as('PLAIN', 'admin', 'admin-secret');
  // The super user may do anything; alice (SCRAM, created before the broker ran) nothing yet.
  await kcatProduce(sasl, 'orders', ['a:1'], admin);
  await assert.rejects(kcatProduce(sasl, 'orders', ['b:2'], [...alice, '-X', 'message.timeout.ms=8000']), /authoriz/i);
  // PLAINTEXT clients are User:ANONYMOUS: refused too.
  await assert.rejects(kcatProduce(`127.0.0.1:${plainPort}`, 'orders', ['c:3'], ['-X', 'message.timeout.ms=8000']), /authoriz/i);

  const kafka = new Kafka({ clientId: 'admin', brokers: [sasl], ssl: { ca: [await readFile(certs.ca, 'utf8')] }, sasl: { mechanism: 'plain', username: 'admin', password: 'admin-secret' }, logLevel: logLevel.NOTHING });
  const kadmin = kafka.admin();
  await kadmin.connect();
  await kadmin.createAcls({ acl: [AclOperationTypes.WRITE, AclOperationTypes.READ].map((operation) => ({
    resourceType: AclResourceTypes.TOPIC, resourceName: 'orders', resourcePatternType: ResourcePatternTypes.LITERAL,
    principal: 'User:alice', host: '*', operation, permissionType: AclPermissionTypes.ALLOW,
  })) });
  await kadmin.disconnect();
  await kcatProduce(sasl, 'orders', ['b:2'], alice);
  assert.deepEqual(await kcatConsume(sasl, 'orders', '%k=%s\n', alice), ['a=1', 'b=2']);
  child.kill('SIGTERM');
});
