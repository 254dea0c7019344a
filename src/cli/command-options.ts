/**
 * What `floe start` and `floe config` are given once floe.ts has parsed the command line. It lives in its own
 * file so that the commands (src/cli/commands/) need not import floe.ts, which imports them.
 */
export interface CommandOptions {
  /** The config file (`FILE` or `--config FILE`); undefined = none. */
  file: string | undefined;
  /** The `--override key=value` arguments, in order. */
  overrides: string[];
}
