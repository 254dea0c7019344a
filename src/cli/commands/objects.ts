/**
 * `floe objects ls|du`: the diskless objects the coordinator knows, read from the coordinator the broker
 * config names (the same --config FILE / --override / FLOE_* loading as `floe start`). Read-only.
 *
 *   floe objects ls [--limit N] [--config FILE] [--override k=v]... [--json]
 *   floe objects du [--config FILE] [--override k=v]... [--json]
 *
 * An embedded (PGlite) coordinator can be opened by one process at a time: with the broker running, point
 * these at PostgreSQL (diskless.coordinator.url) or use the console.
 */
import { loadBrokerConfig } from '../../config/broker-config.ts';
import { AdminUsageError, int, parseFlags } from '../admin/admin-args.ts';
import { humanBytes, json, table } from '../admin/output.ts';

export const OBJECTS_USAGE = `Usage: floe objects ls|du [--config FILE] [--override key=value]... [--json]
  ls [--limit N]   objects in the bucket: key, size, live bytes, batches, state (default limit 1000)
  du               totals, bytes still referenced, bytes waiting for deletion, size histogram
Reads the coordinator named by the broker config (as floe start loads it).
`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  override: { type: 'string', multiple: true },
  limit: { type: 'string' },
} as const;

export async function runObjects(args: string[], out: (s: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    out(OBJECTS_USAGE);
    return 0;
  }
  if (sub !== 'ls' && sub !== 'du') throw new AdminUsageError(`unknown 'floe objects' subcommand '${sub}' (ls or du)`);
  const flags = parseFlags(rest, OPTIONS);
  if (flags.help) {
    out(OBJECTS_USAGE);
    return 0;
  }
  const loaded = loadBrokerConfig({ file: flags.config as string | undefined, overrides: (flags.override as string[] | undefined) ?? [], env: process.env });
  const { openCoordinator } = await import('../../coordinator/open.ts');
  const coordinator = await openCoordinator(loaded.config);
  try {
    if (sub === 'ls') {
      const objects = await coordinator.listObjects(int(flags, 'limit', 1) ?? 1000);
      if (flags.json === true) out(json(objects));
      else out(table(['KEY', 'SIZE', 'LIVE-BYTES', 'BATCHES', 'STATE', 'BROKER', 'CREATED'],
        objects.map((o) => [o.key, o.size, o.liveBytes, o.batches, o.state, o.brokerId, new Date(o.createdMs).toISOString()])));
      return 0;
    }
    const u = await coordinator.objectUsage();
    if (flags.json === true) {
      out(json(u));
      return 0;
    }
    out(table(['WHAT', 'OBJECTS', 'BYTES', 'SIZE'], [
      ['total', u.objects, u.bytes, humanBytes(u.bytes)],
      ['live (referenced by batches)', '-', u.liveBytes, humanBytes(u.liveBytes)],
      ['unreferenced (to be deleted)', u.unreferencedObjects, u.unreferencedBytes, humanBytes(u.unreferencedBytes)],
      ['deleting', u.deletingObjects, u.deletingBytes, humanBytes(u.deletingBytes)],
      ['pending uploads', u.pendingUploads, '-', '-'],
    ]));
    out('\nSize histogram:\n');
    out(table(['SIZE <', 'OBJECTS', 'BYTES'], u.histogram.map((h) => [humanBytes(h.upTo), h.objects, h.bytes])));
    return 0;
  } finally {
    await coordinator.close();
  }
}
