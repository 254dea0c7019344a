/**
 * `floe start`: load the configuration (bad config → exit 2 with one line), log its warnings, start the
 * broker, and stop it on SIGTERM/SIGINT: the first signal calls close() once (it seals and commits the open
 * object) and exits 0; a second signal exits at once. The broker module is imported only once the
 * configuration is valid, so config errors and `--help` answer without loading the storage stack.
 */
import { loadBrokerConfig, type BrokerConfig, type LoadedBrokerConfig } from '../../config/broker-config.ts';
import { childLogger } from '../../observability/log.ts';
import type { CommandOptions } from '../command-options.ts';

const log = childLogger('cli');

interface Running {
  close(): Promise<void>;
  port: number;
}

export async function runStart(opts: CommandOptions): Promise<number> {
  const loaded: LoadedBrokerConfig = loadBrokerConfig({ file: opts.file, overrides: opts.overrides, env: process.env });
  for (const w of loaded.warnings) log.warn(w);

  // Signals may arrive while the broker is still starting: remember them and close once it is up.
  let running: Running | null = null;
  let stopRequested = false;
  let closing = false;
  const stop = (): void => {
    if (closing || running === null) return;
    closing = true;
    running.close().then(
      () => {
        log.info('broker closed');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'broker close failed');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) {
      log.warn(`${signal} received again: exiting without waiting for close`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stopRequested = true;
    log.info(`${signal} received: closing the broker (send it again to exit at once)`);
    stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const { startBroker } = (await import('../../broker/broker.ts')) as {
    startBroker: (config: BrokerConfig, opts?: { loaded?: LoadedBrokerConfig }) => Promise<Running>;
  };
  try {
    running = await startBroker(loaded.config, { loaded });
  } catch (err) {
    log.error({ err }, 'broker failed to start');
    process.stderr.write(`floe: the broker failed to start: ${describeStartError(err, loaded.config)}\n`);
    process.exit(1);
  }
  if (stopRequested) stop();
  return -1;
}

function describeStartError(err: unknown, config: BrokerConfig): string {
  const e = err as NodeJS.ErrnoException;
  const l = config.listeners[0];
  const where = l ? `${l.host || '*'}:${l.port}` : '';
  if (e?.code === 'EADDRINUSE') return `cannot listen on ${where}: address already in use (is another broker running? change listeners)`;
  if (e?.code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: address not available on this machine`;
  if (e?.code === 'EACCES' && e.syscall === 'listen') return `cannot listen on ${where}: permission denied`;
  return e instanceof Error ? e.message.split('\n')[0]! : String(err);
}
