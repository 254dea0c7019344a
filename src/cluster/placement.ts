/**
 * Where things live in a leaderless cluster: which live broker a client should use for a diskless
 * partition (in the client's availability zone), and which broker coordinates a consumer group.
 *
 * Both use rendezvous (highest-random-weight) hashing over the live brokers: every broker computes the
 * same answer from the same live set, and when a broker joins or leaves only the keys it wins or held
 * move, so the other partitions keep meeting the same broker cache.
 */
import type { RegisteredBroker } from '../coordinator/coordinator.ts';

/** The client's zone from Inkless's convention: `diskless_az=<az>` anywhere in client.id. */
export function clientAz(clientId: string | null): string | null {
  if (clientId === null) return null;
  const m = /diskless_az=([^,;&\s]+)/.exec(clientId);
  return m ? m[1]! : null;
}

/** The brokers of `az`; every live broker when no zone is known or none of the zone is live. */
export function zoneCandidates(live: readonly RegisteredBroker[], az: string | null): readonly RegisteredBroker[] {
  if (az === null) return live;
  const inZone = live.filter((b) => b.rack === az);
  return inZone.length > 0 ? inZone : live;
}

/** 32-bit FNV-1a of a string. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finaliser: spreads every input bit over the result. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function score(keyHash: number, nodeId: number): number {
  return mix(keyHash ^ mix(nodeId + 0x9e3779b9));
}

/** The candidate that wins `keyHash` (ties, which need equal scores, go to the lower node id). */
export function pickBroker<B extends RegisteredBroker>(candidates: readonly B[], keyHash: number): B | undefined {
  let best: B | undefined;
  let bestScore = -1;
  for (const b of candidates) {
    const s = score(keyHash, b.nodeId);
    if (s > bestScore || (s === bestScore && best !== undefined && b.nodeId < best.nodeId)) {
      best = b;
      bestScore = s;
    }
  }
  return best;
}

/** The candidates ordered by their score for `keyHash`: the first is the one `pickBroker` returns. */
export function rankBrokers<B extends RegisteredBroker>(candidates: readonly B[], keyHash: number): B[] {
  return candidates
    .map((b) => ({ b, s: score(keyHash, b.nodeId) }))
    .sort((x, y) => y.s - x.s || x.b.nodeId - y.b.nodeId)
    .map((x) => x.b);
}

/** Key of a diskless partition: the topic's hash (computed once per topic) mixed with the partition. */
export function partitionHash(topicHash: number, partition: number): number {
  return mix(topicHash ^ mix(partition + 1));
}
