/**
 * Starts the web console (src/console/) when `console.listener` is set: it reads the cluster through this
 * broker's own Kafka listener, objects from the coordinator, counters from this broker's metrics.
 */
import { consoleConfig } from '../config/console-config.ts';
import type { BrokerConfig } from '../config/broker-config.ts';
import { ConsoleApi, type MetricsSource, type ObjectInventory } from '../console/console-api.ts';
import { startConsoleServer, type ConsoleServer } from '../console/console-server.ts';

export async function startConsole(config: BrokerConfig, kafkaHost: string, kafkaPort: number, objects: ObjectInventory, metrics: MetricsSource): Promise<ConsoleServer | null> {
  const c = consoleConfig(config);
  if (c.listener === '') return null;
  // The listener may be bound to every interface ('' or 0.0.0.0): the console connects over loopback then.
  const host = kafkaHost === '' || kafkaHost === '0.0.0.0' ? '127.0.0.1' : kafkaHost === '::' ? '::1' : kafkaHost;
  const bootstrap = host.includes(':') ? `[${host}]:${kafkaPort}` : `${host}:${kafkaPort}`;
  return startConsoleServer(c.listener, new ConsoleApi(() => bootstrap, objects, metrics, c));
}
