/**
 * Logs: pino JSON lines on stderr (stdout stays free for command output such as `floe config`). The level
 * comes from env FLOE_LOG_LEVEL (fatal, error, warn, info, debug, trace, silent; default info). Writes are
 * synchronous so that lines logged just before process.exit are not lost; nothing logs per record.
 */
import { pino, type Logger } from 'pino';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function levelFromEnv(): { level: string; bad: string | null } {
  const wanted = (process.env.FLOE_LOG_LEVEL ?? '').trim().toLowerCase();
  if (wanted === '') return { level: 'info', bad: null };
  return LEVELS.includes(wanted) ? { level: wanted, bad: null } : { level: 'info', bad: wanted };
}

const { level, bad } = levelFromEnv();

/**
 * pino's error serializer, except that an error whose message already quotes its cause's (ObjectStoreError,
 * CoordinatorError, … wrap what they caught that way) is not given the cause's message a second time; the
 * stack still lists the causes.
 */
export function serializeError(err: unknown): ReturnType<typeof pino.stdSerializers.err> {
  const out = pino.stdSerializers.err(err as Error);
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (err instanceof Error && cause instanceof Error && cause.message !== '' && err.message.includes(cause.message)) out.message = err.message;
  return out;
}

export const logger: Logger = pino({ level, base: { pid: process.pid }, serializers: { err: serializeError } }, pino.destination({ dest: 2, sync: true }));

if (bad !== null) logger.warn(`FLOE_LOG_LEVEL=${bad} is not a level (${LEVELS.join(', ')}); using info`);

/** A logger whose lines carry `name` (the part of Floe: broker, network, diskless, cli…). */
export function childLogger(name: string): Logger {
  return logger.child({ name });
}
