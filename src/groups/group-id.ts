/**
 * Which group ids the coordinator accepts. Kafka refuses a null id everywhere and an empty one for the
 * membership APIs, and has no length limit; Floe refuses ids longer than MAX_GROUP_ID_BYTES (UTF-8)
 * because the coordinator DB indexes group ids and PostgreSQL refuses index entries over ~2.7 kB, and ids
 * holding a NUL character, which PostgreSQL text cannot store.
 */
import { ErrorCode } from '../protocol/gen/errors.ts';

/** Longest group id accepted, in UTF-8 bytes (see the header). */
export const MAX_GROUP_ID_BYTES = 2048;

/** INVALID_GROUP_ID for ids Kafka refuses for this API (`allowEmpty`: OffsetCommit/Fetch, Describe/DeleteGroups), or too long. */
export function groupIdError(groupId: string | null, allowEmpty: boolean): number | null {
  if (groupId === null || (!allowEmpty && groupId === '')) return ErrorCode.INVALID_GROUP_ID;
  // A UTF-8 character is at most 3 bytes per UTF-16 unit: shorter ids cannot be too long, so most skip the count.
  if (groupId.length > MAX_GROUP_ID_BYTES / 3 && Buffer.byteLength(groupId) > MAX_GROUP_ID_BYTES) return ErrorCode.INVALID_GROUP_ID;
  if (groupId.includes('\0')) return ErrorCode.INVALID_GROUP_ID;
  return null;
}
