/**
 * kafkajs as an independent oracle for the non-flexible versions it implements:
 * - requests: kafkajs encodes, the generated decoder reads every byte, fields match, and the generated
 *   encoder reproduces kafkajs's bytes exactly;
 * - responses: the generated encoder writes, kafkajs's decoder reads back the same values (the broker's
 *   direction: what a kafkajs client will see).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { MESSAGES } from '../../src/protocol/gen/messages/index.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';

const require = createRequire(import.meta.url);

interface KafkajsRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<{ buffer: Buffer }>;
}

function kafkajs<T>(path: string): T {
  return require(`kafkajs/src/protocol/requests/${path}`) as T;
}

type Obj = Record<string, unknown>;

// ---- requests -----------------------------------------------------------------------------------

interface RequestCase {
  api: string;
  key: number;
  versions: number[];
  args: Obj;
  check(body: Obj, version: number): void;
}

const topicNames = (b: Obj, field = 'topics', name = 'name'): unknown[] => (b[field] as Obj[]).map((t) => t[name]);

const REQUESTS: RequestCase[] = [
  {
    api: 'metadata',
    key: ApiKey.Metadata,
    versions: [0, 1, 2, 3, 4, 5, 6],
    args: { topics: ['t1', 't2'], allowAutoTopicCreation: false },
    check: (b, v) => {
      assert.deepEqual(topicNames(b), ['t1', 't2']);
      assert.equal(b['allowAutoTopicCreation'], v >= 4 ? false : true);
    },
  },
  {
    api: 'listOffsets',
    key: ApiKey.ListOffsets,
    versions: [1, 2, 3],
    args: { replicaId: -1, isolationLevel: 0, topics: [{ topic: 't1', partitions: [{ partition: 3, timestamp: -2 }] }] },
    check: (b) => {
      assert.equal(b['replicaId'], -1);
      const t = (b['topics'] as Obj[])[0]!;
      assert.equal(t['name'], 't1');
      // MaxNumOffsets (v0 only) decodes as its default.
      assert.deepEqual((t['partitions'] as Obj[])[0], { partitionIndex: 3, currentLeaderEpoch: -1, timestamp: -2n, maxNumOffsets: 1 });
    },
  },
  {
    api: 'fetch',
    key: ApiKey.Fetch,
    versions: [4, 5, 6, 7, 8, 9, 10, 11],
    args: {
      replicaId: -1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 10485760,
      isolationLevel: 1,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: 't1', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: '42', logStartOffset: '-1', maxBytes: 1048576 }] }],
      forgottenTopics: [],
      rackId: 'rack-a',
    },
    check: (b, v) => {
      assert.equal(b['maxWaitMs'], 500);
      assert.equal(b['maxBytes'], 10485760);
      const t = (b['topics'] as Obj[])[0]!;
      assert.equal(t['topic'], 't1');
      const p = (t['partitions'] as Obj[])[0]!;
      assert.equal(p['fetchOffset'], 42n);
      assert.equal(p['partitionMaxBytes'], 1048576);
      assert.equal(b['rackId'], v >= 11 ? 'rack-a' : '');
    },
  },
  {
    api: 'findCoordinator',
    key: ApiKey.FindCoordinator,
    versions: [0, 1, 2],
    args: { groupId: 'group-1', coordinatorKey: 'group-1', coordinatorType: 0 },
    check: (b) => assert.equal(b['key'], 'group-1'),
  },
  {
    api: 'joinGroup',
    key: ApiKey.JoinGroup,
    versions: [0, 1, 2, 3, 4, 5],
    args: {
      groupId: 'g',
      sessionTimeout: 30000,
      rebalanceTimeout: 60000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      groupProtocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([0, 1, 0, 0, 0, 1, 0, 2, 116, 49]) }],
    },
    check: (b, v) => {
      assert.equal(b['groupId'], 'g');
      assert.equal(b['sessionTimeoutMs'], 30000);
      assert.equal(b['rebalanceTimeoutMs'], v >= 1 ? 60000 : -1);
      assert.equal(b['protocolType'], 'consumer');
      assert.equal((b['protocols'] as Obj[])[0]!['name'], 'RoundRobinAssigner');
    },
  },
  {
    api: 'syncGroup',
    key: ApiKey.SyncGroup,
    versions: [0, 1, 2, 3],
    args: { groupId: 'g', generationId: 7, memberId: 'm-1', groupInstanceId: null, groupAssignment: [{ memberId: 'm-1', memberAssignment: Buffer.from('abc') }] },
    check: (b) => {
      assert.equal(b['generationId'], 7);
      assert.deepEqual((b['assignments'] as Obj[])[0], { memberId: 'm-1', assignment: Buffer.from('abc') });
    },
  },
  {
    api: 'heartbeat',
    key: ApiKey.Heartbeat,
    versions: [0, 1, 2, 3],
    args: { groupId: 'g', groupGenerationId: 7, memberId: 'm-1', groupInstanceId: null },
    check: (b) => assert.deepEqual([b['groupId'], b['generationId'], b['memberId'], b['groupInstanceId']], ['g', 7, 'm-1', null]),
  },
  {
    api: 'offsetCommit',
    key: ApiKey.OffsetCommit,
    versions: [2, 3, 4, 5],
    args: { groupId: 'g', groupGenerationId: 7, memberId: 'm-1', retentionTime: -1, topics: [{ topic: 't1', partitions: [{ partition: 0, offset: '99', metadata: null }] }] },
    check: (b) => {
      const p = ((b['topics'] as Obj[])[0]!['partitions'] as Obj[])[0]!;
      assert.equal(p['committedOffset'], 99n);
      assert.equal(p['committedMetadata'], null);
    },
  },
  {
    api: 'offsetFetch',
    key: ApiKey.OffsetFetch,
    versions: [1, 2, 3, 4],
    args: { groupId: 'g', topics: [{ topic: 't1', partitions: [{ partition: 0 }, { partition: 1 }] }] },
    check: (b) => {
      assert.equal(b['groupId'], 'g');
      assert.deepEqual((b['topics'] as Obj[])[0]!['partitionIndexes'], [0, 1]);
    },
  },
  {
    api: 'createTopics',
    key: ApiKey.CreateTopics,
    versions: [2, 3],
    args: {
      topics: [{ topic: 't1', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      validateOnly: false,
      timeout: 5000,
    },
    check: (b) => {
      const t = (b['topics'] as Obj[])[0]!;
      assert.equal(t['name'], 't1');
      assert.equal(t['numPartitions'], 3);
      assert.deepEqual(t['configs'], [{ name: 'cleanup.policy', value: 'compact' }]);
      assert.equal(b['timeoutMs'], 5000);
    },
  },
  {
    api: 'initProducerId',
    key: ApiKey.InitProducerId,
    versions: [0, 1],
    args: { transactionalId: null, transactionTimeout: 60000 },
    check: (b) => assert.deepEqual([b['transactionalId'], b['transactionTimeoutMs']], [null, 60000]),
  },
];

for (const c of REQUESTS) {
  test(`kafkajs ${c.api} request v${c.versions[0]}-v${c.versions.at(-1)}: generated decoder reads it, encoder reproduces it`, async () => {
    for (const v of c.versions) {
      const req = kafkajs<(a: Obj) => KafkajsRequest>(`${c.api}/v${v}/request`)(c.args);
      assert.equal(req.apiKey, c.key);
      assert.equal(req.apiVersion, v);
      const bytes = (await req.encode()).buffer;
      const r = new Reader(bytes);
      const body = MESSAGES[c.key]!.request.decode(r, v) as Obj;
      assert.equal(r.remaining(), 0, `${c.api} v${v}: whole body consumed`);
      c.check(body, v);
      const w = new Writer();
      MESSAGES[c.key]!.request.encode(w, v, body);
      assert.ok(w.toBuffer().equals(bytes), `${c.api} v${v}: byte-identical to kafkajs`);
    }
  });
}

// ---- responses ----------------------------------------------------------------------------------

interface ResponseCase {
  api: string;
  key: number;
  versions: number[];
  msg: Obj;
  check(decoded: Obj, version: number): void;
}

const RESPONSES: ResponseCase[] = [
  {
    api: 'apiVersions',
    key: ApiKey.ApiVersions,
    versions: [0, 1, 2],
    msg: { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 7 }, { apiKey: 18, minVersion: 0, maxVersion: 2 }], throttleTimeMs: 11 },
    check: (d, v) => {
      assert.deepEqual(d['apiVersions'], [{ apiKey: 0, minVersion: 3, maxVersion: 7 }, { apiKey: 18, minVersion: 0, maxVersion: 2 }]);
      if (v >= 1) assert.equal(d['clientSideThrottleTime'] ?? d['throttleTime'], 11);
    },
  },
  {
    api: 'metadata',
    key: ApiKey.Metadata,
    versions: [0, 1, 2, 3, 4, 5, 6],
    msg: {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: 'b1', port: 9092, rack: 'r1' }, { nodeId: 2, host: 'b2', port: 9093, rack: null }],
      clusterId: 'cluster',
      controllerId: 2,
      topics: [
        { errorCode: 0, name: 't1', isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 5, replicaNodes: [1, 2], isrNodes: [1], offlineReplicas: [2] }] },
        { errorCode: 3, name: 'missing', partitions: [] },
      ],
    },
    check: (d, v) => {
      assert.deepEqual(
        (d['brokers'] as Obj[]).map((b) => [b['nodeId'], b['host'], b['port']]),
        [[1, 'b1', 9092], [2, 'b2', 9093]],
      );
      if (v >= 1) assert.equal(d['controllerId'], 2);
      if (v >= 2) assert.equal(d['clusterId'], 'cluster');
      const tm = d['topicMetadata'] as Obj[];
      assert.deepEqual(tm.map((t) => [t['topic'], t['topicErrorCode']]), [['t1', 0], ['missing', 3]]);
      const p = (tm[0]!['partitionMetadata'] as Obj[])[0]!;
      assert.deepEqual([p['partitionId'], p['leader'], p['replicas'], p['isr']], [0, 1, [1, 2], [1]]);
      if (v >= 5) assert.deepEqual(p['offlineReplicas'], [2]);
    },
  },
  {
    api: 'produce',
    key: ApiKey.Produce,
    versions: [3, 4, 5, 6, 7],
    msg: { responses: [{ name: 't1', partitionResponses: [{ index: 2, errorCode: 0, baseOffset: 42n, logAppendTimeMs: -1n, logStartOffset: 7n }] }], throttleTimeMs: 9 },
    check: (d, v) => {
      const p = ((d['topics'] as Obj[])[0]!['partitions'] as Obj[])[0]!;
      assert.equal((d['topics'] as Obj[])[0]!['topicName'], 't1');
      assert.deepEqual([p['partition'], p['errorCode'], p['baseOffset'], p['logAppendTime']], [2, 0, '42', '-1']);
      if (v >= 5) assert.equal(p['logStartOffset'], '7');
      assert.equal(d['clientSideThrottleTime'] ?? d['throttleTime'], 9);
    },
  },
  {
    api: 'fetch',
    key: ApiKey.Fetch,
    versions: [4, 5, 6, 7, 8, 9, 10, 11],
    msg: {
      throttleTimeMs: 3,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 't1',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              highWatermark: 10n,
              lastStableOffset: 9n,
              logStartOffset: 1n,
              abortedTransactions: [{ producerId: 5n, firstOffset: 3n }],
              preferredReadReplica: -1,
              records: Buffer.alloc(0),
            },
          ],
        },
      ],
    },
    check: (d, v) => {
      const t = (d['responses'] as Obj[])[0]!;
      assert.equal(t['topicName'], 't1');
      const p = (t['partitions'] as Obj[])[0]!;
      assert.deepEqual([p['partition'], p['highWatermark'], p['lastStableOffset']], [0, '10', '9']);
      if (v >= 5) assert.equal(p['lastStartOffset'], '1');
      assert.deepEqual(p['abortedTransactions'], [{ producerId: '5', firstOffset: '3' }]);
      assert.deepEqual(p['messages'], []);
    },
  },
  {
    api: 'listOffsets',
    key: ApiKey.ListOffsets,
    versions: [1, 2, 3],
    msg: { throttleTimeMs: 1, topics: [{ name: 't1', partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: -1n, offset: 5n }] }] },
    check: (d) => {
      const t = (d['responses'] as Obj[])[0]!;
      assert.equal(t['topic'], 't1');
      assert.deepEqual((t['partitions'] as Obj[])[0], { partition: 0, errorCode: 0, timestamp: '-1', offset: '5' });
    },
  },
  {
    api: 'findCoordinator',
    key: ApiKey.FindCoordinator,
    versions: [0, 1, 2],
    msg: { throttleTimeMs: 1, errorCode: 0, errorMessage: null, nodeId: 1, host: 'h', port: 9092 },
    check: (d) => assert.deepEqual(d['coordinator'], { nodeId: 1, host: 'h', port: 9092 }),
  },
  {
    api: 'joinGroup',
    key: ApiKey.JoinGroup,
    versions: [0, 1, 2, 3, 4, 5],
    msg: { throttleTimeMs: 1, errorCode: 0, generationId: 3, protocolName: 'range', leader: 'm1', memberId: 'm1', members: [{ memberId: 'm1', groupInstanceId: null, metadata: Buffer.from('abc') }] },
    check: (d) => {
      assert.deepEqual([d['generationId'], d['groupProtocol'], d['leaderId'], d['memberId']], [3, 'range', 'm1', 'm1']);
      assert.deepEqual((d['members'] as Obj[])[0]!['memberMetadata'], Buffer.from('abc'));
    },
  },
  {
    api: 'syncGroup',
    key: ApiKey.SyncGroup,
    versions: [0, 1, 2, 3],
    msg: { throttleTimeMs: 1, errorCode: 0, assignment: Buffer.from('xyz') },
    check: (d) => assert.deepEqual(d['memberAssignment'], Buffer.from('xyz')),
  },
  {
    api: 'offsetFetch',
    key: ApiKey.OffsetFetch,
    versions: [1, 2, 3, 4],
    msg: { throttleTimeMs: 1, topics: [{ name: 't1', partitions: [{ partitionIndex: 0, committedOffset: 12n, metadata: 'md', errorCode: 0 }] }], errorCode: 0 },
    check: (d) => {
      const t = (d['responses'] as Obj[])[0]!;
      assert.equal(t['topic'], 't1');
      assert.deepEqual((t['partitions'] as Obj[])[0], { partition: 0, offset: '12', metadata: 'md', errorCode: 0 });
    },
  },
  {
    api: 'createTopics',
    key: ApiKey.CreateTopics,
    versions: [2, 3],
    msg: { throttleTimeMs: 1, topics: [{ name: 't1', errorCode: 36, errorMessage: 'exists' }] },
    check: (d) => assert.deepEqual(d['topicErrors'], [{ topic: 't1', errorCode: 36, errorMessage: 'exists' }]),
  },
  {
    api: 'initProducerId',
    key: ApiKey.InitProducerId,
    versions: [0, 1],
    msg: { throttleTimeMs: 1, errorCode: 0, producerId: 1234n, producerEpoch: 2 },
    check: (d) => assert.deepEqual([d['producerId'], d['producerEpoch']], ['1234', 2]),
  },
];

for (const c of RESPONSES) {
  test(`kafkajs ${c.api} response v${c.versions[0]}-v${c.versions.at(-1)}: kafkajs decodes what the generated encoder writes`, async () => {
    for (const v of c.versions) {
      const w = new Writer();
      MESSAGES[c.key]!.response.encode(w, v, c.msg);
      const { decode } = kafkajs<{ decode(b: Buffer): Promise<Obj> }>(`${c.api}/v${v}/response`);
      c.check(await decode(w.toBuffer()), v);
    }
  });
}
