/**
 * Authorization of every Kafka API in one place: a table, by API key, of the operation Kafka's
 * authorizer checks for each request (KafkaApis), applied by dispatch around the handler, so handlers stay
 * free of ACL code. Three kinds of rule:
 * - whole request (group APIs, cluster APIs): a denied request gets the handler's own `errorResponse` with
 *   Kafka's code (GROUP_, CLUSTER_, TRANSACTIONAL_ID_AUTHORIZATION_FAILED), which the handler meta-test
 *   checks reaches the client at every version;
 * - per entity (topics, groups, config resources, coordinator keys): denied entities are taken out of the
 *   request before the handler runs (it never acts on them) and answered with the authorization error,
 *   added to the handler's response;
 * - response filters: Metadata for all topics and ListGroups leave out what the principal may not
 *   DESCRIBE; OffsetFetch marks unauthorized topics; authorized-operations fields are filled when asked.
 * An API without a rule needs no authorization (ApiVersions, SaslHandshake, SaslAuthenticate,
 * DescribeCluster), as in Kafka; test/security/acls.test.ts checks the table covers every handler.
 */
import type { Init } from '../protocol/gen/init.ts';
import { ApiKey } from '../protocol/gen/api-keys.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';
import { AclOperation as Op, CLUSTER_NAME, ResourceType as R } from '../security/authorizer.ts';
import type { AnyHandler, RequestContext } from './handler.ts';

/** What dispatch does with a request: answer it at once, or run the handler (on a possibly smaller request) and finish its response. */
export type Authorized =
  | { response: Init<unknown> }
  | { request: unknown; finish?: (response: any) => any };

/* eslint-disable @typescript-eslint/no-explicit-any -- the rules read the generated request shapes by field name. */
type Rule = (ctx: RequestContext, req: any, handler: AnyHandler) => Authorized;

const NOT_REQUESTED = -2147483648;

const who = (ctx: RequestContext) => ({ principal: ctx.conn.principal, host: ctx.conn.remoteHost });
const allowed = (ctx: RequestContext, type: number, name: string, op: number) => ctx.authorizer.authorize(who(ctx), type, name, op);
const cluster = (ctx: RequestContext, op: number) => allowed(ctx, R.CLUSTER, CLUSTER_NAME, op);

/** A whole-request check: denied → the handler's errorResponse with `code`. */
function whole(check: (ctx: RequestContext, req: any) => number | null): Rule {
  return (ctx, req, handler) => {
    const code = check(ctx, req);
    return code === null ? { request: req } : { response: handler.errorResponse(req, code, ctx) };
  };
}

/** ShareFetch, ShareAcknowledge: READ on the group, then on every topic (by id) the request names. */
function shareReadCheck(ctx: RequestContext, req: any): number | null {
  if (!req.groupId || !allowed(ctx, R.GROUP, req.groupId, Op.READ)) return ErrorCode.GROUP_AUTHORIZATION_FAILED;
  for (const t of req.topics as { topicId: string }[]) {
    const name = topicName(ctx, null, t.topicId);
    if (name !== null && !allowed(ctx, R.TOPIC, name, Op.READ)) return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  }
  return null;
}

const clusterOp = (op: number): Rule => whole((ctx) => (cluster(ctx, op) ? null : ErrorCode.CLUSTER_AUTHORIZATION_FAILED));
const groupOp = (op: number): Rule => whole((ctx, req) => (allowed(ctx, R.GROUP, req.groupId, op) ? null : ErrorCode.GROUP_AUTHORIZATION_FAILED));

/**
 * Splits `list` into the entities allowed and those denied; a name the broker cannot resolve (an unknown topic
 * id) stays in the request, so the handler answers it as unknown.
 */
function split<T>(list: readonly T[], allow: (item: T) => boolean): { kept: T[]; denied: T[] } {
  const kept: T[] = [];
  const denied: T[] = [];
  for (const item of list) (allow(item) ? kept : denied).push(item);
  return { kept, denied };
}

/** The topic name of a request entry (by name, or by id through the registry). null: unknown id. */
function topicName(ctx: RequestContext, name: string | null | undefined, topicId?: string): string | null {
  if (name) return name;
  if (topicId) return ctx.topics.getById(topicId)?.name ?? null;
  return null;
}

/**
 * A per-topic rule for the APIs shaped topics → partitions: `field` of the request, the response's list
 * `resField`, and how a denied topic is answered.
 */
function perTopic(op: number, o: {
  field: string;
  resField: string;
  name: (t: any) => string | null | undefined;
  id?: (t: any) => string | undefined;
  denied: (t: any, code: number) => any;
  /** Runs before the per-topic check (e.g. the group of OffsetCommit); a code denies the whole request. */
  first?: (ctx: RequestContext, req: any) => number | null;
  allow?: (ctx: RequestContext, name: string) => boolean;
}): Rule {
  return (ctx, req, handler) => {
    const firstCode = o.first?.(ctx, req) ?? null;
    if (firstCode !== null) return { response: handler.errorResponse(req, firstCode, ctx) };
    const list = req[o.field] as any[] | null;
    if (!list) return { request: req };
    const { kept, denied } = split(list, (t) => {
      const name = topicName(ctx, o.name(t), o.id?.(t));
      return name === null || (o.allow ? o.allow(ctx, name) : allowed(ctx, R.TOPIC, name, op));
    });
    if (denied.length === 0) return { request: req };
    return {
      request: { ...req, [o.field]: kept },
      finish: (res) => {
        if (res === null) return null;
        res[o.resField] = [...(res[o.resField] ?? []), ...denied.map((t) => o.denied(t, ErrorCode.TOPIC_AUTHORIZATION_FAILED))];
        return res;
      },
    };
  };
}

const partitionsOf = (list: any[] | undefined, index: string, code: number, extra: Record<string, unknown> = {}) =>
  (list ?? []).map((p: any) => ({ [index]: typeof p === 'number' ? p : p[index], errorCode: code, ...extra }));

const metadataRule: Rule = (ctx, req) => {
  const decorate = (res: any) => {
    if (res === null) return res;
    if (req.includeTopicAuthorizedOperations) {
      for (const t of res.topics ?? []) if (t.errorCode === ErrorCode.NONE && t.name) t.topicAuthorizedOperations = ctx.authorizer.authorizedOperations(who(ctx), R.TOPIC, t.name);
    }
    if (req.includeClusterAuthorizedOperations) res.clusterAuthorizedOperations = ctx.authorizer.authorizedOperations(who(ctx), R.CLUSTER, CLUSTER_NAME);
    return res;
  };
  if (!ctx.authorizer.enabled) return { request: req, finish: decorate };
  const all = req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0);
  if (all) {
    return {
      request: req,
      finish: (res) => {
        res.topics = (res.topics ?? []).filter((t: any) => !t.name || allowed(ctx, R.TOPIC, t.name, Op.DESCRIBE));
        return decorate(res);
      },
    };
  }
  const autoCreate = req.allowAutoTopicCreation && ctx.config.autoCreateTopicsEnable;
  const { kept, denied } = split(req.topics as any[], (t) => {
    const name = topicName(ctx, t.name, t.topicId);
    if (name === null) return true;
    if (!allowed(ctx, R.TOPIC, name, Op.DESCRIBE)) return false;
    // A topic that would be created needs CREATE (on the cluster or the topic).
    return !autoCreate || ctx.topics.get(name) !== undefined || cluster(ctx, Op.CREATE) || allowed(ctx, R.TOPIC, name, Op.CREATE);
  });
  return {
    request: { ...req, topics: kept },
    finish: (res) => {
      for (const t of denied) {
        res.topics.push({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, name: t.name, topicId: t.topicId, isInternal: false, partitions: [], topicAuthorizedOperations: NOT_REQUESTED });
      }
      return decorate(res);
    },
  };
};

/** Config resources (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs): topic, broker (cluster), group. */
function configResources(op: number, resField: string): Rule {
  return (ctx, req) => {
    const resource = (r: any): { type: number; name: string; code: number } => {
      if (r.resourceType === 2) return { type: R.TOPIC, name: r.resourceName, code: ErrorCode.TOPIC_AUTHORIZATION_FAILED };
      if (r.resourceType === 32) return { type: R.GROUP, name: r.resourceName, code: ErrorCode.GROUP_AUTHORIZATION_FAILED };
      return { type: R.CLUSTER, name: CLUSTER_NAME, code: ErrorCode.CLUSTER_AUTHORIZATION_FAILED };
    };
    const { kept, denied } = split(req.resources as any[], (r) => {
      const x = resource(r);
      return allowed(ctx, x.type, x.name, op);
    });
    if (denied.length === 0) return { request: req };
    return {
      request: { ...req, resources: kept },
      finish: (res) => {
        res[resField] = [...(res[resField] ?? []), ...denied.map((r) => ({ errorCode: resource(r).code, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] }))];
        return res;
      },
    };
  };
}

const RULES: Partial<Record<number, Rule>> = {
  [ApiKey.Produce]: perTopic(Op.WRITE, {
    field: 'topicData', resField: 'responses', name: (t) => t.name, id: (t) => t.topicId,
    first: (ctx, req) => (req.transactionalId !== null && req.transactionalId !== undefined && !allowed(ctx, R.TRANSACTIONAL_ID, req.transactionalId, Op.WRITE) ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : null),
    denied: (t, code) => ({ name: t.name, topicId: t.topicId, partitionResponses: partitionsOf(t.partitionData, 'index', code, { baseOffset: -1n, logStartOffset: -1n }) }),
  }),
  [ApiKey.Fetch]: perTopic(Op.READ, {
    field: 'topics', resField: 'responses', name: (t) => t.topic, id: (t) => t.topicId,
    denied: (t, code) => ({ topic: t.topic, topicId: t.topicId, partitions: (t.partitions ?? []).map((p: any) => ({ partitionIndex: p.partition, errorCode: code, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n })) }),
  }),
  [ApiKey.ListOffsets]: perTopic(Op.DESCRIBE, {
    field: 'topics', resField: 'topics', name: (t) => t.name,
    denied: (t, code) => ({ name: t.name, partitions: partitionsOf(t.partitions, 'partitionIndex', code, { offset: -1n, timestamp: -1n }) }),
  }),
  [ApiKey.Metadata]: metadataRule,
  [ApiKey.OffsetCommit]: perTopic(Op.READ, {
    field: 'topics', resField: 'topics', name: (t) => t.name, id: (t) => t.topicId,
    first: (ctx, req) => (allowed(ctx, R.GROUP, req.groupId, Op.READ) ? null : ErrorCode.GROUP_AUTHORIZATION_FAILED),
    denied: (t, code) => ({ name: t.name, topicId: t.topicId, partitions: partitionsOf(t.partitions, 'partitionIndex', code) }),
  }),
  [ApiKey.OffsetFetch]: (ctx, req, handler) => {
    const groups: string[] = ctx.apiVersion >= 8 ? req.groups.map((g: any) => g.groupId) : [req.groupId];
    const deniedGroups = new Set(groups.filter((g) => !allowed(ctx, R.GROUP, g, Op.DESCRIBE)));
    if (ctx.apiVersion < 8 && deniedGroups.size > 0) return { response: handler.errorResponse(req, ErrorCode.GROUP_AUTHORIZATION_FAILED, ctx) };
    const request = ctx.apiVersion >= 8 ? { ...req, groups: req.groups.filter((g: any) => !deniedGroups.has(g.groupId)) } : req;
    const markTopics = (topics: any[], requested: any[] | null) => {
      const out: any[] = [];
      for (const t of topics) {
        const name = topicName(ctx, t.name, t.topicId);
        if (name === null || allowed(ctx, R.TOPIC, name, Op.DESCRIBE)) out.push(t);
        else if (requested !== null) out.push({ ...t, partitions: t.partitions.map((p: any) => ({ ...p, committedOffset: -1n, committedMetadata: null, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })) });
      }
      return out;
    };
    return {
      request,
      finish: (res) => {
        if (ctx.apiVersion >= 8) {
          for (const g of res.groups ?? []) g.topics = markTopics(g.topics ?? [], req.groups.find((x: any) => x.groupId === g.groupId)?.topics ?? null);
          for (const g of deniedGroups) res.groups.push({ groupId: g, topics: [], errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED });
        } else {
          res.topics = markTopics(res.topics ?? [], req.topics);
        }
        return res;
      },
    };
  },
  [ApiKey.FindCoordinator]: (ctx, req, handler) => {
    const check = (key: string) => (req.keyType === 1 ? allowed(ctx, R.TRANSACTIONAL_ID, key, Op.DESCRIBE) : allowed(ctx, R.GROUP, key, Op.DESCRIBE));
    const code = req.keyType === 1 ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : ErrorCode.GROUP_AUTHORIZATION_FAILED;
    if (ctx.apiVersion < 4) return check(req.key) ? { request: req } : { response: handler.errorResponse(req, code, ctx) };
    const { kept, denied } = split(req.coordinatorKeys as string[], check);
    if (denied.length === 0) return { request: req };
    return {
      request: { ...req, coordinatorKeys: kept },
      finish: (res) => {
        res.coordinators = [...(res.coordinators ?? []), ...denied.map((key) => ({ key, nodeId: -1, host: '', port: -1, errorCode: code, errorMessage: null }))];
        return res;
      },
    };
  },
  [ApiKey.JoinGroup]: groupOp(Op.READ),
  [ApiKey.Heartbeat]: groupOp(Op.READ),
  [ApiKey.LeaveGroup]: groupOp(Op.READ),
  [ApiKey.SyncGroup]: groupOp(Op.READ),
  [ApiKey.DescribeGroups]: (ctx, req) => {
    const { kept, denied } = split(req.groups as string[], (g) => allowed(ctx, R.GROUP, g, Op.DESCRIBE));
    return {
      request: { ...req, groups: kept },
      finish: (res) => {
        for (const g of denied) res.groups.push({ errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, groupId: g, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: NOT_REQUESTED });
        if (req.includeAuthorizedOperations) {
          for (const g of res.groups) if (g.errorCode === ErrorCode.NONE) g.authorizedOperations = ctx.authorizer.authorizedOperations(who(ctx), R.GROUP, g.groupId);
        }
        return res;
      },
    };
  },
  // KIP-848: READ on the group (Kafka also checks DESCRIBE on subscribed topics: not yet here).
  [ApiKey.ConsumerGroupHeartbeat]: groupOp(Op.READ),
  [ApiKey.ConsumerGroupDescribe]: (ctx, req) => {
    const { kept, denied } = split(req.groupIds as string[], (g) => allowed(ctx, R.GROUP, g, Op.DESCRIBE));
    return {
      request: { ...req, groupIds: kept },
      finish: (res) => {
        for (const g of denied) {
          res.groups.push({ errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null, groupId: g, groupState: '', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [], authorizedOperations: NOT_REQUESTED });
        }
        if (req.includeAuthorizedOperations) {
          for (const g of res.groups) if (g.errorCode === ErrorCode.NONE) g.authorizedOperations = ctx.authorizer.authorizedOperations(who(ctx), R.GROUP, g.groupId);
        }
        return res;
      },
    };
  },
  // KIP-932 share groups: READ on the group; ShareFetch and ShareAcknowledge also READ on every topic named.
  [ApiKey.ShareGroupHeartbeat]: groupOp(Op.READ),
  [ApiKey.ShareGroupDescribe]: whole((ctx, req) => ((req.groupIds as string[]).every((g) => allowed(ctx, R.GROUP, g, Op.DESCRIBE)) ? null : ErrorCode.GROUP_AUTHORIZATION_FAILED)),
  [ApiKey.ShareFetch]: whole((ctx, req) => shareReadCheck(ctx, req)),
  [ApiKey.ShareAcknowledge]: whole((ctx, req) => shareReadCheck(ctx, req)),
  [ApiKey.DescribeShareGroupOffsets]: whole((ctx, req) => (req.groups.every((g: any) => allowed(ctx, R.GROUP, g.groupId, Op.DESCRIBE)) ? null : ErrorCode.GROUP_AUTHORIZATION_FAILED)),
  [ApiKey.AlterShareGroupOffsets]: groupOp(Op.READ),
  [ApiKey.DeleteShareGroupOffsets]: groupOp(Op.DELETE),
  [ApiKey.ListGroups]: (ctx, req) => (cluster(ctx, Op.DESCRIBE) ? { request: req } : {
    request: req,
    finish: (res) => {
      res.groups = (res.groups ?? []).filter((g: any) => allowed(ctx, R.GROUP, g.groupId, Op.DESCRIBE));
      return res;
    },
  }),
  [ApiKey.CreateTopics]: perTopic(Op.CREATE, {
    field: 'topics', resField: 'topics', name: (t) => t.name,
    allow: (ctx, name) => cluster(ctx, Op.CREATE) || allowed(ctx, R.TOPIC, name, Op.CREATE),
    denied: (t, code) => ({ name: t.name, errorCode: code, errorMessage: 'Authorization failed.', numPartitions: -1, replicationFactor: -1, configs: [] }),
  }),
  [ApiKey.DeleteTopics]: (ctx, req, handler) => {
    // v0-5 name topics in topicNames, v6+ in topics (by name or id).
    if (ctx.apiVersion < 6) {
      return perTopicNames(ctx, req, 'topicNames', (name) => allowed(ctx, R.TOPIC, name, Op.DELETE), (name) => ({ name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }), 'responses');
    }
    return perTopic(Op.DELETE, {
      field: 'topics', resField: 'responses', name: (t) => t.name, id: (t) => t.topicId,
      denied: (t, code) => ({ name: t.name, topicId: t.topicId, errorCode: code, errorMessage: null }),
    })(ctx, req, handler);
  },
  [ApiKey.DeleteRecords]: perTopic(Op.DELETE, {
    field: 'topics', resField: 'topics', name: (t) => t.name,
    denied: (t, code) => ({ name: t.name, partitions: partitionsOf(t.partitions, 'partitionIndex', code, { lowWatermark: -1n }) }),
  }),
  [ApiKey.InitProducerId]: whole((ctx, req) => {
    if (req.transactionalId !== null && req.transactionalId !== undefined) {
      return allowed(ctx, R.TRANSACTIONAL_ID, req.transactionalId, Op.WRITE) ? null : ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    }
    // Idempotent producers: IDEMPOTENT_WRITE on the cluster, or WRITE on any topic (Kafka 2.8+).
    return cluster(ctx, Op.IDEMPOTENT_WRITE) || ctx.authorizer.authorizeAny(who(ctx), R.TOPIC, Op.WRITE) ? null : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
  }),
  [ApiKey.AddPartitionsToTxn]: (ctx, req, handler) => {
    // v4+ is the brokers' batched form: CLUSTER_ACTION, as Kafka.
    if (ctx.apiVersion >= 4) return cluster(ctx, Op.CLUSTER_ACTION) ? { request: req } : { response: handler.errorResponse(req, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, ctx) };
    if (!allowed(ctx, R.TRANSACTIONAL_ID, req.v3AndBelowTransactionalId, Op.WRITE)) return { response: handler.errorResponse(req, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, ctx) };
    const topics: any[] = req.v3AndBelowTopics;
    const denied = new Set(topics.filter((t) => !allowed(ctx, R.TOPIC, t.name, Op.WRITE)).map((t) => t.name));
    if (denied.size === 0) return { request: req };
    // Kafka: the denied topics' partitions get TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED.
    const response = handler.errorResponse(req, ErrorCode.OPERATION_NOT_ATTEMPTED, ctx) as any;
    for (const t of response.resultsByTopicV3AndBelow) {
      if (denied.has(t.name)) for (const p of t.resultsByPartition) p.partitionErrorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    }
    return { response };
  },
  [ApiKey.AddOffsetsToTxn]: whole((ctx, req) => {
    if (!allowed(ctx, R.TRANSACTIONAL_ID, req.transactionalId, Op.WRITE)) return ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    return allowed(ctx, R.GROUP, req.groupId, Op.READ) ? null : ErrorCode.GROUP_AUTHORIZATION_FAILED;
  }),
  [ApiKey.EndTxn]: whole((ctx, req) => (allowed(ctx, R.TRANSACTIONAL_ID, req.transactionalId, Op.WRITE) ? null : ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)),
  [ApiKey.TxnOffsetCommit]: perTopic(Op.READ, {
    field: 'topics', resField: 'topics', name: (t) => t.name,
    first: (ctx, req) => {
      if (!allowed(ctx, R.TRANSACTIONAL_ID, req.transactionalId, Op.WRITE)) return ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
      return allowed(ctx, R.GROUP, req.groupId, Op.READ) ? null : ErrorCode.GROUP_AUTHORIZATION_FAILED;
    },
    denied: (t, code) => ({ name: t.name, partitions: partitionsOf(t.partitions, 'partitionIndex', code) }),
  }),
  [ApiKey.DescribeProducers]: perTopic(Op.READ, {
    field: 'topics', resField: 'topics', name: (t) => t.name,
    denied: (t, code) => ({ name: t.name, partitions: (t.partitionIndexes ?? []).map((p: number) => ({ partitionIndex: p, errorCode: code, errorMessage: null, activeProducers: [] })) }),
  }),
  [ApiKey.DescribeTransactions]: (ctx, req) => {
    const ids: string[] = req.transactionalIds;
    const denied = new Set(ids.filter((id) => !allowed(ctx, R.TRANSACTIONAL_ID, id, Op.DESCRIBE)));
    if (denied.size === 0) return { request: req };
    return {
      request: { ...req, transactionalIds: ids.filter((id) => !denied.has(id)) },
      finish: (res) => {
        res.transactionStates = [...(res.transactionStates ?? []), ...[...denied].map((id) => ({
          errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, transactionalId: id, transactionState: '', transactionTimeoutMs: 0,
          transactionStartTimeMs: -1n, producerId: -1n, producerEpoch: -1, topics: [],
        }))];
        return res;
      },
    };
  },
  // Kafka lists only the transactional ids the principal may DESCRIBE.
  [ApiKey.ListTransactions]: (ctx, req) => ({
    request: req,
    finish: (res) => {
      if (res?.transactionStates) res.transactionStates = res.transactionStates.filter((t: any) => allowed(ctx, R.TRANSACTIONAL_ID, t.transactionalId, Op.DESCRIBE));
      return res;
    },
  }),
  [ApiKey.OffsetForLeaderEpoch]: perTopic(Op.DESCRIBE, {
    field: 'topics', resField: 'topics', name: (t) => t.topic,
    denied: (t, code) => ({ topic: t.topic, partitions: (t.partitions ?? []).map((p: any) => ({ partition: p.partition, errorCode: code, leaderEpoch: -1, endOffset: -1n })) }),
  }),
  [ApiKey.DescribeConfigs]: configResources(Op.DESCRIBE_CONFIGS, 'results'),
  [ApiKey.AlterConfigs]: configResources(Op.ALTER_CONFIGS, 'responses'),
  [ApiKey.IncrementalAlterConfigs]: configResources(Op.ALTER_CONFIGS, 'responses'),
  [ApiKey.DescribeLogDirs]: clusterOp(Op.DESCRIBE),
  [ApiKey.ListConfigResources]: clusterOp(Op.DESCRIBE_CONFIGS),
  [ApiKey.CreatePartitions]: perTopic(Op.ALTER, {
    field: 'topics', resField: 'results', name: (t) => t.name,
    denied: (t, code) => ({ name: t.name, errorCode: code, errorMessage: null }),
  }),
  [ApiKey.DeleteGroups]: (ctx, req) => {
    const { kept, denied } = split(req.groupsNames as string[], (g) => allowed(ctx, R.GROUP, g, Op.DELETE));
    if (denied.length === 0) return { request: req };
    return {
      request: { ...req, groupsNames: kept },
      finish: (res) => {
        res.results = [...(res.results ?? []), ...denied.map((groupId) => ({ groupId, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED }))];
        return res;
      },
    };
  },
  [ApiKey.ElectLeaders]: clusterOp(Op.ALTER),
  [ApiKey.OffsetDelete]: perTopic(Op.READ, {
    field: 'topics', resField: 'topics', name: (t) => t.name,
    first: (ctx, req) => (allowed(ctx, R.GROUP, req.groupId, Op.DELETE) ? null : ErrorCode.GROUP_AUTHORIZATION_FAILED),
    denied: (t, code) => ({ name: t.name, partitions: partitionsOf(t.partitions, 'partitionIndex', code) }),
  }),
  [ApiKey.DescribeAcls]: clusterOp(Op.DESCRIBE),
  [ApiKey.CreateAcls]: clusterOp(Op.ALTER),
  [ApiKey.DeleteAcls]: clusterOp(Op.ALTER),
  [ApiKey.DescribeClientQuotas]: clusterOp(Op.DESCRIBE_CONFIGS),
  [ApiKey.AlterClientQuotas]: clusterOp(Op.ALTER_CONFIGS),
  [ApiKey.DescribeUserScramCredentials]: clusterOp(Op.DESCRIBE),
  [ApiKey.AlterUserScramCredentials]: clusterOp(Op.ALTER),
  [ApiKey.DescribeCluster]: (ctx, req) => ({
    request: req,
    finish: (res) => {
      if (req.includeClusterAuthorizedOperations) res.clusterAuthorizedOperations = ctx.authorizer.authorizedOperations(who(ctx), R.CLUSTER, CLUSTER_NAME);
      return res;
    },
  }),
  [ApiKey.DescribeTopicPartitions]: (ctx, req, handler) => {
    const checked = perTopic(Op.DESCRIBE, {
      field: 'topics', resField: 'topics', name: (t) => t.name,
      denied: (t, code) => ({ errorCode: code, name: t.name, isInternal: false, partitions: [], topicAuthorizedOperations: NOT_REQUESTED }),
    })(ctx, req, handler);
    if ('response' in checked) return checked;
    // Kafka always reports the topic's authorized operations here.
    return {
      request: checked.request,
      finish: (res) => {
        const out = checked.finish ? checked.finish(res) : res;
        for (const t of out.topics ?? []) if (t.errorCode === ErrorCode.NONE && t.name) t.topicAuthorizedOperations = ctx.authorizer.authorizedOperations(who(ctx), R.TOPIC, t.name);
        return out;
      },
    };
  },
};

function perTopicNames(ctx: RequestContext, req: any, field: string, allow: (name: string) => boolean, denied: (name: string) => any, resField: string): Authorized {
  const { kept, denied: out } = split(req[field] as string[], allow);
  if (out.length === 0) return { request: req };
  return {
    request: { ...req, [field]: kept },
    finish: (res) => {
      res[resField] = [...(res[resField] ?? []), ...out.map(denied)];
      return res;
    },
  };
}

/** APIs that Kafka serves without an authorization check. */
export const UNCHECKED_APIS: ReadonlySet<number> = new Set([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);

/** APIs whose responses carry authorized operations (when asked), even with the authorizer off (Kafka then reports every operation). */
const DECORATED = new Set<number>([ApiKey.Metadata, ApiKey.DescribeGroups, ApiKey.DescribeCluster, ApiKey.DescribeTopicPartitions]);

/** The rule of an API (tests: every handler has one or is unchecked). */
export function hasAuthorizationRule(apiKey: number): boolean {
  return RULES[apiKey] !== undefined;
}

/** Applies the API's rule; null when there is nothing to do (the authorizer is off). */
export function authorize(ctx: RequestContext, handler: AnyHandler, req: unknown): Authorized | null {
  if (!ctx.authorizer.enabled && !DECORATED.has(handler.key)) return null;
  const rule = RULES[handler.key];
  return rule ? rule(ctx, req, handler) : null;
}
