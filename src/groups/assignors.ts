/**
 * The server-side assignors of KIP-848 consumer groups (`group.consumer.assignors`; a member picks one with
 * `group.remote.assignor`, else the first listed is used):
 *
 * - `uniform` (Kafka's UniformAssignor, the default): every partition of the subscribed topics to one member
 *   subscribed to its topic, as evenly as the subscriptions allow (counts differ by at most one between
 *   members that could swap), and sticky: a partition stays with its previous target owner unless that
 *   breaks the balance.
 * - `range` (Kafka's RangeAssignor): per topic, the subscribed members in member-id order each get a
 *   contiguous range, the first `partitions % members` one more; co-partitioned topics line up.
 *   Floe difference: not sticky (Kafka's keeps a member's previous range where the count allows).
 *
 * Pure functions over plain data: members with the topic ids they subscribe to, topics with their partition
 * counts, and the previous target assignment.
 */
import type { Assignment } from './consumer-group.ts';

export interface AssignorMember {
  memberId: string;
  /** Topic ids the member subscribes to (names and regex resolved). */
  topics: ReadonlySet<string>;
}

export interface AssignorInput {
  members: readonly AssignorMember[];
  /** topic id → partition count, for every subscribed topic that exists. */
  partitionCounts: ReadonlyMap<string, number>;
  /** member id → its previous target. */
  previous: ReadonlyMap<string, Assignment>;
}

export type Assignor = (input: AssignorInput) => Map<string, Assignment>;

export const ASSIGNORS: Readonly<Record<string, Assignor>> = { uniform: uniformAssign, range: rangeAssign };

/** Kafka accepts the assignors' class names in group.consumer.assignors too; their short names here. */
export function assignorName(configured: string): string | null {
  const name = configured.trim();
  if (name === 'uniform' || name === 'org.apache.kafka.coordinator.group.assignor.UniformAssignor') return 'uniform';
  if (name === 'range' || name === 'org.apache.kafka.coordinator.group.assignor.RangeAssignor') return 'range';
  return null;
}

function add(a: Assignment, t: string, p: number): void {
  let s = a.get(t);
  if (!s) a.set(t, (s = new Set()));
  s.add(p);
}

function emptyResult(members: readonly AssignorMember[]): Map<string, Assignment> {
  return new Map(members.map((m) => [m.memberId, new Map()]));
}

export function uniformAssign({ members, partitionCounts, previous }: AssignorInput): Map<string, Assignment> {
  const result = emptyResult(members);
  if (members.length === 0) return result;
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  const load = new Map(sorted.map((m) => [m.memberId, 0]));
  const owner = new Map<string, string>(); // "topic:partition" → member id
  const key = (t: string, p: number) => `${t}:${p}`;
  const subscribers = new Map<string, AssignorMember[]>();
  for (const t of partitionCounts.keys()) subscribers.set(t, sorted.filter((m) => m.topics.has(t)));

  // Stickiness: keep the previous target where the member still subscribes and the partition exists.
  for (const m of sorted) {
    for (const [t, ps] of previous.get(m.memberId) ?? []) {
      const n = partitionCounts.get(t);
      if (n === undefined || !m.topics.has(t)) continue;
      for (const p of ps) {
        if (p >= n || owner.has(key(t, p))) continue;
        owner.set(key(t, p), m.memberId);
        load.set(m.memberId, load.get(m.memberId)! + 1);
      }
    }
  }
  const leastLoaded = (cands: readonly AssignorMember[]): AssignorMember => {
    let best = cands[0]!;
    for (const c of cands) if (load.get(c.memberId)! < load.get(best.memberId)!) best = c;
    return best;
  };
  // The rest to the least loaded subscriber.
  const topicIds = [...partitionCounts.keys()].sort();
  for (const t of topicIds) {
    const cands = subscribers.get(t)!;
    if (cands.length === 0) continue;
    for (let p = 0; p < partitionCounts.get(t)!; p++) {
      if (owner.has(key(t, p))) continue;
      const m = leastLoaded(cands);
      owner.set(key(t, p), m.memberId);
      load.set(m.memberId, load.get(m.memberId)! + 1);
    }
  }
  // Balance: move a partition from a member holding two more than another subscriber of its topic.
  for (let moved = true, rounds = 0; moved && rounds < 10_000; rounds++) {
    moved = false;
    for (const t of topicIds) {
      const cands = subscribers.get(t)!;
      if (cands.length < 2) continue;
      for (let p = partitionCounts.get(t)! - 1; p >= 0; p--) {
        const from = owner.get(key(t, p))!;
        const to = leastLoaded(cands);
        if (load.get(from)! > load.get(to.memberId)! + 1) {
          owner.set(key(t, p), to.memberId);
          load.set(from, load.get(from)! - 1);
          load.set(to.memberId, load.get(to.memberId)! + 1);
          moved = true;
        }
      }
    }
  }
  for (const [k, memberId] of owner) {
    const i = k.lastIndexOf(':');
    add(result.get(memberId)!, k.slice(0, i), Number(k.slice(i + 1)));
  }
  return result;
}

export function rangeAssign({ members, partitionCounts }: AssignorInput): Map<string, Assignment> {
  const result = emptyResult(members);
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  for (const [t, n] of partitionCounts) {
    const subs = sorted.filter((m) => m.topics.has(t));
    if (subs.length === 0) continue;
    const per = Math.floor(n / subs.length);
    const extra = n % subs.length;
    let p = 0;
    subs.forEach((m, i) => {
      const take = per + (i < extra ? 1 : 0);
      for (let k = 0; k < take; k++) add(result.get(m.memberId)!, t, p++);
    });
  }
  return result;
}
