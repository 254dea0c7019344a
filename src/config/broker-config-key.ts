/**
 * The row type of the broker config table. BROKER_CONFIG_KEYS (broker-config.ts) is made of these rows, and
 * so is BACKEND_CONFIG_KEYS (backend-config.ts), which broker-config.ts spreads into it: both import the type
 * from here, so backend-config.ts does not import broker-config.ts back.
 */
import type { ConfigType, Validator } from './config-def.ts';

export interface BrokerConfigKey {
  key: string;
  type: ConfigType;
  /** As text, like Kafka's ConfigDef; null = no default (the key is unset unless given). */
  default: string | null;
  doc: string;
  validate?: Validator;
  /** Section in docs/configuration.md and `floe config`. */
  group: BrokerConfigGroup;
}

export type BrokerConfigGroup = 'Broker' | 'Listeners and network' | 'Security' | 'Diskless storage' | 'Coordinator' | 'Object store' | 'Topic defaults' | 'Groups' | 'Transactions';
