/**
 * The consumer protocol's member metadata (subscription) and assignment, as carried opaquely in
 * JoinGroup/SyncGroup: an int16 version, then the versioned struct. The coordinator only reads the
 * subscribed topics (OffsetDelete's GROUP_SUBSCRIBED_TO_TOPIC); versions newer than the codec knows are
 * read as the newest it knows (fields are only ever appended).
 */
import { decodeConsumerProtocolSubscription, encodeConsumerProtocolSubscription } from '../protocol/gen/messages/consumer-protocol-subscription.ts';
import { decodeConsumerProtocolAssignment, encodeConsumerProtocolAssignment } from '../protocol/gen/messages/consumer-protocol-assignment.ts';
import { Reader } from '../protocol/reader.ts';
import { Writer } from '../protocol/writer.ts';

export const CONSUMER_PROTOCOL_TYPE = 'consumer';
const MAX_VERSION = 3;

/** The topics of a consumer subscription, or null when the bytes are not one. */
export function subscriptionTopics(metadata: Buffer): string[] | null {
  try {
    const r = new Reader(metadata);
    const version = r.int16();
    if (version < 0) return null;
    // Version 0 is a prefix of every version: read it, as Kafka does, whatever the version.
    return decodeConsumerProtocolSubscription(r, 0).topics;
  } catch {
    return null;
  }
}

/** The topics and the owned partitions (v1+; none before) of a consumer subscription, or null when the bytes are not one. */
export function subscriptionWithOwned(metadata: Buffer): { topics: string[]; owned: { topic: string; partitions: number[] }[] } | null {
  try {
    const r = new Reader(metadata);
    const version = r.int16();
    if (version < 0) return null;
    const s = decodeConsumerProtocolSubscription(r, Math.min(version, MAX_VERSION));
    return { topics: s.topics, owned: s.ownedPartitions ?? [] };
  } catch {
    return null;
  }
}

/** The partitions of a consumer assignment, or null when the bytes are not one. */
export function assignmentPartitions(assignment: Buffer): { topic: string; partitions: number[] }[] | null {
  if (assignment.length === 0) return [];
  try {
    const r = new Reader(assignment);
    const version = r.int16();
    if (version < 0) return null;
    return decodeConsumerProtocolAssignment(r, Math.min(version, MAX_VERSION)).assignedPartitions;
  } catch {
    return null;
  }
}

/** Encodes a subscription (tests and tools). */
export function encodeSubscription(topics: string[], version = 0): Buffer {
  const w = new Writer();
  w.int16(version);
  encodeConsumerProtocolSubscription(w, version, { topics, userData: null });
  return Buffer.concat(w.finish());
}

/** Encodes an assignment (tests and tools). */
export function encodeAssignment(partitions: { topic: string; partitions: number[] }[], version = 0): Buffer {
  const w = new Writer();
  w.int16(version);
  encodeConsumerProtocolAssignment(w, version, { assignedPartitions: partitions, userData: null });
  return Buffer.concat(w.finish());
}
