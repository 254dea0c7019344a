/** Every Kafka API Floe serves, in key order. ApiVersions and dispatch are built from this list. */
import type { AnyHandler } from '../handler.ts';
import { produce } from './00-produce.ts';
import { fetch } from './01-fetch.ts';
import { listOffsets } from './02-list-offsets.ts';
import { metadata } from './03-metadata.ts';
import { apiVersions } from './18-api-versions.ts';
import { createTopics } from './19-create-topics.ts';
import { deleteTopics } from './20-delete-topics.ts';
import { describeConfigs } from './32-describe-configs.ts';
import { describeCluster } from './60-describe-cluster.ts';

export const HANDLERS: readonly AnyHandler[] = [
  produce,
  fetch,
  listOffsets,
  metadata,
  apiVersions,
  createTopics,
  deleteTopics,
  describeConfigs,
  describeCluster,
];
