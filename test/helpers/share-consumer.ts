/**
 * A share-group consumer (KIP-932) written against the protocol with the project's own codec over a raw
 * socket (RawClient): no client CI installs speaks share groups (kcat, confluent-kafka and kafkajs are too
 * old; librdkafka 2.15's rd_kafka_share_* API would need a C program of our own). It joins with
 * ShareGroupHeartbeat, fetches with ShareFetch in a share session, and acknowledges piggy-backed on the
 * next fetch or with ShareAcknowledge. Records are tracked by offset (AcquiredRecords), which is what the
 * share-group tests assert on.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';
import { RawClient } from './raw-client.ts';

export interface Acquired {
  offset: number;
  deliveryCount: number;
}

export interface Ack {
  firstOffset: number;
  lastOffset: number;
  types: number[];
}

export const ACCEPT = 1;
export const RELEASE = 2;
export const REJECT = 3;

export class ShareConsumer {
  readonly memberId = randomUUID().replace(/-/g, '').slice(0, 22);
  memberEpoch = 0;
  sessionEpoch = 0;
  assignment: { topicId: string; partitions: number[] }[] = [];
  private constructor(readonly client: RawClient, readonly groupId: string, readonly topic: string, readonly topicId: string) {}

  static async join(port: number, groupId: string, topic: string, topicId: string): Promise<ShareConsumer> {
    const c = new ShareConsumer(await RawClient.connect(port), groupId, topic, topicId);
    await c.heartbeat();
    return c;
  }

  async heartbeat(): Promise<any> {
    const r = await this.client.request(ApiKey.ShareGroupHeartbeat, 1, {
      groupId: this.groupId, memberId: this.memberId, memberEpoch: this.memberEpoch, rackId: null,
      subscribedTopicNames: this.memberEpoch === 0 ? [this.topic] : null,
    });
    assert.equal(r.errorCode, ErrorCode.NONE, `heartbeat: ${r.errorMessage}`);
    this.memberEpoch = r.memberEpoch;
    if (r.assignment) this.assignment = r.assignment.topicPartitions;
    return r;
  }

  /** One ShareFetch of partition `partition` (acknowledging `acks` on the way); the raw response. */
  async fetchRaw(partition: number, acks: Ack[] = [], options: { maxWaitMs?: number; maxRecords?: number; epoch?: number } = {}): Promise<any> {
    const epoch = options.epoch ?? this.sessionEpoch;
    const r = await this.client.request(ApiKey.ShareFetch, 1, {
      groupId: this.groupId, memberId: this.memberId, shareSessionEpoch: epoch, maxWaitMs: options.maxWaitMs ?? 500, minBytes: 1,
      maxBytes: 1 << 20, maxRecords: options.maxRecords ?? 500, batchSize: 500,
      topics: [{ topicId: this.topicId, partitions: [{ partitionIndex: partition, acknowledgementBatches: acks.map((a) => ({ firstOffset: BigInt(a.firstOffset), lastOffset: BigInt(a.lastOffset), acknowledgeTypes: a.types })) }] }],
      forgottenTopicsData: [],
    });
    if (r.errorCode === ErrorCode.NONE && epoch >= 0) this.sessionEpoch = epoch + 1;
    return r;
  }

  /** ShareFetch; the records acquired (by offset) and the partition's acknowledge error code. */
  async fetch(partition: number, acks: Ack[] = [], options: { maxWaitMs?: number; maxRecords?: number } = {}): Promise<{ acquired: Acquired[]; ackError: number; records: number }> {
    const r = await this.fetchRaw(partition, acks, options);
    assert.equal(r.errorCode, ErrorCode.NONE, `share fetch: ${r.errorMessage}`);
    const p = r.responses.flatMap((t: any) => t.partitions).find((x: any) => x.partitionIndex === partition);
    if (!p) return { acquired: [], ackError: ErrorCode.NONE, records: 0 };
    assert.equal(p.errorCode, ErrorCode.NONE, `share fetch partition: ${p.errorMessage}`);
    const acquired: Acquired[] = [];
    for (const a of p.acquiredRecords) for (let o = Number(a.firstOffset); o <= Number(a.lastOffset); o++) acquired.push({ offset: o, deliveryCount: a.deliveryCount });
    return { acquired, ackError: p.acknowledgeErrorCode, records: p.records?.length ?? 0 };
  }

  /** ShareAcknowledge in the session; the partition's error code. */
  async acknowledge(partition: number, acks: Ack[], epoch = this.sessionEpoch): Promise<{ errorCode: number; partitionError: number }> {
    const r = await this.client.request(ApiKey.ShareAcknowledge, 1, {
      groupId: this.groupId, memberId: this.memberId, shareSessionEpoch: epoch,
      topics: [{ topicId: this.topicId, partitions: [{ partitionIndex: partition, acknowledgementBatches: acks.map((a) => ({ firstOffset: BigInt(a.firstOffset), lastOffset: BigInt(a.lastOffset), acknowledgeTypes: a.types })) }] }],
    });
    if (r.errorCode === ErrorCode.NONE && epoch > 0) this.sessionEpoch = epoch + 1;
    return { errorCode: r.errorCode, partitionError: r.responses[0]?.partitions[0]?.errorCode ?? -1 };
  }

  /** Leaves the group (heartbeat epoch -1) and closes the socket. */
  async leave(): Promise<void> {
    await this.client.request(ApiKey.ShareGroupHeartbeat, 1, { groupId: this.groupId, memberId: this.memberId, memberEpoch: -1, rackId: null, subscribedTopicNames: null }).catch(() => undefined);
    this.client.close();
  }
}

/** Offsets as acknowledgement ranges of one type. */
export function acksOf(offsets: readonly number[], type: number): Ack[] {
  const sorted = [...offsets].sort((a, b) => a - b);
  const out: Ack[] = [];
  for (const o of sorted) {
    const last = out[out.length - 1];
    if (last && last.lastOffset + 1 === o) last.lastOffset = o;
    else out.push({ firstOffset: o, lastOffset: o, types: [type] });
  }
  return out;
}
