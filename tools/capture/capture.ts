/**
 * Captures request frames that real Kafka clients send, as golden fixtures for
 * test/protocol/golden.test.ts.
 *
 *   npx tsx tools/capture/capture.ts [--out test/protocol/fixtures] [scenario…]
 *
 * Scenarios (default: all): kcat-metadata (`kcat -L`), kcat-produce (`kcat -P`), kcat-consume
 * (`kcat -C -e`), kafkajs-produce (kafkajs producer.send, in process).
 *
 * A tiny fake broker on 127.0.0.1 answers with the generated encoders: ApiVersions (advertising a
 * modest set of versions), Metadata (one broker = itself; each requested topic, else `t1`, with one
 * partition led by itself), Produce (success; the batches are kept), ListOffsets and Fetch (serving
 * the kept batches), and closes the connection on anything else. Every distinct request frame is saved
 * per (scenario, API, version) as `<scenario>-<api>-v<version>.hex`: the frame without its 4-byte size
 * prefix (request header + body), lowercase hex on one line; a later frame of the same API and version
 * whose content differs (correlation id aside) is saved as `…-v<version>-2.hex` and so on.
 */

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { API_SPECS, ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { decodeRequestHeader, encodeResponseHeader, requestHeaderVersion, responseHeaderVersion } from '../../src/protocol/gen/headers.ts';
import { MESSAGES } from '../../src/protocol/gen/messages/index.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';
import { kebab } from '../codegen/spec.ts';

/** Versions the fake broker advertises (modest: what the clients here know). */
const ADVERTISED: Record<number, [number, number]> = {
  [ApiKey.Produce]: [3, 9],
  [ApiKey.Fetch]: [4, 12],
  [ApiKey.ListOffsets]: [1, 7],
  [ApiKey.Metadata]: [0, 12],
  [ApiKey.ApiVersions]: [0, 3],
};

const TOPIC_ID = '5d6b2a1e-7c3f-4f0e-9a51-2b8c4d7e9f10';

interface Frame {
  apiKey: number;
  version: number;
  bytes: Buffer;
}

class FakeBroker {
  readonly frames: Frame[] = [];
  private readonly batches = new Map<string, Buffer[]>(); // topic → record batches (offsets 0…)
  private readonly server = createServer((s) => this.onConnection(s));
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((res) => this.server.listen(0, '127.0.0.1', res));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((res) => this.server.close(() => res()));
  }

  private onConnection(sock: Socket): void {
    let buf: Buffer = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 4) {
        const size = buf.readInt32BE(0);
        if (buf.length < 4 + size) break;
        const frame = Buffer.from(buf.subarray(4, 4 + size));
        buf = buf.subarray(4 + size);
        try {
          this.onFrame(sock, frame);
        } catch (err) {
          console.error('capture: bad frame', err);
          sock.destroy();
          return;
        }
      }
    });
  }

  private onFrame(sock: Socket, frame: Buffer): void {
    const apiKey = frame.readInt16BE(0);
    const version = frame.readInt16BE(2);
    this.frames.push({ apiKey, version, bytes: frame });
    const r = new Reader(frame);
    const header = decodeRequestHeader(r, requestHeaderVersion(apiKey, version));
    const name = API_SPECS[apiKey]?.name ?? `api${apiKey}`;
    const adv = ADVERTISED[apiKey];
    let body: Record<string, unknown> | null;
    let respVersion = version;
    if (apiKey === ApiKey.ApiVersions && version > ADVERTISED[ApiKey.ApiVersions]![1]) {
      // KIP-511: answer a too-new ApiVersions with v0 + UNSUPPORTED_VERSION and our ranges.
      respVersion = 0;
      body = { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: this.apiKeys() };
    } else if (!adv || version < adv[0] || version > adv[1]) {
      console.error(`capture: ${header.clientId} sent ${name} v${version}, not served; closing`);
      sock.destroy();
      return;
    } else {
      const req = MESSAGES[apiKey]!.request.decode(r, version) as Record<string, unknown>;
      body = this.handle(apiKey, req);
    }
    if (body === null) return; // acks=0
    const w = new Writer();
    const at = w.reserveInt32();
    encodeResponseHeader(w, responseHeaderVersion(apiKey, respVersion), { correlationId: header.correlationId });
    MESSAGES[apiKey]!.response.encode(w, respVersion, body);
    w.patchInt32(at, w.length - at - 4);
    sock.cork();
    for (const c of w.finish()) sock.write(c);
    sock.uncork();
  }

  private apiKeys(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return Object.entries(ADVERTISED).map(([k, [lo, hi]]) => ({ apiKey: Number(k), minVersion: lo, maxVersion: hi }));
  }

  private handle(apiKey: number, req: Record<string, unknown>): Record<string, unknown> | null {
    switch (apiKey) {
      case ApiKey.ApiVersions:
        return { errorCode: 0, apiKeys: this.apiKeys(), throttleTimeMs: 0 };
      case ApiKey.Metadata: {
        const asked = req['topics'] as { name: string | null }[] | null;
        const names = asked && asked.length ? asked.map((t) => t.name ?? 't1') : ['t1'];
        return {
          brokers: [{ nodeId: 1, host: '127.0.0.1', port: this.port, rack: null }],
          clusterId: 'floe-capture',
          controllerId: 1,
          topics: names.map((name) => ({
            errorCode: 0,
            name,
            topicId: TOPIC_ID,
            isInternal: false,
            partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }],
          })),
        };
      }
      case ApiKey.Produce: {
        const topics = req['topicData'] as { name: string; partitionData: { index: number; records: Buffer | null }[] }[];
        const responses = topics.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) => {
            const list = this.batches.get(t.name) ?? [];
            const base = BigInt(list.length);
            if (p.records) list.push(Buffer.from(p.records));
            this.batches.set(t.name, list);
            return { index: p.index, errorCode: 0, baseOffset: base, logAppendTimeMs: -1n, logStartOffset: 0n };
          }),
        }));
        return req['acks'] === 0 ? null : { responses, throttleTimeMs: 0 };
      }
      case ApiKey.ListOffsets: {
        const topics = req['topics'] as { name: string; partitions: { partitionIndex: number; timestamp: bigint }[] }[];
        return {
          topics: topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({
              partitionIndex: p.partitionIndex,
              errorCode: 0,
              timestamp: -1n,
              offset: p.timestamp === -2n ? 0n : this.hw(t.name),
              leaderEpoch: 0,
            })),
          })),
        };
      }
      case ApiKey.Fetch: {
        const topics = req['topics'] as { topic: string; partitions: { partition: number; fetchOffset: bigint }[] }[];
        return {
          errorCode: 0,
          sessionId: 0,
          responses: topics.map((t) => ({
            topic: t.topic,
            partitions: t.partitions.map((p) => {
              const list = this.batches.get(t.topic) ?? [];
              const off = Number(p.fetchOffset);
              // Empty, not null: librdkafka rejects a null record set ("invalid MessageSetSize -1").
              const records = off < list.length ? this.withBaseOffset(list[off]!, off) : Buffer.alloc(0);
              return {
                partitionIndex: p.partition,
                errorCode: 0,
                highWatermark: this.hw(t.topic),
                lastStableOffset: this.hw(t.topic),
                logStartOffset: 0n,
                abortedTransactions: null,
                preferredReadReplica: -1,
                records,
              };
            }),
          })),
        };
      }
    }
    return null;
  }

  /** Each kept batch is assumed to hold one record (what the scenarios send). */
  private hw(topic: string): bigint {
    return BigInt(this.batches.get(topic)?.length ?? 0);
  }

  private withBaseOffset(batch: Buffer, offset: number): Buffer {
    const b = Buffer.from(batch);
    b.writeBigInt64BE(BigInt(offset), 0); // baseOffset is outside the CRC
    return b;
  }
}

function run(cmd: string, args: string[], input: string | null, timeoutMs = 15000): Promise<number> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: [input === null ? 'ignore' : 'pipe', 'inherit', 'inherit'] });
    const timer = setTimeout(() => {
      console.error(`capture: ${cmd} timed out`);
      p.kill('SIGKILL');
    }, timeoutMs);
    p.on('error', rej);
    p.on('exit', (code) => {
      clearTimeout(timer);
      res(code ?? -1);
    });
    if (input !== null) p.stdin!.end(input);
  });
}

type Scenario = (broker: FakeBroker) => Promise<void>;

const SCENARIOS: Record<string, { run: Scenario }> = {
  'kcat-metadata': {
    run: async (b) => {
      await run('kcat', ['-b', `127.0.0.1:${b.port}`, '-L', '-m', '5'], null);
    },
  },
  'kcat-produce': {
    run: async (b) => {
      await run('kcat', ['-b', `127.0.0.1:${b.port}`, '-t', 't1', '-P', '-k', 'key', '-X', 'linger.ms=0'], 'hello\n');
    },
  },
  'kcat-consume': {
    run: async (b) => {
      await run('kcat', ['-b', `127.0.0.1:${b.port}`, '-t', 't1', '-P', '-k', 'key'], 'hello\n');
      b.frames.length = 0; // keep only the consumer's frames
      await run('kcat', ['-b', `127.0.0.1:${b.port}`, '-t', 't1', '-C', '-o', 'beginning', '-e', '-c', '1'], null);
    },
  },
  'kafkajs-produce': {
    run: async (b) => {
      const kafkajs = (await import('kafkajs')).default;
      const kafka = new kafkajs.Kafka({
        clientId: 'floe-capture',
        brokers: [`127.0.0.1:${b.port}`],
        logLevel: kafkajs.logLevel.NOTHING,
        retry: { retries: 0 },
      });
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      await producer.send({ topic: 't1', acks: -1, messages: [{ key: 'key', value: 'hello', timestamp: '1700000000000' }] });
      await producer.disconnect();
    },
  },
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let out = resolve('test/protocol/fixtures');
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out') out = resolve(args[++i]!);
    else names.push(args[i]!);
  }
  mkdirSync(out, { recursive: true });
  for (const name of names.length ? names : Object.keys(SCENARIOS)) {
    const sc = SCENARIOS[name];
    if (!sc) throw new Error(`unknown scenario ${name}; have ${Object.keys(SCENARIOS).join(', ')}`);
    const broker = new FakeBroker();
    await broker.start();
    try {
      await sc.run(broker);
    } finally {
      await broker.stop();
    }
    const seen = new Map<string, string[]>(); // base name → bodies seen (correlation id masked)
    for (const f of broker.frames) {
      const api = kebab(API_SPECS[f.apiKey]?.name ?? `api${f.apiKey}`);
      const base = `${name}-${api}-v${f.version}`;
      const masked = Buffer.from(f.bytes);
      masked.writeInt32BE(0, 4);
      const key = masked.toString('hex');
      const bodies = seen.get(base) ?? [];
      if (bodies.includes(key)) continue;
      bodies.push(key);
      seen.set(base, bodies);
      const file = bodies.length === 1 ? `${base}.hex` : `${base}-${bodies.length}.hex`;
      writeFileSync(resolve(out, file), f.bytes.toString('hex') + '\n');
      console.log(`${name}: ${file} (${f.bytes.length} bytes)`);
    }
  }
}

await main();
