/**
 * confluent-kafka (Python, librdkafka 2.0.2 from Debian) in tests. The drivers are scripts in
 * test/clients/ run under /usr/bin/python3 (the `python3` on PATH is another interpreter), each printing
 * its report as a JSON line last:
 * - `confluent(bootstrap, command, …)` runs confluent_client.py (`confluentWith(env, …)` on another
 *   librdkafka, such as 2.15 from librdkafka.ts); `checkRoundTrip` checks its `roundtrip` report;
 * - `runIdempotentProducer` runs confluent_idempotence.py through a proxy that cuts every client
 *   connection each second; `checkExactlyOnceInOrder` checks its report.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TcpProxy } from './tcp-proxy.ts';

const run = promisify(execFile);
const CLIENTS = join(import.meta.dirname, '../clients');

/** Runs a driver script of test/clients/; resolves with the JSON object it printed last. */
async function python(script: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<any> {
  const { stdout } = await run('/usr/bin/python3', [join(CLIENTS, script), ...args], { maxBuffer: 512 << 20, timeout: timeoutMs, env });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

/** confluent_client.py BOOTSTRAP COMMAND ARGS… (see its usage). */
export function confluent(bootstrap: string, ...args: string[]): Promise<any> {
  return python('confluent_client.py', [bootstrap, ...args], 180_000);
}

/** The same on another librdkafka: `env` from modernLibrdkafkaEnv() (librdkafka.ts) runs it on 2.15. */
export function confluentWith(env: NodeJS.ProcessEnv, bootstrap: string, ...args: string[]): Promise<any> {
  return python('confluent_client.py', [bootstrap, ...args], 180_000, env);
}

/** A message as confluent_client.py reports it: partition, offset, key, value, header `h`. */
export interface ConfluentMessage { p: number; o: number; k: string; v: string; h?: string }

/**
 * Per partition, the consumed messages are the acknowledged ones: offsets contiguous from 0, in produce
 * order, each with the key and header of its value (`value-N` has `key-N` and `header-N`).
 */
export function checkRoundTrip(acked: ConfluentMessage[], consumed: ConfluentMessage[]): void {
  for (const p of new Set(acked.map((m) => m.p))) {
    const sent = acked.filter((m) => m.p === p).sort((a, b) => a.o - b.o);
    const read = consumed.filter((m) => m.p === p);
    assert.deepEqual(read.map((m) => m.o), sent.map((_, i) => i), `partition ${p}: offsets contiguous from 0`);
    assert.deepEqual(read.map((m) => m.v), sent.map((m) => m.v), `partition ${p}: consumed order = produced order`);
    for (const m of read) {
      const i = m.v.slice('value-'.length);
      assert.equal(m.k, `key-${i}`);
      assert.equal(m.h, `header-${i}`);
    }
  }
}

/** What confluent_idempotence.py reports (the values read per partition, in offset order, among others). */
export interface IdempotenceReport {
  sent: number[];
  acked: number;
  error_count: number;
  errors: string[];
  fatal: string[];
  read: Record<string, string[]>;
  eos: unknown;
}

/**
 * librdkafka's idempotent producer (confluent_idempotence.py) sends `count` records over `partitions`
 * partitions of `topic` (created by the script with the broker's defaults), reaching the broker through
 * `proxy`, which cuts every client connection once a second meanwhile; then reads every partition back.
 */
export async function runIdempotentProducer(proxy: TcpProxy, topic: string, partitions: number, count: number, producerConfig: Record<string, number>): Promise<IdempotenceReport> {
  const cutter = setInterval(() => proxy.cutAll(), 1000);
  try {
    return await python('confluent_idempotence.py', [`127.0.0.1:${proxy.port}`, topic, String(partitions), String(count), JSON.stringify(producerConfig)], 300_000);
  } finally {
    clearInterval(cutter);
  }
}

/** No fatal or delivery error, `count` records acknowledged, and each partition holds each record once, in send order. */
export function checkExactlyOnceInOrder(r: IdempotenceReport, partitions: number, count: number): void {
  assert.deepEqual(r.fatal, [], 'no fatal idempotence error');
  assert.equal(r.error_count, 0, `delivery errors: ${JSON.stringify(r.errors)}`);
  assert.equal(r.acked, count);
  for (let p = 0; p < partitions; p++) {
    const expected = Array.from({ length: r.sent[p]! }, (_, i) => `${p}-${i}`);
    assert.equal(r.read[p]!.length, expected.length, `partition ${p}: ${r.read[p]!.length} records read for ${expected.length} sent`);
    assert.deepEqual(r.read[p], expected, `partition ${p}: every record once, in send order`);
  }
}
