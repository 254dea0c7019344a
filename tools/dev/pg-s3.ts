/**
 * `npm run dev:pg-s3`: one broker on the production backends, against throwaway local servers:
 * a PostgreSQL cluster (Debian's postgresql package; `apt-get install -y postgresql`) and s3rver (npm
 * devDependency), both on free loopback ports. Prints the broker configuration it uses (the same keys work
 * against a real PostgreSQL and S3), listens on localhost:9092, and on Ctrl-C stops the broker and removes
 * both servers and their data.
 *
 *   npm run dev:pg-s3                                  # broker on localhost:9092
 *   npm run dev:pg-s3 -- --override listeners=PLAINTEXT://localhost:9093 --override diskless.object.store.latency.profile=s3-standard
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { startPostgres, startS3rver } from './local-servers.ts';

const userOverrides: string[] = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--override' && args[i + 1] !== undefined) userOverrides.push(args[++i]!);
  else if (args[i]!.startsWith('--override=')) userOverrides.push(args[i]!.slice('--override='.length));
  else {
    process.stderr.write(`usage: npm run dev:pg-s3 [-- --override key=value ...]\n`);
    process.exit(2);
  }
}

process.stderr.write('starting PostgreSQL and s3rver ...\n');
const [pg, s3] = await Promise.all([startPostgres(), startS3rver()]);
const dataDir = await mkdtemp(join(tmpdir(), 'floe-dev-pg-s3-'));
let broker: { close(): Promise<void> } | null = null;
let stopping = false;
const stop = async (code: number) => {
  if (stopping) process.exit(code);
  stopping = true;
  await broker?.close().catch(() => undefined);
  await Promise.all([pg.destroy(), s3.destroy(), rm(dataDir, { recursive: true, force: true })]);
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  await s3.createBucket('floe');
  const settings: Record<string, string> = {
    'diskless.coordinator.url': pg.url(),
    'diskless.object.store.url': 's3://floe/wal-objects',
    'diskless.s3.endpoint': s3.endpoint,
    'diskless.s3.region': 'us-east-1',
    'diskless.s3.path.style.access': 'true',
    'diskless.s3.access.key.id': s3.accessKeyId,
    'diskless.s3.secret.access.key': s3.secretAccessKey,
    'data.dir': dataDir,
  };
  process.stderr.write(`\n# Broker configuration (server.properties form):\n${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join('\n')}\n\n`);
  const loaded = loadBrokerConfig({
    overrides: [...Object.entries(settings).map(([k, v]) => `${k}=${v}`), ...userOverrides],
    env: process.env,
  });
  for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
  const { startBroker } = await import('../../src/broker/broker.ts');
  const running = await startBroker(loaded.config, { loaded });
  broker = running;
  process.stderr.write(`\nFloe is up on localhost:${running.port} (PostgreSQL ${pg.url()}, S3 ${s3.endpoint}/floe). Ctrl-C stops everything.\n`);
} catch (err) {
  process.stderr.write(`dev:pg-s3 failed: ${(err as Error).stack ?? err}\n`);
  await stop(1);
}
