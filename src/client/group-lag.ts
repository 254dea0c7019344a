/** A consumer group's lag per partition, as kafka-consumer-groups.sh --describe computes it. */
import { LATEST, type AdminClient } from './admin-client.ts';

export interface PartitionLag {
  topic: string;
  partition: number;
  currentOffset: bigint | null;
  logEndOffset: bigint;
  lag: bigint | null;
  consumerId: string | null;
  host: string | null;
  clientId: string | null;
}

/** Committed offsets, log-end offsets and lag of every partition the group owns or has committed. */
export async function describeLag(admin: AdminClient, group: string): Promise<{ group: string; state: string; partitions: PartitionLag[] }> {
  const [desc, committed] = await Promise.all([admin.describeGroup(group), admin.fetchOffsets(group)]);
  const owner = new Map<string, { consumerId: string; host: string; clientId: string }>();
  for (const m of desc.members) {
    for (const a of m.assignment) for (const p of a.partitions) owner.set(`${a.topic}\0${p}`, { consumerId: m.memberId, host: m.clientHost, clientId: m.clientId });
  }
  const keys = new Map<string, { topic: string; partition: number }>();
  for (const c of committed) keys.set(`${c.topic}\0${c.partition}`, c);
  for (const k of owner.keys()) {
    const [topic, p] = k.split('\0');
    keys.set(k, { topic: topic!, partition: Number(p) });
  }
  const topics = [...new Set([...keys.values()].map((k) => k.topic))].sort();
  const ends = new Map<string, bigint>();
  for (const name of topics) {
    const t = await admin.topic(name);
    for (const [p, o] of await admin.listOffsets(t, LATEST)) ends.set(`${name}\0${p}`, o);
  }
  const committedBy = new Map(committed.map((c) => [`${c.topic}\0${c.partition}`, c.offset]));
  const partitions: PartitionLag[] = [...keys.entries()]
    .filter(([k]) => ends.has(k))
    .map(([k, { topic, partition }]) => {
      const cur = committedBy.get(k) ?? null;
      const end = ends.get(k)!;
      const o = owner.get(k);
      return { topic, partition, currentOffset: cur, logEndOffset: end, lag: cur === null ? null : end - cur, consumerId: o?.consumerId ?? null, host: o?.host ?? null, clientId: o?.clientId ?? null };
    })
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return { group, state: desc.state, partitions };
}

