/**
 * Opens the coordinator the broker config names: PostgreSQL for `diskless.coordinator.url=postgres://…`,
 * else the embedded PGlite under `<data.dir>/coordinator`. The PostgreSQL client (`pg`) is imported only
 * for a PostgreSQL URL, so an embedded broker does not hold it in memory.
 */
import { join } from 'node:path';
import type { BrokerConfig } from '../config/broker-config.ts';
import { backendConfig } from '../config/backend-config.ts';
import { openPGliteCoordinator } from './pglite.ts';
import type { SqlCoordinator } from './sql-coordinator.ts';

export async function openCoordinator(config: BrokerConfig): Promise<SqlCoordinator> {
  const c = backendConfig(config).coordinator;
  if (c.url === '') return openPGliteCoordinator(join(config.dataDir, 'coordinator'), { sharedBuffersBytes: c.embeddedSharedBuffersBytes });
  const { openPostgresCoordinator } = await import('./pg.ts');
  return openPostgresCoordinator(c.url, {
    maxConnections: c.poolSize,
    statementTimeoutMs: c.statementTimeoutMs,
    connectTimeoutMs: c.connectTimeoutMs,
    password: c.password,
    sslMode: c.sslMode,
    sslRootCert: c.sslRootCert,
    sslCert: c.sslCert,
    sslKey: c.sslKey,
    applicationName: config.nodeId >= 0 ? `floe-broker-${config.nodeId}` : 'floe-broker',
  });
}
