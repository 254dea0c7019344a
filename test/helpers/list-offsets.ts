/**
 * ListOffsets in tests: `listOffset` asks for one partition's offset at a timestamp (or -1 latest,
 * -2 earliest, -3 max timestamp, -4 earliest local) and returns the partition's answer.
 */
import { ApiKey } from '../../src/protocol/gen/api-keys.ts';
import type { ListOffsetsResponse, ListOffsetsResponseListOffsetsPartitionResponse } from '../../src/protocol/gen/messages/list-offsets.ts';
import type { RawClient } from './raw-client.ts';

export const LATEST = -1n;
export const EARLIEST = -2n;

export async function listOffset(client: RawClient, topic: string, partition: number, timestamp: bigint, version = 7): Promise<ListOffsetsResponseListOffsetsPartitionResponse> {
  const r = await client.request<ListOffsetsResponse>(ApiKey.ListOffsets, version, {
    replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp }] }],
  });
  return r.topics[0]!.partitions[0]!;
}
