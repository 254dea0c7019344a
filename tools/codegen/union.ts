/**
 * The union of two Kafka spec sets (raw JSON, `about` already stripped): Kafka 4.1's (`current`) and
 * Kafka 3.9's (`previous`), so the codec also speaks the versions Kafka 4 dropped (KIP-896).
 *
 * Per request/response message that both define and `current` does not mark removed:
 * - validVersions: from the lowest of either to the highest;
 * - the versions taken from `previous` are its stable ones below `current`'s lowest (`previousOnly`);
 *   for those, `previous` is the truth; from `current`'s lowest up, `current` is;
 * - every field (and nested field) keeps `current`'s attributes; its version ranges (versions,
 *   nullableVersions, taggedVersions) become `current`'s range joined with `previous`'s range restricted to
 *   `previousOnly`; fields only `previous` has are inserted after the field that precedes them there,
 *   with their ranges restricted to `previousOnly` (dropped when that is empty).
 * Headers, data files, APIs `current` removed (LeaderAndIsr, …) and files only `previous` has are taken as
 * `current` has them (or left out). A joined range that is not contiguous is an error.
 */

type Raw = Record<string, unknown>;
interface RawField extends Raw {
  name: string;
  versions?: string;
  fields?: RawField[];
}

interface Span {
  lo: number;
  hi: number; // Infinity for "N+"
}

const NONE: Span = { lo: 1, hi: 0 };

function parse(s: unknown): Span {
  if (s === undefined || s === 'none') return NONE;
  const t = String(s).trim();
  let m = /^(\d+)\+$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Infinity };
  m = /^(\d+)-(\d+)$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Number(m[2]) };
  m = /^(\d+)$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Number(m[1]) };
  throw new Error(`bad version range ${JSON.stringify(s)}`);
}

function empty(r: Span): boolean {
  return r.lo > r.hi;
}

function format(r: Span): string {
  if (empty(r)) return 'none';
  if (r.hi === Infinity) return `${r.lo}+`;
  return r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`;
}

function intersect(a: Span, b: Span): Span {
  const lo = Math.max(a.lo, b.lo);
  const hi = Math.min(a.hi, b.hi);
  return lo > hi ? NONE : { lo, hi };
}

/** a ∪ b, which must be one range. */
function join(a: Span, b: Span, where: string): Span {
  if (empty(a)) return b;
  if (empty(b)) return a;
  if (a.hi !== Infinity && a.hi + 1 < b.lo) throw new Error(`${where}: ${format(a)} and ${format(b)} are not contiguous`);
  if (b.hi !== Infinity && b.hi + 1 < a.lo) throw new Error(`${where}: ${format(a)} and ${format(b)} are not contiguous`);
  return { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
}

const RANGE_KEYS = ['versions', 'nullableVersions', 'taggedVersions'] as const;

/** A field's range attribute: current's joined with previous's within `old`; undefined when neither has it. */
function joinRange(cur: RawField | undefined, prev: RawField | undefined, key: string, old: Span, where: string): string | undefined {
  const c = cur ? parse(cur[key]) : NONE;
  const p = prev ? intersect(parse(prev[key]), old) : NONE;
  if (cur?.[key] === undefined && empty(p)) return undefined;
  const r = join(c, p, `${where}.${key}`);
  return format(r);
}

function mergeFields(cur: RawField[] | undefined, prev: RawField[] | undefined, old: Span, where: string): RawField[] | undefined {
  if (!prev || empty(old)) return cur;
  const out: RawField[] = [];
  const byName = new Map((prev ?? []).map((f) => [f.name, f]));
  for (const c of cur ?? []) out.push(mergeField(c, byName.get(c.name), old, `${where}.${c.name}`));
  // Fields only `previous` has, after the field that precedes them there.
  for (let i = 0; i < prev.length; i++) {
    const p = prev[i]!;
    if ((cur ?? []).some((c) => c.name === p.name)) continue;
    const f = mergeField(undefined, p, old, `${where}.${p.name}`);
    if (f.versions === 'none') continue;
    let at = 0;
    for (let j = i - 1; j >= 0; j--) {
      const k = out.findIndex((o) => o.name === prev[j]!.name);
      if (k >= 0) {
        at = k + 1;
        break;
      }
    }
    out.splice(at, 0, f);
  }
  return out;
}

function mergeField(cur: RawField | undefined, prev: RawField | undefined, old: Span, where: string): RawField {
  const base: RawField = { ...(cur ?? prev!) };
  for (const key of RANGE_KEYS) {
    const r = joinRange(cur, prev, key, old, where);
    if (r === undefined) delete base[key];
    else base[key] = r;
  }
  if (cur && prev && !empty(intersect(parse(prev.versions), old))) {
    for (const key of ['type', 'tag', 'flexibleVersions'] as const) {
      if (JSON.stringify(cur[key]) !== JSON.stringify(prev[key]) && String(cur[key]) !== String(prev[key])) {
        throw new Error(`${where}: ${key} differs (${JSON.stringify(prev[key])} → ${JSON.stringify(cur[key])})`);
      }
    }
  }
  const fields = mergeFields(cur?.fields, cur ? prev?.fields : undefined, old, where);
  if (cur) {
    if (fields !== undefined) base.fields = fields;
  } else if (prev?.fields) {
    base.fields = prev.fields.map((f) => mergeField(undefined, f, old, `${where}.${f.name}`)).filter((f) => f.versions !== 'none');
  }
  return base;
}

/**
 * The versions `previous` adds to `current`: its stable ones below `current`'s lowest. `unstable`: the
 * previous request marks its latest version unstable (responses carry no such flag: pass the request's).
 */
export function previousOnly(current: Raw, previous: Raw, unstable: boolean): Span {
  const c = parse(current['validVersions']);
  let p = parse(previous['validVersions']);
  if (unstable && !empty(p)) p = { lo: p.lo, hi: p.hi - 1 };
  return intersect(p, { lo: 0, hi: c.lo - 1 });
}

/** One message of the union (see the file header). */
export function unionMessage(current: Raw, previous: Raw | undefined, previousUnstable: boolean): Raw {
  const type = current['type'];
  if (!previous || (type !== 'request' && type !== 'response') || empty(parse(current['validVersions']))) return current;
  const old = previousOnly(current, previous, previousUnstable);
  if (empty(old)) return current;
  const name = String(current['name']);
  if (String(current['flexibleVersions']) !== String(previous['flexibleVersions'])) {
    throw new Error(`${name}: flexibleVersions differ`);
  }
  const out: Raw = { ...current, validVersions: format(join(old, parse(current['validVersions']), name)) };
  const fields = mergeFields(current['fields'] as RawField[] | undefined, previous['fields'] as RawField[] | undefined, old, name);
  if (fields) out['fields'] = fields;
  const cs = current['commonStructs'] as RawField[] | undefined;
  if (cs) {
    const ps = (previous['commonStructs'] as RawField[] | undefined) ?? [];
    out['commonStructs'] = cs.map((s) => {
      const p = ps.find((x) => x.name === s.name);
      return { ...s, fields: mergeFields(s.fields, p?.fields, old, `${name}#${s.name}`) };
    });
  }
  return out;
}
