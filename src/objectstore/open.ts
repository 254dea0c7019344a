/**
 * Opens the object store the broker config names (`diskless.object.store.url`): S3 for `s3://bucket/prefix`,
 * a folder for `file:///path`, else `<data.dir>/objects`; wrapped in FaultyObjectStore when a latency
 * profile or a fault is configured. The S3 store (and with it the AWS SDK, ≈ 12 MB of an idle broker's RSS)
 * is imported only when the URL names S3.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrokerConfig } from '../config/broker-config.ts';
import { backendConfig, type ObjectStoreBackendConfig } from '../config/backend-config.ts';
import { childLogger } from '../observability/log.ts';
import { FaultyObjectStore } from './faulty.ts';
import { FsObjectStore } from './fs.ts';
import { ObjectStoreError, type ObjectStore } from './object-store.ts';

const log = childLogger('objectstore');

export async function openObjectStore(config: BrokerConfig): Promise<ObjectStore> {
  const c = backendConfig(config).objectStore;
  const store = await openBackend(c, config.dataDir);
  const f = c.faults;
  if (f.latencyProfile === 'none' && f.errorRate === 0 && f.burstRate === 0 && f.hangRate === 0) return store;
  log.warn({ ...f }, 'object store fault injection is on (diskless.object.store.latency.profile / fault.*): for tests and benchmarks only');
  return new FaultyObjectStore(store, {
    latency: f.latencyProfile,
    errorRate: f.errorRate,
    burstRate: f.burstRate,
    burstMs: f.burstMs,
    hangRate: f.hangRate,
    operations: f.operations,
    seed: f.seed ?? undefined,
    timeoutMs: c.requestTimeoutMs,
  });
}

async function openBackend(c: ObjectStoreBackendConfig, dataDir: string): Promise<ObjectStore> {
  if (c.url === '') return new FsObjectStore(join(dataDir, 'objects'));
  if (c.url.startsWith('file://')) return new FsObjectStore(fileURLToPath(c.url));
  const rest = c.url.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+/, '');
  const s3 = c.s3;
  log.info({ bucket, prefix, endpoint: s3.endpoint ?? 'AWS', region: s3.region ?? 'default' }, 'object store: S3');
  const { S3ObjectStore } = await import('./s3.ts');
  return new S3ObjectStore({
    bucket,
    prefix,
    region: s3.region ?? undefined,
    endpoint: s3.endpoint ?? undefined,
    forcePathStyle: s3.pathStyleAccess,
    credentials: s3.accessKeyId !== null && s3.secretAccessKey !== null
      ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
      : undefined,
    maxAttempts: s3.maxAttempts,
    requestTimeoutMs: c.requestTimeoutMs,
    connectionTimeoutMs: s3.connectionTimeoutMs,
    maxConnections: s3.maxConnections,
  });
}

/** How long the start waits for the object store's first answer before going on without it. */
const START_CHECK_MS = 5_000;

/**
 * One listing request to an S3 store at start. A store that refuses this configuration (no such bucket,
 * access denied, unknown key) fails the start with its answer, rather than every produce later; one that
 * does not answer (down, unreachable, slow) is only logged: produce answers KAFKA_STORAGE_ERROR until it is
 * back. The folder store needs no check: its folders are created on first write.
 */
export async function checkObjectStore(config: BrokerConfig, store: ObjectStore): Promise<void> {
  const { url } = backendConfig(config).objectStore;
  if (!url.startsWith('s3://')) return;
  const first = (async () => {
    for await (const _ of store.list('')) return;
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), START_CHECK_MS)));
  try {
    const outcome = await Promise.race([first, timeout]);
    if (outcome === 'timeout') log.warn({ url }, `object store did not answer within ${START_CHECK_MS} ms of the start; produce answers KAFKA_STORAGE_ERROR until it does`);
  } catch (err) {
    if (err instanceof ObjectStoreError && !err.retriable) throw new Error(`object store ${url} refused the broker: ${err.message}`);
    log.warn({ url, err: (err as Error).message }, 'object store unreachable at start; produce answers KAFKA_STORAGE_ERROR until it is back');
  } finally {
    clearTimeout(timer);
    first.catch(() => {});
  }
}
