/**
 * A share group (KIP-932) in a 3-broker cluster (child processes, one PostgreSQL, one s3rver bucket) while a
 * broker is killed with SIGKILL: four consumers (test/helpers/share-consumer.ts, the project's codec over raw
 * sockets) spread over the brokers (two on the first) consume one diskless partition with piggy-backed
 * acknowledgements; the first broker is killed while one of its consumers holds records it has not
 * acknowledged. Its consumers start again on a live broker as new members; what they held comes back after
 * the lock expires (delivery count 2). At the end every record was acknowledged, no record whose acknowledgement a
 * broker confirmed was ever delivered again, and the share partition's start offset is the log end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { startCluster } from '../helpers/cluster.ts';
import { withClient } from '../helpers/raw-client.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { produce } from '../helpers/produce.ts';
import { topicMetadata } from '../helpers/topics.ts';
import { ACCEPT, acksOf, ShareConsumer } from '../helpers/share-consumer.ts';
import { sleep } from '../helpers/wait.ts';

const TOPIC = 'share-failover';
const GROUP = 'share-failover-group';
const BATCHES = 60;
const PER = 5;
const TOTAL = BATCHES * PER;

test('share group: a broker killed (SIGKILL) while 4 consumers share a partition; no acknowledged record redelivered, none lost', { timeout: 170_000 }, async () => {
  const cluster = await startCluster({
    brokers: 3,
    topics: [{ name: TOPIC, partitions: 1 }],
    overrides: { 'group.share.record.lock.duration.ms': 2000, 'diskless.commit.interval.ms': 20 },
  });
  const first = cluster.brokers[0]!;
  const topicId = await withClient(first.port, async (c) => (await topicMetadata(c, TOPIC)).topicId);
  // Start the share partition at offset 0 (a member's first fetch starts it at the log end: latest).
  const starter = await ShareConsumer.join(first.port, GROUP, TOPIC, topicId);
  await starter.fetch(0, [], { maxWaitMs: 0 });
  await starter.leave();
  await withClient(first.port, async (c) => {
    for (let b = 0; b < BATCHES; b++) assert.equal((await produce(c, TOPIC, 0, await batchOf(Array.from({ length: PER }, (_, i) => `r-${b}-${i}`)))).errorCode, ErrorCode.NONE);
  });

  const confirmed = new Set<number>(); // acknowledgements a broker answered with NONE
  const uncertain = new Set<number>(); // acknowledgements sent to a broker that died before answering
  const settled = () => new Set([...confirmed, ...uncertain]).size;
  // Done when every record was answered (or its answer lost with a broker) and the SPSO is at the log end:
  // an acknowledgement lost with the broker may not have been applied, and then the record comes back.
  let finished = false;
  const done = async (): Promise<boolean> => {
    if (finished) return true;
    if (settled() < TOTAL) return false;
    const live = cluster.brokers.find((b) => b.process !== null)!;
    const d = await withClient(live.port, (c) => c.request(ApiKey.DescribeShareGroupOffsets, 1, { groups: [{ groupId: GROUP, topics: null }] })).catch(() => null);
    finished = d?.groups[0]?.topics[0]?.partitions[0]?.startOffset === BigInt(TOTAL);
    return finished;
  };
  const violations: string[] = [];
  let killed = false;
  let redeliveries = 0;
  const perSlot = [0, 0, 0, 0];
  const consume = async (slot: number) => {
    let broker = cluster.brokers[slot % 3]!;
    let c: ShareConsumer | null = null;
    while (!(await done())) {
      try {
        if (!c) {
          c = await ShareConsumer.join(broker.port, GROUP, TOPIC, topicId);
          // Open the session; what this first fetch acquires is acknowledged with the next one.
          const r = await c.fetch(0, [], { maxRecords: PER, maxWaitMs: 0 });
          perSlot[slot]! += r.acquired.length;
          for (const a of r.acquired) {
            if (confirmed.has(a.offset)) violations.push(`offset ${a.offset} delivered again (count ${a.deliveryCount}) after its acknowledgement was confirmed`);
            if (a.deliveryCount > 1) redeliveries++;
            pendingOf(c).push(a.offset);
          }
        }
        const pending = pendingOf(c);
        const r = await c.fetch(0, acksOf(pending, ACCEPT), { maxRecords: PER, maxWaitMs: 200 });
        if (r.ackError === ErrorCode.NONE) for (const o of pending) confirmed.add(o);
        else for (const o of pending) uncertain.add(o); // a lock that expired first: the record comes back
        pending.length = 0;
        perSlot[slot]! += r.acquired.length;
        for (const a of r.acquired) {
          if (a.deliveryCount > 1) redeliveries++;
          if (confirmed.has(a.offset)) violations.push(`offset ${a.offset} delivered again (count ${a.deliveryCount}) after its acknowledgement was confirmed`);
          pending.push(a.offset);
        }
        if (slot === 0 && !killed && confirmed.size >= 20 && pending.length > 0) {
          // Its broker (serving two of the four consumers) killed while this consumer holds records it has not acknowledged.
          killed = true;
          await cluster.kill(0);
        }
      } catch {
        // The broker died under this consumer: start again as a new member on a live one.
        if (c) for (const o of pendingOf(c)) if (!confirmed.has(o)) uncertain.add(o);
        c?.client.close();
        c = null;
        broker = cluster.brokers.find((b) => b.process !== null)!;
        await sleep(100);
      }
    }
    if (c) await c.leave();
  };
  const pendingByConsumer = new Map<ShareConsumer, number[]>();
  const pendingOf = (c: ShareConsumer): number[] => {
    let p = pendingByConsumer.get(c);
    if (!p) pendingByConsumer.set(c, (p = []));
    return p;
  };
  await Promise.all([0, 1, 2, 3].map(consume));
  console.log(`records acquired per consumer slot: ${perSlot.join(', ')}`);
  assert.ok(killed, 'a broker was killed mid-way');
  assert.ok(redeliveries > 0, 'the records the killed broker\'s consumer held came back');
  console.log(`share failover: ${confirmed.size} acknowledgements confirmed, ${uncertain.size} lost with the broker or late, ${redeliveries} redeliveries`);
  assert.deepEqual(violations, []);
  assert.equal(settled(), TOTAL, 'every record acknowledged');
  const live = cluster.brokers.find((b) => b.process !== null)!;
  await withClient(live.port, async (c) => {
    const d = await c.request(ApiKey.DescribeShareGroupOffsets, 1, { groups: [{ groupId: GROUP, topics: null }] });
    assert.equal(d.groups[0].topics[0].partitions[0].startOffset, BigInt(TOTAL), 'the SPSO is the log end');
  });
});
