/**
 * Meta-tests for src/protocol/gen: one module per spec file, API_SPECS/ApiKey/MESSAGES agree with the
 * specs, errors match errors.json, header-version rules, and the committed output is what the
 * generator produces now.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_SPECS, ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ERRORS, ErrorCode, errorName, isRetriable } from '../../src/protocol/gen/errors.ts';
import { requestHeaderVersion, responseHeaderVersion } from '../../src/protocol/gen/headers.ts';
import { MESSAGES } from '../../src/protocol/gen/messages/index.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';
import { apiName, isEmpty, loadErrors, loadMessages, moduleName, parseJsonWithComments, protocolDir } from '../../tools/codegen/spec.ts';
import { unionMessage } from '../../tools/codegen/union.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GEN = join(REPO, 'src', 'protocol', 'gen');
const specs = loadMessages();

test('every spec file has a generated module exporting its decoder and encoder', async () => {
  const files = readdirSync(join(protocolDir(), 'messages')).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, specs.length);
  for (const m of specs) {
    const rel = m.type === 'header' ? 'headers.ts' : `messages/${moduleName(m)}.ts`;
    assert.ok(existsSync(join(GEN, rel)), `${m.file} → ${rel}`);
    const mod = (await import(join(GEN, rel))) as Record<string, unknown>;
    assert.equal(typeof mod[`decode${m.name}`], 'function', `${rel} decode${m.name}`);
    assert.equal(typeof mod[`encode${m.name}`], 'function', `${rel} encode${m.name}`);
  }
});

test('API_SPECS, ApiKey and MESSAGES match the request specs', () => {
  const reqs = specs.filter((m) => m.type === 'request');
  assert.equal(API_SPECS.length, reqs.length);
  assert.equal(Object.keys(MESSAGES).length, reqs.length);
  for (const m of reqs) {
    const k = m.apiKey!;
    const s = API_SPECS[k]!;
    assert.equal(s.apiKey, k);
    assert.equal(s.name, apiName(m));
    assert.equal((ApiKey as Record<string, number>)[s.name], k);
    assert.equal(s.removed, isEmpty(m.valid));
    assert.equal(s.minVersion, s.removed ? -1 : m.valid.lo);
    assert.equal(s.maxVersion, s.removed ? -1 : m.valid.hi);
    assert.equal(s.flexibleMinVersion, isEmpty(m.flexible) ? -1 : m.flexible.lo);
    assert.equal(s.latestVersionUnstable, m.latestVersionUnstable);
    assert.deepEqual(s.listeners, m.listeners);
    assert.equal(MESSAGES[k]!.name, s.name);
    // validVersions straight from the raw JSON, independent of the loader's range parser
    const raw = parseJsonWithComments(readFileSync(join(protocolDir(), 'messages', m.file), 'utf8')) as { validVersions: string };
    if (raw.validVersions === 'none') assert.equal(s.removed, true);
    else {
      const [lo, hi] = raw.validVersions.split('-');
      assert.equal(s.minVersion, Number(lo));
      assert.equal(s.maxVersion, Number(hi ?? lo));
    }
  }
  assert.equal(ApiKey.Produce, 0);
  assert.equal(ApiKey.ApiVersions, 18);
  assert.equal(ApiKey.DeleteShareGroupOffsets, 92);
  assert.deepEqual(
    API_SPECS.filter((s) => s.removed).map((s) => s.name),
    ['LeaderAndIsr', 'StopReplica', 'UpdateMetadata', 'ControlledShutdown'],
  );
  assert.throws(() => MESSAGES[ApiKey.LeaderAndIsr]!.request.encode(new Writer(), 0, {}), /removed/);
  assert.throws(() => MESSAGES[ApiKey.LeaderAndIsr]!.request.decode(new Reader(Buffer.alloc(4)), 0), /removed/);
});

test('the specs are the union of Kafka 4.1 and 3.9: the versions Kafka 4 dropped are back', () => {
  const range = (name: string): [number, number] => [API_SPECS[(ApiKey as Record<string, number>)[name]!]!.minVersion, API_SPECS[(ApiKey as Record<string, number>)[name]!]!.maxVersion];
  assert.deepEqual(range('Produce'), [0, 13]);
  assert.deepEqual(range('Fetch'), [0, 18]);
  assert.deepEqual(range('ListOffsets'), [0, 10]);
  assert.deepEqual(range('OffsetCommit'), [0, 10]);
  assert.deepEqual(range('OffsetFetch'), [0, 10]);
  assert.deepEqual(range('CreateTopics'), [0, 7]);
  assert.deepEqual(range('DescribeConfigs'), [0, 4]);
  // Share groups come from Kafka 4.2's specs (3.9's early-access v0 was unstable, so v1 stays the lowest).
  assert.deepEqual(range('ShareFetch'), [1, 2]);
  assert.deepEqual(range('ShareAcknowledge'), [1, 2]);
  assert.deepEqual(range('DescribeShareGroupOffsets'), [0, 1]);
  // A 3.9-only field comes back at its place, for its old versions only.
  const w = new Writer();
  MESSAGES[ApiKey.ListOffsets]!.request.encode(w, 0, { replicaId: -1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, timestamp: -1n, maxNumOffsets: 7 }] }] });
  const v0 = MESSAGES[ApiKey.ListOffsets]!.request.decode(new Reader(w.toBuffer()), 0) as any;
  assert.equal(v0.topics[0].partitions[0].maxNumOffsets, 7);
});

test('union: ranges joined below the current lowest version, previous-only fields in place, unstable versions left out', () => {
  const current = { type: 'request', name: 'XRequest', validVersions: '2-4', flexibleVersions: '4+', fields: [
    { name: 'A', type: 'int32', versions: '0+' }, { name: 'B', type: 'string', versions: '0-3' }, { name: 'D', type: 'int8', versions: '3+' }] };
  const previous = { type: 'request', name: 'XRequest', validVersions: '0-3', flexibleVersions: '4+', fields: [
    { name: 'A', type: 'int32', versions: '0+' }, { name: 'C', type: 'int64', versions: '0-1' }, { name: 'B', type: 'string', versions: '0+' }] };
  const u = unionMessage(current, previous, false) as any;
  assert.equal(u.validVersions, '0-4');
  assert.deepEqual(u.fields.map((f: any) => `${f.name}:${f.versions}`), ['A:0+', 'C:0-1', 'B:0-3', 'D:3+']);
  assert.equal((unionMessage(current, { ...previous, validVersions: '0-2' }, true) as any).validVersions, '0-4');
  assert.throws(() => unionMessage(current, { ...previous, validVersions: '0-1' }, true), /not contiguous/);
  assert.equal((unionMessage(current, { ...previous, validVersions: '0' }, true) as any).validVersions, '2-4');
  assert.throws(() => unionMessage(current, { ...previous, flexibleVersions: '3+' }, false), /flexibleVersions differ/);
});

test('errors match errors.json', () => {
  const errs = loadErrors();
  assert.equal(ERRORS.size, errs.length);
  for (const e of errs) {
    assert.equal((ErrorCode as Record<string, number>)[e.name], e.code);
    assert.deepEqual(ERRORS.get(e.code), { name: e.name, retriable: e.retriable, message: e.message });
  }
  assert.equal(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 3);
  assert.equal(errorName(6), 'NOT_LEADER_OR_FOLLOWER');
  assert.equal(errorName(9999), 'UNKNOWN_ERROR_CODE(9999)');
  assert.equal(isRetriable(ErrorCode.NOT_LEADER_OR_FOLLOWER), true);
  assert.equal(isRetriable(ErrorCode.UNSUPPORTED_VERSION), false);
});

test('header versions follow flexibleVersions; ApiVersions responses always use v0', () => {
  assert.equal(requestHeaderVersion(ApiKey.Produce, 8), 1);
  assert.equal(requestHeaderVersion(ApiKey.Produce, 9), 2);
  assert.equal(responseHeaderVersion(ApiKey.Produce, 8), 0);
  assert.equal(responseHeaderVersion(ApiKey.Produce, 9), 1);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 3), 2);
  for (let v = 0; v <= 4; v++) assert.equal(responseHeaderVersion(ApiKey.ApiVersions, v), 0);
  assert.equal(requestHeaderVersion(ApiKey.SaslHandshake, 1), 1);
  assert.equal(requestHeaderVersion(ApiKey.OffsetDelete, 0), 1);
  assert.equal(requestHeaderVersion(ApiKey.DescribeCluster, 0), 2);
  assert.equal(requestHeaderVersion(9999, 0), 1);
  for (const s of API_SPECS) {
    if (s.removed) continue;
    for (let v = s.minVersion; v <= s.maxVersion; v++) {
      const flex = s.flexibleMinVersion >= 0 && v >= s.flexibleMinVersion;
      assert.equal(requestHeaderVersion(s.apiKey, v), flex ? 2 : 1);
      if (s.apiKey !== ApiKey.ApiVersions) assert.equal(responseHeaderVersion(s.apiKey, v), flex ? 1 : 0);
    }
  }
});

test('generated files are current and carry facts only', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'floe-codegen-'));
  try {
    execFileSync(process.execPath, ['--import', 'tsx', join(REPO, 'tools', 'codegen', 'generate.ts')], {
      env: { ...process.env, CODEGEN_OUT: tmp },
      stdio: 'pipe',
    });
    const list = (d: string): string[] =>
      readdirSync(d, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath ?? e.path, e.name).slice(d.length + 1))
        .sort();
    const fresh = list(tmp);
    assert.deepEqual(list(GEN), fresh, 'same file list (run `npm run codegen`)');
    const abouts = new Set<string>();
    const collect = (fields: { about?: string; fields?: unknown[] }[]): void => {
      for (const f of fields) {
        if (f.about && f.about.length > 25) abouts.add(f.about);
        if (f.fields) collect(f.fields as never);
      }
    };
    for (const m of specs) {
      const raw = parseJsonWithComments(readFileSync(join(protocolDir(), 'messages', m.file), 'utf8')) as {
        fields?: never[];
        commonStructs?: { fields: never[] }[];
      };
      collect(raw.fields ?? []);
      for (const c of raw.commonStructs ?? []) collect(c.fields);
    }
    for (const f of fresh) {
      const text = readFileSync(join(GEN, f), 'utf8');
      assert.equal(text, readFileSync(join(tmp, f), 'utf8'), `${f} is stale (run \`npm run codegen\`)`);
      assert.match(text, /^\/\/ GENERATED by tools\/codegen\/generate\.ts/, `${f} header`);
      for (const a of abouts) assert.ok(!text.includes(a), `${f} contains spec prose: ${a}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
