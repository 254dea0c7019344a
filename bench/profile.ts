/**
 * Summarises a broker CPU profile written by `npm run bench -- --profile` (or any `node --cpu-prof` file):
 * self time by function, the callers of the busiest functions, and self time by file or package.
 *
 *   npx tsx bench/profile.ts FILE.cpuprofile [--from MICROS --to MICROS] [--top 25]
 *   npx tsx bench/profile.ts RESULTS.json [--phase produce]   every profiled phase of a bench run
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatProfile, summarizeProfile } from './lib/profile.ts';
import type { BenchResults } from './lib/report.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string' }, to: { type: 'string' }, top: { type: 'string', default: '20' }, phase: { type: 'string' } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: npx tsx bench/profile.ts FILE.cpuprofile [--from MICROS --to MICROS] | RESULTS.json [--phase produce]\n');
  process.exit(2);
}
const top = Number(values.top);
if (file.endsWith('.json')) {
  const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  for (const p of results.profiles ?? []) {
    if (values.phase && p.phase !== values.phase) continue;
    process.stdout.write(`${formatProfile(summarizeProfile(p.file, p.window, top), `broker ${p.broker}, ${p.phase} phase`)}\n\n`);
  }
} else {
  const window = values.from && values.to ? { fromUs: Number(values.from), toUs: Number(values.to) } : undefined;
  process.stdout.write(`${formatProfile(summarizeProfile(file, window, top), file)}\n`);
}
