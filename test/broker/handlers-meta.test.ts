/**
 * Meta-tests over the handler table (STYLE.md, kfake's TestFaultCoverage): every file in
 * src/broker/handlers/ is listed in index.ts, each handler's range is one the codec knows, and every
 * handler's errorResponse (dispatch sends it when a handler throws) reaches the client at every version it
 * serves. For that, each API has a request naming one topic and partition (or group, resource, coordinator
 * key) below; the request goes through the generated codec at each version, the handler's errorResponse for
 * it is encoded as dispatch does and decoded back, and then:
 * - every per-entity entry of the response carries the error code and names an entity of the request;
 * - where the version has a top-level error code, it carries the error (clients read it first);
 * - where it has none, every entity of the request has its entry with the error, as in Kafka's own error
 *   responses (an entry dropped or mis-shaped would leave the client without the error).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HANDLERS } from '../../src/broker/handlers/index.ts';
import { encodeResponseFrame } from '../../src/broker/dispatch.ts';
import { MESSAGES } from '../../src/protocol/gen/messages/index.ts';
import { API_SPECS, ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { decodeResponseHeader, responseHeaderVersion } from '../../src/protocol/gen/headers.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';
import type { RequestContext } from '../../src/broker/handler.ts';

test('every handler file is in handlers/index.ts, once, with a range the codec supports', async () => {
  const dir = join(import.meta.dirname, '../../src/broker/handlers');
  const files = (await readdir(dir)).filter((f) => /^\d\d-.*\.ts$/.test(f) && !f.endsWith('.test.ts'));
  const keys = files.map((f) => Number(f.slice(0, 2)));
  assert.deepEqual(HANDLERS.map((h) => h.key).sort((a, b) => a - b), keys.sort((a, b) => a - b));
  for (const h of HANDLERS) {
    const spec = API_SPECS[h.key]!;
    assert.equal(h.name, spec.name);
    assert.ok(h.minVersion >= spec.minVersion && h.maxVersion <= spec.maxVersion && h.minVersion <= h.maxVersion, `${h.name} ${h.minVersion}-${h.maxVersion}`);
  }
});

const T = 'meta-topic';
const TOPIC_ID = '6d657461-746f-4000-8000-000000000007';
const P = 7;
const G = 'meta-group';
const CODE = ErrorCode.UNKNOWN_SERVER_ERROR;

/** A topic's name in a decoded entry: by name, or by id where the version names topics by id. */
const topic = (t: { name?: string | null; topic?: string; topicId?: string }): string =>
  t.name || t.topic || (t.topicId === TOPIC_ID ? T : `topic id ${t.topicId}`);
const partitions = (t: any, list: any[], index = 'partitionIndex'): [string, number][] =>
  list.map((p) => [`${topic(t)}/${p[index]}`, p.errorCode]);

interface Case {
  /** A request naming the entities below (the codec keeps, at each version, the fields that version has). */
  request: Record<string, unknown>;
  /** The entities of the request, as `entries` labels them (topic/partition, topic, group G, resource, key). */
  entities: string[];
  /** Those that need an entry of their own where the version has no top-level error code (default: all). */
  required?: (v: number) => string[];
  /** The per-entity entries of a decoded response: [entity, error code]. */
  entries: (res: any, v: number) => [string, number][];
}

const ONE_PARTITION = `${T}/${P}`;
const none = (): [string, number][] => [];

const CASES: Record<number, Case> = {
  [ApiKey.Produce]: {
    request: { acks: -1, timeoutMs: 1000, topicData: [{ name: T, topicId: TOPIC_ID, partitionData: [{ index: P, records: Buffer.alloc(0) }] }] },
    entities: [ONE_PARTITION],
    entries: (res) => res.responses.flatMap((t: any) => partitions(t, t.partitionResponses, 'index')),
  },
  [ApiKey.Fetch]: {
    request: { replicaId: -1, maxWaitMs: 0, sessionEpoch: -1, topics: [{ topic: T, topicId: TOPIC_ID, partitions: [{ partition: P, fetchOffset: 0n, partitionMaxBytes: 1024 }] }] },
    entities: [ONE_PARTITION],
    entries: (res) => res.responses.flatMap((t: any) => partitions(t, t.partitions)),
  },
  [ApiKey.ListOffsets]: {
    request: { replicaId: -1, topics: [{ name: T, partitions: [{ partitionIndex: P, timestamp: -1n }] }] },
    entities: [ONE_PARTITION],
    entries: (res) => res.topics.flatMap((t: any) => partitions(t, t.partitions)),
  },
  [ApiKey.Metadata]: {
    request: { topics: [{ name: T, topicId: TOPIC_ID }], allowAutoTopicCreation: false },
    entities: [T],
    entries: (res) => res.topics.map((t: any) => [topic(t), t.errorCode]),
  },
  [ApiKey.OffsetCommit]: {
    request: { groupId: G, generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: T, topicId: TOPIC_ID, partitions: [{ partitionIndex: P, committedOffset: 1n }] }] },
    entities: [ONE_PARTITION],
    entries: (res) => res.topics.flatMap((t: any) => partitions(t, t.partitions)),
  },
  [ApiKey.OffsetFetch]: {
    // v1-7 name the group and its topics; v8+ a list of groups.
    request: { groupId: G, topics: [{ name: T, partitionIndexes: [P] }], groups: [{ groupId: G, topics: [{ name: T, topicId: TOPIC_ID, partitionIndexes: [P] }] }] },
    entities: [ONE_PARTITION, `group ${G}`],
    required: (v) => (v >= 8 ? [`group ${G}`] : [ONE_PARTITION]),
    entries: (res) => [
      ...res.topics.flatMap((t: any) => partitions(t, t.partitions)),
      ...res.groups.flatMap((g: any) => [[`group ${g.groupId}`, g.errorCode], ...g.topics.flatMap((t: any) => partitions(t, t.partitions))]),
    ],
  },
  [ApiKey.FindCoordinator]: {
    // v0-3 ask for one key; v4+ for a list.
    request: { key: G, keyType: 0, coordinatorKeys: [G] },
    entities: [`key ${G}`],
    entries: (res) => res.coordinators.map((c: any) => [`key ${c.key}`, c.errorCode]),
  },
  [ApiKey.JoinGroup]: {
    request: { groupId: G, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] },
    entities: [],
    entries: none,
  },
  [ApiKey.Heartbeat]: { request: { groupId: G, generationId: 1, memberId: 'm' }, entities: [], entries: none },
  [ApiKey.LeaveGroup]: {
    request: { groupId: G, memberId: 'm', members: [{ memberId: 'm' }] },
    entities: ['member m'],
    entries: (res) => res.members.map((m: any) => [`member ${m.memberId}`, m.errorCode]),
  },
  [ApiKey.SyncGroup]: {
    request: { groupId: G, generationId: 1, memberId: 'm', protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: 'm', assignment: Buffer.from('a') }] },
    entities: [],
    entries: none,
  },
  [ApiKey.DescribeGroups]: {
    request: { groups: [G] },
    entities: [`group ${G}`],
    entries: (res) => res.groups.map((g: any) => [`group ${g.groupId}`, g.errorCode]),
  },
  [ApiKey.ListGroups]: { request: { statesFilter: ['Stable'] }, entities: [], entries: none },
  [ApiKey.DescribeAcls]: { request: { resourceTypeFilter: 2, resourceNameFilter: T, patternTypeFilter: 3, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 }, entities: [], entries: none },
  [ApiKey.CreateAcls]: {
    request: { creations: [{ resourceType: 2, resourceName: T, resourcePatternType: 3, principal: 'User:a', host: '*', operation: 3, permissionType: 3 }] },
    entities: ['creation 0'],
    entries: (res) => res.results.map((r: any, i: number) => [`creation ${i}`, r.errorCode]),
  },
  [ApiKey.DeleteAcls]: {
    request: { filters: [{ resourceTypeFilter: 2, resourceNameFilter: T, patternTypeFilter: 3, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 }] },
    entities: ['filter 0'],
    entries: (res) => res.filterResults.map((r: any, i: number) => [`filter ${i}`, r.errorCode]),
  },
  [ApiKey.DescribeClientQuotas]: { request: { components: [{ entityType: 'user', matchType: 0, match: G }], strict: false }, entities: [], entries: none },
  [ApiKey.AlterClientQuotas]: {
    request: { entries: [{ entity: [{ entityType: 'user', entityName: G }], ops: [{ key: 'producer_byte_rate', value: 1, remove: false }] }], validateOnly: false },
    entities: [`entity ${G}`],
    entries: (res) => res.entries.map((e: any) => [`entity ${e.entity[0]?.entityName}`, e.errorCode]),
  },
  [ApiKey.SaslHandshake]: { request: { mechanism: 'PLAIN' }, entities: [], entries: none },
  [ApiKey.SaslAuthenticate]: { request: { authBytes: Buffer.alloc(0) }, entities: [], entries: none },
  [ApiKey.DescribeUserScramCredentials]: { request: { users: [{ name: G }] }, entities: [], entries: none },
  [ApiKey.AlterUserScramCredentials]: {
    request: { deletions: [{ name: G, mechanism: 1 }], upsertions: [] },
    entities: [`user ${G}`],
    entries: (res) => res.results.map((r: any) => [`user ${r.user}`, r.errorCode]),
  },
  [ApiKey.ConsumerGroupHeartbeat]: { request: { groupId: G, memberId: 'm', memberEpoch: 1 }, entities: [], entries: none },
  [ApiKey.ConsumerGroupDescribe]: {
    request: { groupIds: [G] },
    entities: [`group ${G}`],
    entries: (res) => res.groups.map((g: any) => [`group ${g.groupId}`, g.errorCode]),
  },
  [ApiKey.ShareGroupHeartbeat]: { request: { groupId: G, memberId: 'm', memberEpoch: 1, subscribedTopicNames: [T] }, entities: [], entries: none },
  [ApiKey.ShareGroupDescribe]: {
    request: { groupIds: [G] },
    entities: [`group ${G}`],
    entries: (res) => res.groups.map((g: any) => [`group ${g.groupId}`, g.errorCode]),
  },
  [ApiKey.ShareFetch]: {
    request: { groupId: G, memberId: 'm', shareSessionEpoch: 1, maxWaitMs: 0, minBytes: 0, maxBytes: 1024, maxRecords: 10, batchSize: 10, topics: [{ topicId: TOPIC_ID, partitions: [{ partitionIndex: P, acknowledgementBatches: [] }] }], forgottenTopicsData: [] },
    entities: [ONE_PARTITION],
    entries: (res) => res.responses.flatMap((t: any) => partitions(t, t.partitions)),
  },
  [ApiKey.ShareAcknowledge]: {
    request: { groupId: G, memberId: 'm', shareSessionEpoch: 1, topics: [{ topicId: TOPIC_ID, partitions: [{ partitionIndex: P, acknowledgementBatches: [{ firstOffset: 0n, lastOffset: 0n, acknowledgeTypes: [1] }] }] }] },
    entities: [ONE_PARTITION],
    entries: (res) => res.responses.flatMap((t: any) => partitions(t, t.partitions)),
  },
  [ApiKey.DescribeShareGroupOffsets]: {
    request: { groups: [{ groupId: G, topics: [{ topicName: T, partitions: [P] }] }] },
    entities: [`group ${G}`],
    entries: (res) => res.groups.map((g: any) => [`group ${g.groupId}`, g.errorCode]),
  },
  [ApiKey.AlterShareGroupOffsets]: {
    request: { groupId: G, topics: [{ topicName: T, partitions: [{ partitionIndex: P, startOffset: 0n }] }] },
    entities: [ONE_PARTITION],
    entries: (res) => res.responses.flatMap((t: any) => partitions({ name: t.topicName }, t.partitions)),
  },
  [ApiKey.DeleteShareGroupOffsets]: {
    request: { groupId: G, topics: [{ topicName: T }] },
    entities: [T],
    entries: (res) => res.responses.map((t: any) => [t.topicName, t.errorCode]),
  },
  [ApiKey.ApiVersions]: { request: { clientSoftwareName: 'meta', clientSoftwareVersion: '1' }, entities: [], entries: none },
  [ApiKey.CreateTopics]: {
    request: { topics: [{ name: T, numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 },
    entities: [T],
    entries: (res) => res.topics.map((t: any) => [topic(t), t.errorCode]),
  },
  [ApiKey.DeleteTopics]: {
    // v1-5 name the topics; v6 names or ids.
    request: { topicNames: [T], topics: [{ name: T, topicId: TOPIC_ID }], timeoutMs: 1000 },
    entities: [T],
    entries: (res) => res.responses.map((t: any) => [topic(t), t.errorCode]),
  },
  [ApiKey.DeleteRecords]: {
    request: { topics: [{ name: T, partitions: [{ partitionIndex: P, offset: 1n }] }], timeoutMs: 1000 },
    entities: [ONE_PARTITION],
    entries: (res) => res.topics.flatMap((t: any) => partitions(t, t.partitions)),
  },
  [ApiKey.OffsetForLeaderEpoch]: {
    request: { replicaId: -1, topics: [{ topic: T, partitions: [{ partition: P, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] },
    entities: [ONE_PARTITION],
    entries: (res) => res.topics.flatMap((t: any) => partitions(t, t.partitions, 'partition')),
  },
  [ApiKey.InitProducerId]: { request: { transactionalId: null, transactionTimeoutMs: 1000, producerId: -1n, producerEpoch: -1 }, entities: [], entries: none },
  [ApiKey.AddPartitionsToTxn]: {
    request: {
      v3AndBelowTransactionalId: 'tx', v3AndBelowProducerId: 1n, v3AndBelowProducerEpoch: 0, v3AndBelowTopics: [{ name: T, partitions: [P] }],
      transactions: [{ transactionalId: 'tx', producerId: 1n, producerEpoch: 0, verifyOnly: false, topics: [{ name: T, partitions: [P] }] }],
    },
    entities: [ONE_PARTITION],
    entries: (res, v) => (v <= 3 ? res.resultsByTopicV3AndBelow : res.resultsByTransaction.flatMap((r: any) => r.topicResults))
      .flatMap((t: any) => t.resultsByPartition.map((p: any) => [`${t.name}/${p.partitionIndex}`, p.partitionErrorCode])),
  },
  [ApiKey.AddOffsetsToTxn]: { request: { transactionalId: 'tx', producerId: 1n, producerEpoch: 0, groupId: G }, entities: [], entries: none },
  [ApiKey.EndTxn]: { request: { transactionalId: 'tx', producerId: 1n, producerEpoch: 0, committed: true }, entities: [], entries: none },
  [ApiKey.TxnOffsetCommit]: {
    request: {
      transactionalId: 'tx', groupId: G, producerId: 1n, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null,
      topics: [{ name: T, partitions: [{ partitionIndex: P, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }] }],
    },
    entities: [ONE_PARTITION],
    entries: (res) => res.topics.flatMap((t: any) => partitions(t, t.partitions)),
  },
  [ApiKey.DescribeProducers]: {
    request: { topics: [{ name: T, partitionIndexes: [P] }] },
    entities: [ONE_PARTITION],
    entries: (res) => res.topics.flatMap((t: any) => partitions(t, t.partitions)),
  },
  [ApiKey.DescribeTransactions]: {
    request: { transactionalIds: [G] },
    entities: [`transaction ${G}`],
    entries: (res) => res.transactionStates.map((s: any) => [`transaction ${s.transactionalId}`, s.errorCode]),
  },
  [ApiKey.ListTransactions]: { request: { stateFilters: [], producerIdFilters: [], durationFilter: -1n, transactionalIdPattern: null }, entities: [], entries: none },
  [ApiKey.DescribeConfigs]: {
    request: { resources: [{ resourceType: 2, resourceName: T, configurationKeys: null }] },
    entities: [`resource ${T}`],
    entries: (res) => res.results.map((r: any) => [`resource ${r.resourceName}`, r.errorCode]),
  },
  [ApiKey.AlterConfigs]: {
    request: { resources: [{ resourceType: 2, resourceName: T, configs: [{ name: 'retention.ms', value: '1' }] }] },
    entities: [`resource ${T}`],
    entries: (res) => res.responses.map((r: any) => [`resource ${r.resourceName}`, r.errorCode]),
  },
  [ApiKey.DescribeLogDirs]: {
    request: { topics: [{ topic: T, partitions: [P] }] },
    entities: [ONE_PARTITION],
    // The response lists log dirs (a partition carries its dir's error code). v1-2 have no place for a
    // request-wide error; Kafka's own error response is empty there too.
    required: () => [],
    entries: (res) => res.results.flatMap((d: any) => d.topics.flatMap((t: any) => t.partitions.map((p: any) => [`${topic(t)}/${p.partitionIndex}`, d.errorCode]))),
  },
  [ApiKey.CreatePartitions]: {
    request: { topics: [{ name: T, count: 2, assignments: null }], timeoutMs: 1000 },
    entities: [T],
    entries: (res) => res.results.map((t: any) => [topic(t), t.errorCode]),
  },
  [ApiKey.DeleteGroups]: {
    request: { groupsNames: [G] },
    entities: [`group ${G}`],
    entries: (res) => res.results.map((g: any) => [`group ${g.groupId}`, g.errorCode]),
  },
  [ApiKey.ElectLeaders]: {
    request: { electionType: 0, topicPartitions: [{ topic: T, partitions: [P] }], timeoutMs: 1000 },
    entities: [ONE_PARTITION],
    entries: (res) => res.replicaElectionResults.flatMap((t: any) => partitions(t, t.partitionResult, 'partitionId')),
  },
  [ApiKey.IncrementalAlterConfigs]: {
    request: { resources: [{ resourceType: 2, resourceName: T, configs: [{ name: 'retention.ms', configOperation: 0, value: '1' }] }] },
    entities: [`resource ${T}`],
    entries: (res) => res.responses.map((r: any) => [`resource ${r.resourceName}`, r.errorCode]),
  },
  [ApiKey.OffsetDelete]: {
    request: { groupId: G, topics: [{ name: T, partitions: [{ partitionIndex: P }] }] },
    entities: [ONE_PARTITION],
    entries: (res) => res.topics.flatMap((t: any) => partitions(t, t.partitions)),
  },
  [ApiKey.DescribeCluster]: { request: { includeClusterAuthorizedOperations: false }, entities: [], entries: none },
  [ApiKey.ListConfigResources]: { request: { resourceTypes: [2] }, entities: [], entries: none },
  [ApiKey.DescribeTopicPartitions]: {
    request: { topics: [{ name: T }], responsePartitionLimit: 10, cursor: null },
    entities: [T],
    entries: (res) => res.topics.map((t: any) => [topic(t), t.errorCode]),
  },
};

/**
 * Versions whose errorResponse is known not to reach the client: the check is expected to fail there, so
 * that this test goes red once they are fixed (then delete the entry).
 */
const KNOWN_GAPS: Record<number, { versions: number[]; why: string }> = {
};

/** Encodes `msg` at `version` and decodes it back: what a handler sees for it. */
function throughCodec(key: number, version: number, msg: Record<string, unknown>): any {
  const w = new Writer();
  MESSAGES[key]!.request.encode(w, version, msg as never);
  return MESSAGES[key]!.request.decode(new Reader(Buffer.concat(w.finish())), version);
}

/** Decodes a response frame as a client would, checking its size, header and that nothing is left over. */
function decodeFrame(key: number, version: number, frame: Buffer): any {
  assert.equal(frame.readInt32BE(0), frame.length - 4, 'frame size');
  const r = new Reader(frame, 4);
  assert.equal(decodeResponseHeader(r, responseHeaderVersion(key, version)).correlationId, 1);
  const body = MESSAGES[key]!.response.decode(r, version);
  assert.equal(r.remaining(), 0, 'bytes left after the response');
  return body;
}

/** Whether the response has a top-level errorCode at `version` (a value written there survives a round trip). */
function hasTopLevelErrorCode(key: number, version: number): boolean {
  const w = new Writer();
  MESSAGES[key]!.response.encode(w, version, { errorCode: 42 } as never);
  return (MESSAGES[key]!.response.decode(new Reader(Buffer.concat(w.finish())), version) as { errorCode?: number }).errorCode === 42;
}

const bigints = (_k: string, x: unknown) => (typeof x === 'bigint' ? String(x) : x);

function checkErrorResponse(h: (typeof HANDLERS)[number], c: Case, v: number): void {
  const at = `${h.name} v${v}`;
  const request = throughCodec(h.key, v, c.request);
  if (c.entities.length > 0) {
    const text = JSON.stringify(request, bigints);
    assert.ok([T, TOPIC_ID, G].some((name) => text.includes(name)), `${at}: the test's request still names its entities at this version`);
  }
  const ctx = { apiKey: h.key, apiVersion: v, correlationId: 1, clientId: 'meta' } as unknown as RequestContext;
  const body = h.errorResponse(request, CODE, ctx);
  const res = decodeFrame(h.key, v, Buffer.concat(encodeResponseFrame(h.key, v, 1, body)));
  const entries = c.entries(res, v);
  for (const [entity, code] of entries) {
    assert.ok(c.entities.includes(entity), `${at}: an entry for ${entity}, which the request did not name`);
    assert.equal(code, CODE, `${at}: the error code of ${entity}`);
  }
  if (hasTopLevelErrorCode(h.key, v)) {
    assert.equal(res.errorCode, CODE, `${at}: the top-level error code`);
  } else {
    const required = c.required?.(v) ?? c.entities;
    assert.deepEqual(entries.map(([e]) => e).filter((e) => required.includes(e)).sort(), [...required].sort(),
      `${at}: no top-level error code at this version, so each entity of the request needs an entry with the error`);
  }
}

test('every errorResponse reaches the client at every version the handler serves: encoded, decoded back, the error where the client reads it', async (t) => {
  const missing = HANDLERS.filter((h) => !CASES[h.key]).map((h) => h.name);
  assert.deepEqual(missing, [], 'every handler has a request in CASES');
  for (const h of HANDLERS) {
    await t.test(h.name, () => {
      const gap = KNOWN_GAPS[h.key];
      for (let v = h.minVersion; v <= h.maxVersion; v++) {
        if (gap?.versions.includes(v)) {
          assert.throws(() => checkErrorResponse(h, CASES[h.key]!, v), assert.AssertionError,
            `${h.name} v${v} passes now: remove it from KNOWN_GAPS (${gap.why})`);
        } else {
          checkErrorResponse(h, CASES[h.key]!, v);
        }
      }
    });
  }
});

test('docs/api-versions.md is generated from the handler list (npx tsx tools/docs/api-versions-doc.ts)', async () => {
  const { renderApiVersionsDoc, API_VERSIONS_DOC_PATH } = await import('../../tools/docs/api-versions-doc.ts');
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(API_VERSIONS_DOC_PATH, 'utf8');
  assert.equal(doc, renderApiVersionsDoc());
  for (const h of HANDLERS) {
    const v = h.minVersion === h.maxVersion ? `${h.minVersion}` : `${h.minVersion}-${h.maxVersion}`;
    assert.match(doc, new RegExp(`\\| ${h.key} \\| ${h.name} \\| \\*\\*${v}\\*\\* \\|`), h.name);
  }
});
