/**
 * `floe acls`, `floe users` and `floe configs --entity-type users|brokers` against a real broker with an
 * authorizer and PLAINTEXT, SASL_SSL (TLS with a CA made by openssl) and SASL_PLAINTEXT listeners, every
 * admin command reaching it with `--command-config` (Kafka's client properties). kcat (librdkafka) logs in
 * as a SCRAM user the CLI created: denied, allowed after `floe acls --add --producer/--consumer`, denied
 * again after `floe acls --remove`. Output, --json and exit codes checked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../../src/client/admin-client.ts';
import { isAdminCommand, runAdminCommand } from '../../src/cli/admin/run-admin.ts';
import { startTestBroker, tempDir, type TestBroker } from '../helpers/broker.ts';
import { makeCerts, type TestCerts } from '../helpers/certs.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';

interface Run { code: number; stdout: string; stderr: string }

async function floe(args: string[], answer = false): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const [command, ...rest] = args;
  assert.ok(isAdminCommand(command));
  const code = await runAdminCommand(command, rest, (s) => { stdout += s; }, (s) => { stderr += s; }, async (q) => { stdout += `${q} (y/n)\n`; return answer; });
  return { code, stdout, stderr };
}

/** `bin/floe.js args…` as a child process with `input` on stdin. */
function floeProcess(args: string[], input: string): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [resolve(import.meta.dirname, '../../bin/floe.js'), ...args], { env: { ...process.env, FLOE_LOG_LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => { stderr += c; });
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('error', rej);
    child.on('close', (code) => { clearTimeout(timer); res({ code: code ?? -1, stdout, stderr }); });
    child.stdin.end(input);
  });
}

let certs: TestCerts;
let broker: TestBroker;
let dir: string;
/** --bootstrap-server of the SASL_SSL listener plus the admin's --command-config. */
let asAdmin: string[];
let asAlice: string[];
let saslSsl: string;

const ADMIN_JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";';

async function properties(name: string, lines: string[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

const kcatAlice = () => ['-X', 'security.protocol=sasl_ssl', '-X', `ssl.ca.location=${certs.ca}`, '-X', 'sasl.mechanisms=SCRAM-SHA-512', '-X', 'sasl.username=alice', '-X', 'sasl.password=alice-secret'];

before(async () => {
  certs = await makeCerts();
  dir = await tempDir('floe-cli-sec-');
  broker = await startTestBroker({
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.brokerPem,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': certs.ca,
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    'listener.name.sasl_ssl.plain.sasl.jaas.config': ADMIN_JAAS,
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': ADMIN_JAAS,
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:admin',
    'allow.everyone.if.no.acl.found': 'false',
  });
  saslSsl = `localhost:${broker.ports.SASL_SSL}`;
  const adminProps = await properties('admin.properties', [
    'security.protocol=SASL_SSL',
    'sasl.mechanism=PLAIN',
    'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";',
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${certs.ca}`,
  ]);
  const aliceProps = await properties('alice.properties', [
    'security.protocol=SASL_SSL',
    'sasl.mechanism=SCRAM-SHA-256',
    'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";',
    `ssl.truststore.location=${certs.ca}`,
  ]);
  asAdmin = ['--bootstrap-server', saslSsl, '--command-config', adminProps];
  asAlice = ['--bootstrap-server', saslSsl, '--command-config', aliceProps];
});

after(async () => {
  await broker.close();
});

describe('--command-config: SASL and TLS from Kafka client properties', () => {
  test('the admin over SASL_SSL (PLAIN) and over SASL_PLAINTEXT with librdkafka-style sasl.username; anonymous PLAINTEXT is not authorized', async () => {
    const created = await floe(['topics', ...asAdmin, '--create', '--topic', 'secured', '--partitions', '1']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'Created topic secured.\n');

    const plainProps = await properties('plain.properties', ['security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=PLAIN', 'sasl.username=admin', 'sasl.password=admin-secret']);
    const list = await floe(['topics', '--bootstrap-server', `127.0.0.1:${broker.ports.SASL_PLAINTEXT}`, '--command-config', plainProps, '--list']);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(list.stdout.split('\n').includes('secured'), list.stdout);

    const anonymous = await floe(['acls', '--bootstrap-server', `127.0.0.1:${broker.ports.PLAINTEXT}`, '--list']);
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /CLUSTER_AUTHORIZATION_FAILED/);
  });

  test('a wrong password exits 1 with SASL_AUTHENTICATION_FAILED; an untrusted CA fails the TLS handshake; bad properties exit 2', async () => {
    const wrong = await properties('wrong.properties', ['security.protocol=SASL_SSL', 'sasl.mechanism=PLAIN', 'sasl.username=admin', 'sasl.password=nope', `ssl.truststore.location=${certs.ca}`]);
    const r = await floe(['topics', '--bootstrap-server', saslSsl, '--command-config', wrong, '--list']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SASL_AUTHENTICATION_FAILED/);

    const otherCa = await properties('other-ca.properties', ['security.protocol=SASL_SSL', 'sasl.mechanism=PLAIN', 'sasl.username=admin', 'sasl.password=admin-secret', `ssl.truststore.location=${certs.otherCa}`]);
    const tls = await floe(['topics', '--bootstrap-server', saslSsl, '--command-config', otherCa, '--list']);
    assert.equal(tls.code, 1);
    assert.match(tls.stderr, /TLS: .*certificate/i);

    const gssapi = await properties('gssapi.properties', ['security.protocol=SASL_SSL']);
    const bad = await floe(['topics', '--bootstrap-server', saslSsl, '--command-config', gssapi, '--list']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /sasl\.mechanism=GSSAPI \(the default\) is not supported/);
    const jks = await properties('jks.properties', ['security.protocol=SSL', 'ssl.truststore.type=JKS', 'ssl.truststore.location=/nowhere.jks']);
    assert.match((await floe(['topics', '--bootstrap-server', saslSsl, '--command-config', jks, '--list'])).stderr, /ssl\.truststore\.type=JKS is not supported/);
  });
});

describe('re-authentication (KIP-368)', () => {
  test('the admin client logs in again before connections.max.reauth.ms ends, so its connection lives on', async () => {
    const b = await startTestBroker({
      listeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      'listener.security.protocol.map': 'SASL_PLAINTEXT:SASL_PLAINTEXT',
      'sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': ADMIN_JAAS,
      'connections.max.reauth.ms': 1500,
    });
    const admin = await AdminClient.connect(`127.0.0.1:${b.ports.SASL_PLAINTEXT}`, { security: { protocol: 'SASL_PLAINTEXT', tls: null, sasl: { mechanism: 'PLAIN', username: 'admin', password: 'admin-secret' } } });
    try {
      // four session lifetimes on one connection: without re-authentication the broker closes it after the first
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal((await admin.metadata([])).brokers.length, 1);
      }
    } finally {
      admin.close();
      await b.close();
    }
  });
});

describe('floe users and floe configs --entity-type users', () => {
  test('adds SCRAM users (salted client-side), describes them as kafka-configs.sh does, deletes a mechanism', async () => {
    const add = await floe(['users', 'add', 'alice', '--password', 'alice-secret', '--mechanism', 'SCRAM-SHA-512', ...asAdmin]);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, "Stored SCRAM credentials of user 'alice' (SCRAM-SHA-512, 4096 iterations).\n");

    const alter = await floe(['configs', ...asAdmin, '--alter', '--add-config', 'SCRAM-SHA-256=[iterations=8192,password=alice-secret]', '--entity-type', 'users', '--entity-name', 'alice']);
    assert.equal(alter.code, 0, alter.stderr);
    assert.equal(alter.stdout, 'Completed updating config for user alice.\n');
    const described = await floe(['configs', ...asAdmin, '--describe', '--entity-type', 'users', '--entity-name', 'alice']);
    assert.equal(described.stdout, "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096\n");

    assert.equal((await floe(['users', 'add', 'bob', '--password', 'bob-secret', ...asAdmin])).code, 0);
    const list = JSON.parse((await floe(['users', 'list', ...asAdmin, '--json'])).stdout) as { user: string; credentials: { mechanism: string; iterations: number }[] }[];
    assert.deepEqual(list, [
      { user: 'alice', credentials: [{ mechanism: 'SCRAM-SHA-256', iterations: 8192 }, { mechanism: 'SCRAM-SHA-512', iterations: 4096 }] },
      { user: 'bob', credentials: [{ mechanism: 'SCRAM-SHA-256', iterations: 4096 }, { mechanism: 'SCRAM-SHA-512', iterations: 4096 }] },
    ]);
    const table = await floe(['users', 'list', ...asAdmin]);
    assert.match(table.stdout, /^USER\s+MECHANISM\s+ITERATIONS\nalice\s+SCRAM-SHA-256\s+8192\n/);

    // the password works: kcat logs in as bob with SCRAM-SHA-256 (and is authorized for nothing: no topics listed)
    const del = await floe(['configs', ...asAdmin, '--alter', '--entity-type', 'users', '--entity-name', 'bob', '--delete-config', 'SCRAM-SHA-512']);
    assert.equal(del.code, 0, del.stderr);
    assert.equal((await floe(['configs', ...asAdmin, '--describe', '--entity-type', 'users', '--entity-name', 'bob'])).stdout, "SCRAM credential configs for user-principal 'bob' are SCRAM-SHA-256=iterations=4096\n");
    const gone = await floe(['users', 'delete', 'bob', ...asAdmin]);
    assert.equal(gone.stdout, "Deleted SCRAM credentials of user 'bob' (SCRAM-SHA-256).\n");
    // as kafka-configs.sh: a user without credentials is reported on a line, not a failure
    const missing = await floe(['configs', ...asAdmin, '--describe', '--entity-type', 'users', '--entity-name', 'bob']);
    assert.equal(missing.code, 0, missing.stderr);
    assert.match(missing.stdout, /^Error retrieving SCRAM credential configs for user-principal 'bob': .*RESOURCE_NOT_FOUND/);

    // Kafka's refusal of too few iterations (the broker's UNACCEPTABLE_CREDENTIAL)
    const few = await floe(['configs', ...asAdmin, '--alter', '--entity-type', 'users', '--entity-name', 'carol', '--add-config', 'SCRAM-SHA-256=[iterations=100,password=x]']);
    assert.equal(few.code, 1);
    assert.match(few.stderr, /UNACCEPTABLE_CREDENTIAL/);
  });

  test('client quotas of users and client ids (AlterClientQuotas/DescribeClientQuotas) with SCRAM in one --add-config', async () => {
    const quota = await floe(['configs', ...asAdmin, '--alter', '--entity-type', 'users', '--entity-name', 'carol', '--add-config', 'producer_byte_rate=1024,consumer_byte_rate=2048.5,SCRAM-SHA-512=[password=carol-secret]']);
    assert.equal(quota.code, 0, quota.stderr);
    assert.equal(quota.stdout, 'Completed updating config for user carol.\n');
    const d = await floe(['configs', ...asAdmin, '--describe', '--entity-type', 'users', '--entity-name', 'carol']);
    assert.equal(d.stdout, "Quota configs for user-principal 'carol' are consumer_byte_rate=2048.5, producer_byte_rate=1024.0\nSCRAM credential configs for user-principal 'carol' are SCRAM-SHA-512=iterations=4096\n");
    assert.equal((await floe(['configs', ...asAdmin, '--alter', '--entity-type', 'users', '--entity-name', 'carol', '--delete-config', 'consumer_byte_rate'])).code, 0);
    const dj = JSON.parse((await floe(['configs', ...asAdmin, '--describe', '--entity-type', 'users', '--entity-name', 'carol', '--json'])).stdout);
    assert.deepEqual(dj, [{ entity: 'carol', quotas: { producer_byte_rate: 1024 }, credentials: [{ mechanism: 'SCRAM-SHA-512', iterations: 4096 }] }]);

    const def = await floe(['configs', ...asAdmin, '--alter', '--entity-type', 'clients', '--entity-default', '--add-config', 'request_percentage=50']);
    assert.equal(def.stdout, 'Completed updating default config for clients in the cluster.\n');
    assert.equal((await floe(['configs', ...asAdmin, '--alter', '--entity-type', 'clients', '--entity-name', 'app-1', '--add-config', 'producer_byte_rate=4096'])).code, 0);
    const clients = await floe(['configs', ...asAdmin, '--describe', '--entity-type', 'clients']);
    // as Kafka: without a name, the named entities (match type ANY excludes the default); the default on its own
    assert.equal(clients.stdout, "Quota configs for client-id 'app-1' are producer_byte_rate=4096.0\n");
    assert.equal((await floe(['configs', ...asAdmin, '--describe', '--entity-type', 'clients', '--entity-default'])).stdout, 'Quota configs for the default client-id are request_percentage=50.0\n');
    const bad = await floe(['configs', ...asAdmin, '--alter', '--entity-type', 'clients', '--entity-name', 'app-1', '--add-config', 'producer_byte_rate=fast']);
    assert.equal(bad.code, 2);
    const unknown = await floe(['configs', ...asAdmin, '--alter', '--entity-type', 'clients', '--entity-name', 'app-1', '--add-config', 'no_such_quota=1']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /INVALID_REQUEST|UNKNOWN/);

    // a user without ACLs is not allowed to manage users
    const denied = await floe(['users', 'list', ...asAlice]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /CLUSTER_AUTHORIZATION_FAILED/);
  });

  test('--entity-type brokers: describe one broker, every broker, and the cluster default', async () => {
    const one = await floe(['configs', ...asAdmin, '--describe', '--all', '--entity-type', 'brokers', '--entity-name', String(broker.broker.nodeId), '--json']);
    assert.equal(one.code, 0, one.stderr);
    assert.ok((JSON.parse(one.stdout) as { name: string }[]).some((c) => c.name === 'num.partitions'));
    const every = JSON.parse((await floe(['configs', ...asAdmin, '--describe', '--all', '--entity-type', 'brokers', '--json'])).stdout) as { broker: number; configs: unknown[] }[];
    assert.deepEqual(every.map((b) => b.broker), [broker.broker.nodeId]);
    assert.ok(every[0]!.configs.length > 10);
    const text = await floe(['configs', ...asAdmin, '--describe', '--entity-type', 'brokers']);
    assert.match(text.stdout, new RegExp(`^Dynamic configs for broker ${broker.broker.nodeId} are:\n`));
  });
});

describe('floe acls', () => {
  test('kcat as alice: denied, allowed after --add --producer/--consumer, listed, denied again after --remove', async () => {
    await assert.rejects(kcatProduce(saslSsl, 'secured', ['k:v'], [...kcatAlice(), '-X', 'message.timeout.ms=8000']), /authoriz/i);

    const producer = await floe(['acls', ...asAdmin, '--add', '--allow-principal', 'User:alice', '--producer', '--topic', 'secured']);
    assert.equal(producer.code, 0, producer.stderr);
    assert.match(producer.stdout, /^Adding ACLs for resource `ResourcePattern\(resourceType=TOPIC, name=secured, patternType=LITERAL\)`: \n \t\(principal=User:alice, host=\*, operation=WRITE, permissionType=ALLOW\) \n \t\(principal=User:alice, host=\*, operation=DESCRIBE, permissionType=ALLOW\) \n \t\(principal=User:alice, host=\*, operation=CREATE, permissionType=ALLOW\) \n\n/);
    assert.match(producer.stdout, /Current ACLs for resource `ResourcePattern\(resourceType=TOPIC, name=secured, patternType=LITERAL\)`: \n/);
    await kcatProduce(saslSsl, 'secured', ['k1:v1', 'k2:v2'], kcatAlice());

    // reading needs READ (kcat -C uses no group); --consumer grants READ+DESCRIBE on the topic and READ on the group
    const consumer = await floe(['acls', ...asAdmin, '--add', '--allow-principal', 'User:alice', '--consumer', '--topic', 'secured', '--group', 'alice-group']);
    assert.equal(consumer.code, 0, consumer.stderr);
    assert.deepEqual(await kcatConsume(saslSsl, 'secured', '%k=%s\n', kcatAlice()), ['k1=v1', 'k2=v2']);

    const listed = JSON.parse((await floe(['acls', ...asAdmin, '--list', '--topic', 'secured', '--json'])).stdout) as { operation: string; principal: string; permissionType: string }[];
    assert.deepEqual(listed.map((a) => a.operation).sort(), ['CREATE', 'DESCRIBE', 'READ', 'WRITE']);
    assert.ok(listed.every((a) => a.principal === 'User:alice' && a.permissionType === 'ALLOW'));
    const all = await floe(['acls', ...asAdmin, '--list']);
    assert.match(all.stdout, /Current ACLs for resource `ResourcePattern\(resourceType=GROUP, name=alice-group, patternType=LITERAL\)`: \n \t\(principal=User:alice, host=\*, operation=READ, permissionType=ALLOW\) \n/);
    const byPrincipal = await floe(['acls', ...asAdmin, '--list', '--principal', 'User:nobody', '--json']);
    assert.deepEqual(JSON.parse(byPrincipal.stdout), []);

    // --remove without --force asks; "n" keeps the ACLs
    const kept = await floe(['acls', ...asAdmin, '--remove', '--allow-principal', 'User:alice', '--operation', 'Write', '--topic', 'secured'], false);
    assert.match(kept.stdout, /Are you sure you want to remove ACLs: \n \t\(principal=User:alice, host=\*, operation=WRITE, permissionType=ALLOW\) \n from resource filter `ResourcePatternFilter\(resourceType=TOPIC, name=secured, patternType=LITERAL\)`\? \(y\/n\)/);
    assert.match(kept.stdout, /Removed 0 ACLs\./);
    await kcatProduce(saslSsl, 'secured', ['k3:v3'], kcatAlice());

    const removed = await floe(['acls', ...asAdmin, '--remove', '--allow-principal', 'User:alice', '--producer', '--topic', 'secured', '--force', '--json']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual((JSON.parse(removed.stdout) as { removed: { operation: string }[] }).removed.map((a) => a.operation).sort(), ['CREATE', 'DESCRIBE', 'WRITE']);
    await assert.rejects(kcatProduce(saslSsl, 'secured', ['k:v'], [...kcatAlice(), '-X', 'message.timeout.ms=8000']), /authoriz/i);
    // READ is still there: alice still reads what she wrote
    assert.deepEqual(await kcatConsume(saslSsl, 'secured', '%k=%s\n', kcatAlice()), ['k1=v1', 'k2=v2', 'k3=v3']);
  });

  test('prefixed patterns, deny entries, hosts, every ACL of a resource removed with --force; usage errors exit 2', async () => {
    const add = await floe(['acls', ...asAdmin, '--add', '--allow-principal', 'User:bob', '--allow-principal', 'User:carol', '--operation', 'Read', '--operation', 'Describe',
      '--deny-principal', 'User:mallory', '--deny-host', '10.0.0.1', '--topic', 'logs-', '--resource-pattern-type', 'prefixed', '--json']);
    assert.equal(add.code, 0, add.stderr);
    const added = (JSON.parse(add.stdout) as { added: { principal: string; host: string; operation: string; permissionType: string; patternType: string }[] }).added;
    assert.equal(added.length, 6);
    assert.ok(added.every((a) => a.patternType === 'PREFIXED'));
    assert.deepEqual(added.filter((a) => a.permissionType === 'DENY').map((a) => [a.principal, a.host, a.operation]), [['User:mallory', '10.0.0.1', 'READ'], ['User:mallory', '10.0.0.1', 'DESCRIBE']]);

    // match: the ACLs that apply to topic logs-app (the prefixed ones)
    const match = JSON.parse((await floe(['acls', ...asAdmin, '--list', '--topic', 'logs-app', '--resource-pattern-type', 'match', '--json'])).stdout) as unknown[];
    assert.equal(match.length, 6);
    const cluster = await floe(['acls', ...asAdmin, '--add', '--allow-principal', 'User:bob', '--operation', 'DescribeConfigs', '--cluster']);
    assert.equal(cluster.code, 0, cluster.stderr);
    assert.match(cluster.stdout, /resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL/);

    // bin/floe.js asks on stdin, as kafka-acls.sh does; 'y' removes every ACL of the resource
    const wipe = await floeProcess(['acls', ...asAdmin, '--remove', '--topic', 'logs-', '--resource-pattern-type', 'prefixed'], 'y\n');
    assert.equal(wipe.code, 0, wipe.stderr);
    assert.match(wipe.stdout, /^Are you sure you want to delete all ACLs for resource filter `ResourcePatternFilter\(resourceType=TOPIC, name=logs-, patternType=PREFIXED\)`\? \(y\/n\)\n/);
    assert.match(wipe.stdout, /Removed 6 ACLs\./);
    assert.deepEqual(JSON.parse((await floe(['acls', ...asAdmin, '--list', '--topic', 'logs-', '--resource-pattern-type', 'prefixed', '--json'])).stdout), []);

    const badOp = await floe(['acls', ...asAdmin, '--add', '--allow-principal', 'User:bob', '--operation', 'IdempotentWrite', '--topic', 't']);
    assert.equal(badOp.code, 2);
    assert.match(badOp.stderr, /ResourceType TOPIC only supports operations READ,WRITE,CREATE,DESCRIBE,DELETE,ALTER,DESCRIBE_CONFIGS,ALTER_CONFIGS,ALL/);
    assert.match((await floe(['acls', ...asAdmin, '--add', '--operation', 'Read', '--topic', 't'])).stderr, /You must specify one of: --allow-principal, --deny-principal/);
    assert.match((await floe(['acls', ...asAdmin, '--add', '--allow-principal', 'alice', '--topic', 't'])).stderr, /Type:name/);
    assert.match((await floe(['acls', ...asAdmin, '--add', '--allow-principal', 'User:a', '--consumer', '--topic', 't'])).stderr, /With --consumer you must specify a --topic and a --group/);
    assert.match((await floe(['acls', ...asAdmin, '--add', '--allow-principal', 'User:a', '--topic', 't', '--resource-pattern-type', 'match'])).stderr, /not valid when adding acls/);
    assert.equal((await floe(['acls', ...asAdmin, '--remove'])).code, 2);

    // a user without ALTER on the cluster cannot add ACLs
    const denied = await floe(['acls', ...asAlice, '--add', '--allow-principal', 'User:alice', '--operation', 'All', '--topic', '*']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /CLUSTER_AUTHORIZATION_FAILED/);
  });
});
