/**
 * Share groups (KIP-932) with a real client: librdkafka 2.15.1's share consumer (rd_kafka_share_*), driven
 * by share_consumer.c, a small C program compiled here (under a second) against the librdkafka that
 * test/helpers/librdkafka.ts builds once per clone. Four consumer processes share one partition of a
 * diskless and of a classic topic: each receives records, none is received twice, every delivery count is
 * 1, and once they are closed the share partition's start offset is the log end (all accepted). Then with
 * explicit acknowledgement: released records come back once with delivery count 2, rejected ones never.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { onCleanup, tempDir } from '../helpers/cleanup.ts';
import { modernLibrdkafka, modernLibrdkafkaEnv } from '../helpers/librdkafka.ts';
import { withClient } from '../helpers/raw-client.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { produce } from '../helpers/produce.ts';
import { CLASSIC, createTopic } from '../helpers/topics.ts';
import { waitFor } from '../helpers/wait.ts';

const run = promisify(execFile);
// Small polls, so that the four consumers take turns (a share fetch acquires whole batches up to its
// max records: with librdkafka's default of 500, whichever fetch arrives first takes everything there).
const MAX_POLL_RECORDS = 10;

interface Consumer {
  child: ChildProcess;
  lines: string[];
  stderr: string;
}

function startConsumer(binary: string, env: NodeJS.ProcessEnv, bootstrap: string, group: string, topic: string, mode = 'implicit'): Consumer {
  const child = spawn(binary, [bootstrap, group, topic, String(MAX_POLL_RECORDS), mode], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const c: Consumer = { child, lines: [], stderr: '' };
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop()!;
    c.lines.push(...parts);
  });
  child.stderr!.on('data', (chunk: Buffer) => (c.stderr += chunk.toString()));
  onCleanup(() => void child.kill('SIGKILL'));
  return c;
}

const records = (c: Consumer) => c.lines.filter((l) => /^\d+ \d+ \d+$/.test(l)).map((l) => l.split(' ').map(Number) as [number, number, number]);

let binary: string;
let env: NodeJS.ProcessEnv;
let broker: TestBroker;

test('setup: the C client compiled against librdkafka 2.15, a broker', { timeout: 300_000 }, async () => {
  const prefix = await modernLibrdkafka();
  env = await modernLibrdkafkaEnv();
  binary = join(await tempDir('floe-share-client-'), 'share_consumer');
  await run('gcc', ['-O1', '-o', binary, resolve(import.meta.dirname, 'share_consumer.c'), `-I${join(prefix, 'include')}`, `-L${join(prefix, 'lib')}`, '-lrdkafka']);
  broker = await startTestBroker({ 'group.share.heartbeat.interval.ms': 500, 'diskless.commit.interval.ms': 20 });
});

async function waitForMembers(group: string, n: number): Promise<void> {
  await waitFor(`${group}: ${n} share members`, async () => {
    const d = await withClient(broker.port, (c) => c.request(ApiKey.ShareGroupDescribe, 1, { groupIds: [group], includeAuthorizedOperations: false }));
    return d.groups[0].errorCode === ErrorCode.NONE && d.groups[0].members.length === n;
  }, { timeoutMs: 60_000 });
  await waitFor(`${group}: the share partition started`, async () => {
    const d = await withClient(broker.port, (c) => c.request(ApiKey.DescribeShareGroupOffsets, 1, { groups: [{ groupId: group, topics: null }] }));
    return d.groups[0].topics.length === 1;
  }, { timeoutMs: 60_000 });
}

async function startOffset(group: string): Promise<bigint | undefined> {
  const d = await withClient(broker.port, (c) => c.request(ApiKey.DescribeShareGroupOffsets, 1, { groups: [{ groupId: group, topics: null }] }));
  return d.groups[0].topics[0]?.partitions[0]?.startOffset;
}

test('librdkafka share consumers: 4 processes share one partition (diskless and classic); each receives records, none twice, delivery count 1', { timeout: 300_000 }, async () => {

  for (const kind of ['diskless', 'classic'] as const) {
    const topic = `rdk-share-${kind}`;
    const group = `rdk-share-${kind}-group`;
    await withClient(broker.port, (c) => createTopic(c, topic, 1, kind === 'classic' ? CLASSIC : {}));
    const consumers = [0, 1, 2, 3].map(() => startConsumer(binary, env, broker.bootstrap, group, topic));
    // Every member in the group and fetching (the share partition starts at the log end, latest).
    await waitForMembers(group, 4);
    const BATCHES = 80;
    const PER = 5;
    const total = BATCHES * PER;
    await withClient(broker.port, async (c) => {
      for (let b = 0; b < BATCHES; b++) assert.equal((await produce(c, topic, 0, await batchOf(Array.from({ length: PER }, (_, i) => `${b}-${i}`)))).errorCode, ErrorCode.NONE);
    });
    await waitFor(`${kind}: every record received`, () => new Set(consumers.flatMap((c) => records(c).map((r) => r[1]))).size === total, { timeoutMs: 90_000 });
    for (const c of consumers) c.child.kill('SIGTERM');
    await waitFor(`${kind}: consumers closed`, () => consumers.every((c) => c.child.exitCode !== null), { timeoutMs: 60_000 });
    const all = consumers.flatMap((c) => records(c));
    const diag = consumers.map((c) => c.stderr.slice(-500)).join('\n---\n');
    assert.equal(all.length, total, `no record received twice (${all.length} receipts for ${total} records)\n${diag}`);
    assert.ok(all.every(([, , dc]) => dc === 1), 'every delivery count is 1');
    const counts = consumers.map((c) => records(c).length);
    console.log(`${kind}: records per librdkafka share consumer: ${counts.join(", ")}`);
    assert.ok(counts.every((n) => n > 0), `each consumer received records: ${counts}`);
    await waitFor(`${kind}: every record accepted (SPSO at the log end)`, async () => (await startOffset(group)) === BigInt(total), { timeoutMs: 30_000 });
  }
});

test('librdkafka share consumers, explicit acknowledgement: RELEASEd records come back with delivery count 2, REJECTed ones never', { timeout: 300_000 }, async () => {
  const topic = 'rdk-share-mixed';
  const group = 'rdk-share-mixed-group';
  await withClient(broker.port, (c) => createTopic(c, topic, 1));
  const consumers = [0, 1].map(() => startConsumer(binary, env, broker.bootstrap, group, topic, 'mixed'));
  await waitForMembers(group, 2);
  const total = 100;
  await withClient(broker.port, async (c) => {
    for (let b = 0; b < total / 5; b++) assert.equal((await produce(c, topic, 0, await batchOf(Array.from({ length: 5 }, (_, i) => `${b}-${i}`)))).errorCode, ErrorCode.NONE);
  });
  // Every offset % 4 == 1 is released once, so 125 receipts in all.
  await waitFor('every record received, the released ones twice', () => consumers.flatMap((c) => records(c)).length >= total + total / 4, { timeoutMs: 90_000 });
  await waitFor('every record acknowledged or archived (SPSO at the log end)', async () => (await startOffset(group)) === BigInt(total), { timeoutMs: 30_000 });
  for (const c of consumers) c.child.kill('SIGTERM');
  await waitFor('consumers closed', () => consumers.every((c) => c.child.exitCode !== null), { timeoutMs: 60_000 });
  const receipts = new Map<number, number[]>();
  for (const [, offset, dc] of consumers.flatMap((c) => records(c))) receipts.set(offset, [...(receipts.get(offset) ?? []), dc]);
  const diag = consumers.map((c) => c.stderr.slice(-500)).join('\n---\n');
  for (let o = 0; o < total; o++) {
    const expected = o % 4 === 1 ? [1, 2] : [1];
    assert.deepEqual((receipts.get(o) ?? []).sort(), expected, `offset ${o}: delivery counts\n${diag}`);
  }
});
