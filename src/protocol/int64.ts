/**
 * int64 fields from the wire are bigints (the generator's type map). Where the code works with numbers
 * (offsets, timestamps, durations), a value past ±2^53 is not rounded to some other value: it is clamped to
 * ±Number.MAX_SAFE_INTEGER, used only where every such value means the same thing — an offset beyond any log
 * (2^53 records), a time past the year 287,396, a retention longer than anyone waits.
 */
export const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);
export const MIN_SAFE_BIGINT = BigInt(Number.MIN_SAFE_INTEGER);

export function clampToSafeInteger(v: bigint): number {
  return v > MAX_SAFE_BIGINT ? Number.MAX_SAFE_INTEGER : v < MIN_SAFE_BIGINT ? Number.MIN_SAFE_INTEGER : Number(v);
}

/** The exact number, or null when `v` is past ±2^53 (where a number would round it). */
export function toSafeInteger(v: bigint): number | null {
  return v > MAX_SAFE_BIGINT || v < MIN_SAFE_BIGINT ? null : Number(v);
}
