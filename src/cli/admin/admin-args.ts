/**
 * Parsing of the admin commands' Kafka-style flags (`--bootstrap-server`, `--topic`, `--config k=v`, …) with
 * node:util parseArgs; bad or missing flags become UsageErrors (exit 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class AdminUsageError extends Error {}

export type Flags = Record<string, string | boolean | string[] | undefined>;

export function parseFlags(args: string[], options: ParseArgsConfig['options']): Flags {
  // Kafka's tools take `--shift-by -2`; parseArgs would read -2 as an option: join negative numbers to their flag.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const opt = a.startsWith('--') ? options?.[a.slice(2)] : undefined;
    if (opt?.type === 'string' && /^-\d+$/.test(args[i + 1] ?? '')) {
      joined.push(`${a}=${args[i + 1]}`);
      i++;
    } else joined.push(a);
  }
  args = joined;
  try {
    // Every command that talks to a broker takes Kafka's --command-config (client security properties).
    const common = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, ...(options?.['bootstrap-server'] ? { 'command-config': { type: 'string' as const } } : {}) } as const;
    const { values, positionals } = parseArgs({ args, options: { ...options, ...common }, allowPositionals: true, strict: true });
    if (positionals.length > 0) throw new AdminUsageError(`unexpected argument '${positionals[0]}'`);
    return values as Flags;
  } catch (err) {
    if (err instanceof AdminUsageError) throw err;
    throw new AdminUsageError((err as Error).message.split('\n')[0]!);
  }
}

export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function required(flags: Flags, name: string, action: string): string {
  const v = str(flags, name);
  if (v === undefined || v === '') throw new AdminUsageError(`${action} needs --${name}`);
  return v;
}

export function int(flags: Flags, name: string, min: number): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v) || Number(v) < min) throw new AdminUsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  return Number(v);
}

/** Exactly one of `actions` must be given; returns it. */
export function oneAction(flags: Flags, actions: string[]): string {
  const given = actions.filter((a) => flags[a] === true);
  if (given.length !== 1) throw new AdminUsageError(`give exactly one of ${actions.map((a) => `--${a}`).join(', ')}`);
  return given[0]!;
}

/** `k=v` pairs, from repeated flags and/or comma lists (a value may keep commas inside [brackets], as in Kafka's tools). */
export function keyValues(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of values.flatMap(splitTopLevel)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new AdminUsageError(`expected key=value, got '${item}'`);
    let value = item.slice(eq + 1);
    if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
    out[item.slice(0, eq).trim()] = value;
  }
  return out;
}

export function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}
