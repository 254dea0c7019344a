/**
 * Reading a broker's /metrics (Prometheus text format): samples keyed by `name{labels}` exactly as
 * printed (labels in the order prom-client writes them), differences between two scrapes, and quantiles
 * of a histogram's difference.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheus(text: string): Map<string, Sample> {
  const out = new Map<string, Sample>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const lm of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
    }
    out.set(keyOf(m[1]!, labels), { name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

export function keyOf(name: string, labels: Record<string, string> = {}): string {
  const names = Object.keys(labels).sort();
  return names.length === 0 ? name : `${name}{${names.map((n) => `${n}="${labels[n]}"`).join(',')}}`;
}

export async function scrape(url: string): Promise<Map<string, Sample>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return parsePrometheus(await res.text());
}

/** `after - before` of every sample (counters; gauges come out as their change). */
export class MetricsDelta {
  constructor(
    readonly before: Map<string, Sample>,
    readonly after: Map<string, Sample>,
  ) {}

  /** The change of one sample (0 when it does not exist). */
  get(name: string, labels: Record<string, string> = {}): number {
    const key = keyOf(name, labels);
    return (this.after.get(key)?.value ?? 0) - (this.before.get(key)?.value ?? 0);
  }

  /** Increase summed over every series of `name` whose labels include `labels` (e.g. all versions of one API). */
  sum(name: string, labels: Record<string, string> = {}): number {
    let total = 0;
    for (const [key, s] of this.after) {
      if (s.name !== name || !Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
      total += s.value - (this.before.get(key)?.value ?? 0);
    }
    return total;
  }

  /** Whether the scrape after has the sample (a broker from an older checkout may lack a metric). */
  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.after.has(keyOf(name, labels));
  }

  /** Value after (for gauges). */
  now(name: string, labels: Record<string, string> = {}): number {
    return this.after.get(keyOf(name, labels))?.value ?? 0;
  }

  /**
   * Quantile `q` (0..1) of the observations made between the two scrapes of histogram `name`, with
   * `labels` (excluding `le`), interpolated linearly inside the bucket it falls in, as Prometheus's
   * histogram_quantile does. null when nothing was observed.
   */
  histogramQuantile(name: string, labels: Record<string, string>, q: number): number | null {
    const buckets: { le: number; count: number }[] = [];
    for (const s of this.after.values()) {
      if (s.name !== `${name}_bucket`) continue;
      const { le, ...rest } = s.labels;
      if (le === undefined || keyOf('', rest) !== keyOf('', labels)) continue;
      const before = this.before.get(keyOf(s.name, s.labels))?.value ?? 0;
      buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: s.value - before });
    }
    buckets.sort((a, b) => a.le - b.le);
    const total = buckets.at(-1)?.count ?? 0;
    if (total <= 0) return null;
    const rank = q * total;
    let prevLe = 0;
    let prevCount = 0;
    for (const b of buckets) {
      if (b.count >= rank) {
        if (b.le === Infinity) return prevLe;
        const inBucket = b.count - prevCount;
        return inBucket <= 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
      }
      prevLe = b.le;
      prevCount = b.count;
    }
    return prevLe;
  }
}
