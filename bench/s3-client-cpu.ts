/**
 * Client CPU of S3ObjectStore's GETs and PUTs: this checkout's store against another checkout's (`--base`),
 * in one process, over one s3rver on loopback (a child process, so its CPU is not counted), alternating
 * rounds. Per operation: CPU-s per GiB moved and CPU-ms per request (this process's user + system time,
 * with the requests `--concurrency` at a time), and MB/s (which on loopback is mostly s3rver's speed).
 *
 *   npx tsx bench/s3-client-cpu.ts [--base /other/checkout] [--rounds 5] [--mib 256] [--concurrency 8]
 *
 * Operations: ranged GETs of 256 KiB and of 2 MiB (a lagging read's sizes), whole GETs of 2 MiB objects,
 * and PUTs of 8 MiB objects given as 16 chunks of 512 KiB (the write path's shape).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startS3rver } from '../tools/dev/local-servers.ts';
import type { ObjectStore } from '../src/objectstore/object-store.ts';
import { ROOT } from './lib/procs.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    mib: { type: 'string', default: '256' },
    concurrency: { type: 'string', default: '8' },
  },
});
const MIB = 1024 * 1024;
const rounds = Number(values.rounds);
const totalBytes = Number(values.mib) * MIB;
const concurrency = Number(values.concurrency);
const say = (s: string) => process.stderr.write(`[s3-cpu ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const s3 = await startS3rver();
await s3.createBucket('cpu');

type StoreCtor = new (options: Record<string, unknown>) => ObjectStore;
async function storeOf(root: string): Promise<ObjectStore> {
  const { S3ObjectStore } = (await import(join(root, 'src/objectstore/s3.ts'))) as { S3ObjectStore: StoreCtor };
  return new S3ObjectStore({
    bucket: 'cpu', endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1',
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

const variants: { name: string; store: ObjectStore }[] = [{ name: 'this', store: await storeOf(ROOT) }];
if (values.base) variants.push({ name: 'base', store: await storeOf(values.base) });

// The objects read: 2 MiB each, enough of them for `--mib` of reads.
const OBJECT = 2 * MIB;
const objects = Math.max(1, Math.ceil(totalBytes / OBJECT / 4));
const payload = Buffer.alloc(OBJECT, 7);
say(`writing ${objects} objects of 2 MiB`);
for (let i = 0; i < objects; i++) await variants[0]!.store.put(`src/${i}`, payload);

interface Op {
  name: string;
  bytesPerRequest: number;
  run(store: ObjectStore, i: number, round: string): Promise<unknown>;
}
const ops: Op[] = [
  { name: 'GET 256 KiB range', bytesPerRequest: 256 * 1024, run: (s, i) => s.get(`src/${i % objects}`, { start: ((i >> 3) % 8) * 256 * 1024, end: (((i >> 3) % 8) + 1) * 256 * 1024 }) },
  { name: 'GET 2 MiB range', bytesPerRequest: 2 * MIB - 1, run: (s, i) => s.get(`src/${i % objects}`, { start: 1, end: 2 * MIB }) },
  { name: 'GET 2 MiB whole', bytesPerRequest: 2 * MIB, run: (s, i) => s.get(`src/${i % objects}`) },
  {
    name: 'PUT 8 MiB (16 chunks)', bytesPerRequest: 8 * MIB,
    run: (s, i, round) => s.put(`put/${round}/${i}`, Array.from({ length: 16 }, () => payload.subarray(0, 512 * 1024))),
  },
];

/** CPU-s/GiB, CPU-ms/request, MB/s of one pass of `op` moving about `--mib` (PUTs: a quarter of it). */
async function pass(store: ObjectStore, op: Op, round: string): Promise<number[]> {
  const requests = Math.max(concurrency, Math.round((op.name.startsWith('PUT') ? totalBytes / 4 : totalBytes) / op.bytesPerRequest));
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests) await op.run(store, next++, round);
  }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const bytes = requests * op.bytesPerRequest;
  return [cpuSeconds / (bytes / 2 ** 30), (cpuSeconds * 1000) / requests, bytes / 1e6 / seconds];
}

const rows: Record<string, Record<string, number[][]>> = {};
try {
  for (const v of variants) for (const op of ops) await pass(v.store, op, `warm-${v.name}`); // JIT, sockets
  for (let round = 0; round < rounds; round++) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      for (const op of ops) {
        const row = await pass(v.store, op, `${v.name}-${round}`);
        ((rows[op.name] ??= {})[v.name] ??= []).push(row);
        say(`${v.name} ${op.name}: ${row[0]!.toFixed(2)} CPU-s/GiB, ${row[1]!.toFixed(3)} CPU-ms/request, ${row[2]!.toFixed(0)} MB/s`);
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\nmedians of ${rounds} rounds, concurrency ${concurrency}:`);
  console.log('| operation | checkout | CPU-s/GiB | CPU-ms/request | MB/s |');
  console.log('|---|---|---|---|---|');
  for (const op of ops) {
    for (const v of variants) {
      const r = rows[op.name]![v.name]!;
      console.log(`| ${op.name} | ${v.name} | ${median(r.map((x) => x[0]!)).toFixed(2)} | ${median(r.map((x) => x[1]!)).toFixed(3)} | ${median(r.map((x) => x[2]!)).toFixed(0)} |`);
    }
  }
} finally {
  for (const v of variants) await v.store.close();
  await s3.destroy();
}
