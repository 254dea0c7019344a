/**
 * `floe topics|groups|configs|objects` run as child processes against a real broker (PostgreSQL coordinator,
 * file object store), with kcat producing and a kafkajs consumer group consuming: each command's output,
 * JSON and exit code checked, and every change checked through the protocol again.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAdminCommand, runAdminCommand } from '../../src/cli/admin/run-admin.ts';
import { startTestBroker, tempDir, type TestBroker } from '../helpers/broker.ts';
import { kafkajs } from '../helpers/kafkajs.ts';
import { kcatProduce } from '../helpers/kcat.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = resolve(import.meta.dirname, '../..');

interface Run { code: number; stdout: string; stderr: string }

/** Runs an admin command in this process (a child process per command would take seconds each). */
async function floe(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const [command, ...rest] = args;
  assert.ok(isAdminCommand(command));
  const code = await runAdminCommand(command, rest, (s) => { stdout += s; }, (s) => { stderr += s; });
  return { code, stdout, stderr };
}

/** Runs `bin/floe.js args…` as a child process: the command line's wiring and exit codes. */
function floeProcess(args: string[]): Promise<Run> {
  return new Promise((res) => {
    execFile(process.execPath, [resolve(ROOT, 'bin/floe.js'), ...args], { cwd: ROOT, timeout: 60_000, env: { ...process.env, FLOE_LOG_LEVEL: 'silent' } }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

let broker: TestBroker;
let url: string;
let bs: string[];

before(async () => {
  url = await freshDatabase();
  const objects = await tempDir('floe-cli-objects-');
  broker = await startTestBroker({ 'diskless.coordinator.url': url, 'diskless.object.store.url': `file://${objects}` });
  bs = ['--bootstrap-server', broker.bootstrap];
});

after(async () => {
  await broker.close();
});

describe('floe topics', () => {
  test('creates, lists, describes, adds partitions to and deletes a topic; errors by Kafka name', async () => {
    const created = await floe(['topics', ...bs, '--create', '--topic', 'cli-t1', '--partitions', '3', '--config', 'retention.ms=3600000', '--config', 'max.message.bytes=200000']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'Created topic cli-t1.\n');

    const again = await floe(['topics', ...bs, '--create', '--topic', 'cli-t1', '--partitions', '3']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /TOPIC_ALREADY_EXISTS/);
    assert.equal((await floe(['topics', ...bs, '--create', '--topic', 'cli-t1', '--if-not-exists'])).code, 0);

    const list = await floe(['topics', ...bs, '--list']);
    assert.ok(list.stdout.split('\n').includes('cli-t1'), list.stdout);
    const listJson = JSON.parse((await floe(['topics', ...bs, '--list', '--json'])).stdout) as string[];
    assert.ok(listJson.includes('cli-t1'));

    const described = await floe(['topics', ...bs, '--describe', '--topic', 'cli-t1']);
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /^Topic: cli-t1\tTopicId: [0-9a-f-]{36}\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: .*retention\.ms=3600000/);
    assert.match(described.stdout, /max\.message\.bytes=200000/);
    const lines = described.stdout.trim().split('\n');
    assert.match(lines[1]!, /^TOPIC\s+PARTITION\s+LEADER\s+REPLICAS\s+ISR$/);
    assert.deepEqual(lines.slice(2).map((l) => l.split(/\s+/)[1]), ['0', '1', '2']);

    const altered = await floe(['topics', ...bs, '--alter', '--topic', 'cli-t1', '--partitions', '5']);
    assert.equal(altered.code, 0, altered.stderr);
    const asJson = JSON.parse((await floe(['topics', ...bs, '--describe', '--topic', 'cli-t1', '--json'])).stdout);
    assert.equal(asJson[0].partitionCount, 5);
    assert.equal(asJson[0].configs['retention.ms'], '3600000');
    const shrink = await floe(['topics', ...bs, '--alter', '--topic', 'cli-t1', '--partitions', '2']);
    assert.equal(shrink.code, 1);
    assert.match(shrink.stderr, /INVALID_PARTITIONS/);

    const deleted = await floe(['topics', ...bs, '--delete', '--topic', 'cli-t1']);
    assert.equal(deleted.code, 0, deleted.stderr);
    const gone = await floe(['topics', ...bs, '--describe', '--topic', 'cli-t1']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /UNKNOWN_TOPIC_OR_PARTITION/);
    assert.equal((await floe(['topics', ...bs, '--delete', '--topic', 'cli-t1', '--if-exists'])).code, 0);
  });

  test('bin/floe.js runs the commands: output on stdout, Kafka errors on stderr with exit 1, usage errors exit 2', async () => {
    const created = await floeProcess(['topics', ...bs, '--create', '--topic', 'cli-proc', '--partitions', '2']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'Created topic cli-proc.\n');
    const dup = await floeProcess(['topics', ...bs, '--create', '--topic', 'cli-proc']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /^floe topics: Error: topic 'cli-proc': TOPIC_ALREADY_EXISTS/);
    const usage = await floeProcess(['groups', ...bs, '--describe']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--describe needs one --group/);
  });

  test('bad usage exits 2 with a message; an unreachable broker exits 1', async () => {
    const noAction = await floe(['topics', ...bs]);
    assert.equal(noAction.code, 2);
    assert.match(noAction.stderr, /exactly one of --list/);
    const noTopic = await floe(['topics', ...bs, '--create', '--partitions', '1']);
    assert.equal(noTopic.code, 2);
    assert.match(noTopic.stderr, /--create needs --topic/);
    const down = await floe(['topics', '--bootstrap-server', '127.0.0.1:1', '--list']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /ECONNREFUSED/);
  });
});

describe('floe configs', () => {
  test('adds, describes and deletes topic configs; an invalid value gets INVALID_CONFIG', async () => {
    assert.equal((await floe(['topics', ...bs, '--create', '--topic', 'cli-cfg', '--partitions', '1'])).code, 0);
    const add = await floe(['configs', ...bs, '--alter', '--entity-type', 'topics', '--entity-name', 'cli-cfg', '--add-config', 'retention.ms=7200000,retention.bytes=1048576']);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, 'Completed updating config for topic cli-cfg.\n');
    const d = await floe(['configs', ...bs, '--describe', '--entity-type', 'topics', '--entity-name', 'cli-cfg']);
    assert.match(d.stdout, /^Dynamic configs for topic cli-cfg are:\n/);
    assert.match(d.stdout, /retention\.bytes\s+1048576\s+DYNAMIC_TOPIC_CONFIG/);
    assert.match(d.stdout, /retention\.ms\s+7200000\s+DYNAMIC_TOPIC_CONFIG/);

    assert.equal((await floe(['configs', ...bs, '--alter', '--entity-type', 'topics', '--entity-name', 'cli-cfg', '--delete-config', 'retention.bytes'])).code, 0);
    const after = JSON.parse((await floe(['configs', ...bs, '--describe', '--entity-type', 'topics', '--entity-name', 'cli-cfg', '--json'])).stdout) as { name: string; value: string }[];
    assert.equal(after.find((c) => c.name === 'retention.bytes'), undefined);
    assert.equal(after.find((c) => c.name === 'retention.ms')?.value, '7200000');
    const all = JSON.parse((await floe(['configs', ...bs, '--describe', '--all', '--entity-type', 'topics', '--entity-name', 'cli-cfg', '--json'])).stdout) as { name: string; source: string }[];
    assert.equal(all.find((c) => c.name === 'retention.bytes')?.source, 'DEFAULT_CONFIG');

    const bad = await floe(['configs', ...bs, '--alter', '--entity-type', 'topics', '--entity-name', 'cli-cfg', '--add-config', 'retention.ms=soon']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /INVALID_CONFIG/);

    const leader = JSON.parse((await floe(['topics', ...bs, '--describe', '--topic', 'cli-cfg', '--json'])).stdout)[0].partitions[0].leader as number;
    const brokerCfg = await floe(['configs', ...bs, '--describe', '--all', '--entity-type', 'brokers', '--entity-name', String(leader), '--json']);
    assert.equal(brokerCfg.code, 0, brokerCfg.stderr);
    assert.ok((JSON.parse(brokerCfg.stdout) as { name: string }[]).some((c) => c.name === 'num.partitions'));
    // Dynamic broker configs: a dynamic key is set on the broker, a static one refused.
    const dyn = await floe(['configs', ...bs, '--alter', '--entity-type', 'brokers', '--entity-name', String(leader), '--add-config', 'log.cleaner.backoff.ms=20000']);
    assert.equal(dyn.code, 0, dyn.stderr);
    const described = JSON.parse((await floe(['configs', ...bs, '--describe', '--all', '--entity-type', 'brokers', '--entity-name', String(leader), '--json'])).stdout) as { name: string; value: string; source: string }[];
    assert.deepEqual(described.filter((c) => c.name === 'log.cleaner.backoff.ms').map((c) => [c.value, c.source]), [['20000', 'DYNAMIC_BROKER_CONFIG']]);
    const staticKey = await floe(['configs', ...bs, '--alter', '--entity-type', 'brokers', '--entity-name', String(leader), '--add-config', 'num.partitions=3']);
    assert.equal(staticKey.code, 1);
    assert.match(staticKey.stderr, /Cannot update these configs dynamically/);
  });

  test('group configs (--entity-type groups): add, describe with sources, delete; a value past the broker bounds gets INVALID_CONFIG', async () => {
    const add = await floe(['configs', ...bs, '--alter', '--entity-type', 'groups', '--entity-name', 'cli-group', '--add-config', 'consumer.session.timeout.ms=50000,share.isolation.level=read_committed']);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, 'Completed updating config for group cli-group.\n');
    const d = await floe(['configs', ...bs, '--describe', '--entity-type', 'groups', '--entity-name', 'cli-group']);
    assert.match(d.stdout, /^Dynamic configs for group cli-group are:\n/);
    assert.match(d.stdout, /consumer\.session\.timeout\.ms\s+50000\s+GROUP_CONFIG/);
    assert.match(d.stdout, /share\.isolation\.level\s+read_committed\s+GROUP_CONFIG/);
    assert.equal((await floe(['configs', ...bs, '--alter', '--entity-type', 'groups', '--entity-name', 'cli-group', '--delete-config', 'share.isolation.level'])).code, 0);
    const all = JSON.parse((await floe(['configs', ...bs, '--describe', '--all', '--entity-type', 'groups', '--entity-name', 'cli-group', '--json'])).stdout) as { name: string; value: string; source: string }[];
    assert.deepEqual(all.find((c) => c.name === 'share.isolation.level'), { name: 'share.isolation.level', value: 'read_uncommitted', source: 'DEFAULT_CONFIG', sensitive: false, readOnly: false });
    assert.equal(all.find((c) => c.name === 'consumer.heartbeat.interval.ms')?.value, '5000');
    const bad = await floe(['configs', ...bs, '--alter', '--entity-type', 'groups', '--entity-name', 'cli-group', '--add-config', 'consumer.session.timeout.ms=90000']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /INVALID_CONFIG.*consumer\.session\.timeout\.ms must be less than or equal to group\.consumer\.max\.session\.timeout\.ms/);
  });
});

describe('floe groups', () => {
  test('describes lag of a kafkajs group, refuses to reset it while active, resets it (dry run, execute) and deletes it', async () => {
    assert.equal((await floe(['topics', ...bs, '--create', '--topic', 'cli-g', '--partitions', '2'])).code, 0);
    await kcatProduce(broker.bootstrap, 'cli-g', Array.from({ length: 10 }, (_, i) => `k${i}:v${i}`), ['-p', '0']);
    await kcatProduce(broker.bootstrap, 'cli-g', Array.from({ length: 4 }, (_, i) => `k${i}:w${i}`), ['-p', '1']);

    const kafka = kafkajs(broker.bootstrap, 'cli-test-consumer');
    const consumer = kafka.consumer({ groupId: 'cli-group', sessionTimeout: 10_000, heartbeatInterval: 500 });
    let seen = 0;
    await consumer.connect();
    await consumer.subscribe({ topic: 'cli-g', fromBeginning: true });
    await consumer.run({ autoCommitInterval: 100, eachMessage: async () => { seen++; } });
    try {
      await waitFor('14 records consumed', () => seen >= 14, { timeoutMs: 60_000 });
      // lag goes to zero once the consumer commits, and the rows name the consumer
      await waitFor('lag 0 in floe groups --describe', async () => {
        const r = await floe(['groups', ...bs, '--describe', '--group', 'cli-group', '--json']);
        if (r.code !== 0) return false;
        const d = JSON.parse(r.stdout) as { partitions: { lag: number; consumerId: string | null }[] };
        return d.partitions.length === 2 && d.partitions.every((p) => p.lag === 0 && p.consumerId !== null);
      }, { timeoutMs: 60_000, intervalMs: 500 });
      const table = await floe(['groups', ...bs, '--describe', '--group', 'cli-group']);
      const rows = table.stdout.trim().split('\n');
      assert.match(rows[0]!, /^GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID\s+HOST\s+CLIENT-ID$/);
      assert.match(rows[1]!, /^cli-group\s+cli-g\s+0\s+10\s+10\s+0\s+\S+\s+\S+\s+cli-test-consumer$/);
      assert.match(rows[2]!, /^cli-group\s+cli-g\s+1\s+4\s+4\s+0\s/);

      const list = await floe(['groups', ...bs, '--list']);
      assert.match(list.stdout, /^cli-group\s+Stable\s+consumer$/m);

      const refused = await floe(['groups', ...bs, '--reset-offsets', '--group', 'cli-group', '--topic', 'cli-g', '--to-earliest', '--execute']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /can only be reset if the group 'cli-group' is inactive, but the current state is Stable/);
    } finally {
      await consumer.disconnect();
    }

    const dry = await floe(['groups', ...bs, '--reset-offsets', '--group', 'cli-group', '--topic', 'cli-g', '--to-earliest']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /No action will be performed/);
    assert.match(dry.stdout, /cli-group\s+cli-g\s+0\s+0\n/);
    const unchanged = JSON.parse((await floe(['groups', ...bs, '--describe', '--group', 'cli-group', '--json'])).stdout);
    assert.deepEqual(unchanged.partitions.map((p: { currentOffset: number }) => p.currentOffset), [10, 4]);

    const exec = await floe(['groups', ...bs, '--reset-offsets', '--group', 'cli-group', '--topic', 'cli-g:0', '--shift-by', '-3', '--execute']);
    assert.equal(exec.code, 0, exec.stderr);
    assert.match(exec.stdout, /^cli-group\s+cli-g\s+0\s+7$/m);
    const shifted = JSON.parse((await floe(['groups', ...bs, '--describe', '--group', 'cli-group', '--json'])).stdout);
    assert.deepEqual(shifted.partitions.map((p: { currentOffset: number; lag: number }) => [p.currentOffset, p.lag]), [[7, 3], [4, 0]]);

    // --to-offset past the end is moved to the end, as Kafka's tool does; --to-datetime in the past: the start
    const clamp = JSON.parse((await floe(['groups', ...bs, '--reset-offsets', '--group', 'cli-group', '--all-topics', '--to-offset', '99', '--execute', '--json'])).stdout);
    assert.deepEqual(clamp.offsets.map((o: { offset: number }) => o.offset), [10, 4]);
    const dt = await floe(['groups', ...bs, '--reset-offsets', '--group', 'cli-group', '--all-topics', '--to-datetime', '2000-01-01T00:00:00.000Z', '--execute']);
    assert.equal(dt.code, 0, dt.stderr);
    const atStart = JSON.parse((await floe(['groups', ...bs, '--describe', '--group', 'cli-group', '--json'])).stdout);
    assert.deepEqual(atStart.partitions.map((p: { currentOffset: number; lag: number }) => [p.currentOffset, p.lag]), [[0, 10], [0, 4]]);
    const latest = await floe(['groups', ...bs, '--reset-offsets', '--group', 'cli-group', '--topic', 'cli-g', '--to-latest', '--execute']);
    assert.match(latest.stdout, /cli-g\s+1\s+4$/m);

    const badDate = await floe(['groups', ...bs, '--reset-offsets', '--group', 'cli-group', '--all-topics', '--to-datetime', 'yesterday']);
    assert.equal(badDate.code, 2);

    const del = await floe(['groups', ...bs, '--delete', '--group', 'cli-group']);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, "Deletion of requested consumer groups ('cli-group') was successful.\n");
    const gone = await floe(['groups', ...bs, '--describe', '--group', 'cli-group']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /does not exist|GROUP_ID_NOT_FOUND/);
  });
});

describe('floe acls and floe users on a broker without security', () => {
  test('ACL commands get SECURITY_DISABLED (no authorizer); SCRAM users work over PLAINTEXT; --help lists the flags', async () => {
    const add = await floe(['acls', ...bs, '--add', '--allow-principal', 'User:alice', '--operation', 'Read', '--topic', 'x']);
    assert.equal(add.code, 1);
    assert.match(add.stderr, /^floe acls: Error: CreateAcls User:alice on x: SECURITY_DISABLED/);
    const list = await floe(['acls', ...bs, '--list']);
    assert.equal(list.code, 1);
    assert.match(list.stderr, /SECURITY_DISABLED/);
    assert.match((await floe(['acls', '--help'])).stdout, /--resource-pattern-type/);

    const added = await floe(['users', 'add', 'plain-user', '--password', 'pw', '--iterations', '5000', ...bs, '--json']);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual(JSON.parse(added.stdout), { user: 'plain-user', mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'], iterations: 5000 });
    const users = JSON.parse((await floe(['users', 'list', ...bs, '--json'])).stdout) as { user: string; credentials: unknown[] }[];
    assert.deepEqual(users.find((u) => u.user === 'plain-user'), { user: 'plain-user', credentials: [{ mechanism: 'SCRAM-SHA-256', iterations: 5000 }, { mechanism: 'SCRAM-SHA-512', iterations: 5000 }] });
    const described = await floe(['configs', ...bs, '--describe', '--entity-type', 'users']);
    assert.match(described.stdout, /^SCRAM credential configs for user-principal 'plain-user' are SCRAM-SHA-256=iterations=5000, SCRAM-SHA-512=iterations=5000$/m);
    assert.equal((await floe(['users', 'delete', 'plain-user', '--mechanism', 'SCRAM-SHA-256', ...bs])).code, 0);
    assert.equal((await floe(['configs', ...bs, '--describe', '--entity-type', 'users', '--entity-name', 'plain-user'])).stdout, "SCRAM credential configs for user-principal 'plain-user' are SCRAM-SHA-512=iterations=5000\n");
    assert.equal((await floe(['users', 'add', 'x', ...bs])).code, 2, 'no --password');
    assert.equal((await floe(['users', 'add', 'x', '--password', 'p', '--mechanism', 'MD5', ...bs])).code, 2);
  });
});

describe('floe objects', () => {
  test('ls and du read the objects from the coordinator', async () => {
    assert.equal((await floe(['topics', ...bs, '--create', '--topic', 'cli-obj', '--partitions', '1'])).code, 0);
    await kcatProduce(broker.bootstrap, 'cli-obj', Array.from({ length: 50 }, (_, i) => `k${i}:${'x'.repeat(200)}`));
    const over = ['--override', `diskless.coordinator.url=${url}`];
    const ls = await floe(['objects', 'ls', ...over, '--json']);
    assert.equal(ls.code, 0, ls.stderr);
    const objects = JSON.parse(ls.stdout) as { key: string; size: number; liveBytes: number; batches: number; state: string }[];
    assert.ok(objects.length >= 1);
    assert.ok(objects.some((o) => o.batches >= 1 && o.liveBytes >= 50 * 200 / 10 && o.size >= o.liveBytes && o.state === 'uploaded'), ls.stdout);
    const table = await floe(['objects', 'ls', ...over]);
    assert.match(table.stdout, /^KEY\s+SIZE\s+LIVE-BYTES\s+BATCHES\s+STATE\s+BROKER\s+CREATED$/m);

    const du = JSON.parse((await floe(['objects', 'du', ...over, '--json'])).stdout);
    assert.equal(du.objects, objects.length);
    assert.equal(du.bytes, objects.reduce((n, o) => n + o.size, 0));
    assert.equal(du.histogram.reduce((n: number, h: { objects: number }) => n + h.objects, 0), du.objects);
    const duTable = await floe(['objects', 'du', ...over]);
    assert.match(duTable.stdout, /^total\s+\d+\s+\d+/m);
    assert.match(duTable.stdout, /Size histogram:/);
  });
});
