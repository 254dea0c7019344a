import { startTestBroker } from '../test/helpers/broker.ts';
import { RawClient } from '../test/helpers/raw-client.ts';
import { ApiKey } from '../src/protocol/gen/api-keys.ts';
const broker = await startTestBroker({ 'auto.create.topics.enable': false });
const probe = await RawClient.connect(broker.port);
async function probeLatency(): Promise<number> { const t = performance.now(); await probe.request(ApiKey.ApiVersions, 0, {}); return performance.now() - t; }
async function measure(name: string, apiKey: number, version: number, body: unknown) {
  const c = await RawClient.connect(broker.port);
  const t0 = performance.now();
  const done = c.request(apiKey, version, body).then(() => performance.now() - t0, (e) => { return -1; });
  let max = 0; let stop = false;
  const loop = (async () => { while (!stop) { max = Math.max(max, await probeLatency()); await new Promise((r) => setTimeout(r, 20)); } })();
  const d = await done; stop = true; await loop;
  console.log(`${name}: answered in ${d.toFixed(0)} ms, worst ApiVersions probe ${max.toFixed(0)} ms`);
  c.close();
}
const N = Number(process.argv[2] ?? 200000);
const names = Array.from({ length: N }, (_, i) => `t${i}`);
await measure(`Metadata v1 ${N} unknown topics`, ApiKey.Metadata, 1, { topics: names.map((name) => ({ name })) });
await measure(`ListOffsets v1 ${N} unknown topics`, ApiKey.ListOffsets, 1, { replicaId: -1, topics: names.map((name) => ({ name, partitions: [{ partitionIndex: 0, timestamp: -1n }] })) });
await measure(`Fetch v4 ${N} unknown topics`, ApiKey.Fetch, 4, { replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: names.map((topic) => ({ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1024 }] })) });
await measure(`OffsetCommit v2 ${N} partitions`, ApiKey.OffsetCommit, 2, { groupId: 'g', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 't0', partitions: Array.from({ length: N }, (_, i) => ({ partitionIndex: i, committedOffset: 0n, committedMetadata: null })) }] });
await measure(`CreateTopics v2 ${Math.min(N, 20000)} topics validateOnly`, ApiKey.CreateTopics, 2, { topics: names.slice(0, 20000).map((name) => ({ name, numPartitions: 1, replicationFactor: 1 })), timeoutMs: 1000, validateOnly: true });
process.exit(0);
