/**
 * DescribeLogDirs (key 35), versions 0-4 (v0 from Kafka 3.9 and older, v1's shape).
 *
 * Behavior: diskless partitions have no local log dir: their data is in the object store. They are
 * reported under one pseudo log dir named "diskless" (DISKLESS_LOG_DIR), with each partition's size as
 * the coordinator knows it (bytes of its retained batches), offset lag 0 and total/usable bytes -1
 * (unknown: an object store has no fixed capacity), so tools and UIs that read topic sizes from
 * DescribeLogDirs work. Classic partitions led by this broker are reported under their real log dirs
 * (log.dirs), with their size on disk and the dir's total and usable bytes. A null topic list means every
 * partition; partitions that do not exist are left out, as in Kafka.
 * Version notes: v2 is flexible; v3 adds the top-level error; v4 the total and usable bytes.
 */
import { statfs } from 'node:fs/promises';
import type { DescribeLogDirsRequest, DescribeLogDirsResponse } from '../../protocol/gen/messages/describe-log-dirs.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import type { PartitionKey } from '../../coordinator/coordinator.ts';
import { defineHandler } from '../handler.ts';

export const DISKLESS_LOG_DIR = 'diskless';

interface TopicOut {
  name: string;
  partitions: { partitionIndex: number; partitionSize: bigint; offsetLag: bigint; isFutureKey: boolean }[];
}

export const describeLogDirs = defineHandler<DescribeLogDirsRequest, DescribeLogDirsResponse>({
  key: 35,
  name: 'DescribeLogDirs',
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, req) {
    const { topics, partitions } = ctx;
    const wanted: { name: string; partitions: number[] }[] = req.topics === null
      ? topics.all().map((t) => ({ name: t.name, partitions: [...Array(t.partitionCount).keys()] }))
      : req.topics.map((t) => ({ name: t.topic, partitions: t.partitions }));

    const disklessKeys: (PartitionKey & { name: string })[] = [];
    const classicDirs = new Map<string, Map<string, TopicOut>>();
    for (const dir of ctx.config.logDirs ?? []) classicDirs.set(dir, new Map());
    for (const w of wanted) {
      const topic = topics.get(w.name);
      if (!topic) continue;
      for (const p of new Set(w.partitions)) {
        if (p < 0 || p >= topic.partitionCount) continue;
        if (topic.diskless) {
          disklessKeys.push({ topicId: topic.topicId, partition: p, name: topic.name });
          continue;
        }
        const local = partitions.localLog(topic.topicId, p);
        if (local === null) continue; // led by another broker
        let dirTopics = classicDirs.get(local.logDir);
        if (!dirTopics) classicDirs.set(local.logDir, (dirTopics = new Map()));
        let out = dirTopics.get(topic.name);
        if (!out) dirTopics.set(topic.name, (out = { name: topic.name, partitions: [] }));
        out.partitions.push({ partitionIndex: p, partitionSize: BigInt(local.size), offsetLag: 0n, isFutureKey: false });
      }
    }

    const sizes = await partitions.disklessSizes(disklessKeys);
    const disklessTopics = new Map<string, TopicOut>();
    disklessKeys.forEach((k, i) => {
      const size = sizes[i];
      if (size === null || size === undefined) return; // deleted meanwhile
      let out = disklessTopics.get(k.name);
      if (!out) disklessTopics.set(k.name, (out = { name: k.name, partitions: [] }));
      out.partitions.push({ partitionIndex: k.partition, partitionSize: BigInt(size), offsetLag: 0n, isFutureKey: false });
    });

    const results: { errorCode: number; logDir: string; topics: TopicOut[]; totalBytes: bigint; usableBytes: bigint }[] = [{ errorCode: ErrorCode.NONE, logDir: DISKLESS_LOG_DIR, topics: [...disklessTopics.values()], totalBytes: -1n, usableBytes: -1n }];
    for (const [dir, dirTopics] of classicDirs) {
      let totalBytes = -1n;
      let usableBytes = -1n;
      try {
        const s = await statfs(dir, { bigint: true });
        totalBytes = s.blocks * s.bsize;
        usableBytes = s.bavail * s.bsize;
      } catch {
        results.push({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, logDir: dir, topics: [], totalBytes, usableBytes });
        continue;
      }
      results.push({ errorCode: ErrorCode.NONE, logDir: dir, topics: [...dirTopics.values()], totalBytes, usableBytes });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results };
  },
  errorResponse: (_req, errorCode) => ({ errorCode, results: [] }),
});
