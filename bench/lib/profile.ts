/**
 * Summary of a V8 CPU profile (`node --cpu-prof`): self time by function and by file, optionally only
 * for samples inside a time window. Profile timestamps are CLOCK_MONOTONIC microseconds, the clock of
 * `process.hrtime()`, so a window taken with `monoMicros()` in the benchmark process (same machine)
 * selects the samples of one phase of the broker's run.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './procs.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  /** Share of the busy (non-idle) time in the window. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  /** For the busiest JavaScript/native functions: who called them, by self time spent under each caller. */
  callers: { name: string; where: string; callers: { name: string; where: string; selfMs: number }[] }[];
  windowMs: number;
  busyMs: number;
  idleMs: number;
  gcMs: number;
  topFunctions: ProfileEntry[];
  topFiles: ProfileEntry[];
}

/** Microseconds of CLOCK_MONOTONIC, comparable with CPU profile timestamps. */
export function monoMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function shortUrl(url: string): string {
  if (url === '') return '(native/V8)';
  let path = url;
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url);
    } catch {
      path = url;
    }
  }
  if (path.startsWith('/')) {
    const rel = relative(ROOT, path);
    path = rel.startsWith('..') ? path : rel;
  }
  // Group dependencies by package.
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return nm ? `node_modules/${nm[1]}${path.includes('.wasm') ? ' (wasm)' : ''}` : path;
}

export function summarizeProfile(file: string, window?: { fromUs: number; toUs: number }, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  let windowUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    // The time until the next sample is spent where this sample is.
    const span = profile.timeDeltas[i + 1] ?? 0;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    windowUs += span;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + span);
  }
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const frameOf = (id: number) => {
    const cf = byId.get(id)!.callFrame;
    const name = cf.functionName || '(anonymous)';
    const file = cf.url ? shortUrl(cf.url) : name.startsWith('(') ? name : '(native/V8)';
    return { name, where: cf.url ? `${file}:${cf.lineNumber + 1}` : file, file };
  };
  // Self time of a function by its nearest caller outside node:buffer/internal frames of the same name.
  const callerTotals = new Map<string, Map<string, { name: string; where: string; us: number }>>();
  const fnTotals = new Map<string, { name: string; where: string; us: number }>();
  const fileTotals = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    const name = cf.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    if (name === '(garbage collector)') gc += us;
    const { file, where } = frameOf(id);
    const key = `${name}@${where}`;
    const entry = fnTotals.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    fnTotals.set(key, entry);
    fileTotals.set(file, (fileTotals.get(file) ?? 0) + us);
    // The first caller in Floe's own code (src/…), else the first caller in a package, else the direct one.
    let p = parentOf.get(id);
    let chosen: ReturnType<typeof frameOf> | null = null;
    let fallback: ReturnType<typeof frameOf> | null = null;
    while (p !== undefined) {
      const f = frameOf(p);
      if (f.name === '(root)') break;
      fallback ??= f;
      if (f.file.startsWith('src/') || f.file.startsWith('node_modules/')) {
        chosen = f;
        break;
      }
      p = parentOf.get(p);
    }
    const caller = chosen ?? fallback;
    if (caller) {
      const m = callerTotals.get(key) ?? new Map();
      const ck = `${caller.name}@${caller.where}`;
      const c = m.get(ck) ?? { name: caller.name, where: caller.where, us: 0 };
      c.us += us;
      m.set(ck, c);
      callerTotals.set(key, m);
    }
  }
  const busy = windowUs - idle;
  const pct = (us: number) => (busy > 0 ? Math.round((us / busy) * 1000) / 10 : 0);
  const ms = (us: number) => Math.round(us / 100) / 10;
  const top5 = [...fnTotals.entries()].filter(([, e]) => !e.name.startsWith('(')).sort((a, b) => b[1].us - a[1].us).slice(0, 6);
  return {
    file,
    callers: top5.map(([key, e]) => ({
      name: e.name,
      where: e.where,
      callers: [...(callerTotals.get(key)?.values() ?? [])].sort((a, b) => b.us - a.us).slice(0, 4).map((c) => ({ name: c.name, where: c.where, selfMs: ms(c.us) })),
    })),
    windowMs: ms(windowUs),
    busyMs: ms(busy),
    idleMs: ms(idle),
    gcMs: ms(gc),
    topFunctions: [...fnTotals.values()].sort((a, b) => b.us - a.us).slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, selfMs: ms(e.us), percent: pct(e.us) })),
    topFiles: [...fileTotals.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([f, us]) => ({ name: f, where: f, selfMs: ms(us), percent: pct(us) })),
  };
}

export function formatProfile(s: ProfileSummary, title: string): string {
  const lines = [`${title}: ${s.busyMs} ms busy of ${s.windowMs} ms sampled (idle ${s.idleMs} ms, GC ${s.gcMs} ms)`];
  lines.push('  top self time, by function:');
  for (const e of s.topFunctions) lines.push(`    ${e.percent.toFixed(1).padStart(5)}%  ${String(e.selfMs).padStart(8)} ms  ${e.name}  ${e.where}`);
  lines.push('  callers of the busiest functions (nearest caller in src/ or a package):');
  for (const c of s.callers) lines.push(`    ${c.name} (${c.where}) ← ${c.callers.map((x) => `${x.name} ${x.where} ${x.selfMs} ms`).join('; ')}`);
  lines.push('  by file / package:');
  for (const e of s.topFiles.slice(0, 12)) lines.push(`    ${e.percent.toFixed(1).padStart(5)}%  ${String(e.selfMs).padStart(8)} ms  ${e.name}`);
  return lines.join('\n');
}
