/**
 * Writes tools/codegen/specs/, the specs the generator reads: the union of Kafka 4.1.1's message specs and
 * Kafka 3.9.1's (tools/codegen/union.ts: the versions Kafka 4 dropped come back), facts only (names, types,
 * versions, defaults, tags — the `about` prose and the comments dropped), 4.1's errors.json, and versions.json
 * (each API's validVersions in 4.2, 4.1 and 3.9, for docs/api-versions.md). The share-group APIs (KIP-932,
 * production-ready in Kafka 4.2: NEWER_APIS) are taken from Kafka 4.2's specs instead of 4.1's; 4.2's versions
 * of them only add versions and fields, so every 4.1 version stays. The copy is committed so the generator and its tests run in a clone
 * that has no ../shared beside it. Run after updating the upstream specs:
 *
 *   npx tsx tools/codegen/snapshot-specs.ts   (reads ../shared/kafka-protocol, ../shared/kafka-protocol-3.9 and
 *                                              ../shared/kafka-protocol-4.2, or KAFKA_PROTOCOL_DIR,
 *                                              KAFKA_PROTOCOL_PREVIOUS_DIR and KAFKA_PROTOCOL_NEWER_DIR)
 *   npx tsx tools/codegen/snapshot-specs.ts --check   (writes nothing; exits 1 if the committed copy differs)
 *
 * The check is a tool, not a test: a clone has no ../shared beside it, and a test that could only skip
 * there would check nothing in CI. The generator's own test (the generated code matches the snapshot) runs
 * everywhere.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newerUpstreamProtocolDir, parseJsonWithComments, previousUpstreamProtocolDir, snapshotDir, upstreamProtocolDir } from './spec.ts';
import { unionMessage } from './union.ts';

function stripAbout(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripAbout);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (k !== 'about') out[k] = stripAbout(v);
    return out;
  }
  return value;
}

/** The APIs whose messages come from Kafka 4.2's specs (KIP-932 share groups and their admin side). */
export const NEWER_APIS: readonly string[] = [
  'ShareGroupHeartbeat',
  'ShareGroupDescribe',
  'ShareFetch',
  'ShareAcknowledge',
  'DescribeShareGroupOffsets',
  'AlterShareGroupOffsets',
  'DeleteShareGroupOffsets',
];

const README =
  '# Kafka protocol facts (generated)\n\nWritten by `tools/codegen/snapshot-specs.ts`: the union of Apache Kafka 4.1.1\'s and 3.9.1\'s message specs, with the share-group APIs from 4.2 (Apache-2.0; see tools/codegen/union.ts and snapshot-specs.ts), structure only, the `about` texts and comments removed. The generator reads this copy.\n';

/** The snapshot's files (path relative to specs/ → text), computed from the upstream spec directories. */
export function snapshotFiles(
  current = upstreamProtocolDir(),
  previous = previousUpstreamProtocolDir(),
  newer = newerUpstreamProtocolDir(),
): Map<string, string> {
  const read = (dir: string, f: string): Record<string, unknown> =>
    stripAbout(parseJsonWithComments(readFileSync(join(dir, 'messages', f), 'utf8'))) as Record<string, unknown>;
  const isNewer = (f: string): boolean => NEWER_APIS.includes(f.replace(/(Request|Response)\.json$/, ''));
  const files = new Map<string, string>();
  for (const f of readdirSync(join(current, 'messages')).filter((n) => n.endsWith('.json')).sort()) {
    if (isNewer(f)) {
      files.set(`messages/${f}`, JSON.stringify(read(newer, f)) + '\n');
      continue;
    }
    const prev = existsSync(join(previous, 'messages', f)) ? read(previous, f) : undefined;
    // A response's versions are stable when its request's are (only requests carry the flag).
    const request = f.replace(/Response\.json$/, 'Request.json');
    const prevRequest = existsSync(join(previous, 'messages', request)) ? read(previous, request) : undefined;
    const unstable = prevRequest?.['latestVersionUnstable'] === true;
    files.set(`messages/${f}`, JSON.stringify(unionMessage(read(current, f), prev, unstable)) + '\n');
  }
  files.set('errors.json', readFileSync(join(current, 'errors.json'), 'utf8'));
  // Each API's validVersions in 4.2, 4.1 and 3.9 as released (the union above loses them; docs/api-versions.md shows them).
  const versions: Record<string, { apiKey: number; kafka42: string | null; kafka41: string; kafka41LatestUnstable: boolean; kafka39: string | null }> = {};
  for (const f of readdirSync(join(current, 'messages')).filter((n) => n.endsWith('Request.json')).sort()) {
    const cur = read(current, f);
    if (cur['type'] !== 'request') continue;
    const prev = existsSync(join(previous, 'messages', f)) ? read(previous, f) : undefined;
    const next = existsSync(join(newer, 'messages', f)) ? read(newer, f) : undefined;
    const name = String(cur['name']).replace(/Request$/, '');
    versions[name] = { apiKey: Number(cur['apiKey']), kafka42: next ? String(next['validVersions']) : null, kafka41: String(cur['validVersions']), kafka41LatestUnstable: cur['latestVersionUnstable'] === true, kafka39: prev ? String(prev['validVersions']) : null };
  }
  files.set('versions.json', JSON.stringify(versions, null, 1) + '\n');
  files.set('README.md', README);
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const to = snapshotDir();
  const files = snapshotFiles();
  if (process.argv.includes('--check')) {
    const committed = readdirSync(to, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
    const stale = [...files].filter(([rel, text]) => !existsSync(join(to, rel)) || readFileSync(join(to, rel), 'utf8') !== text).map(([rel]) => rel);
    if (stale.length > 0 || committed !== files.size) {
      console.error(`the snapshot in ${to} is stale (${stale.length} files differ, ${committed} committed for ${files.size}): run npx tsx tools/codegen/snapshot-specs.ts`);
      process.exit(1);
    }
    console.log(`the snapshot in ${to} is the union of the upstream specs (${files.size} files)`);
    process.exit(0);
  }
  rmSync(to, { recursive: true, force: true });
  mkdirSync(join(to, 'messages'), { recursive: true });
  for (const [rel, text] of files) writeFileSync(join(to, rel), text);
  console.log(`wrote ${files.size} files to ${to}`);
}
