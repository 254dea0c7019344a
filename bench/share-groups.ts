/**
 * Share-group throughput (KIP-932): records per second acknowledged by 4 consumers sharing one partition.
 * One in-process broker on the embedded defaults (PGlite coordinator, folder bucket); a backlog of
 * --records records in batches of --per-batch is produced first, then 4 consumers
 * (test/helpers/share-consumer.ts: the project's codec over raw sockets) each ShareFetch up to --max-records
 * records at a time and accept them piggy-backed on their next fetch. Measured: from the first fetch until
 * the last acknowledgement was answered. Every acquisition and acknowledgement is one coordinator
 * transaction, so the figure is bound by the coordinator's transaction rate.
 *
 *   npx tsx bench/share-groups.ts [--records 20000] [--per-batch 100] [--max-records 500] [--kind diskless|classic]
 *
 * Prints one line and one JSON line. Figures are for reading, not for asserting: the machine is shared.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadBrokerConfig } from '../src/config/broker-config.ts';
import { startBroker } from '../src/broker/broker.ts';
import { RawClient } from '../test/helpers/raw-client.ts';
import { batchOf } from '../test/helpers/record-batch.ts';
import { produce } from '../test/helpers/produce.ts';
import { CLASSIC, createTopic, topicMetadata } from '../test/helpers/topics.ts';
import { ACCEPT, acksOf, ShareConsumer } from '../test/helpers/share-consumer.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    'per-batch': { type: 'string', default: '100' },
    'max-records': { type: 'string', default: '500' },
    kind: { type: 'string', default: 'diskless' },
  },
});
const RECORDS = Number(values.records);
const PER = Number(values['per-batch']);
const MAX_RECORDS = Number(values['max-records']);
const kind = values.kind === 'classic' ? 'classic' : 'diskless';

const dir = await mkdtemp(join(tmpdir(), 'floe-bench-share-'));
const loaded = loadBrokerConfig({ overrides: ['listeners=PLAINTEXT://127.0.0.1:0', `data.dir=${dir}`, 'diskless.commit.interval.ms=20'], env: {} });
const broker = await startBroker(loaded.config, { loaded });
try {
  const topic = 'share-bench';
  const group = 'share-bench-group';
  const admin = await RawClient.connect(broker.port);
  await createTopic(admin, topic, 1, kind === 'classic' ? CLASSIC : {});
  const topicId = (await topicMetadata(admin, topic)).topicId;
  const consumers = await Promise.all([0, 1, 2, 3].map(() => ShareConsumer.join(broker.port, group, topic, topicId)));
  for (const c of consumers) await c.fetch(0, [], { maxWaitMs: 0 }); // the share partition starts at the log end (0)
  const batches = Math.ceil(RECORDS / PER);
  for (let b = 0; b < batches; b++) await produce(admin, topic, 0, await batchOf(Array.from({ length: PER }, (_, i) => `record-${b}-${i}-${'x'.repeat(80)}`)));
  const total = batches * PER;
  let acked = 0;
  const perConsumer = [0, 0, 0, 0];
  const started = performance.now();
  await Promise.all(consumers.map(async (c, i) => {
    let pending: number[] = [];
    while (acked < total) {
      const r = await c.fetch(0, acksOf(pending, ACCEPT), { maxRecords: MAX_RECORDS, maxWaitMs: 100 });
      acked += pending.length;
      perConsumer[i]! += pending.length;
      pending = r.acquired.map((a) => a.offset);
    }
    if (pending.length > 0) {
      await c.acknowledge(0, acksOf(pending, ACCEPT));
      acked += pending.length;
      perConsumer[i]! += pending.length;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const rate = Math.round(total / seconds);
  console.log(`share groups (${kind}, PGlite): ${total} records acknowledged by 4 consumers of one partition in ${seconds.toFixed(2)} s = ${rate} records/s (per consumer ${perConsumer.join('/')}; batches of ${PER}, max.records ${MAX_RECORDS})`);
  console.log(JSON.stringify({ bench: 'share-groups', kind, records: total, seconds: Number(seconds.toFixed(3)), recordsPerSecond: rate, perConsumer }));
  for (const c of consumers) await c.leave();
  admin.close();
} finally {
  await broker.close();
  await rm(dir, { recursive: true, force: true });
}
