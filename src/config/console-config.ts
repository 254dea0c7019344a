/**
 * Broker keys of the web console (`console.*`) and `consoleConfig()`, which reads them typed from a
 * BrokerConfig. The rows are spread into BROKER_CONFIG_KEYS (broker-config.ts), like backend-config.ts's,
 * so loading, env vars, `floe config`, DescribeConfigs and docs/configuration.md treat them like every key.
 *
 * Prices are list prices in US dollars (S3 Standard, us-east-1, when written); set them to what you pay.
 */
import { custom, parseConfigValue, range, type ConfigValue } from './config-def.ts';
import type { BrokerConfigKey } from './broker-config-key.ts';

const httpListener = custom('empty, or http://host:port', (v) => {
  const s = v as string;
  if (s === '') return null;
  try {
    return new URL(s).protocol === 'http:' ? null : 'must be http://host:port';
  } catch {
    return 'must be http://host:port';
  }
});

export const CONSOLE_CONFIG_KEYS: readonly BrokerConfigKey[] = [
  { group: 'Listeners and network', key: 'console.listener', type: 'STRING', default: '', validate: httpListener,
    doc: 'Where the web console is served, as http://host:port; port 0 picks a free port. Empty disables the console. It shows the whole cluster (from the coordinator and the Kafka protocol), read-only unless console.write.enable is true.' },
  { group: 'Listeners and network', key: 'console.write.enable', type: 'BOOLEAN', default: 'false',
    doc: 'Whether the console may change the cluster: create and delete topics, alter topic configs, reset a group\'s offsets, delete records. Off: the console only reads. On a broker with an authorizer or a SASL listener the console asks for a login (checked by a SASL login to this broker) and each action needs the user\'s ACLs, as the Kafka API it sends does; without security configured the console has no login: enable this only where everyone who can reach console.listener may administer the cluster.' },
  { group: 'Listeners and network', key: 'console.cost.put.per.1000.requests', type: 'DOUBLE', default: '0.005', validate: range(0),
    doc: 'Price of 1,000 object-store PUT (and LIST) requests, in the currency the console shows (default: S3 Standard list price in USD).' },
  { group: 'Listeners and network', key: 'console.cost.get.per.1000.requests', type: 'DOUBLE', default: '0.0004', validate: range(0),
    doc: 'Price of 1,000 object-store GET requests (default: S3 Standard list price in USD).' },
  { group: 'Listeners and network', key: 'console.cost.storage.per.gib.month', type: 'DOUBLE', default: '0.023', validate: range(0),
    doc: 'Price of storing 1 GiB for a month in the object store (default: S3 Standard list price in USD).' },
];

export interface ConsoleConfig {
  listener: string;
  writeEnable: boolean;
  putPer1000: number;
  getPer1000: number;
  storagePerGibMonth: number;
}

export function consoleConfig(config: { values?: Readonly<Record<string, string | null>> }): ConsoleConfig {
  const get = (key: string): ConfigValue | null => {
    const def = CONSOLE_CONFIG_KEYS.find((k) => k.key === key)!;
    const text = config.values ? (config.values[key] ?? def.default) : def.default;
    return text === null ? null : parseConfigValue(key, def.type, text).value;
  };
  return {
    listener: (get('console.listener') as string | null) ?? '',
    writeEnable: get('console.write.enable') as boolean,
    putPer1000: get('console.cost.put.per.1000.requests') as number,
    getPer1000: get('console.cost.get.per.1000.requests') as number,
    storagePerGibMonth: get('console.cost.storage.per.gib.month') as number,
  };
}
