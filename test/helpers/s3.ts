/**
 * A real S3-speaking server for tests: s3rver on loopback, started by the test itself as a child process
 * (tools/dev/local-servers.ts), one per test file, killed and removed when the file ends. `freshBucket()`
 * gives each test its own bucket, and `s3Overrides()` the broker configuration that uses it.
 */
import { randomUUID } from 'node:crypto';
import { startS3rver, type S3Server } from '../../tools/dev/local-servers.ts';
import { S3ObjectStore } from '../../src/objectstore/s3.ts';
import { onCleanup } from './cleanup.ts';

let shared: Promise<S3Server> | null = null;

export function sharedS3(): Promise<S3Server> {
  shared ??= startS3rver().then((server) => {
    onCleanup(() => server.destroy());
    return server;
  });
  return shared;
}

/** A new bucket on the file's server. */
export async function freshBucket(): Promise<string> {
  const server = await sharedS3();
  const bucket = `floe-${randomUUID().slice(0, 8)}`;
  await server.createBucket(bucket);
  return bucket;
}

/** Broker config keys for `s3://bucket/prefix` on `server`. */
export function s3Overrides(server: S3Server, bucket: string, prefix = 'floe'): Record<string, string> {
  return {
    'diskless.object.store.url': `s3://${bucket}/${prefix}`,
    'diskless.s3.endpoint': server.endpoint,
    'diskless.s3.path.style.access': 'true',
    'diskless.s3.region': 'us-east-1',
    'diskless.s3.access.key.id': server.accessKeyId,
    'diskless.s3.secret.access.key': server.secretAccessKey,
  };
}

/** An S3ObjectStore on `bucket` of `server` (closed when the file ends). */
export function s3Store(server: S3Server, bucket: string, prefix = '', extra: { requestTimeoutMs?: number; maxAttempts?: number; listPageSize?: number } = {}): S3ObjectStore {
  const store = new S3ObjectStore({
    bucket,
    prefix,
    endpoint: server.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...extra,
  });
  onCleanup(() => store.close());
  return store;
}
