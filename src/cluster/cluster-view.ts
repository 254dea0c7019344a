/**
 * The cluster as handlers see it: this broker, the live brokers and the routing answers (routing.ts)
 * computed over them. A thin view over Membership, so handlers never hold the membership machinery.
 */
import type { RegisteredBroker } from '../coordinator/coordinator.ts';
import type { Membership } from './membership.ts';
import * as routing from './routing.ts';

export class ClusterView {
  constructor(private readonly membership: Membership, readonly clusterId: string) {}

  /** This broker as clients reach it. */
  get self(): RegisteredBroker {
    return this.membership.self;
  }

  get nodeId(): number {
    return this.membership.self.nodeId;
  }

  /** The membership epoch: the leader epoch of every diskless partition. */
  get epoch(): number {
    return this.membership.epoch;
  }

  /** Live brokers by node id (Metadata, DescribeCluster). */
  live(): readonly RegisteredBroker[] {
    return this.membership.live();
  }

  isLive(nodeId: number): boolean {
    return this.membership.isLive(nodeId);
  }

  /** Reads the live brokers again now (a request showed that our view is behind). */
  refresh(): void {
    void this.membership.refresh();
  }

  classicLeader(topic: routing.RoutedTopic): number {
    return routing.classicLeader(topic, this.nodeId);
  }

  /** See routing.partitionServeError; a newer diskless epoch than ours also refreshes the live brokers. */
  partitionServeError(topic: routing.RoutedTopic, partition: number, currentLeaderEpoch: number): number {
    if (routing.membershipIsBehind(topic, currentLeaderEpoch, this.epoch)) this.refresh();
    return routing.partitionServeError(topic, partition, currentLeaderEpoch, this.nodeId);
  }

  disklessReplicas(az: string | null, topicId: string, partition: number): RegisteredBroker[] {
    return routing.disklessReplicas(this.live(), az, topicId, partition);
  }

  preferredReadReplica(az: string, topic: routing.RoutedTopic, partition: number): number | null {
    return routing.preferredReadReplica(this.live(), this.nodeId, az, topic, partition);
  }

  transactionCoordinator(transactionalId: string): RegisteredBroker {
    return routing.transactionCoordinator(this.live(), transactionalId, this.self);
  }

  groupCoordinator(groupId: string): RegisteredBroker {
    return routing.groupCoordinator(this.live(), groupId, this.self);
  }

  controllerId(): number {
    return routing.controllerId(this.live(), this.nodeId);
  }
}
