/**
 * Who serves what in a leaderless cluster, as pure functions of the live brokers (Membership keeps them)
 * and of this broker's id, so every rule is in one place and every broker computes the same answers:
 *
 * - a diskless partition: any live broker serves it; clients are told one of their own zone, ranked by
 *   rendezvous hashing of the partition (placement.ts), so one partition's clients meet one broker cache;
 * - a classic partition: only the broker that holds its log (recorded when its topic was created);
 * - leader epochs: a diskless partition's is the membership epoch (it grows whenever the live set changes),
 *   and any epoch is served; a classic partition's is always 0;
 * - consumer groups: the live broker the group id hashes to;
 * - the controller Kafka clients ask for: the live broker with the lowest id.
 */
import type { RegisteredBroker } from '../coordinator/coordinator.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { STORED_LEADER_EPOCH } from '../storage/partition-log.ts';
import { clientAz, hashString, partitionHash, pickBroker, rankBrokers, zoneCandidates } from './placement.ts';

export { clientAz };

/** What routing needs to know of a topic (the broker's topic registry entries satisfy it). */
export interface RoutedTopic {
  readonly topicId: string;
  readonly diskless: boolean;
  readonly partitionCount: number;
  /** The broker holding a classic topic's logs; null for diskless topics (and classic ones of old). */
  readonly leaderBrokerId?: number | null;
}


/** The broker leading a classic topic's partitions (recorded at creation; `self` when unknown). */
export function classicLeader(topic: RoutedTopic, self: number): number {
  return topic.leaderBrokerId ?? self;
}

/**
 * May broker `self` serve this partition to a request carrying `currentLeaderEpoch` (-1: none)? NONE, or
 * the Kafka error: UNKNOWN_TOPIC_OR_PARTITION for a partition the topic lacks; for a classic partition
 * UNKNOWN_LEADER_EPOCH for an epoch newer than its (0), then NOT_LEADER_OR_FOLLOWER when another broker
 * leads it. Every broker serves every diskless partition, whatever the epoch.
 */
export function partitionServeError(topic: RoutedTopic, partition: number, currentLeaderEpoch: number, self: number): number {
  if (partition < 0 || partition >= topic.partitionCount) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  if (topic.diskless) return ErrorCode.NONE;
  if (currentLeaderEpoch > STORED_LEADER_EPOCH) return ErrorCode.UNKNOWN_LEADER_EPOCH;
  if (classicLeader(topic, self) !== self) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
  return ErrorCode.NONE;
}

/** True when a request saw a newer membership epoch than ours for a diskless partition: our live set is behind. */
export function membershipIsBehind(topic: RoutedTopic, currentLeaderEpoch: number, membershipEpoch: number): boolean {
  return topic.diskless && currentLeaderEpoch > membershipEpoch;
}

/** The brokers clients of `az` are told serve a diskless partition, best first (leader, then replicas). */
export function disklessReplicas(live: readonly RegisteredBroker[], az: string | null, topicId: string, partition: number): RegisteredBroker[] {
  return rankBrokers(zoneCandidates(live, az), partitionHash(hashString(topicId), partition));
}

/**
 * KIP-392: for a client of zone `az` that this broker (`self`) is not in, the zone's broker for a diskless
 * partition; null when this broker is one of the zone's (or the zone has no live broker), and for classic
 * partitions, which only their leader serves.
 */
export function preferredReadReplica(live: readonly RegisteredBroker[], self: number, az: string, topic: RoutedTopic, partition: number): number | null {
  if (!topic.diskless) return null;
  const topicId = topic.topicId;
  const candidates = zoneCandidates(live, az);
  if (candidates.some((b) => b.nodeId === self)) return null;
  return pickBroker(candidates, partitionHash(hashString(topicId), partition))?.nodeId ?? null;
}

/** The live broker that coordinates a consumer group (`self` while no broker is live yet). */
export function groupCoordinator<B extends RegisteredBroker>(live: readonly B[], groupId: string, self: B): B {
  return pickBroker(live, hashString(groupId)) ?? self;
}

/** The broker transactional producers of `transactionalId` are sent to (placed as groups are). */
export function transactionCoordinator<B extends RegisteredBroker>(live: readonly B[], transactionalId: string, self: B): B {
  return pickBroker(live, hashString(`transaction:${transactionalId}`)) ?? self;
}

/** Kafka clients want a controller id: the live broker with the lowest id. */
export function controllerId(live: readonly RegisteredBroker[], self: number): number {
  return live[0]?.nodeId ?? self;
}
