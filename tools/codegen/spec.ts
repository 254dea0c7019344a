/**
 * Loads and normalises the Kafka message specs (`messages/*.json`, `errors.json`) for the code
 * generator (generate.ts) and for the protocol tests, which build random messages from the same model.
 *
 * Normalisation: every version range is intersected with the message's validVersions; defaults are
 * parsed into JS values (int64 as bigint); structs get a TypeScript name (message name + struct name)
 * (message name + struct name, unless the struct name already starts with the message name)
 * and a "context" range: the hull of the versions in which the struct can be on the wire.
 */

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Inclusive version range; empty when lo > hi. Open-ended ranges use hi = MAX_VERSION. */
export interface Range {
  readonly lo: number;
  readonly hi: number;
}

export const MAX_VERSION = 0x7fff;
export const EMPTY: Range = { lo: 1, hi: 0 };
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export type PrimitiveType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'string'
  | 'bytes'
  | 'records'
  | 'uuid';

const PRIMITIVES = new Set<string>([
  'bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'records', 'uuid',
]);

export type DefaultValue = number | bigint | boolean | string | null | 'EMPTY_BYTES' | 'EMPTY_ARRAY' | 'DEFAULT_STRUCT';

export interface FieldSpec {
  /** Spec name, PascalCase. */
  readonly name: string;
  /** camelCased property name. */
  readonly prop: string;
  /** Raw spec type, e.g. `[]TopicData`, `int32`, `LeaderIdAndEpoch`. */
  readonly rawType: string;
  readonly kind: 'primitive' | 'array' | 'struct';
  /** For primitives: the type; for arrays: the element primitive type (undefined for struct elements). */
  readonly primitive: PrimitiveType | undefined;
  /** For struct / struct-array fields. */
  struct: StructSpec | undefined;
  /** Versions in which the field exists, intersected with the enclosing context. */
  versions: Range;
  /** Versions in which it may be null (intersected with `versions`). */
  nullable: Range;
  /** Field-level flexibleVersions override (RequestHeader.ClientId), else undefined. */
  readonly flexibleOverride: Range | undefined;
  readonly tag: number | undefined;
  /** Tagged versions (intersected with `versions`); EMPTY when untagged. */
  tagged: Range;
  /** Parsed default (see defaultOf). */
  readonly defaultValue: DefaultValue;
  /** Nullable in at least one valid version, or default null: the TS type includes `| null`. */
  typeNullable: boolean;
  readonly rawDefault: unknown;
}

export interface StructSpec {
  /** Spec struct name. */
  readonly name: string;
  /** Generated TS type name. */
  readonly typeName: string;
  readonly fields: FieldSpec[];
  /** Hull of versions in which the struct is on the wire (EMPTY when never). */
  ctx: Range;
  /** True for the message body itself. */
  readonly top: boolean;
}

export interface MessageSpec {
  readonly file: string;
  readonly name: string;
  readonly type: 'request' | 'response' | 'header' | 'data';
  readonly apiKey: number | undefined;
  readonly valid: Range;
  readonly flexible: Range;
  readonly latestVersionUnstable: boolean;
  readonly listeners: string[];
  readonly removed: boolean;
  /** The message body struct (typeName = message name). */
  readonly body: StructSpec;
  /** Every struct in the file, body first then in definition order (commonStructs last). */
  readonly structs: StructSpec[];
}

export interface ErrorSpec {
  code: number;
  name: string;
  retriable: boolean;
  message: string | null;
}

// ---------------------------------------------------------------------------------------------------

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Kafka 4.1's upstream specs: KAFKA_PROTOCOL_DIR, else ../shared/kafka-protocol beside the repository. */
export function upstreamProtocolDir(): string {
  const env = process.env['KAFKA_PROTOCOL_DIR'];
  return env ? resolve(env) : resolve(REPO, '..', 'shared', 'kafka-protocol');
}

/** Kafka 3.9's upstream specs (the versions Kafka 4 dropped): KAFKA_PROTOCOL_PREVIOUS_DIR, else ../shared/kafka-protocol-3.9. */
export function previousUpstreamProtocolDir(): string {
  const env = process.env['KAFKA_PROTOCOL_PREVIOUS_DIR'];
  return env ? resolve(env) : resolve(REPO, '..', 'shared', 'kafka-protocol-3.9');
}

/** Kafka 4.2's upstream specs (the share-group APIs' 4.2 versions): KAFKA_PROTOCOL_NEWER_DIR, else ../shared/kafka-protocol-4.2. */
export function newerUpstreamProtocolDir(): string {
  const env = process.env['KAFKA_PROTOCOL_NEWER_DIR'];
  return env ? resolve(env) : resolve(REPO, '..', 'shared', 'kafka-protocol-4.2');
}

/** True when the upstream spec sets are beside the repository (snapshot-specs.ts can run). */
export function upstreamAvailable(): boolean {
  return [upstreamProtocolDir(), previousUpstreamProtocolDir(), newerUpstreamProtocolDir()].every((d) => existsSync(join(d, 'messages')));
}

/** The committed union snapshot (tools/codegen/specs, written by snapshot-specs.ts). */
export function snapshotDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), 'specs');
}

/** The specs the generator reads: the committed union snapshot. */
export function protocolDir(): string {
  return snapshotDir();
}

/** JSON with whole-line and trailing `//` comments (outside strings). */
export function parseJsonWithComments(text: string): unknown {
  let out = '';
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inStr) {
      out += c;
      if (c === '\\') {
        out += text[++i] ?? '';
      } else if (c === '"') inStr = false;
    } else if (c === '"') {
      inStr = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      i += 2;
      while (i < text.length && !(text[i] === '*' && text[i + 1] === '/')) i++;
      i++;
    } else out += c;
  }
  return JSON.parse(out);
}

export function parseRange(s: string | undefined, what: string): Range {
  if (s === undefined) return EMPTY;
  const t = s.trim();
  if (t === 'none') return EMPTY;
  let m = /^(\d+)\+$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: MAX_VERSION };
  m = /^(\d+)-(\d+)$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Number(m[2]) };
  m = /^(\d+)$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Number(m[1]) };
  throw new Error(`bad version range ${JSON.stringify(s)} in ${what}`);
}

export function isEmpty(r: Range): boolean {
  return r.lo > r.hi;
}

export function intersect(a: Range, b: Range): Range {
  const lo = Math.max(a.lo, b.lo);
  const hi = Math.min(a.hi, b.hi);
  return lo > hi ? EMPTY : { lo, hi };
}

export function hull(a: Range, b: Range): Range {
  if (isEmpty(a)) return b;
  if (isEmpty(b)) return a;
  return { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
}

export function contains(r: Range, v: number): boolean {
  return v >= r.lo && v <= r.hi;
}

export function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** `ApiVersions` → `api-versions`; `KRaftVersionRecord` → `kraft-version-record`. */
export function kebab(name: string): string {
  return name
    .replace(/KRaft/g, 'Kraft')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1-$2')
    .toLowerCase();
}

/** API name (message name without Request/Response). */
export function apiName(m: MessageSpec): string {
  return m.name.replace(/(Request|Response)$/, '');
}

/** Module path (relative to src/protocol/gen/messages) for a message, without extension. */
export function moduleName(m: MessageSpec): string {
  return m.type === 'request' || m.type === 'response' ? kebab(apiName(m)) : kebab(m.name);
}

// ---------------------------------------------------------------------------------------------------

interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  flexibleVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: unknown;
  fields?: RawField[];
}

interface RawMessage {
  apiKey?: number;
  type: MessageSpec['type'];
  name: string;
  validVersions: string;
  flexibleVersions?: string;
  latestVersionUnstable?: boolean;
  listeners?: string[];
  fields?: RawField[];
  commonStructs?: { name: string; versions?: string; fields: RawField[] }[];
}

function parseIntDefault(v: unknown, type: string, where: string): number {
  const s = String(v).trim();
  const n = /^-?0x[0-9a-f]+$/i.test(s) ? (s.startsWith('-') ? -parseInt(s.slice(3), 16) : parseInt(s.slice(2), 16)) : Number(s);
  if (!Number.isInteger(n)) throw new Error(`bad ${type} default ${JSON.stringify(v)} at ${where}`);
  return n;
}

function defaultOf(f: RawField, kind: FieldSpec['kind'], prim: PrimitiveType | undefined, where: string): DefaultValue {
  const d = f.default;
  if (d === 'null' || d === null) {
    if (f.nullableVersions === undefined) throw new Error(`null default on non-nullable field ${where}`);
    return null;
  }
  if (kind === 'array') {
    if (d !== undefined && d !== '') throw new Error(`unsupported array default at ${where}`);
    return 'EMPTY_ARRAY';
  }
  if (kind === 'struct') {
    if (d !== undefined) throw new Error(`unsupported struct default at ${where}`);
    return 'DEFAULT_STRUCT';
  }
  switch (prim!) {
    case 'bool':
      if (d === undefined) return false;
      if (d === true || d === 'true') return true;
      if (d === false || d === 'false') return false;
      throw new Error(`bad bool default at ${where}`);
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
      return d === undefined ? 0 : parseIntDefault(d, prim!, where);
    case 'int64': {
      if (d === undefined) return 0n;
      const s = String(d).trim();
      if (/^-?0x/i.test(s)) return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
      return BigInt(s);
    }
    case 'float64':
      return d === undefined ? 0 : Number(d);
    case 'string':
      return d === undefined ? '' : String(d);
    case 'uuid':
      if (d !== undefined) throw new Error(`uuid default unsupported at ${where}`);
      return ZERO_UUID;
    case 'bytes':
      if (d !== undefined && d !== '') throw new Error(`bytes default unsupported at ${where}`);
      return 'EMPTY_BYTES';
    case 'records':
      return null;
  }
}

function loadMessage(file: string, raw: RawMessage): MessageSpec {
  const valid = parseRange(raw.validVersions, `${file} validVersions`);
  const flexible = intersect(parseRange(raw.flexibleVersions ?? 'none', `${file} flexibleVersions`), valid);
  const structs: StructSpec[] = [];
  const byName = new Map<string, StructSpec>();
  const pendingRefs: { field: FieldSpec; name: string }[] = [];

  const makeStruct = (name: string, fields: RawField[], top: boolean, where: string): StructSpec => {
    // Message name + struct name, except when the spec's struct name already starts with the message
    // name (MetadataResponseTopic stays MetadataResponseTopic).
    const typeName = top || name.startsWith(raw.name) ? (top ? raw.name : name) : raw.name + name;
    const s: StructSpec = { name, typeName, fields: [], ctx: EMPTY, top };
    if (!top) {
      if (byName.has(name)) throw new Error(`duplicate struct ${name} in ${file}`);
      byName.set(name, s);
    }
    structs.push(s);
    for (const rf of fields) s.fields.push(makeField(rf, `${where}.${rf.name}`));
    const props = new Set<string>();
    for (const f of s.fields) {
      if (props.has(f.prop)) throw new Error(`duplicate field ${f.prop} in ${where}`);
      props.add(f.prop);
    }
    return s;
  };

  const makeField = (rf: RawField, where: string): FieldSpec => {
    const t = rf.type;
    const isArray = t.startsWith('[]');
    const base = isArray ? t.slice(2) : t;
    const isPrim = PRIMITIVES.has(base);
    const kind: FieldSpec['kind'] = isArray ? 'array' : isPrim ? 'primitive' : 'struct';
    const prim = isPrim ? (base as PrimitiveType) : undefined;
    if (rf.versions === undefined) throw new Error(`field without versions at ${where}`);
    const f: FieldSpec = {
      name: rf.name,
      prop: camel(rf.name),
      rawType: t,
      kind,
      primitive: prim,
      struct: undefined,
      versions: parseRange(rf.versions, where),
      nullable: parseRange(rf.nullableVersions, where),
      flexibleOverride: rf.flexibleVersions === undefined ? undefined : parseRange(rf.flexibleVersions, where),
      tag: rf.tag,
      tagged: parseRange(rf.taggedVersions, where),
      defaultValue: defaultOf(rf, kind, prim, where),
      typeNullable: false,
      rawDefault: rf.default,
    };
    if ((f.tag === undefined) !== isEmpty(f.tagged)) throw new Error(`tag without taggedVersions at ${where}`);
    if (!isPrim) {
      if (rf.fields) f.struct = makeStruct(base, rf.fields, false, where);
      else pendingRefs.push({ field: f, name: base });
    } else if (rf.fields) throw new Error(`primitive with fields at ${where}`);
    if (!isEmpty(f.nullable) && kind === 'primitive' && !['string', 'bytes', 'records'].includes(prim!)) {
      throw new Error(`nullable ${prim} at ${where}`);
    }
    return f;
  };

  const body = makeStruct(raw.name, raw.fields ?? [], true, raw.name);
  for (const cs of raw.commonStructs ?? []) makeStruct(cs.name, cs.fields, false, `${raw.name}#${cs.name}`);
  for (const { field, name } of pendingRefs) {
    const s = byName.get(name);
    if (!s) throw new Error(`unknown struct ${name} in ${file}`);
    field.struct = s;
  }

  // Context ranges: walk from the body; intersect field ranges with their context.
  const visit = (s: StructSpec, ctx: Range, depth: number): void => {
    if (depth > 32) throw new Error(`recursive struct ${s.name} in ${file}`);
    s.ctx = hull(s.ctx, ctx);
    for (const f of s.fields) {
      const v = intersect(f.versions, ctx);
      if (f.struct && !isEmpty(v)) visit(f.struct, v, depth + 1);
    }
  };
  visit(body, valid, 0);
  // Normalise fields against their struct's context.
  for (const s of structs) {
    for (const f of s.fields) {
      const declaredNullable = f.nullable;
      f.versions = intersect(f.versions, s.ctx);
      f.nullable = intersect(declaredNullable, f.versions);
      f.tagged = intersect(f.tagged, f.versions);
      f.typeNullable = f.primitive === 'records' || !isEmpty(f.nullable) || f.defaultValue === null;
      if (f.tag !== undefined && !isEmpty(f.versions)) {
        // Every tagged field in these specs is tagged in all versions where it exists; the generator relies on it.
        if (f.tagged.lo !== f.versions.lo || f.tagged.hi !== f.versions.hi) {
          throw new Error(`field ${s.typeName}.${f.name}: taggedVersions differ from versions`);
        }
        if (!isEmpty(intersect(f.versions, { lo: 0, hi: flexible.lo - 1 })) || isEmpty(flexible)) {
          throw new Error(`field ${s.typeName}.${f.name}: tagged outside flexible versions`);
        }
      }
    }
    const tags = new Set<number>();
    for (const f of s.fields) {
      if (f.tag === undefined) continue;
      if (tags.has(f.tag)) throw new Error(`duplicate tag ${f.tag} in ${s.typeName}`);
      tags.add(f.tag);
    }
  }

  return {
    file,
    name: raw.name,
    type: raw.type,
    apiKey: raw.apiKey,
    valid,
    flexible,
    latestVersionUnstable: raw.latestVersionUnstable === true,
    listeners: raw.listeners ?? [],
    removed: isEmpty(valid),
    body,
    structs,
  };
}

export function loadMessages(dir = protocolDir()): MessageSpec[] {
  const mdir = join(dir, 'messages');
  const files = readdirSync(mdir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.map((f) => {
    const raw = parseJsonWithComments(readFileSync(join(mdir, f), 'utf8')) as RawMessage;
    if (`${raw.name}.json` !== f) throw new Error(`${f}: name ${raw.name} does not match file name`);
    return loadMessage(f, raw);
  });
}

export function loadErrors(dir = protocolDir()): ErrorSpec[] {
  return parseJsonWithComments(readFileSync(join(dir, 'errors.json'), 'utf8')) as ErrorSpec[];
}

/** Effective flexible range of one field's own encoding (field override, else the message's). */
export function fieldFlexible(m: MessageSpec, f: FieldSpec): Range {
  return f.flexibleOverride ? intersect(f.flexibleOverride, m.flexible) : m.flexible;
}
