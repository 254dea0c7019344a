/** Kafka's ConfigSource ids, as DescribeConfigs and CreateTopics send them. */
const CONFIG_SOURCE: Record<string, number> = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
};

export function configSourceCode(source: string): number {
  return CONFIG_SOURCE[source] ?? 0;
}
