/**
 * The byte budget of one Fetch request, shared by every partition it reads, diskless or classic, in
 * request order: the request's max bytes, and Kafka's KIP-74 rule that the first partition with data gets
 * at least one whole batch even when that batch is larger than the limits.
 */
export interface FetchBudget {
  /** Bytes left of the request's max bytes. */
  remaining: number;
  /** True until a partition has been given data. */
  minOneBatch: boolean;
}

export function fetchBudget(requestMaxBytes: number): FetchBudget {
  return { remaining: Math.max(0, requestMaxBytes), minOneBatch: true };
}
