/**
 * Writes tools/codegen/specs/: a facts-only copy of Kafka's message specs (names, types, versions,
 * defaults, tags — the `about` prose and the comments dropped) and errors.json, so the generator's
 * tests run in a clone that has no ../shared beside it. Run after updating the upstream specs:
 *
 *   npx tsx tools/codegen/snapshot-specs.ts        (reads ../shared/kafka-protocol or KAFKA_PROTOCOL_DIR)
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseJsonWithComments, upstreamProtocolDir } from './spec.ts';

const from = upstreamProtocolDir();
const to = resolve(dirname(fileURLToPath(import.meta.url)), 'specs');

function stripAbout(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripAbout);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (k !== 'about') out[k] = stripAbout(v);
    return out;
  }
  return value;
}

rmSync(to, { recursive: true, force: true });
mkdirSync(join(to, 'messages'), { recursive: true });
for (const f of readdirSync(join(from, 'messages')).filter((n) => n.endsWith('.json')).sort()) {
  const spec = stripAbout(parseJsonWithComments(readFileSync(join(from, 'messages', f), 'utf8')));
  writeFileSync(join(to, 'messages', f), JSON.stringify(spec) + '\n');
}
writeFileSync(join(to, 'errors.json'), readFileSync(join(from, 'errors.json')));
writeFileSync(join(to, 'README.md'), '# Kafka protocol facts (generated)\n\nWritten by `tools/codegen/snapshot-specs.ts` from Apache Kafka 4.1.1\'s message specs (Apache-2.0): structure only, the `about` texts and comments removed. The generator reads `../shared/kafka-protocol` when it exists and this copy otherwise.\n');
console.log(`wrote ${to}`);
