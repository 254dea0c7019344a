/**
 * A share partition's state (KIP-932) and its rules, as Kafka 4.2's SharePartition keeps them: the
 * share-partition start offset (SPSO: every record below it is done), the end offset (everything at or past
 * it has never been acquired: SPEO + 1), and between them the in-flight records as offset ranges, each with
 * its state, delivery count, the member holding it and when its acquisition lock expires.
 *
 * Pure: the coordinator stores the value (migration 17) and src/groups/share-groups.ts runs these functions
 * inside the transaction that holds its row, so whichever broker serves the partition sees the last change.
 * What a change did (records acquired, acknowledged by type, timed out, archived) is counted into an optional
 * ShareEvents for the broker's metrics.
 * Offsets are JS numbers, as everywhere in storage (safe integers; the wire's int64 is converted at the edge).
 *
 * Rules (Kafka's): an acquired record's lock expires after the lock duration, and the record becomes
 * available again, or archived when its delivery count reached the limit; a release does the same at once;
 * accept acknowledges; reject and gap archive. The SPSO moves past every leading acknowledged or archived
 * range. Expired locks are applied lazily, whenever the state is read with a clock (`expireLocks`): a lock
 * is only ever compared with the clock of the broker serving the request.
 */

/** Record states, numbered as Kafka's RecordState (what DescribeShareGroupOffsets-like tools print). */
export const RecordState = { AVAILABLE: 0, ACQUIRED: 1, ACKNOWLEDGED: 2, ARCHIVED: 4 } as const;
export type RecordStateValue = (typeof RecordState)[keyof typeof RecordState];

/** Acknowledge types of ShareFetch and ShareAcknowledge (4 RENEW from v2, KIP-1222). */
export const AcknowledgeType = { GAP: 0, ACCEPT: 1, RELEASE: 2, REJECT: 3, RENEW: 4 } as const;

export interface InFlightRange {
  first: number;
  last: number;
  state: RecordStateValue;
  deliveryCount: number;
  /** The member holding the records (ACQUIRED only), else null. */
  member: string | null;
  /** When the acquisition lock expires (ms since the epoch; ACQUIRED only), else 0. */
  lockUntil: number;
}

export interface SharePartitionState {
  /** The SPSO. */
  startOffset: number;
  /** One past the highest offset ever acquired or skipped; the in-flight ranges cover [startOffset, endOffset). */
  endOffset: number;
  inFlight: InFlightRange[];
}

/** A record batch of the log as the acquisition sees it. */
export interface BatchExtent {
  baseOffset: number;
  lastOffset: number;
  /** A control batch (transaction marker): never delivered, archived when passed. */
  control: boolean;
  /** Data of an aborted transaction read by a read_committed share group: never delivered, archived (Kafka's filterAbortedTransactionalAcquiredRecords). */
  aborted?: boolean;
}

export interface AcquiredRange {
  firstOffset: number;
  lastOffset: number;
  deliveryCount: number;
}

export interface AcknowledgementBatch {
  firstOffset: number;
  lastOffset: number;
  /** One type for the whole range, or one per offset. */
  acknowledgeTypes: number[];
}

/**
 * What a change did, in records, for the broker's metrics: counted only by the call whose state is kept
 * (a refused acknowledgement counts nothing), and added up by the caller once its transaction committed.
 */
export interface ShareEvents {
  acquired: number;
  /** Acknowledged, by Kafka's AcknowledgeType (1 accept, 2 release, 3 reject, 4 renew; gaps not counted, as Kafka). */
  acknowledged: Record<number, number>;
  /** Released or timed out at the delivery-count limit: archived. */
  archivedAtLimit: number;
  /** Aborted transactional records passed by a read_committed share group: archived. */
  archivedAborted: number;
  /** Acquired records whose acquisition lock expired. */
  lockTimeouts: number;
}

export function noEvents(): ShareEvents {
  return { acquired: 0, acknowledged: {}, archivedAtLimit: 0, archivedAborted: 0, lockTimeouts: 0 };
}

export function addEvents(into: ShareEvents, e: ShareEvents): void {
  into.acquired += e.acquired;
  for (const [t, n] of Object.entries(e.acknowledged)) into.acknowledged[Number(t)] = (into.acknowledged[Number(t)] ?? 0) + n;
  into.archivedAtLimit += e.archivedAtLimit;
  into.archivedAborted += e.archivedAborted;
  into.lockTimeouts += e.lockTimeouts;
}

const sizeOf = (r: InFlightRange): number => r.last - r.first + 1;

export interface ShareRules {
  /** group.share.record.lock.duration.ms */
  lockDurationMs: number;
  /** group.share.delivery.count.limit */
  deliveryCountLimit: number;
}

export function initialState(startOffset: number): SharePartitionState {
  return { startOffset, endOffset: startOffset, inFlight: [] };
}

/** A stored value read back (JSON) as a state, or null when absent or not one. */
export function asSharePartitionState(v: unknown): SharePartitionState | null {
  if (!v || typeof v !== 'object') return null;
  const s = v as SharePartitionState;
  if (typeof s.startOffset !== 'number' || typeof s.endOffset !== 'number' || !Array.isArray(s.inFlight)) return null;
  return s;
}

function copy(s: SharePartitionState): SharePartitionState {
  return { startOffset: s.startOffset, endOffset: s.endOffset, inFlight: s.inFlight.map((r) => ({ ...r })) };
}

/** After a release or a lock expiry: available again, or archived past the delivery limit. */
function released(r: InFlightRange, rules: ShareRules, events: ShareEvents | null): void {
  r.state = r.deliveryCount >= rules.deliveryCountLimit ? RecordState.ARCHIVED : RecordState.AVAILABLE;
  if (events && r.state === RecordState.ARCHIVED) events.archivedAtLimit += sizeOf(r);
  r.member = null;
  r.lockUntil = 0;
}

/** Expired locks applied, neighbours with equal facts merged, the SPSO moved past what is done. */
export function normalize(s: SharePartitionState, nowMs: number, rules: ShareRules, events: ShareEvents | null = null): void {
  for (const r of s.inFlight) {
    if (r.state !== RecordState.ACQUIRED || r.lockUntil >= nowMs) continue;
    if (events) events.lockTimeouts += sizeOf(r);
    released(r, rules, events);
  }
  const merged: InFlightRange[] = [];
  for (const r of s.inFlight) {
    const prev = merged[merged.length - 1];
    if (prev && prev.last + 1 === r.first && prev.state === r.state && prev.deliveryCount === r.deliveryCount && prev.member === r.member && prev.lockUntil === r.lockUntil) {
      prev.last = r.last;
    } else merged.push(r);
  }
  let i = 0;
  while (i < merged.length && (merged[i]!.state === RecordState.ACKNOWLEDGED || merged[i]!.state === RecordState.ARCHIVED)) i++;
  s.inFlight = merged.slice(i);
  s.startOffset = s.inFlight.length > 0 ? s.inFlight[0]!.first : s.endOffset;
}

/** The log's start moved past the SPSO (retention, DeleteRecords): what is gone is no longer in flight. */
export function moveToLogStart(s: SharePartitionState, logStartOffset: number): void {
  if (logStartOffset <= s.startOffset) return;
  s.inFlight = s.inFlight.filter((r) => r.last >= logStartOffset);
  if (s.inFlight.length > 0 && s.inFlight[0]!.first < logStartOffset) s.inFlight[0]!.first = logStartOffset;
  s.startOffset = logStartOffset;
  if (s.endOffset < logStartOffset) s.endOffset = logStartOffset;
}

/** Makes `offset` the first of a range (when it is inside one). */
function splitAt(s: SharePartitionState, offset: number): void {
  const i = s.inFlight.findIndex((r) => r.first < offset && r.last >= offset);
  if (i < 0) return;
  const r = s.inFlight[i]!;
  s.inFlight.splice(i + 1, 0, { ...r, first: offset });
  r.last = offset - 1;
}

/** The lowest offset a fetch may acquire (an available in-flight record, else the end offset), with expired locks applied. */
export function firstAcquirableOffset(stored: SharePartitionState, nowMs: number, rules: ShareRules): number {
  const s = copy(stored);
  normalize(s, nowMs, rules);
  return s.inFlight.find((r) => r.state === RecordState.AVAILABLE)?.first ?? s.endOffset;
}

/**
 * Acquires for `member` the available records of `batches` (read from the log at or after
 * firstAcquirableOffset): available in-flight records and records past the end offset. Stops after the
 * batch that reaches `maxRecords`; with `recordLimit` (ShareAcquireMode 1, KIP-1206) acquires exactly up to it.
 * Control batches and aborted ones are archived as they are passed, never acquired.
 * Returns the new state and the acquired ranges.
 */
export function acquire(
  stored: SharePartitionState,
  member: string,
  batches: readonly BatchExtent[],
  nowMs: number,
  rules: ShareRules,
  maxRecords: number,
  recordLimit: boolean,
  events: ShareEvents | null = null,
): { state: SharePartitionState; acquired: AcquiredRange[] } {
  const s = copy(stored);
  normalize(s, nowMs, rules, events);
  const acquired: AcquiredRange[] = [];
  let count = 0;
  const budget = maxRecords > 0 ? maxRecords : Number.MAX_SAFE_INTEGER;
  const lockUntil = nowMs + rules.lockDurationMs;
  for (const b of batches) {
    if (count >= budget) break;
    if (b.lastOffset < s.startOffset) continue;
    // In flight: the available records of this batch.
    const lo = Math.max(b.baseOffset, s.startOffset);
    const hi = Math.min(b.lastOffset, s.endOffset - 1);
    if (lo <= hi) {
      splitAt(s, lo);
      splitAt(s, hi + 1);
      for (const r of s.inFlight) {
        if (r.first < lo || r.last > hi || r.state !== RecordState.AVAILABLE || count >= budget) continue;
        if (b.control || b.aborted) {
          r.state = RecordState.ARCHIVED;
          if (b.aborted && events) events.archivedAborted += sizeOf(r);
          continue;
        }
        if (recordLimit && r.last - r.first + 1 > budget - count) splitAt(s, r.first + (budget - count));
        r.state = RecordState.ACQUIRED;
        r.deliveryCount += 1;
        r.member = member;
        r.lockUntil = lockUntil;
        acquired.push({ firstOffset: r.first, lastOffset: r.last, deliveryCount: r.deliveryCount });
        count += r.last - r.first + 1;
      }
    }
    // Past the end offset: records never acquired before.
    if (b.lastOffset >= s.endOffset && count < budget) {
      // Offsets missing between the end and this batch (compacted away, or aborted and removed) are passed.
      if (b.baseOffset > s.endOffset) s.inFlight.push({ first: s.endOffset, last: b.baseOffset - 1, state: RecordState.ARCHIVED, deliveryCount: 0, member: null, lockUntil: 0 });
      const first = Math.max(b.baseOffset, s.endOffset);
      let last = b.lastOffset;
      const passed = b.control || b.aborted === true;
      if (recordLimit && !passed) last = Math.min(last, first + (budget - count) - 1);
      if (passed) {
        s.inFlight.push({ first, last, state: RecordState.ARCHIVED, deliveryCount: 0, member: null, lockUntil: 0 });
        if (b.aborted && events) events.archivedAborted += last - first + 1;
      } else {
        s.inFlight.push({ first, last, state: RecordState.ACQUIRED, deliveryCount: 1, member, lockUntil });
        acquired.push({ firstOffset: first, lastOffset: last, deliveryCount: 1 });
        count += last - first + 1;
      }
      s.endOffset = last + 1;
    }
  }
  normalize(s, nowMs, rules, events);
  if (events) for (const a of acquired) events.acquired += a.lastOffset - a.firstOffset + 1;
  // Neighbouring acquisitions with the same delivery count are one range for the client.
  const joined: AcquiredRange[] = [];
  for (const a of acquired.sort((x, y) => x.firstOffset - y.firstOffset)) {
    const prev = joined[joined.length - 1];
    if (prev && prev.lastOffset + 1 === a.firstOffset && prev.deliveryCount === a.deliveryCount) prev.lastOffset = a.lastOffset;
    else joined.push({ ...a });
  }
  return { state: s, acquired: joined };
}

/** Why an acknowledgement was refused: Kafka's error name for it and a message. */
export interface AcknowledgeRefusal {
  error: 'INVALID_RECORD_STATE' | 'INVALID_REQUEST';
  message: string;
}

/**
 * Applies `member`'s acknowledgements, all or none: every offset named must be acquired by the member
 * and still locked (else INVALID_RECORD_STATE, as Kafka); batches must be in order and not overlap, and
 * carry one type or one per offset (else INVALID_REQUEST). RENEW (v2) only when `allowRenew`.
 */
export function acknowledge(
  stored: SharePartitionState,
  member: string,
  batches: readonly AcknowledgementBatch[],
  nowMs: number,
  rules: ShareRules,
  allowRenew: boolean,
  events: ShareEvents | null = null,
): { state: SharePartitionState } | AcknowledgeRefusal {
  const s = copy(stored);
  // Counted here, added to `events` only when the acknowledgement is applied.
  const seen = noEvents();
  normalize(s, nowMs, rules, seen);
  let prevLast = -1;
  for (const b of batches) {
    // Kafka's check (KafkaApis.validateAcknowledgementBatches): a batch may not start before the previous one's last offset.
    if (b.firstOffset > b.lastOffset || b.firstOffset < prevLast) return { error: 'INVALID_REQUEST', message: 'Acknowledgement batches must be in offset order and must not overlap' };
    prevLast = b.lastOffset;
    const n = b.lastOffset - b.firstOffset + 1;
    if (b.acknowledgeTypes.length !== 1 && b.acknowledgeTypes.length !== n) return { error: 'INVALID_REQUEST', message: 'An acknowledgement batch carries one type or one per offset' };
    for (const t of b.acknowledgeTypes) {
      if (t < AcknowledgeType.GAP || t > (allowRenew ? AcknowledgeType.RENEW : AcknowledgeType.REJECT)) return { error: 'INVALID_REQUEST', message: `Invalid acknowledge type ${t}` };
    }
    // Every offset named is acquired by this member.
    let at = b.firstOffset;
    for (const r of s.inFlight) {
      if (r.last < at || r.first > b.lastOffset) continue;
      if (r.first > at) break;
      if (r.state !== RecordState.ACQUIRED || r.member !== member) break;
      at = r.last + 1;
      if (at > b.lastOffset) break;
    }
    if (at <= b.lastOffset) return { error: 'INVALID_RECORD_STATE', message: `The records ${b.firstOffset}-${b.lastOffset} are not acquired by member ${member}` };
  }
  const lockUntil = nowMs + rules.lockDurationMs;
  for (const b of batches) {
    const perOffset = b.acknowledgeTypes.length > 1;
    const runs: { first: number; last: number; type: number }[] = [];
    if (!perOffset) runs.push({ first: b.firstOffset, last: b.lastOffset, type: b.acknowledgeTypes[0]! });
    else {
      for (let o = b.firstOffset; o <= b.lastOffset; o++) {
        const t = b.acknowledgeTypes[o - b.firstOffset]!;
        const prev = runs[runs.length - 1];
        if (prev && prev.type === t) prev.last = o;
        else runs.push({ first: o, last: o, type: t });
      }
    }
    for (const run of runs) {
      splitAt(s, run.first);
      splitAt(s, run.last + 1);
      if (run.type !== AcknowledgeType.GAP) seen.acknowledged[run.type] = (seen.acknowledged[run.type] ?? 0) + run.last - run.first + 1;
      for (const r of s.inFlight) {
        if (r.first < run.first || r.last > run.last) continue;
        if (run.type === AcknowledgeType.ACCEPT) setDone(r, RecordState.ACKNOWLEDGED);
        else if (run.type === AcknowledgeType.REJECT || run.type === AcknowledgeType.GAP) setDone(r, RecordState.ARCHIVED);
        else if (run.type === AcknowledgeType.RELEASE) released(r, rules, seen);
        else r.lockUntil = lockUntil; // RENEW
      }
    }
  }
  normalize(s, nowMs, rules, seen);
  if (events) addEvents(events, seen);
  return { state: s };
}

function setDone(r: InFlightRange, state: RecordStateValue): void {
  r.state = state;
  r.member = null;
  r.lockUntil = 0;
}

/** Releases every record `member` holds (its share session closed): available again, or archived at the limit. */
export function releaseMember(stored: SharePartitionState, member: string, nowMs: number, rules: ShareRules, events: ShareEvents | null = null): SharePartitionState {
  const s = copy(stored);
  for (const r of s.inFlight) if (r.state === RecordState.ACQUIRED && r.member === member && r.lockUntil >= nowMs) released(r, rules, events);
  normalize(s, nowMs, rules, events);
  return s;
}

/** Records past the SPSO already acknowledged or archived (DescribeShareGroupOffsets' lag leaves them out). */
export function doneInFlight(s: SharePartitionState): number {
  let n = 0;
  for (const r of s.inFlight) if (r.state === RecordState.ACKNOWLEDGED || r.state === RecordState.ARCHIVED) n += r.last - r.first + 1;
  return n;
}
