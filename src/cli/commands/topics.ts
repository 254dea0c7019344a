/**
 * `floe topics`: kafka-topics.sh's flags over the Kafka protocol.
 *
 *   --bootstrap-server H:P --list
 *   --bootstrap-server H:P --describe [--topic T]
 *   --bootstrap-server H:P --create --topic T [--partitions N] [--replication-factor R] [--config k=v]...
 *   --bootstrap-server H:P --alter --topic T --partitions N
 *   --bootstrap-server H:P --delete --topic T
 */
import { connectAdmin } from '../admin/connect-admin.ts';
import { RESOURCE_TOPIC } from '../../client/admin-client.ts';
import { AdminUsageError, int, keyValues, oneAction, parseFlags, required, str } from '../admin/admin-args.ts';
import { json, table } from '../admin/output.ts';

export const TOPICS_USAGE = `Usage: floe topics --bootstrap-server HOST:PORT ACTION [options] [--command-config FILE] [--json]
Actions (as kafka-topics.sh):
  --list                                   topic names
  --describe [--topic T]                   partitions, leaders, replicas and configs
  --create --topic T [--partitions N] [--replication-factor R] [--config k=v]...
  --alter --topic T --partitions N         add partitions
  --delete --topic T
`;

const OPTIONS = {
  'bootstrap-server': { type: 'string' },
  list: { type: 'boolean' },
  describe: { type: 'boolean' },
  create: { type: 'boolean' },
  alter: { type: 'boolean' },
  delete: { type: 'boolean' },
  topic: { type: 'string' },
  partitions: { type: 'string' },
  'replication-factor': { type: 'string' },
  config: { type: 'string', multiple: true },
  'if-not-exists': { type: 'boolean' },
  'if-exists': { type: 'boolean' },
} as const;

export async function runTopics(args: string[], out: (s: string) => void): Promise<number> {
  const flags = parseFlags(args, OPTIONS);
  if (flags.help) {
    out(TOPICS_USAGE);
    return 0;
  }
  const action = oneAction(flags, ['list', 'describe', 'create', 'alter', 'delete']);
  const asJson = flags.json === true;
  const admin = await connectAdmin(flags, 'floe topics');
  try {
    switch (action) {
      case 'list': {
        const md = await admin.metadata(null);
        const names = md.topics.map((t) => t.name!).sort();
        out(asJson ? json(names) : names.map((n) => `${n}\n`).join(''));
        return 0;
      }
      case 'describe': {
        const topic = str(flags, 'topic');
        const md = await admin.metadata(topic === undefined ? null : [topic]);
        const topics = md.topics.sort((a, b) => a.name!.localeCompare(b.name!));
        const result = [];
        for (const t of topics) {
          if (t.errorCode !== 0) await admin.topic(t.name!); // throws with the error's name
          const configs = await admin.describeConfigs(RESOURCE_TOPIC, t.name!);
          result.push({
            topic: t.name!,
            topicId: t.topicId,
            partitionCount: t.partitions.length,
            replicationFactor: t.partitions[0]?.replicaNodes.length ?? 0,
            // Kafka's tool shows the configs set on the topic (source 1, DYNAMIC_TOPIC_CONFIG)
            configs: Object.fromEntries(configs.filter((c) => c.configSource === 1).map((c) => [c.name, c.value])),
            partitions: t.partitions.sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) => ({ partition: p.partitionIndex, leader: p.leaderId, replicas: p.replicaNodes, isr: p.isrNodes })),
          });
        }
        if (asJson) {
          out(json(result));
          return 0;
        }
        for (const t of result) {
          const cfg = Object.entries(t.configs).map(([k, v]) => `${k}=${v}`).join(',');
          out(`Topic: ${t.topic}\tTopicId: ${t.topicId}\tPartitionCount: ${t.partitionCount}\tReplicationFactor: ${t.replicationFactor}\tConfigs: ${cfg}\n`);
          out(table(['TOPIC', 'PARTITION', 'LEADER', 'REPLICAS', 'ISR'], t.partitions.map((p) => [t.topic, p.partition, p.leader, p.replicas.join(','), p.isr.join(',')])));
        }
        return 0;
      }
      case 'create': {
        const name = required(flags, 'topic', '--create');
        const partitions = int(flags, 'partitions', 1) ?? -1;
        const rf = int(flags, 'replication-factor', 1) ?? -1;
        const configs = keyValues((flags.config as string[] | undefined) ?? []);
        try {
          const r = await admin.createTopic(name, partitions, rf, configs);
          out(asJson ? json({ topic: name, partitions: r.partitions, replicationFactor: r.replicationFactor }) : `Created topic ${name}.\n`);
        } catch (err) {
          if (flags['if-not-exists'] === true && (err as { code?: number }).code === 36) return 0; // TOPIC_ALREADY_EXISTS
          throw err;
        }
        return 0;
      }
      case 'alter': {
        const name = required(flags, 'topic', '--alter');
        const partitions = int(flags, 'partitions', 1);
        if (partitions === undefined) throw new AdminUsageError('--alter needs --partitions (configs are altered with floe configs)');
        await admin.createPartitions(name, partitions);
        out(asJson ? json({ topic: name, partitions }) : `Partitions of topic ${name} increased to ${partitions}.\n`);
        return 0;
      }
      default: {
        const name = required(flags, 'topic', '--delete');
        try {
          await admin.deleteTopic(name);
        } catch (err) {
          if (flags['if-exists'] === true && (err as { code?: number }).code === 3) return 0;
          throw err;
        }
        out(asJson ? json({ topic: name, deleted: true }) : `Deleted topic ${name}.\n`);
        return 0;
      }
    }
  } finally {
    admin.close();
  }
}
