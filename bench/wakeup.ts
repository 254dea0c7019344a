/**
 * Cross-broker wake-up latency (issue 7, item 4): two `floe start` brokers, A and B, on one PostgreSQL
 * coordinator (a throwaway local cluster with fsync and synchronous commit ON; tools/dev/local-servers.ts)
 * and one object folder. A producer sends one record every --interval-ms to A (acks=all, pipelined on one
 * connection); a consumer long-polls B (max.wait.ms 30000, min.bytes 1) and, for comparison, another
 * consumer long-polls A itself. The topic uses LogAppendTime, so A's produce answer carries the commit's
 * time (the coordinator's clock, same machine).
 *
 *   npx tsx bench/wakeup.ts [--records 1500] [--interval-ms 20] [--commit-interval-ms 250]
 *
 * Per commit (its records are acknowledged and answered together): from A's produce answer (ack, the first
 * of the commit's acks read here) to the consumer's first fetch answer holding its records, and from the
 * commit's log-append time (taken inside the commit transaction, before its fsync; ms resolution) to that
 * answer. A negative "ack →" figure means the consumer's answer arrived before the producer's. Also B's fetch coordinator queries during the run (0: every wake-up
 * was served from B's batch index cache, learned from the notification). Prints samples, p50/p90/p99/max
 * and one JSON line. Figures are for reading, not for asserting: the machine is shared.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { RawClient } from '../test/helpers/raw-client.ts';
import { buildRecordBatch } from '../test/helpers/record-batch.ts';
import { ApiKey } from '../src/protocol/gen/api-keys.ts';
import { startPostgres } from '../tools/dev/local-servers.ts';
import { startBroker, type BrokerProcess } from './lib/procs.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1500' },
    'interval-ms': { type: 'string', default: '20' },
    'commit-interval-ms': { type: 'string', default: '250' },
  },
});
const RECORDS = Number(values.records);
const INTERVAL_MS = Number(values['interval-ms']);
const COMMIT_INTERVAL_MS = Number(values['commit-interval-ms']);
const TOPIC = 'wakeup-bench';
const PRODUCE_VERSION = 9;
const FETCH_VERSION = 11;

/** Wall clock with sub-millisecond resolution (ms since the epoch). */
const now = () => performance.timeOrigin + performance.now();

interface Acked {
  ackAt: number;
  logAppendTime: number;
}

/** Sends RECORDS records to `client`, one every INTERVAL_MS, without waiting for answers; resolves with the acks by offset. */
async function produce(client: RawClient): Promise<Map<number, Acked>> {
  const acks = new Map<number, Acked>();
  const reading = (async () => {
    for (let i = 0; i < RECORDS; i++) {
      const r = await client.readResponse(ApiKey.Produce, PRODUCE_VERSION, 10_000 + i);
      const p = r.responses[0].partitionResponses[0];
      if (p.errorCode !== 0) throw new Error(`produce failed: error ${p.errorCode}`);
      acks.set(Number(p.baseOffset), { ackAt: now(), logAppendTime: Number(p.logAppendTimeMs) });
    }
  })();
  const start = performance.now();
  for (let i = 0; i < RECORDS; i++) {
    const records = await buildRecordBatch({ records: [{ value: Buffer.from(`record-${i}`) }] });
    const body = { acks: -1, timeoutMs: 30_000, transactionalId: null, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] };
    client.write(RawClient.frame(ApiKey.Produce, PRODUCE_VERSION, body, 10_000 + i));
    const next = start + (i + 1) * INTERVAL_MS;
    await sleep(Math.max(0, next - performance.now()));
  }
  await reading;
  return acks;
}

/** Long-polls `client` from offset 0 until RECORDS records are seen; resolves with when each offset arrived. */
async function consume(client: RawClient, stop: { done: boolean }): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  let offset = 0;
  while (seen.size < RECORDS && !stop.done) {
    const r = await client.request(ApiKey.Fetch, FETCH_VERSION, {
      replicaId: -1, maxWaitMs: 30_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: BigInt(offset), partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    const at = now();
    const p = r.responses[0].partitions[0];
    if (p.errorCode !== 0) throw new Error(`fetch failed: error ${p.errorCode}`);
    const records: Buffer = p.records;
    for (let pos = 0; pos < records.length;) {
      const base = Number(records.readBigInt64BE(pos));
      const lastDelta = records.readInt32BE(pos + 23);
      for (let o = base; o <= base + lastDelta; o++) if (!seen.has(o)) seen.set(o, at);
      offset = Math.max(offset, base + lastDelta + 1);
      pos += records.readInt32BE(pos + 8) + 12;
    }
  }
  return seen;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Figures {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  samples: number;
}

function figures(samples: number[]): Figures {
  const sorted = [...samples].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 100) / 100;
  return { p50: r(percentile(sorted, 50)), p90: r(percentile(sorted, 90)), p99: r(percentile(sorted, 99)), max: r(sorted[sorted.length - 1] ?? NaN), samples: sorted.length };
}

/** The sum of a counter's samples (every label). */
async function counter(broker: BrokerProcess, name: string): Promise<number> {
  let total = 0;
  for (const sample of (await broker.metrics()).values()) if (sample.name === name) total += sample.value;
  return total;
}

const pg = await startPostgres({ durable: true });
const dir = await mkdtemp(join(tmpdir(), 'floe-bench-wakeup-'));
const brokers: BrokerProcess[] = [];
try {
  const url = await pg.createDatabase('wakeup');
  const shared = {
    'diskless.coordinator.url': url,
    'diskless.object.store.url': `file://${join(dir, 'objects')}`,
    'diskless.commit.interval.ms': COMMIT_INTERVAL_MS,
  };
  for (const [name, nodeId] of [['A', 1], ['B', 2]] as const) {
    brokers.push(await startBroker({ name, dataDir: join(dir, name), overrides: { ...shared, 'node.id': nodeId }, logFile: join(dir, `${name}.log`) }));
  }
  const [a, b] = brokers as [BrokerProcess, BrokerProcess];
  const admin = await RawClient.connect(a.port);
  const created = await admin.request(ApiKey.CreateTopics, 7, {
    topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, configs: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] }],
    timeoutMs: 5000,
  });
  if (created.topics[0].errorCode !== 0) throw new Error(`create topic: ${created.topics[0].errorMessage}`);
  admin.close();

  const [producer, onB, onA] = await Promise.all([RawClient.connect(a.port), RawClient.connect(b.port), RawClient.connect(a.port)]);
  const stop = { done: false };
  const consuming = Promise.all([consume(onB, stop), consume(onA, stop)]);
  await sleep(500); // both consumers parked at the empty tail
  const queriesBefore = await counter(b, 'floe_fetch_coordinator_queries_total');
  const acks = await produce(producer);
  const timeout = setTimeout(() => { stop.done = true; }, 30_000);
  const [seenB, seenA] = await consuming;
  clearTimeout(timeout);
  const queriesDuring = (await counter(b, 'floe_fetch_coordinator_queries_total')) - queriesBefore;
  const notified = await counter(b, 'floe_commit_notifications_total');
  for (const c of [producer, onB, onA]) c.close();

  // Per commit (the records of one commit are acknowledged together and answered together): from the first
  // of its acks read here to the first answer holding one of its records.
  const series = (seen: Map<number, number>) => {
    const byCommit = new Map<number, { ackAt: number; seenAt: number }>();
    for (const [offset, ack] of acks) {
      const at = seen.get(offset);
      if (at === undefined) continue;
      const c = byCommit.get(ack.logAppendTime);
      if (c === undefined) byCommit.set(ack.logAppendTime, { ackAt: ack.ackAt, seenAt: at });
      else {
        c.ackAt = Math.min(c.ackAt, ack.ackAt);
        c.seenAt = Math.min(c.seenAt, at);
      }
    }
    const fromAck: number[] = [];
    const fromCommit: number[] = [];
    for (const [logAppendTime, c] of byCommit) {
      fromAck.push(c.seenAt - c.ackAt);
      fromCommit.push(c.seenAt - logAppendTime);
    }
    return { fromAck, fromCommit };
  };
  const cross = series(seenB);
  const same = series(seenA);
  const commits = new Set([...acks.values()].map((x) => x.logAppendTime)).size;

  console.log(`${RECORDS} records, one every ${INTERVAL_MS} ms, to broker A (acks=all; diskless.commit.interval.ms=${COMMIT_INTERVAL_MS}: ${commits} commits); PostgreSQL (fsync on) + folder store`);
  console.log(`first 20 samples (one per commit), ms, A's ack → B's answer: ${cross.fromAck.slice(0, 20).map((v) => v.toFixed(2)).join(' ')}`);
  console.log(`first 20 samples (one per commit), ms, A's ack → A's answer: ${same.fromAck.slice(0, 20).map((v) => v.toFixed(2)).join(' ')}`);
  const rows = [
    ['cross-broker (consumer on B), from A\'s ack', figures(cross.fromAck)],
    ['cross-broker (consumer on B), from the commit', figures(cross.fromCommit)],
    ['same broker (consumer on A), from A\'s ack', figures(same.fromAck)],
    ['same broker (consumer on A), from the commit', figures(same.fromCommit)],
  ] as const;
  console.log('latency per commit, ms                         |    p50 |    p90 |    p99 |    max | samples');
  for (const [label, f] of rows) {
    console.log(`${label.padEnd(46)} | ${f.p50.toFixed(2).padStart(6)} | ${f.p90.toFixed(2).padStart(6)} | ${f.p99.toFixed(2).padStart(6)} | ${f.max.toFixed(2).padStart(6)} | ${f.samples}`);
  }
  console.log(`B: fetch coordinator queries during the run: ${queriesDuring}; commit notifications learned: ${notified}`);
  console.log(JSON.stringify({
    bench: 'wakeup', records: RECORDS, intervalMs: INTERVAL_MS, commitIntervalMs: COMMIT_INTERVAL_MS, commits,
    crossFromAck: figures(cross.fromAck), crossFromCommit: figures(cross.fromCommit),
    sameFromAck: figures(same.fromAck), sameFromCommit: figures(same.fromCommit),
    bFetchCoordinatorQueries: queriesDuring, bCommitNotifications: notified,
  }));
} finally {
  await Promise.allSettled(brokers.map((x) => x.stop()));
  await pg.destroy();
  await rm(dir, { recursive: true, force: true });
}
