/**
 * The `floe` command (bin/floe.js runs this file through tsx).
 *
 *   floe start [FILE] [--config FILE] [--override key=value]...   start a broker
 *   floe config [--config FILE] [--override key=value]...         list every config key
 *   floe add-scram [--config FILE] [--override ...] 'SCRAM-SHA-512=[name=u,password=p]'...  first SCRAM users
 *   floe topics|groups|configs|acls|users --bootstrap-server H:P ... Kafka's admin tools (admin/, commands/)
 *   floe objects ls|du [--config FILE] [--override key=value]...   the coordinator's objects
 *   floe --help | --version
 *
 * Exit codes: 0 success (and a clean shutdown after SIGTERM/SIGINT), 1 runtime failure, 2 usage or
 * configuration error (one line on stderr, no stack trace).
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config/broker-config.ts';
import type { CommandOptions } from './command-options.ts';
import { runAdminCommand } from './admin/run-admin.ts';
import { runConfig } from './commands/config.ts';
import { runStart } from './commands/start.ts';
import { runAddScram } from './commands/add-scram.ts';

export const USAGE = `Usage: floe <command> [options]

Commands:
  start [FILE]   Start a broker. FILE (or --config FILE) is a Kafka server.properties file.
  config         Print every broker and topic config key with its value, default and documentation.
  add-scram SPEC...
                 Store SCRAM users in the coordinator before any broker runs (Kafka's
                 'kafka-storage format --add-scram'); SPEC is SCRAM-SHA-512=[name=alice,password=secret]
                 (also SCRAM-SHA-256; optional iterations=N, salt=BASE64).
  topics         Create, list, describe, alter and delete topics (kafka-topics.sh's flags).
  groups         List, describe (with lag), reset offsets of and delete consumer groups
                 (kafka-consumer-groups.sh's flags).
  configs        Describe and alter topic and broker configs, and users' SCRAM credentials
                 (kafka-configs.sh's flags).
  acls           Add, list and remove ACLs (kafka-acls.sh's flags).
  users          List, add and delete SCRAM users (short for configs --entity-type users).
  objects ls|du  List the diskless objects, or sum their sizes, from the coordinator.
                 'floe topics --help' (and so on) prints a command's flags; --json prints JSON;
                 --command-config FILE takes Kafka's client security properties (SASL, TLS).
  help           Print this help.
  version        Print the version.

Options (start, config, add-scram):
  -c, --config FILE          Read configuration from FILE (java.util.Properties format).
      --override key=value   Set a config key; repeatable; wins over FILE and the environment.
  -h, --help                 Print this help.
  -v, --version              Print the version.

Environment:
  FLOE_<KEY>       Sets config KEY, upper-cased with '.' as '_' (FLOE_NODE_ID=2 sets node.id=2).
                   Precedence: defaults < FILE < environment < --override.
  FLOE_LOG_LEVEL   Log level: fatal, error, warn, info (default), debug, trace, silent. Logs go to stderr.

With no options, 'floe start' runs one broker on localhost:9092 with its data under ./data.
Every key is described in docs/configuration.md.
`;

/** A usage or configuration problem: printed as one line, exit code 2. */
export class UsageError extends Error {}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  override: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} satisfies ParseArgsConfig['options'];

function parseCommandArgs(command: string, args: string[], maxPositionals: number): CommandOptions & { help: boolean; version: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
  const { values, positionals } = parsed;
  if (positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${positionals[maxPositionals]}' for 'floe ${command}'`);
  }
  if (positionals.length > 0 && values.config !== undefined) {
    throw new UsageError(`give the config file once: either 'floe ${command} FILE' or --config FILE`);
  }
  return {
    file: values.config ?? positionals[0],
    overrides: values.override ?? [],
    help: values.help ?? false,
    version: values.version ?? false,
  };
}

const write = (s: string): void => {
  process.stdout.write(s);
};

/** Runs the command line; resolves with the exit code, or -1 once a broker is running. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      case 'version':
      case '--version':
      case '-v':
        process.stdout.write(`floe ${version()}\n`);
        return 0;
      case 'start':
      case 'config': {
        const opts = parseCommandArgs(command, rest, command === 'start' ? 1 : 0);
        if (opts.help) {
          process.stdout.write(USAGE);
          return 0;
        }
        if (opts.version) {
          process.stdout.write(`floe ${version()}\n`);
          return 0;
        }
        return command === 'start' ? await runStart(opts) : runConfig(opts);
      }
      case 'add-scram': {
        let parsed;
        try {
          parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
        } catch (err) {
          throw new UsageError((err as Error).message.split('\n')[0]!);
        }
        return await runAddScram({ file: parsed.values.config, overrides: parsed.values.override ?? [] }, parsed.positionals);
      }
      case 'topics':
      case 'groups':
      case 'configs':
      case 'acls':
      case 'users':
      case 'objects':
        return await runAdminCommand(command, rest, write, (s) => process.stderr.write(s));
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`floe: ${err.message}\nRun 'floe --help' for usage.\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`floe: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

// -1: a broker is running; it exits from its signal handlers. Otherwise let stdout drain, then exit.
const code = await main(process.argv.slice(2));
if (code !== -1) process.exitCode = code;
