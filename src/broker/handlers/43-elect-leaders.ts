/**
 * ElectLeaders (key 43), versions 0-2.
 *
 * Behavior: there is nothing to elect. A diskless partition has no replicas: any live broker serves it,
 * and Metadata names one. A classic partition has one replica (replicated classic topics do not exist
 * yet), which is its leader. So every existing partition named gets ELECTION_NOT_NEEDED (preferred and
 * unclean elections alike), unknown ones UNKNOWN_TOPIC_OR_PARTITION, and a request for all partitions
 * (null) gets an empty result, as Kafka answers when no election was needed. An election type other than
 * 0 (preferred) or 1 (unclean) is INVALID_REQUEST.
 * Version notes: v0 has no election type (preferred) and no top-level error; v2 is flexible.
 */
import type { ElectLeadersRequest, ElectLeadersResponse } from '../../protocol/gen/messages/elect-leaders.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

export const electLeaders = defineHandler<ElectLeadersRequest, ElectLeadersResponse>({
  key: 43,
  name: 'ElectLeaders',
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, req) {
    if (req.electionType !== 0 && req.electionType !== 1) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, replicaElectionResults: [] };
    }
    if (req.topicPartitions === null) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults: [] };
    const replicaElectionResults = req.topicPartitions.map((t) => {
      const topic = ctx.topics.get(t.topic);
      return {
        topic: t.topic,
        partitionResult: t.partitions.map((p) => topic && p >= 0 && p < topic.partitionCount
          ? { partitionId: p, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'Leader election not needed for topic partition.' }
          : { partitionId: p, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'The partition does not exist.' }),
      };
    });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults };
  },
  errorResponse: (req, errorCode) => ({
    errorCode,
    replicaElectionResults: (req.topicPartitions ?? []).map((t) => ({
      topic: t.topic,
      partitionResult: t.partitions.map((p) => ({ partitionId: p, errorCode, errorMessage: null })),
    })),
  }),
});
