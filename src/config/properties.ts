/**
 * A reader for Kafka's `server.properties`, with java.util.Properties.load semantics:
 * - `#` or `!` as the first non-blank character makes the line a comment (a trailing `\` does not continue it);
 * - the key ends at the first unescaped `=`, `:` or blank; blanks and one `=`/`:` around it are skipped;
 * - a line ending in an odd number of `\` continues on the next line, whose leading blanks are dropped;
 * - escapes: `\t \n \r \f`, `\uXXXX`, and `\c` → `c` for any other character (so `\:` `\=` `\ ` `\\`).
 * Blanks are space, tab and form feed. One difference: the file is read as UTF-8 (Java's InputStream
 * overload reads ISO-8859-1); `\uXXXX` works either way. Values are returned untrimmed, as Java does;
 * config parsing trims them, as Kafka's ConfigDef does.
 */

export interface PropertyEntry {
  key: string;
  value: string;
  /** 1-based line where the entry starts. */
  line: number;
}

export class PropertiesSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'PropertiesSyntaxError';
  }
}

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\f';

/** Parses properties text into entries in file order (duplicates kept; the caller decides: last wins). */
export function parseProperties(text: string): PropertyEntry[] {
  const lines = text.split(/\r\n|\r|\n/);
  const out: PropertyEntry[] = [];
  let i = 0;
  while (i < lines.length) {
    const startLine = i + 1;
    let line = stripLeading(lines[i]!);
    i++;
    if (line === '' || line[0] === '#' || line[0] === '!') continue;
    // Join continuation lines: an odd count of trailing backslashes escapes the line terminator.
    while (endsWithOddBackslashes(line)) {
      line = line.slice(0, -1);
      if (i >= lines.length) break;
      line += stripLeading(lines[i]!);
      i++;
    }
    out.push(splitKeyValue(line, startLine));
  }
  return out;
}

function stripLeading(s: string): string {
  let k = 0;
  while (k < s.length && isBlank(s[k])) k++;
  return s.slice(k);
}

function endsWithOddBackslashes(s: string): boolean {
  let n = 0;
  for (let k = s.length - 1; k >= 0 && s[k] === '\\'; k--) n++;
  return n % 2 === 1;
}

function splitKeyValue(line: string, lineNo: number): PropertyEntry {
  let keyEnd = line.length;
  let valueStart = line.length;
  let hasSep = false;
  let escaped = false;
  for (let k = 0; k < line.length; k++) {
    const c = line[k]!;
    if (escaped) {
      escaped = false;
      continue;
    }
    if (c === '\\') {
      escaped = true;
      continue;
    }
    if (c === '=' || c === ':') {
      keyEnd = k;
      valueStart = k + 1;
      hasSep = true;
      break;
    }
    if (isBlank(c)) {
      keyEnd = k;
      valueStart = k + 1;
      break;
    }
  }
  let v = valueStart;
  while (v < line.length && isBlank(line[v])) v++;
  if (!hasSep && v < line.length && (line[v] === '=' || line[v] === ':')) {
    v++;
    while (v < line.length && isBlank(line[v])) v++;
  }
  return { key: unescape(line.slice(0, keyEnd), lineNo), value: unescape(line.slice(v), lineNo), line: lineNo };
}

function unescape(s: string, lineNo: number): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let k = 0; k < s.length; k++) {
    const c = s[k]!;
    if (c !== '\\' || k === s.length - 1) {
      out += c === '\\' ? '' : c;
      continue;
    }
    const e = s[++k]!;
    if (e === 'u') {
      const hex = s.slice(k + 1, k + 5);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new PropertiesSyntaxError(`malformed \\uxxxx escape on line ${lineNo}`, lineNo);
      out += String.fromCharCode(parseInt(hex, 16));
      k += 4;
    } else if (e === 't') out += '\t';
    else if (e === 'n') out += '\n';
    else if (e === 'r') out += '\r';
    else if (e === 'f') out += '\f';
    else out += e;
  }
  return out;
}
