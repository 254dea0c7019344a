/**
 * Output of the admin commands: aligned tables (Kafka's tools' column names) for people, `--json` for
 * scripts, and the failure type the commands throw to exit non-zero with one line.
 */

/** A failure to report as `floe: <message>` and exit 1 (Kafka errors carry Kafka's error name). */
export class CommandFailure extends Error {}

/** Renders rows as a table with a header; every cell is text. */
export function table(header: string[], rows: (string | number | bigint)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** JSON with bigints as numbers when they are safe integers, else as strings (offsets never lose digits). */
export function json(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v), 2) + '\n';
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}
