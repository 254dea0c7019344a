/** A group's committed offsets and the end offsets of a topic's partitions, asked with raw requests. */
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import { withClient } from './raw-client.ts';

export interface CommittedAndEnd {
  /** partition → committed offset (-1: none). */
  committed: Record<string, number>;
  /** partition → high watermark. */
  end: Record<string, number>;
}

export function committedAndEndOffsets(port: number, topic: string, group: string, partitions: number[]): Promise<CommittedAndEnd> {
  return withClient(port, async (c) => {
    const f = await c.request(ApiKey.OffsetFetch, 7, { groupId: group, topics: [{ name: topic, partitionIndexes: partitions }], requireStable: false });
    const l = await c.request(ApiKey.ListOffsets, 5, { replicaId: -1, topics: [{ name: topic, partitions: partitions.map((p) => ({ partitionIndex: p, timestamp: -1n })) }] });
    const committed: Record<string, number> = {};
    const end: Record<string, number> = {};
    for (const p of f.topics[0].partitions) committed[String(p.partitionIndex)] = Number(p.committedOffset);
    for (const p of l.topics[0].partitions) end[String(p.partitionIndex)] = Number(p.offset);
    return { committed, end };
  });
}
