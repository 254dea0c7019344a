/**
 * Client quotas as Kafka's ClientQuotaManager applies them, per broker:
 * - values are set per entity — user, client-id, user + client-id, each with a default (null name), and
 *   ip — in the coordinator (AlterClientQuotas) and cached here, reloaded on `floe_security`;
 * - a request's quota is the first entity in Kafka's precedence that sets the key: user+client, user+default
 *   client, user, default user+client, default user+default client, default user, client, default client;
 *   every connection resolving to the same entity shares one rate meter;
 * - `producer_byte_rate` meters Produce request bytes, `consumer_byte_rate` Fetch response bytes,
 *   `request_percentage` the time the broker's event loop spends on the requests (synchronous handler work
 *   and encoding; Kafka counts I/O-thread time, 100 = one thread);
 * - a rate over its quota gives `throttle = (rate - quota) / quota * window` ms (Kafka's formula, window =
 *   quota.window.num × quota.window.size.seconds, 11 × 1 s), reported as throttle_time_ms while the
 *   connection is muted for that long (KIP-219).
 */
import { SECURITY_CHANNEL, type QuotaValue, type SecurityStore } from '../coordinator/security-store.ts';

export const QUOTA_KEYS: Readonly<Record<string, readonly string[]>> = {
  user: ['producer_byte_rate', 'consumer_byte_rate', 'request_percentage', 'controller_mutation_rate'],
  'client-id': ['producer_byte_rate', 'consumer_byte_rate', 'request_percentage', 'controller_mutation_rate'],
  ip: ['connection_creation_rate'],
};

/** One component of an entity: type and name (null: the type's default). */
export interface EntityPart {
  entityType: string;
  entityName: string | null;
}

/** The canonical entity text stored in the coordinator: the parts sorted by type, as JSON. */
export function entityKey(parts: readonly EntityPart[]): string {
  return JSON.stringify([...parts].sort((a, b) => a.entityType.localeCompare(b.entityType)).map((p) => [p.entityType, p.entityName]));
}

export function entityParts(key: string): EntityPart[] {
  return (JSON.parse(key) as [string, string | null][]).map(([entityType, entityName]) => ({ entityType, entityName }));
}

/** Why an entity cannot carry quotas (Kafka's combinations), or null. */
export function entityError(parts: readonly EntityPart[]): string | null {
  const types = parts.map((p) => p.entityType);
  if (types.length === 0) return 'Invalid empty client quota entity';
  if (new Set(types).size !== types.length) return `Duplicate quota entity type in ${types.join(', ')}`;
  for (const t of types) if (!QUOTA_KEYS[t]) return `Unhandled client quota entity type: ${t}`;
  if (types.includes('ip') && types.length > 1) return 'Invalid quota entity combination: ip cannot be combined with other entity types';
  for (const p of parts) if (p.entityName === '') return `Empty ${p.entityType} is not a valid quota entity name`;
  return null;
}

/** Rate of one quota entity over Kafka's sliding window of samples. */
class RateMeter {
  private readonly samples: { start: number; value: number }[] = [];

  constructor(private readonly sampleMs: number, private readonly numSamples: number) {}

  record(value: number, now: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && now - last.start < this.sampleMs) last.value += value;
    else this.samples.push({ start: now, value });
    while (this.samples.length > this.numSamples) this.samples.splice(0, 1);
  }

  /** Per second, over the window (at least (numSamples - 1) samples long, as Kafka's Rate). */
  rate(now: number): number {
    const windowStart = now - this.sampleMs * this.numSamples;
    let total = 0;
    let oldest = now;
    for (const s of this.samples) {
      if (s.start < windowStart) continue;
      total += s.value;
      oldest = Math.min(oldest, s.start);
    }
    const elapsed = Math.max(now - oldest, this.sampleMs * (this.numSamples - 1));
    return (total * 1000) / elapsed;
  }

  get windowMs(): number {
    return this.sampleMs * this.numSamples;
  }
}

type Store = Pick<SecurityStore, 'listClientQuotas' | 'alterClientQuotas' | 'securityVersion'> & {
  listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>>;
};

export interface QuotaWindow {
  /** quota.window.size.seconds × 1000. */
  sampleMs: number;
  /** quota.window.num. */
  numSamples: number;
}

export class ClientQuotas {
  /** entity key → quota key → value */
  private values = new Map<string, Map<string, number>>();
  private readonly meters = new Map<string, RateMeter>();
  private unlisten: (() => Promise<void>) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private version = -1;

  constructor(private readonly store: Store, private readonly window: QuotaWindow = { sampleMs: 1000, numSamples: 11 }) {}

  get empty(): boolean {
    return this.values.size === 0;
  }

  async start(): Promise<void> {
    await this.reload();
    this.unlisten = await this.store.listen(SECURITY_CHANNEL, () => void this.reload(), () => void this.reload());
    this.timer = setInterval(() => {
      void this.store.securityVersion().then((v) => (v !== this.version ? this.reload() : undefined), () => undefined);
    }, 5000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.unlisten?.();
  }

  async reload(): Promise<void> {
    const version = await this.store.securityVersion();
    this.setValues(await this.store.listClientQuotas());
    this.version = version;
  }

  setValues(list: readonly QuotaValue[]): void {
    const values = new Map<string, Map<string, number>>();
    for (const q of list) {
      let m = values.get(q.entity);
      if (!m) values.set(q.entity, (m = new Map()));
      m.set(q.key, q.value);
    }
    this.values = values;
  }

  all(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return this.values;
  }

  async alter(set: readonly QuotaValue[], remove: readonly { entity: string; key: string }[]): Promise<void> {
    await this.store.alterClientQuotas(set, remove);
    await this.reload();
  }

  /** The entity (in Kafka's precedence) whose `key` quota applies to this user and client id, and its value. */
  resolve(user: string, clientId: string, key: string): { entity: string; quota: number } | null {
    if (this.values.size === 0) return null;
    const candidates: EntityPart[][] = [
      [{ entityType: 'user', entityName: user }, { entityType: 'client-id', entityName: clientId }],
      [{ entityType: 'user', entityName: user }, { entityType: 'client-id', entityName: null }],
      [{ entityType: 'user', entityName: user }],
      [{ entityType: 'user', entityName: null }, { entityType: 'client-id', entityName: clientId }],
      [{ entityType: 'user', entityName: null }, { entityType: 'client-id', entityName: null }],
      [{ entityType: 'user', entityName: null }],
      [{ entityType: 'client-id', entityName: clientId }],
      [{ entityType: 'client-id', entityName: null }],
    ];
    for (const parts of candidates) {
      const entity = entityKey(parts);
      const quota = this.values.get(entity)?.get(key);
      if (quota !== undefined) return { entity, quota };
    }
    return null;
  }

  /**
   * Records `value` (bytes, or ms of request time) against the quota `key` of this client; returns the
   * throttle time in ms (0 when within the quota or without one).
   */
  record(user: string, clientId: string, key: string, value: number, now = Date.now()): number {
    const q = this.resolve(user, clientId, key);
    if (!q) return 0;
    const meterKey = `${key} ${q.entity}`;
    let meter = this.meters.get(meterKey);
    if (!meter) this.meters.set(meterKey, (meter = new RateMeter(this.window.sampleMs, this.window.numSamples)));
    meter.record(value, now);
    // request_percentage: percent of one thread, i.e. ms of work per second / 10.
    const rate = key === 'request_percentage' ? meter.rate(now) / 10 : meter.rate(now);
    if (rate <= q.quota) return 0;
    return Math.min(Math.round(((rate - q.quota) / q.quota) * meter.windowMs), meter.windowMs);
  }
}
