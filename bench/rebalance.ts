/**
 * Rebalance time of a consumer group, classic protocol and KIP-848's consumer protocol: 3 members, 12 partitions, one `floe start` broker on the
 * embedded defaults (PGlite + folder) with group.initial.rebalance.delay.ms=0 (its default, 3000, delays
 * the first rebalance of a new group on purpose).
 *
 *   npx tsx bench/rebalance.ts [--iterations 20] [--heartbeat-ms 100] [--kafkajs-iterations 5]
 *
 * 1. Protocol level, raw members (this process): each member is one connection that joins (with the
 *    MEMBER_ID_REQUIRED round trip), the leader computes a range assignment of the 12 partitions, every
 *    member syncs; members learn of a rebalance from their heartbeat (every --heartbeat-ms) and rejoin at
 *    once. Measured: from the triggering request (the new members' JoinGroup, or a LeaveGroup) until the
 *    last member holds its assignment of the new generation (the generation is stored in the coordinator
 *    before SyncGroup answers). Scenarios: 3 members start a new group; a 3rd member joins a Stable group
 *    of 2; 1 of 3 leaves. For the last two, also from the moment the last existing member heard of the
 *    rebalance (its heartbeat answered REBALANCE_IN_PROGRESS): the coordinator's part, without the wait
 *    for the next heartbeat.
 *    The consumer protocol (KIP-848), raw members speaking ConsumerGroupHeartbeat and heartbeating at the
 *    same --heartbeat-ms (and at once after an assignment change, as librdkafka does): 3 members start a
 *    group (until balanced: 4 partitions each, none twice); a 3rd member joins a balanced group of 2, until
 *    it owns its first partition (the classic figure's equivalent: a classic member owns its partitions
 *    when SyncGroup answers) and until all three are balanced; 1 of 3 leaves, until the other two own all.
 * 2. Client level, kafkajs 2.2.4 consumers (default heartbeat interval 3 s, and 100 ms): from the third
 *    consumer's run() until all three got their assignment of the same generation (GROUP_JOIN events).
 *
 * Prints a table and one JSON line. Figures are for reading, not for asserting: the machine is shared.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel } from 'kafkajs';
import { RawClient } from '../test/helpers/raw-client.ts';
import { ApiKey } from '../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../src/protocol/gen/errors.ts';
import { encodeAssignment, encodeSubscription } from '../src/groups/consumer-protocol.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '20' },
    'heartbeat-ms': { type: 'string', default: '100' },
    'kafkajs-iterations': { type: 'string', default: '5' },
  },
});
const ITERATIONS = Number(values.iterations);
const HEARTBEAT_MS = Number(values['heartbeat-ms']);
const KAFKAJS_ITERATIONS = Number(values['kafkajs-iterations']);
const TOPIC = 'rebalance-bench';
const PARTITIONS = 12;

async function startBroker(dataDir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const args = [join(ROOT, 'bin/floe.js'), 'start', '--override', 'listeners=PLAINTEXT://127.0.0.1:0', '--override', `data.dir=${dataDir}`,
    '--override', 'group.initial.rebalance.delay.ms=0'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLOE_LOG_LEVEL: 'info' } });
  let text = '';
  const port = await new Promise<number>((res, rej) => {
    const on = (c: Buffer) => {
      text += c.toString();
      const m = /"port":(\d+)[^\n]*Floe broker started/.exec(text);
      if (m) res(Number(m[1]));
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', () => rej(new Error(text)));
  });
  child.stdout.removeAllListeners('data');
  child.stderr.removeAllListeners('data');
  child.stdout.resume();
  child.stderr.resume();
  return { port, stop: () => new Promise((res) => { child.on('exit', () => res()); child.kill('SIGTERM'); }) };
}

const SUBSCRIPTION = encodeSubscription([TOPIC]);

/** A group member speaking the protocol directly. */
class Member {
  memberId = '';
  generation = -1;
  /** performance.now() when the member got its assignment of each generation. */
  readonly syncedAt = new Map<number, number>();
  /** performance.now() when a heartbeat last answered REBALANCE_IN_PROGRESS. */
  notifiedAt = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;

  private constructor(private readonly c: RawClient, private readonly group: string) {}

  static async connect(port: number, group: string): Promise<Member> {
    return new Member(await RawClient.connect(port), group);
  }

  private joinBody() {
    return { groupId: this.group, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId: this.memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: SUBSCRIPTION }], reason: null };
  }

  /** Join (and sync) until the member holds an assignment. */
  async joinAndSync(): Promise<void> {
    for (;;) {
      const j = await this.c.request(ApiKey.JoinGroup, 7, this.joinBody());
      if (j.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
        this.memberId = j.memberId;
        continue;
      }
      if (j.errorCode !== 0) throw new Error(`JoinGroup: error ${j.errorCode}`);
      this.memberId = j.memberId;
      this.generation = j.generationId;
      const assignments = j.leader === j.memberId ? rangeAssign(j.members.map((m: { memberId: string }) => m.memberId)) : [];
      const s = await this.c.request(ApiKey.SyncGroup, 5, { groupId: this.group, generationId: j.generationId, memberId: this.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments });
      if (s.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) continue;
      if (s.errorCode !== 0) throw new Error(`SyncGroup: error ${s.errorCode}`);
      this.syncedAt.set(j.generationId, performance.now());
      return;
    }
  }

  /** Heartbeats every HEARTBEAT_MS and rejoins when told to. */
  startHeartbeats(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await new Promise((r) => setTimeout(r, HEARTBEAT_MS));
        if (this.stopped) return;
        const h = await this.c.request(ApiKey.Heartbeat, 4, { groupId: this.group, generationId: this.generation, memberId: this.memberId, groupInstanceId: null });
        if (h.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) {
          this.notifiedAt = performance.now();
          await this.joinAndSync();
        }
        else if (h.errorCode !== 0) throw new Error(`Heartbeat: error ${h.errorCode}`);
      }
    })();
  }

  async leave(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.c.request(ApiKey.LeaveGroup, 4, { groupId: this.group, members: [{ memberId: this.memberId, groupInstanceId: null }] });
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.loop?.catch(() => undefined);
    this.c.close();
  }
}

function rangeAssign(memberIds: string[]): { memberId: string; assignment: Buffer }[] {
  const sorted = [...memberIds].sort();
  const per = Math.floor(PARTITIONS / sorted.length);
  const extra = PARTITIONS % sorted.length;
  let next = 0;
  return sorted.map((memberId, i) => {
    const n = per + (i < extra ? 1 : 0);
    const partitions = Array.from({ length: n }, (_, k) => next + k);
    next += n;
    return { memberId, assignment: encodeAssignment([{ topic: TOPIC, partitions }]) };
  });
}

async function waitForGeneration(members: Member[], atLeast: number): Promise<number> {
  for (;;) {
    const gens = members.map((m) => m.generation);
    if (gens.every((g) => g >= atLeast && g === gens[0] && members.every((m) => m.syncedAt.has(g)))) {
      return Math.max(...members.map((m) => m.syncedAt.get(gens[0]!)!));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}

interface Timings { create: number; join: number; leave: number; joinAfterNotice: number; leaveAfterNotice: number }

async function protocolLevel(port: number, iteration: number): Promise<Timings> {
  const group = `bench-${iteration}`;
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => Member.connect(port, group)));
  // 1. Three members start a new group.
  let t0 = performance.now();
  // Each heartbeats as soon as it is in: the three may land in one generation or in a couple.
  await Promise.all([a!, b!, c!].map(async (m) => { await m.joinAndSync(); m.startHeartbeats(); }));
  let done = await waitForGeneration([a!, b!, c!], 1);
  const create = done - t0;
  // 2. C leaves, then rejoins: the rejoin is "a 3rd member joins a Stable group of 2".
  const g0 = a!.generation;
  await c!.leave();
  const stableGen = g0 + 1;
  await waitForGeneration([a!, b!], stableGen);
  await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS));
  const c2 = await Member.connect(port, group);
  a!.notifiedAt = b!.notifiedAt = 0;
  t0 = performance.now();
  await c2.joinAndSync();
  c2.startHeartbeats();
  done = await waitForGeneration([a!, b!, c2], stableGen + 1);
  const join = done - t0;
  const joinAfterNotice = done - Math.max(a!.notifiedAt, b!.notifiedAt);
  // 3. One of three leaves.
  await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS));
  const before = a!.generation;
  a!.notifiedAt = b!.notifiedAt = 0;
  t0 = performance.now();
  await c2.leave();
  done = await waitForGeneration([a!, b!], before + 1);
  const leave = done - t0;
  const leaveAfterNotice = done - Math.max(a!.notifiedAt, b!.notifiedAt);
  for (const m of [a!, b!, c!, c2]) await m.close();
  return { create, join, leave, joinAfterNotice, leaveAfterNotice };
}

/**
 * A KIP-848 member speaking ConsumerGroupHeartbeat (v1) directly: it heartbeats every HEARTBEAT_MS, and at
 * once after its assignment changed (to report what it owns now), as librdkafka does; it gives up revoked
 * partitions and takes new ones as soon as the answer names them (no commit or processing in between).
 */
class ConsumerMember {
  readonly memberId = randomUUID();
  epoch = 0;
  /** topic id → partitions it owns. */
  owned = new Map<string, number[]>();
  /** performance.now() when it first owned a partition. */
  firstOwnedAt = 0;
  /** performance.now() of the last change of what it owns. */
  changedAt = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;

  private constructor(private readonly c: RawClient, private readonly group: string) {}

  static async connect(port: number, group: string): Promise<ConsumerMember> {
    return new ConsumerMember(await RawClient.connect(port), group);
  }

  get count(): number {
    let n = 0;
    for (const ps of this.owned.values()) n += ps.length;
    return n;
  }

  private async beat(): Promise<boolean> {
    const joining = this.epoch === 0;
    const r = await this.c.request(ApiKey.ConsumerGroupHeartbeat, 1, {
      groupId: this.group, memberId: this.memberId, memberEpoch: this.epoch, instanceId: null, rackId: null,
      rebalanceTimeoutMs: joining ? 30_000 : -1, subscribedTopicNames: joining ? [TOPIC] : null, subscribedTopicRegex: null, serverAssignor: joining ? 'uniform' : null,
      topicPartitions: joining ? [] : [...this.owned].map(([topicId, partitions]) => ({ topicId, partitions })),
    });
    if (r.errorCode !== 0) throw new Error(`ConsumerGroupHeartbeat: error ${r.errorCode} ${r.errorMessage}`);
    this.epoch = r.memberEpoch;
    if (r.assignment === null) return false;
    const next = new Map<string, number[]>(r.assignment.topicPartitions.map((t: { topicId: string; partitions: number[] }) => [t.topicId, [...t.partitions].sort((a, b) => a - b)]));
    const same = next.size === this.owned.size && [...next].every(([t, ps]) => JSON.stringify(this.owned.get(t)) === JSON.stringify(ps));
    if (same) return false;
    this.owned = next;
    this.changedAt = performance.now();
    if (this.firstOwnedAt === 0 && this.count > 0) this.firstOwnedAt = this.changedAt;
    return true;
  }

  /** Joins (the first heartbeat) and keeps heartbeating. */
  start(): void {
    this.loop = (async () => {
      let again = await this.beat();
      while (!this.stopped) {
        if (!again) await new Promise((r) => setTimeout(r, HEARTBEAT_MS));
        if (this.stopped) return;
        again = await this.beat();
      }
    })();
  }

  async leave(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.c.request(ApiKey.ConsumerGroupHeartbeat, 1, {
      groupId: this.group, memberId: this.memberId, memberEpoch: -1, instanceId: null, rackId: null, rebalanceTimeoutMs: -1,
      subscribedTopicNames: null, subscribedTopicRegex: null, serverAssignor: null, topicPartitions: null,
    });
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.loop?.catch(() => undefined);
    this.c.close();
  }
}

/** The members own every partition once, `PARTITIONS / members` each (the uniform assignor's balance). */
function balanced(members: ConsumerMember[]): boolean {
  const seen = new Set<string>();
  for (const m of members) {
    if (m.count !== PARTITIONS / members.length) return false;
    for (const [t, ps] of m.owned) for (const p of ps) seen.add(`${t}:${p}`);
  }
  return seen.size === PARTITIONS;
}

async function waitUntil(check: () => boolean): Promise<number> {
  while (!check()) await new Promise((r) => setTimeout(r, 1));
  return performance.now();
}

interface ConsumerTimings { create: number; joinOwns: number; joinBalanced: number; leave: number }

/**
 * The same scenarios with the consumer protocol: 3 members start a group (until balanced); a 3rd member
 * joins a balanced group of 2: until it owns its first partition, and until all three are balanced (the
 * others first revoke what moves); 1 of 3 leaves: until the other two own everything.
 */
async function consumerProtocolLevel(port: number, iteration: number): Promise<ConsumerTimings> {
  const group = `bench-848-${iteration}`;
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => ConsumerMember.connect(port, group)));
  let t0 = performance.now();
  for (const m of [a!, b!, c!]) m.start();
  const create = (await waitUntil(() => balanced([a!, b!, c!]))) - t0;
  await c!.leave();
  await waitUntil(() => balanced([a!, b!]));
  await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS));
  const c2 = await ConsumerMember.connect(port, group);
  t0 = performance.now();
  c2.start();
  const joinOwns = (await waitUntil(() => c2.firstOwnedAt > 0)) - t0;
  const joinBalanced = (await waitUntil(() => balanced([a!, b!, c2]))) - t0;
  await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS));
  t0 = performance.now();
  await c2.leave();
  const leave = (await waitUntil(() => balanced([a!, b!]))) - t0;
  for (const m of [a!, b!, c!, c2]) await m.close();
  return { create, joinOwns, joinBalanced, leave };
}

async function kafkajsLevel(port: number, iteration: number, heartbeatInterval: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'rebalance-bench', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
  const groupId = `kjs-bench-${heartbeatInterval}-${iteration}`;
  const joins: { member: number; at: number }[] = [];
  const consumers = [0, 1, 2].map((i) => {
    const consumer = kafka.consumer({ groupId, heartbeatInterval, sessionTimeout: 30_000, maxWaitTimeInMs: 100 });
    consumer.on(consumer.events.GROUP_JOIN, () => joins.push({ member: i, at: performance.now() }));
    return consumer;
  });
  const start = async (i: number) => {
    await consumers[i]!.connect();
    await consumers[i]!.subscribe({ topic: TOPIC, fromBeginning: true });
  };
  await Promise.all([0, 1, 2].map(start));
  await consumers[0]!.run({ eachMessage: async () => {} });
  await consumers[1]!.run({ eachMessage: async () => {} });
  // Wait until the first two are stable together.
  while (new Set(joins.slice(-2).map((j) => j.member)).size < 2) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, heartbeatInterval + 200));
  joins.length = 0;
  const t0 = performance.now();
  await consumers[2]!.run({ eachMessage: async () => {} });
  // Every member joined again after the third started.
  while (new Set(joins.map((j) => j.member)).size < 3) await new Promise((r) => setTimeout(r, 5));
  const elapsed = Math.max(...[0, 1, 2].map((i) => joins.filter((j) => j.member === i).at(-1)!.at)) - t0;
  await Promise.all(consumers.map((c) => c.disconnect()));
  return elapsed;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const pick = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  return { median: pick(50), p95: pick(95), min: s[0]!, max: s[s.length - 1]! };
};
const fmt = (x: number) => `${x.toFixed(1)} ms`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'floe-rebalance-'));
  const broker = await startBroker(dir);
  try {
    const admin = await RawClient.connect(broker.port);
    const created = await admin.request(ApiKey.CreateTopics, 7, { topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1, configs: [] }], timeoutMs: 5000 });
    if (created.topics[0].errorCode !== 0) throw new Error(`CreateTopics: ${created.topics[0].errorMessage}`);
    admin.close();

    await protocolLevel(broker.port, -1); // warm-up
    const results = [];
    for (let i = 0; i < ITERATIONS; i++) results.push(await protocolLevel(broker.port, i));
    const create = stats(results.map((r) => r.create));
    const join = stats(results.map((r) => r.join));
    const leave = stats(results.map((r) => r.leave));
    const joinAfterNotice = stats(results.map((r) => r.joinAfterNotice));
    const leaveAfterNotice = stats(results.map((r) => r.leaveAfterNotice));

    await consumerProtocolLevel(broker.port, -1); // warm-up
    const kip848 = [];
    for (let i = 0; i < ITERATIONS; i++) kip848.push(await consumerProtocolLevel(broker.port, i));
    const consumer = {
      create: stats(kip848.map((r) => r.create)),
      joinOwns: stats(kip848.map((r) => r.joinOwns)),
      joinBalanced: stats(kip848.map((r) => r.joinBalanced)),
      leave: stats(kip848.map((r) => r.leave)),
    };

    const kjs: Record<string, ReturnType<typeof stats>> = {};
    for (const hb of [3000, 100]) {
      const xs = [];
      for (let i = 0; i < KAFKAJS_ITERATIONS; i++) xs.push(await kafkajsLevel(broker.port, i, hb));
      kjs[`kafkajs_heartbeat_${hb}ms`] = stats(xs);
    }

    console.log(`Rebalance, 3 members, ${PARTITIONS} partitions, ${ITERATIONS} iterations (raw members heartbeat every ${HEARTBEAT_MS} ms)`);
    console.log('scenario                                   median      p95        min        max');
    const row = (name: string, s: ReturnType<typeof stats>) => console.log(`${name.padEnd(42)} ${fmt(s.median).padEnd(11)} ${fmt(s.p95).padEnd(10)} ${fmt(s.min).padEnd(10)} ${fmt(s.max)}`);
    row('raw: 3 members start a new group', create);
    row('raw: 3rd member joins a Stable group of 2', join);
    row('raw: 1 of 3 members leaves', leave);
    row('  join, after the last member was told', joinAfterNotice);
    row('  leave, after the last member was told', leaveAfterNotice);
    row('848: 3 members start a new group', consumer.create);
    row('848: 3rd member joins: owns a partition', consumer.joinOwns);
    row('848: 3rd member joins: all balanced', consumer.joinBalanced);
    row('848: 1 of 3 members leaves', consumer.leave);
    for (const [name, s] of Object.entries(kjs)) row(`${name.replace(/_/g, ' ')}: 3rd consumer joins`, s);
    console.log(JSON.stringify({ partitions: PARTITIONS, members: 3, heartbeatMs: HEARTBEAT_MS, iterations: ITERATIONS, raw: { create, join, leave, joinAfterNotice, leaveAfterNotice }, consumerProtocol: consumer, ...kjs }));
  } finally {
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
