/**
 * What a Kafka API handler is: one descriptor per API (handlers/NN-name.ts), listed in handlers/index.ts,
 * and the narrow context it runs with. ApiVersions and the dispatch table are built from that list.
 *
 * A handler sees the services it uses (Redpanda's `ctx.groups()`), never the Broker that wires them: the
 * topic registry, the partition seam, the groups, the cluster view and routing, topic and config admin,
 * producer ids, transactions and the broker's configuration.
 */
import type { ClusterView } from '../cluster/cluster-view.ts';
import type { BrokerConfig, LoadedBrokerConfig } from '../config/broker-config.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import type { SecurityStore } from '../coordinator/security-store.ts';
import type { GroupCoordinator } from '../groups/group-coordinator.ts';
import type { ShareGroups } from '../groups/share-groups.ts';
import type { Connection } from '../network/connection.ts';
import type { Init } from '../protocol/gen/init.ts';
import type { SaslAuthenticator } from '../security/sasl-authenticator.ts';
import type { Authorizer } from '../security/authorizer.ts';
import type { AclService } from '../security/acl-service.ts';
import type { ClientQuotas } from '../security/quotas.ts';
import type { Partitions } from './partitions.ts';
import type { TopicAdmin } from './topic-admin.ts';
import type { TransactionCoordinator } from './transaction-coordinator.ts';
import type { TopicRegistry } from './topics.ts';
import type { DynamicBrokerConfigs } from './dynamic-configs.ts';
import type { FetchSessionCache } from './fetch/fetch-session-cache.ts';

/** The services handlers use; one instance per broker. */
export interface BrokerServices {
  /** Topic metadata: lookups by name or id, and `ensure` for topics another broker created a moment ago. */
  readonly topics: TopicRegistry;
  /** The partition seam: serve a partition, read partitions (Fetch). */
  readonly partitions: Partitions;
  /** Fetch sessions (KIP-227) created on this broker. */
  readonly fetchSessions: FetchSessionCache;
  /** Consumer groups this broker coordinates, and their committed offsets. */
  readonly groups: GroupCoordinator;
  /** Share groups (KIP-932): membership, share sessions and share-partition state, in the coordinator. */
  readonly shareGroups: ShareGroups;
  /** This broker, the live brokers and the routing rules over them. */
  readonly cluster: ClusterView;
  /** Creating, deleting, growing and reconfiguring topics. */
  readonly admin: TopicAdmin;
  /** Producer ids of idempotent producers. */
  readonly producerIds: Pick<Coordinator, 'initProducerId'>;
  /** Transactional ids, their transactions and markers. */
  readonly transactions: TransactionCoordinator;
  readonly config: BrokerConfig;
  /** The configuration with the source of every key (DescribeConfigs), when it was loaded from sources. */
  readonly loadedConfig: LoadedBrokerConfig | undefined;
  /** The Kafka APIs this broker serves (ApiVersions reports them). */
  readonly handlers: readonly AnyHandler[];
  /** SASL mechanisms per listener and the exchanges of SaslHandshake/SaslAuthenticate. */
  readonly sasl: SaslAuthenticator;
  /** SCRAM credentials in the coordinator (DescribeUserScramCredentials, AlterUserScramCredentials). */
  readonly credentials: Pick<SecurityStore, 'describeScramCredentials' | 'alterScramCredentials'>;
  /** ACL checks (authorization.ts applies them around every handler). */
  readonly authorizer: Authorizer;
  /** ACLs in the coordinator (CreateAcls, DeleteAcls). */
  readonly acls: AclService;
  /** Client quotas (values from the coordinator, rates metered on this broker). */
  readonly quotas: ClientQuotas;
  /** Dynamic broker configs (DescribeConfigs, AlterConfigs and IncrementalAlterConfigs on BROKER resources). */
  readonly brokerConfigs: DynamicBrokerConfigs;
}

export interface RequestContext extends BrokerServices {
  conn: Connection;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

export interface Handler<Req, Res> {
  key: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  /** Returns the response, or null when none is due (acks=0 produce). Never throws for client errors. */
  handle(ctx: RequestContext, req: Req): Promise<Init<Res> | null>;
  /** A whole-request error response, for failures the handler did not catch. */
  errorResponse(req: Req, errorCode: number, ctx: RequestContext): Init<Res>;
}

export function defineHandler<Req, Res>(handler: Handler<Req, Res>): Handler<Req, Res> {
  return handler;
}

// Handlers are stored with their types erased: dispatch pairs each with its own generated codec.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHandler = Handler<any, any>;
