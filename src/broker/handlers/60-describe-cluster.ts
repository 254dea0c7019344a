/**
 * DescribeCluster (key 60), versions 0-2.
 *
 * Behavior: the live brokers, the cluster id, and the live broker with the lowest id as controller (Floe
 * has no KRaft controller quorum; the coordinator database plays that role). EndpointType 2 (controllers) gets
 * UNSUPPORTED_ENDPOINT_TYPE, as from a Kafka broker. No broker is ever fenced.
 */
import type { DescribeClusterRequest, DescribeClusterResponse } from '../../protocol/gen/messages/describe-cluster.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

const BROKERS_ENDPOINT = 1;
const AUTHORIZED_OPERATIONS_NOT_REQUESTED = -2147483648;

export const describeCluster = defineHandler<DescribeClusterRequest, DescribeClusterResponse>({
  key: 60,
  name: 'DescribeCluster',
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, req) {
    const { cluster } = ctx;
    if (req.endpointType !== BROKERS_ENDPOINT) {
      return { errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, errorMessage: 'Only brokers (endpoint type 1) can be described.', endpointType: req.endpointType, clusterId: cluster.clusterId };
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      endpointType: BROKERS_ENDPOINT,
      clusterId: cluster.clusterId,
      controllerId: cluster.controllerId(),
      brokers: cluster.live().map((b) => ({ brokerId: b.nodeId, host: b.host, port: b.port, rack: b.rack, isFenced: false })),
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
    };
  },
  errorResponse: (_req, errorCode) => ({ errorCode }),
});
