/**
 * kafka-python (Debian's python3-kafka 2.0.2) against Floe: creates a topic, produces, consumes in a group,
 * commits, and the committed offsets it reads back equal the end offsets, on a diskless and a classic topic.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { committedAndEndOffsets } from '../helpers/group-offsets.ts';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, 'old', 'kafka_python_client.py');
const COUNT = 50;

let broker: TestBroker;
before(async () => {
  broker = await startTestBroker({ 'num.partitions': 2 });
});


for (const [kind, diskless] of [['diskless', 'true'], ['classic', 'false']] as const) {
  test(`kafka-python, ${kind} topic: create, produce, consume in a group, committed = end offsets`, async () => {
    const topic = `kafka-python-${kind}`;
    const group = `kafka-python-group-${kind}`;
    let r;
    try {
      const { stdout } = await run('/usr/bin/python3', [SCRIPT, broker.bootstrap, topic, group, String(COUNT), diskless], { timeout: 150_000 });
      r = JSON.parse(stdout.trim().split('\n').pop()!);
    } catch (e) {
      throw new Error(`kafka-python failed: ${(e as { stderr?: string }).stderr ?? ''}`, { cause: e });
    }
    assert.equal(r.consumed, COUNT);
    assert.equal(Object.values(r.end as Record<string, number>).reduce((a, b) => a + b, 0), COUNT);
    assert.deepEqual(r.committed, r.end, 'the committed offsets kafka-python reads back are the end offsets');
    assert.deepEqual(await committedAndEndOffsets(broker.port, topic, group, [0, 1]), { committed: r.end, end: r.end });
  });
}
