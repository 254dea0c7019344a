/**
 * Old Go clients Kafka 4 broke (issue 17), from Debian's packages, against one broker: sarama 1.22 (Kafka
 * version 2.1.0, lz4) and kafka-go 0.2.1 (CreateTopics v0, Produce v2 with message format v1, Fetch v2).
 * kafka-python is in kafka-python.test.ts. Each creates a topic, produces, consumes in a
 * group, commits, and the committed offsets read back equal the end offsets, on a diskless and a classic
 * topic. The Go programs (test/clients/old/*.go) are built once per clone, offline (test/helpers/go-clients.ts).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { goClients, type GoClient } from '../helpers/go-clients.ts';
import { committedAndEndOffsets } from '../helpers/group-offsets.ts';

const run = promisify(execFile);
const COUNT = 50;
const KINDS = [['diskless', 'true'], ['classic', 'false']] as const;

let broker: TestBroker;
let bins: Record<GoClient, string>;

before(async () => {
  [broker, bins] = await Promise.all([startTestBroker({ 'num.partitions': 2 }), goClients()]);
});

async function runClient(cmd: string, args: string[]): Promise<any> {
  try {
    const { stdout } = await run(cmd, args, { timeout: 150_000 });
    return JSON.parse(stdout.trim().split('\n').pop()!);
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string };
    throw new Error(`${cmd} failed: ${err.stderr ?? ''}${err.stdout ?? ''}`, { cause: e });
  }
}


function assertAllCommitted(r: { consumed: number; committed: Record<string, number>; end: Record<string, number> }): void {
  assert.equal(r.consumed, COUNT);
  assert.equal(Object.values(r.end).reduce((a, b) => a + b, 0), COUNT, `end offsets ${JSON.stringify(r.end)}`);
  assert.deepEqual(r.committed, r.end);
}

for (const [kind, diskless] of KINDS) {
  test(`sarama 1.22 (Kafka 2.1.0, lz4), ${kind} topic: create, produce, consume in a group, committed = end offsets`, async () => {
    const topic = `sarama-${kind}`;
    const group = `sarama-group-${kind}`;
    const r = await runClient(bins['sarama']!, [broker.bootstrap, topic, group, String(COUNT), diskless]);
    assertAllCommitted(r);
    assertAllCommitted({ consumed: r.consumed, ...(await committedAndEndOffsets(broker.port, topic, group, [0, 1])) });
  });

  test(`kafka-go 0.2.1 (message format v1), ${kind} topic: create, produce, consume in a group, committed = end offsets`, async () => {
    const topic = `kafka-go-${kind}`;
    const group = `kafka-go-group-${kind}`;
    const r = await runClient(bins['kafkago']!, [broker.bootstrap, topic, group, String(COUNT), diskless]);
    assertAllCommitted({ consumed: r.consumed, ...(await committedAndEndOffsets(broker.port, topic, group, [0, 1])) });
  });

}
