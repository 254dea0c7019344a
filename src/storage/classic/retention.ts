/**
 * Retention of a classic log, as Kafka's UnifiedLog.deleteOldSegments: whole segments are deleted, oldest
 * first, while a predicate holds — first segments whose newest record is older than retention.ms, then (on
 * what is left) segments while the log stays at least retention.bytes without them. Both only with
 * cleanup.policy containing `delete`. The caller adds the log-start-offset pass (DeleteRecords) and never
 * deletes past the high watermark.
 *
 * A segment's age is its largest record timestamp (Kafka's `largestTimestamp`): a segment whose records
 * carry no timestamp (-1) is never deleted by time; an empty one (compaction removed all of it) always is.
 */
import type { TopicConfig } from '../../config/topic-config.ts';

export interface RetainedSegment {
  size: number;
  maxTimestamp: number;
}

export type SegmentPredicate = (segment: RetainedSegment, next: RetainedSegment | null) => boolean;

/** The retention predicates to apply in order (each over the oldest segments left by the previous one). */
export function retentionBreaches(config: Pick<TopicConfig, 'cleanupPolicy' | 'retentionMs' | 'retentionBytes'>, now: number, logSize: () => number): SegmentPredicate[] {
  const out: SegmentPredicate[] = [];
  if (!config.cleanupPolicy.includes('delete')) return out;
  if (config.retentionMs >= 0) {
    // An empty segment (all of it removed by compaction) holds nothing to keep.
    out.push((segment) => segment.size === 0 || (segment.maxTimestamp >= 0 && now - segment.maxTimestamp > config.retentionMs));
  }
  if (config.retentionBytes >= 0) {
    // Evaluated segment by segment, oldest first, after the time pass: `diff` is what must still go.
    let diff: number | null = null;
    out.push((segment) => {
      diff ??= logSize() - config.retentionBytes;
      if (diff - segment.size < 0) return false;
      diff -= segment.size;
      return true;
    });
  }
  return out;
}
