/**
 * Request frames captured from real clients (tools/capture/capture.ts → fixtures/*.hex, one frame
 * without its size prefix per file): the generated header and body decoders read them completely,
 * known fields have the values the clients set, and re-encoding gives the identical bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { decodeRequestHeader, encodeRequestHeader, requestHeaderVersion, type RequestHeader } from '../../src/protocol/gen/headers.ts';
import { MESSAGES } from '../../src/protocol/gen/messages/index.ts';
import type { ApiVersionsRequest } from '../../src/protocol/gen/messages/api-versions.ts';
import type { FetchRequest } from '../../src/protocol/gen/messages/fetch.ts';
import type { ListOffsetsRequest } from '../../src/protocol/gen/messages/list-offsets.ts';
import type { MetadataRequest } from '../../src/protocol/gen/messages/metadata.ts';
import type { ProduceRequest } from '../../src/protocol/gen/messages/produce.ts';
import { DecodeError, Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

interface Decoded {
  header: RequestHeader;
  body: unknown;
}

function decodeFrame(frame: Buffer): Decoded {
  const r = new Reader(frame);
  const hv = requestHeaderVersion(frame.readInt16BE(0), frame.readInt16BE(2));
  const header = decodeRequestHeader(r, hv);
  const body = MESSAGES[header.requestApiKey]!.request.decode(r, header.requestApiVersion);
  assert.equal(r.remaining(), 0, 'whole frame consumed');
  return { header, body };
}

function encodeFrame(d: Decoded): Buffer {
  const w = new Writer(32);
  encodeRequestHeader(w, requestHeaderVersion(d.header.requestApiKey, d.header.requestApiVersion), d.header);
  MESSAGES[d.header.requestApiKey]!.request.encode(w, d.header.requestApiVersion, d.body);
  return w.toBuffer();
}

function load(name: string): Buffer {
  return Buffer.from(readFileSync(join(DIR, name), 'utf8').trim(), 'hex');
}

/** The record batch of a produce request: magic 2, one record whose key/value we know. */
function assertHelloBatch(records: Buffer | null): void {
  assert.ok(records);
  assert.equal(records.readInt8(16), 2, 'magic');
  assert.equal(records.readInt32BE(8), records.length - 12, 'batchLength');
  assert.equal(records.readInt32BE(57), 1, 'recordsCount');
  assert.ok(records.includes(Buffer.from('key')) && records.includes(Buffer.from('hello')));
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.hex')).sort();

test('fixtures exist for kcat and kafkajs: ApiVersions, Metadata, Produce', () => {
  for (const client of ['kcat', 'kafkajs']) {
    for (const api of ['api-versions', 'metadata', 'produce']) {
      assert.ok(files.some((f) => f.startsWith(client) && f.includes(`-${api}-v`)), `${client} ${api}`);
    }
  }
});

for (const file of files) {
  test(`${file}: decodes completely and re-encodes byte-identically`, () => {
    const frame = load(file);
    const d = decodeFrame(frame);
    const m = /-v(\d+)(?:-\d+)?\.hex$/.exec(file)!;
    assert.equal(d.header.requestApiVersion, Number(m[1]));
    assert.equal(d.header.clientId, file.startsWith('kcat') ? 'rdkafka' : 'floe-capture');
    assert.ok(encodeFrame(d).equals(frame), 're-encoded bytes are identical');
  });
}

test('kcat: known field values', () => {
  const av = decodeFrame(load('kcat-produce-api-versions-v3.hex'));
  assert.equal(av.header.requestApiKey, ApiKey.ApiVersions);
  assert.equal(av.header.correlationId, 1);
  const avBody = av.body as ApiVersionsRequest;
  assert.equal(avBody.clientSoftwareName, 'librdkafka');
  assert.match(avBody.clientSoftwareVersion, /^\d+\.\d+\.\d+/);

  const all = decodeFrame(load('kcat-metadata-metadata-v4-2.hex')).body as MetadataRequest;
  assert.equal(all.topics, null, 'kcat -L asks for all topics (null)');
  assert.equal(all.allowAutoTopicCreation, true);
  const brokersOnly = decodeFrame(load('kcat-metadata-metadata-v4.hex')).body as MetadataRequest;
  assert.deepEqual(brokersOnly.topics, [], 'librdkafka first asks for brokers only (empty list)');

  const md = decodeFrame(load('kcat-produce-metadata-v4.hex'));
  assert.equal(md.header.correlationId, 2);
  assert.deepEqual((md.body as MetadataRequest).topics?.map((t) => t.name), ['t1']);

  const pr = decodeFrame(load('kcat-produce-produce-v7.hex'));
  assert.equal(pr.header.requestApiKey, ApiKey.Produce);
  assert.equal(pr.header.correlationId, 3);
  const p = pr.body as ProduceRequest;
  assert.equal(p.transactionalId, null);
  assert.equal(p.acks, -1);
  assert.equal(p.timeoutMs, 30000);
  assert.equal(p.topicData.length, 1);
  assert.equal(p.topicData[0]!.name, 't1');
  assert.equal(p.topicData[0]!.partitionData[0]!.index, 0);
  assertHelloBatch(p.topicData[0]!.partitionData[0]!.records);

  const lo = decodeFrame(load('kcat-consume-list-offsets-v2.hex')).body as ListOffsetsRequest;
  assert.equal(lo.replicaId, -1);
  assert.equal(lo.topics[0]!.name, 't1');
  assert.equal(lo.topics[0]!.partitions[0]!.timestamp, -2n, 'earliest (-o beginning)');

  const f1 = decodeFrame(load('kcat-consume-fetch-v11.hex')).body as FetchRequest;
  const f2 = decodeFrame(load('kcat-consume-fetch-v11-2.hex')).body as FetchRequest;
  assert.equal(f1.replicaId, -1);
  assert.equal(f1.isolationLevel, 1);
  assert.equal(f1.topics[0]!.topic, 't1');
  assert.equal(f1.topics[0]!.partitions[0]!.fetchOffset, 0n);
  assert.equal(f2.topics[0]!.partitions[0]!.fetchOffset, 1n);
  // fields newer than v11 come back as their spec defaults
  assert.equal(f1.topics[0]!.partitions[0]!.highWatermark, 9223372036854775807n);
  assert.equal(f1.topics[0]!.topicId, '00000000-0000-0000-0000-000000000000');
  assert.equal(f1.clusterId, null);
});

test('kafkajs: known field values', () => {
  const av = decodeFrame(load('kafkajs-produce-api-versions-v2.hex'));
  assert.equal(av.header.requestApiVersion, 2);
  assert.equal(av.header.correlationId, 0);

  const md = decodeFrame(load('kafkajs-produce-metadata-v6.hex')).body as MetadataRequest;
  assert.deepEqual(md.topics?.map((t) => t.name), ['t1']);
  assert.equal(md.allowAutoTopicCreation, false);

  const pr = decodeFrame(load('kafkajs-produce-produce-v7.hex'));
  const p = pr.body as ProduceRequest;
  assert.equal(p.acks, -1);
  assert.equal(p.timeoutMs, 30000);
  assert.equal(p.topicData[0]!.name, 't1');
  const records = p.topicData[0]!.partitionData[0]!.records!;
  assertHelloBatch(records);
  assert.equal(records.readBigInt64BE(27), 1700000000000n, 'baseTimestamp set by the capture script');
});

test('every truncation of every fixture fails with DecodeError', () => {
  for (const file of files) {
    const frame = load(file);
    for (let cut = 4; cut < frame.length; cut++) {
      assert.throws(() => decodeFrame(frame.subarray(0, cut)), DecodeError, `${file} cut at ${cut}`);
    }
  }
});
