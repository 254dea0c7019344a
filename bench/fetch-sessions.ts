/**
 * Fetch sessions (KIP-227) A/B: broker CPU per fetch of an idle consumer polling many partitions, with full
 * fetch requests (session epoch -1: every request names, and every response answers, every partition) next to
 * incremental ones (one full request with epoch 0, then requests naming nothing and answered with nothing
 * while no partition changes). One broker on the embedded defaults (PGlite + folder), a diskless topic of
 * --partitions partitions with one record in each, Fetch v12 (names) or --version 13 (topic ids), max.wait.ms 0;
 * the two modes alternate in --rounds rounds of --fetches fetches each. The broker's CPU comes from /proc.
 *
 *   npx tsx bench/fetch-sessions.ts [--partitions 1000] [--fetches 1000] [--rounds 3] [--version 12]
 *
 * Prints one line per round and mode, then the medians and one JSON line. Figures are for reading, not for
 * asserting: the machine is shared.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker } from './lib/procs.ts';
import { RawClient } from '../test/helpers/raw-client.ts';
import { createTopics, topicMetadata } from '../test/helpers/topics.ts';
import { producePartitions } from '../test/helpers/produce.ts';
import { batchOf } from '../test/helpers/record-batch.ts';
import { ApiKey } from '../src/protocol/gen/api-keys.ts';
import type { FetchResponse } from '../src/protocol/gen/messages/fetch.ts';

const { values } = parseArgs({
  options: {
    partitions: { type: 'string', default: '1000' },
    fetches: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    version: { type: 'string', default: '12' },
  },
});
const PARTITIONS = Number(values.partitions);
const FETCHES = Number(values.fetches);
const ROUNDS = Number(values.rounds);
const VERSION = Number(values.version);
const TOPIC = 'fetch-sessions-bench';

const dataDir = await mkdtemp(join(tmpdir(), 'floe-bench-fs-'));
const broker = await startBroker({ name: 'fetch-sessions', dataDir, overrides: {}, logFile: join(dataDir, 'broker.log') });
const client = await RawClient.connect(broker.port);
try {
  await createTopics(client, [{ name: TOPIC, partitions: PARTITIONS }]);
  const topicId = (await topicMetadata(client, TOPIC)).topicId;
  const batch = await batchOf('x');
  for (let p = 0; p < PARTITIONS; p += 100) {
    const parts = [];
    for (let q = p; q < Math.min(PARTITIONS, p + 100); q++) parts.push({ topic: TOPIC, partition: q, records: batch });
    await producePartitions(client, parts);
  }
  const everyPartition = Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, fetchOffset: 1n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }));
  const body = (sessionId: number, sessionEpoch: number, named: boolean) => ({
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 50 << 20, isolationLevel: 0, sessionId, sessionEpoch, rackId: '', forgottenTopicsData: [],
    topics: named ? [{ topic: TOPIC, topicId, partitions: everyPartition }] : [],
  });
  let responseBytes = 0;
  const fetch = async (sessionId: number, epoch: number, named: boolean): Promise<FetchResponse> => {
    const r = await client.request<FetchResponse>(ApiKey.Fetch, VERSION, body(sessionId, epoch, named));
    if (r.errorCode !== 0) throw new Error(`fetch error ${r.errorCode}`);
    responseBytes += r.responses.reduce((n, t) => n + t.partitions.length, 0);
    return r;
  };

  const modes: Record<string, () => Promise<void>> = {
    full: async () => {
      for (let i = 0; i < FETCHES; i++) await fetch(0, -1, true);
    },
    incremental: async () => {
      const first = await fetch(0, 0, true);
      if (first.sessionId === 0) throw new Error('no session created');
      for (let i = 1; i <= FETCHES; i++) await fetch(first.sessionId, i, false);
      await fetch(first.sessionId, -1, false); // close it
    },
  };
  await modes.full!(); // warm up both paths
  await modes.incremental!();
  const results: Record<string, number[]> = { full: [], incremental: [] };
  const partitionsAnswered: Record<string, number> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [mode, run] of Object.entries(modes)) {
      responseBytes = 0;
      const cpu0 = broker.cpuSeconds();
      const t0 = performance.now();
      await run();
      const wallMs = performance.now() - t0;
      const cpuMsPerFetch = ((broker.cpuSeconds() - cpu0) * 1000) / FETCHES;
      results[mode]!.push(cpuMsPerFetch);
      partitionsAnswered[mode] = responseBytes / FETCHES;
      console.log(`round ${round} ${mode.padEnd(12)} ${cpuMsPerFetch.toFixed(3).padStart(8)} broker CPU ms/fetch  ${(wallMs / FETCHES).toFixed(3).padStart(8)} ms/fetch wall  ${(responseBytes / FETCHES).toFixed(0)} partitions answered/fetch`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const full = median(results.full!);
  const incremental = median(results.incremental!);
  console.log(`median: full ${full.toFixed(3)} ms, incremental ${incremental.toFixed(3)} ms broker CPU per fetch of ${PARTITIONS} partitions (${(full / incremental).toFixed(1)}x)`);
  console.log(JSON.stringify({ bench: 'fetch-sessions', partitions: PARTITIONS, fetches: FETCHES, rounds: ROUNDS, version: VERSION, cpuMsPerFetch: { full, incremental }, partitionsAnswered, rounds_: results }));
} finally {
  client.close();
  await broker.stop();
  await rm(dataDir, { recursive: true, force: true });
}
