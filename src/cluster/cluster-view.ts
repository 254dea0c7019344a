/**
 * The cluster as handlers see it: this broker, the live brokers and the routing answers (routing.ts)
 * computed over them. A thin view over Membership, so handlers never hold the membership machinery.
 */
import type { RegisteredBroker } from '../coordinator/coordinator.ts';
import type { Membership } from './membership.ts';
import * as routing from './routing.ts';

export class ClusterView {
  private readonly byListener = new Map<string, ClusterView>();
  private mappedFrom: readonly RegisteredBroker[] | null = null;
  private mapped: readonly RegisteredBroker[] = [];
  private mappedSelf: RegisteredBroker | null = null;

  /**
   * `listener`: the listener whose endpoints this view names (each broker's host and port as advertised on
   * it); null names each broker's first advertised listener.
   */
  constructor(private readonly membership: Membership, readonly clusterId: string, readonly listener: string | null = null) {}

  /** The view a client connected through `listener` gets: every broker named by its endpoint on that listener. */
  forListener(listener: string): ClusterView {
    let view = this.byListener.get(listener);
    if (!view) {
      view = new ClusterView(this.membership, this.clusterId, listener);
      this.byListener.set(listener, view);
    }
    return view;
  }

  /** This broker as clients reach it. */
  get self(): RegisteredBroker {
    if (this.listener === null) return this.membership.self;
    this.live();
    return (this.mappedSelf ??= onListener(this.membership.self, this.listener));
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
    const brokers = this.membership.live();
    if (this.listener === null) return brokers;
    // Mapped once per membership view (Metadata asks for every partition).
    if (brokers !== this.mappedFrom) {
      const listener = this.listener;
      this.mapped = brokers.map((b) => onListener(b, listener));
      this.mappedFrom = brokers;
      this.mappedSelf = null;
    }
    return this.mapped;
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

/** A broker named by its endpoint on `listener`; a broker that registered no endpoints keeps its host and port. */
function onListener(b: RegisteredBroker, listener: string): RegisteredBroker {
  const e = b.endpoints?.[listener];
  return e ? { nodeId: b.nodeId, host: e.host, port: e.port, rack: b.rack, endpoints: b.endpoints } : b;
}
