/**
 * ACLs (issue 16): every API a client can send is checked as Kafka checks it. One table, built from the
 * handler list, so a new API cannot skip it: each API has a rule in src/broker/authorization.ts or is one
 * Kafka serves unchecked; a principal without ACLs (alice) gets Kafka's authorization error and one with
 * grants (bob) does not. Then real clients: kcat (SASL PLAIN) denied, allowed after CreateAcls, denied again
 * after DeleteAcls; Metadata hides topics alice may not describe; a second broker on the same PostgreSQL
 * coordinator enforces the same ACLs and knows the same SCRAM users.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import kafkajs, { Kafka, logLevel } from 'kafkajs';
import { startTestBroker, tempDir, type TestBroker } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { produceRequest } from '../helpers/produce.ts';
import { batchOf } from '../helpers/record-batch.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { waitFor } from '../helpers/wait.ts';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { HANDLERS } from '../../src/broker/handlers/index.ts';
import { UNCHECKED_APIS, hasAuthorizationRule } from '../../src/broker/authorization.ts';
import { AclOperation, PatternType, PermissionType, ResourceType } from '../../src/security/authorizer.ts';
import { saltPassword, scramMechanism } from '../../src/security/sasl-server.ts';

const run = promisify(execFile);
// CommonJS enums that Node's named-export detection misses.
const { AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;
const JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";';
const AUTH_ERRORS = new Set<number>([ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.GROUP_AUTHORIZATION_FAILED, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED]);

function securedConfig(extra: Record<string, string | number> = {}): Record<string, string | number> {
  return {
    listeners: 'SASL_PLAINTEXT://127.0.0.1:0,PLAINTEXT://127.0.0.1:0',
    'listener.security.protocol.map': 'SASL_PLAINTEXT:SASL_PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': JAAS,
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:admin',
    'allow.everyone.if.no.acl.found': 'false',
    ...extra,
  };
}

/** A raw connection logged in with SASL/PLAIN (or SCRAM is not needed here: PLAIN users come from JAAS). */
async function login(port: number, user: string, password: string): Promise<RawClient> {
  const c = await RawClient.connect(port);
  assert.equal((await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' })).errorCode, ErrorCode.NONE);
  const auth = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from(`\u0000${user}\u0000${password}`) });
  assert.equal(auth.errorCode, ErrorCode.NONE, auth.errorMessage);
  return c;
}

/** Every error code anywhere in a decoded response. */
function codes(value: unknown, out: number[] = []): number[] {
  if (Array.isArray(value)) for (const v of value) codes(v, out);
  else if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [k, v] of Object.entries(value)) {
      if ((k === 'errorCode' || k === 'partitionErrorCode') && typeof v === 'number') out.push(v);
      else codes(v, out);
    }
  }
  return out;
}

let broker: TestBroker;
let admin: RawClient;
const T = 'acl-topic';
const G = 'acl-group';

interface Case { version: number; request: () => Promise<unknown> | unknown; denied: number }

const CASES: Record<number, Case> = {
  [ApiKey.Produce]: { version: 9, request: async () => produceRequest([{ topic: T, partition: 0, records: await batchOf('x') }]), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.Fetch]: { version: 11, request: () => ({ replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, sessionEpoch: -1, topics: [{ topic: T, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }] }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.ListOffsets]: { version: 5, request: () => ({ replicaId: -1, topics: [{ name: T, partitions: [{ partitionIndex: 0, timestamp: -1n }] }] }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.Metadata]: { version: 12, request: () => ({ topics: [{ name: T }], allowAutoTopicCreation: false }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.OffsetCommit]: { version: 8, request: () => ({ groupId: G, generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: T, partitions: [{ partitionIndex: 0, committedOffset: 0n }] }] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.OffsetFetch]: { version: 7, request: () => ({ groupId: G, topics: null }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.FindCoordinator]: { version: 3, request: () => ({ key: G, keyType: 0 }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.JoinGroup]: { version: 5, request: () => ({ groupId: G, sessionTimeoutMs: 10000, rebalanceTimeoutMs: 10000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.Heartbeat]: { version: 3, request: () => ({ groupId: G, generationId: 1, memberId: 'm' }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.LeaveGroup]: { version: 3, request: () => ({ groupId: G, members: [{ memberId: 'm' }] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.SyncGroup]: { version: 3, request: () => ({ groupId: G, generationId: 1, memberId: 'm', assignments: [] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.DescribeGroups]: { version: 5, request: () => ({ groups: [G], includeAuthorizedOperations: true }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.CreateTopics]: { version: 7, request: () => ({ topics: [{ name: 'acl-created', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.DeleteTopics]: { version: 6, request: () => ({ topics: [{ name: 'acl-doomed' }], timeoutMs: 5000 }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.DeleteRecords]: { version: 2, request: () => ({ topics: [{ name: T, partitions: [{ partitionIndex: 0, offset: 0n }] }], timeoutMs: 5000 }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.InitProducerId]: { version: 4, request: () => ({ transactionalId: null, transactionTimeoutMs: 60000, producerId: -1n, producerEpoch: -1 }), denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
  [ApiKey.AddPartitionsToTxn]: { version: 3, request: () => ({ v3AndBelowTransactionalId: 'acl-tx', v3AndBelowProducerId: 1n, v3AndBelowProducerEpoch: 0, v3AndBelowTopics: [{ name: T, partitions: [0] }] }), denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED },
  [ApiKey.AddOffsetsToTxn]: { version: 3, request: () => ({ transactionalId: 'acl-tx', producerId: 1n, producerEpoch: 0, groupId: G }), denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED },
  [ApiKey.EndTxn]: { version: 3, request: () => ({ transactionalId: 'acl-tx', producerId: 1n, producerEpoch: 0, committed: false }), denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED },
  [ApiKey.TxnOffsetCommit]: { version: 3, request: () => ({ transactionalId: 'acl-tx', groupId: G, producerId: 1n, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null, topics: [{ name: T, partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, committedMetadata: null }] }] }), denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED },
  [ApiKey.DescribeProducers]: { version: 0, request: () => ({ topics: [{ name: T, partitionIndexes: [0] }] }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.DescribeTransactions]: { version: 0, request: () => ({ transactionalIds: ['acl-tx'] }), denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED },
  [ApiKey.ConsumerGroupHeartbeat]: { version: 0, request: () => ({ groupId: G, memberId: 'm', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 10000, subscribedTopicNames: [T], serverAssignor: null, topicPartitions: [] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.ShareGroupHeartbeat]: { version: 1, request: () => ({ groupId: 'acl-share-group', memberId: 'm', memberEpoch: 0, rackId: null, subscribedTopicNames: [T] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.ShareGroupDescribe]: { version: 1, request: () => ({ groupIds: ['acl-share-group'], includeAuthorizedOperations: false }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.ShareFetch]: { version: 1, request: () => ({ groupId: 'acl-share-group', memberId: 'm', shareSessionEpoch: 0, maxWaitMs: 0, minBytes: 0, maxBytes: 1024, maxRecords: 10, batchSize: 10, topics: [], forgottenTopicsData: [] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.ShareAcknowledge]: { version: 1, request: () => ({ groupId: 'acl-share-group', memberId: 'm', shareSessionEpoch: 1, topics: [] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.DescribeShareGroupOffsets]: { version: 1, request: () => ({ groups: [{ groupId: 'acl-share-group', topics: null }] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.AlterShareGroupOffsets]: { version: 0, request: () => ({ groupId: 'acl-share-group-2', topics: [] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.DeleteShareGroupOffsets]: { version: 0, request: () => ({ groupId: 'acl-share-group-2', topics: [] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.ConsumerGroupDescribe]: { version: 0, request: () => ({ groupIds: [G], includeAuthorizedOperations: false }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.OffsetForLeaderEpoch]: { version: 4, request: () => ({ replicaId: -1, topics: [{ topic: T, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.DescribeAcls]: { version: 2, request: () => ({ resourceTypeFilter: 1, resourceNameFilter: null, patternTypeFilter: 1, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 }), denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
  [ApiKey.CreateAcls]: { version: 2, request: () => ({ creations: [{ resourceType: 2, resourceName: 'x', resourcePatternType: 3, principal: 'User:x', host: '*', operation: 3, permissionType: 3 }] }), denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
  [ApiKey.DeleteAcls]: { version: 2, request: () => ({ filters: [{ resourceTypeFilter: 2, resourceNameFilter: 'x', patternTypeFilter: 3, principalFilter: 'User:x', hostFilter: null, operation: 1, permissionType: 1 }] }), denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
  [ApiKey.DescribeConfigs]: { version: 4, request: () => ({ resources: [{ resourceType: 2, resourceName: T, configurationKeys: null }] }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.AlterConfigs]: { version: 2, request: () => ({ resources: [{ resourceType: 2, resourceName: T, configs: [{ name: 'retention.ms', value: '86400000' }] }], validateOnly: true }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.DescribeLogDirs]: { version: 4, request: () => ({ topics: null }), denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
  [ApiKey.ListConfigResources]: { version: 1, request: () => ({ resourceTypes: [] }), denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
  [ApiKey.CreatePartitions]: { version: 3, request: () => ({ topics: [{ name: T, count: 1, assignments: null }], timeoutMs: 5000, validateOnly: true }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.DeleteGroups]: { version: 2, request: () => ({ groupsNames: ['acl-other-group'] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.ElectLeaders]: { version: 2, request: () => ({ electionType: 0, topicPartitions: [{ topic: T, partitions: [0] }], timeoutMs: 5000 }), denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
  [ApiKey.IncrementalAlterConfigs]: { version: 1, request: () => ({ resources: [{ resourceType: 2, resourceName: T, configs: [{ name: 'retention.ms', configOperation: 0, value: '86400000' }] }], validateOnly: true }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.OffsetDelete]: { version: 0, request: () => ({ groupId: G, topics: [{ name: T, partitions: [{ partitionIndex: 0 }] }] }), denied: ErrorCode.GROUP_AUTHORIZATION_FAILED },
  [ApiKey.DescribeUserScramCredentials]: { version: 0, request: () => ({ users: null }), denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
  [ApiKey.AlterUserScramCredentials]: { version: 0, request: () => ({ deletions: [{ name: 'nobody', mechanism: 1 }], upsertions: [] }), denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
  [ApiKey.DescribeTopicPartitions]: { version: 0, request: () => ({ topics: [{ name: T }], responsePartitionLimit: 10, cursor: null }), denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
  [ApiKey.DescribeClientQuotas]: { version: 1, request: () => ({ components: [], strict: false }), denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
  [ApiKey.AlterClientQuotas]: { version: 1, request: () => ({ entries: [{ entity: [{ entityType: 'user', entityName: 'x' }], ops: [{ key: 'producer_byte_rate', value: 1000, remove: false }] }], validateOnly: true }), denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED },
};

/** APIs every principal may use (no ACL check in Kafka either). */
const OPEN: Record<number, Case> = {
  [ApiKey.ListGroups]: { version: 4, request: () => ({ statesFilter: [] }), denied: ErrorCode.NONE },
  [ApiKey.DescribeCluster]: { version: 1, request: () => ({ includeClusterAuthorizedOperations: true, endpointType: 1 }), denied: ErrorCode.NONE },
  [ApiKey.ListTransactions]: { version: 1, request: () => ({ stateFilters: [], producerIdFilters: [], durationFilter: -1n, transactionalIdPattern: null }), denied: ErrorCode.NONE },
};

test('setup: a broker with the authorizer on, a topic and a group', async () => {
  broker = await startTestBroker(securedConfig());
  admin = await login(broker.ports.SASL_PLAINTEXT!, 'admin', 'admin-secret');
  for (const name of [T, 'acl-doomed']) {
    const r = await admin.request(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 });
    assert.equal(r.topics[0].errorCode, ErrorCode.NONE);
  }
  // bob may do everything through ACLs (not a super user).
  const grants = [[ResourceType.TOPIC, '*'], [ResourceType.GROUP, '*'], [ResourceType.CLUSTER, 'kafka-cluster'], [ResourceType.TRANSACTIONAL_ID, '*']].map(([type, name]) => ({
    resourceType: type, resourceName: name, resourcePatternType: PatternType.LITERAL, principal: 'User:bob', host: '*', operation: AclOperation.ALL, permissionType: PermissionType.ALLOW,
  }));
  const created = await admin.request(ApiKey.CreateAcls, 3, { creations: grants });
  assert.deepEqual(created.results.map((r: any) => r.errorCode), [0, 0, 0, 0]);
});

test('every API is covered: a rule in authorization.ts, or served unchecked as in Kafka; and a case here', () => {
  for (const h of HANDLERS) {
    assert.ok(hasAuthorizationRule(h.key) || UNCHECKED_APIS.has(h.key), `${h.name} has an authorization rule or is unchecked`);
    assert.ok(UNCHECKED_APIS.has(h.key) || CASES[h.key] || OPEN[h.key] || h.key === ApiKey.DescribeCluster, `${h.name} has a case in test/security/acls.test.ts`);
  }
});

test('each API: alice (no ACLs) gets Kafka\'s authorization error; bob (granted) does not', async (t) => {
  const alice = await login(broker.ports.SASL_PLAINTEXT!, 'alice', 'alice-secret');
  const bob = await login(broker.ports.SASL_PLAINTEXT!, 'bob', 'bob-secret');
  for (const h of HANDLERS) {
    const c = CASES[h.key];
    if (!c) continue;
    await t.test(h.name, async () => {
      const denied = codes(await alice.request(h.key, c.version, await c.request()));
      assert.ok(denied.includes(c.denied), `${h.name}: alice gets ${c.denied}, got ${denied}`);
      const granted = codes(await bob.request(h.key, c.version, await c.request()));
      assert.ok(!granted.some((code) => AUTH_ERRORS.has(code)), `${h.name}: bob is not refused, got ${granted}`);
    });
  }
  for (const [key, c] of Object.entries(OPEN)) {
    const res = await alice.request(Number(key), c.version, await c.request());
    assert.ok(!codes(res).some((code) => AUTH_ERRORS.has(code)));
  }
  // ListGroups shows alice no group; DescribeCluster reports her cluster operations (none).
  const described = await alice.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
  assert.equal(described.clusterAuthorizedOperations, 0);
  const bobCluster = await bob.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
  assert.ok(bobCluster.clusterAuthorizedOperations & (1 << AclOperation.ALTER));
  alice.close();
  bob.close();
});

test('kcat: denied without ACLs, allowed after CreateAcls (prefixed), denied again after DeleteAcls; Metadata hides the rest', async () => {
  const bootstrap = `127.0.0.1:${broker.ports.SASL_PLAINTEXT}`;
  const asAlice = ['-X', 'security.protocol=sasl_plaintext', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=alice', '-X', 'sasl.password=alice-secret'];
  await assert.rejects(kcatProduce(bootstrap, 'alice-topic', ['k:v'], [...asAlice, '-X', 'message.timeout.ms=8000']), /authoriz/i);

  const kafka = new Kafka({ clientId: 'acl-admin', brokers: [bootstrap], sasl: { mechanism: 'plain', username: 'admin', password: 'admin-secret' }, logLevel: logLevel.NOTHING });
  const kadmin = kafka.admin();
  await kadmin.connect();
  const acl = { resourceType: AclResourceTypes.TOPIC, resourceName: 'alice-', resourcePatternType: ResourcePatternTypes.PREFIXED, principal: 'User:alice', host: '*', permissionType: AclPermissionTypes.ALLOW };
  await kadmin.createAcls({ acl: [{ ...acl, operation: AclOperationTypes.WRITE }, { ...acl, operation: AclOperationTypes.READ }, { ...acl, operation: AclOperationTypes.CREATE }] });
  const listed = await kadmin.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, principal: 'User:alice', host: '*', operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
  assert.equal(listed.resources.length, 1);
  assert.equal(listed.resources[0]!.acls.length, 3);

  await kcatProduce(bootstrap, 'alice-topic', ['k:v'], asAlice);
  // Reading needs READ on the topic (granted) and a group is not used by kcat -C.
  assert.deepEqual(await kcatConsume(bootstrap, 'alice-topic', '%k=%s\n', asAlice), ['k=v']);
  const meta = await run('kcat', ['-b', bootstrap, ...asAlice, '-L', '-J'], { timeout: 60_000 });
  assert.deepEqual(JSON.parse(meta.stdout).topics.map((t: any) => t.topic), ['alice-topic'], 'alice sees only the topic she may describe');

  const deleted = await kadmin.deleteAcls({ filters: [{ resourceType: AclResourceTypes.TOPIC, resourceName: 'alice-', resourcePatternType: ResourcePatternTypes.PREFIXED, principal: 'User:alice', host: '*', operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY }] });
  assert.equal(deleted.filterResponses[0]!.matchingAcls.length, 3);
  await assert.rejects(kcatProduce(bootstrap, 'alice-topic', ['k:v2'], [...asAlice, '-X', 'message.timeout.ms=8000']), /authoriz/i);
  await kadmin.disconnect();
});

test('a second broker on the same coordinator enforces the same ACLs and knows the same SCRAM users', async () => {
  const url = await freshDatabase();
  const objects = await tempDir('floe-acl-objects-');
  const shared = { 'diskless.coordinator.url': url, 'diskless.object.store.url': `file://${objects}` };
  const a = await startTestBroker(securedConfig({ ...shared, 'node.id': 1 }));
  const b = await startTestBroker(securedConfig({ ...shared, 'node.id': 2 }));
  const adminA = await login(a.ports.SASL_PLAINTEXT!, 'admin', 'admin-secret');
  // Metadata names each broker by its endpoint on the listener the client came through.
  await waitFor('both brokers in A\'s Metadata', async () => (await adminA.request(ApiKey.Metadata, 12, { topics: [] })).brokers.length === 2, { timeoutMs: 30_000 });
  const viaSasl = await adminA.request(ApiKey.Metadata, 12, { topics: [] });
  assert.deepEqual(viaSasl.brokers.map((x: any) => [x.nodeId, x.port]).sort(), [[1, a.ports.SASL_PLAINTEXT], [2, b.ports.SASL_PLAINTEXT]]);
  const anonymous = await RawClient.connect(a.ports.PLAINTEXT!);
  const viaPlain = await anonymous.request(ApiKey.Metadata, 12, { topics: [] });
  assert.deepEqual(viaPlain.brokers.map((x: any) => [x.nodeId, x.port]).sort(), [[1, a.ports.PLAINTEXT], [2, b.ports.PLAINTEXT]]);
  const coordinator = await anonymous.request(ApiKey.FindCoordinator, 3, { key: 'g', keyType: 0 });
  assert.equal(coordinator.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED, 'anonymous may not describe the group');
  anonymous.close();
  const m = scramMechanism('SCRAM-SHA-256')!;
  const salt = Buffer.from('shared-salt');
  const up = await adminA.request(ApiKey.AlterUserScramCredentials, 0, { deletions: [], upsertions: [{ name: 'dave', mechanism: m.code, iterations: 4096, salt, saltedPassword: saltPassword(m, 'dave-secret', salt, 4096) }] });
  assert.equal(up.results[0].errorCode, ErrorCode.NONE);
  await adminA.request(ApiKey.CreateAcls, 3, { creations: [{ resourceType: ResourceType.TOPIC, resourceName: 'dave', resourcePatternType: PatternType.LITERAL, principal: 'User:dave', host: '*', operation: AclOperation.WRITE, permissionType: PermissionType.ALLOW }] });
  // dave logs in with SCRAM on broker B and may write there: both came through the coordinator.
  const kafka = new Kafka({ clientId: 'dave', brokers: [`127.0.0.1:${b.ports.SASL_PLAINTEXT}`], sasl: { mechanism: 'scram-sha-256', username: 'dave', password: 'dave-secret' }, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  await adminA.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'dave', numPartitions: 1, replicationFactor: 1 }, { name: 'not-dave', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 });
  const producer = kafka.producer();
  await producer.connect();
  await waitFor('dave may write to topic dave through broker B', async () => {
    try {
      await producer.send({ topic: 'dave', messages: [{ value: 'hello' }] });
      return true;
    } catch {
      return false;
    }
  }, { timeoutMs: 30_000 });
  await assert.rejects(producer.send({ topic: 'not-dave', messages: [{ value: 'x' }] }), /authoriz/i);
  await producer.disconnect();
  adminA.close();
});
