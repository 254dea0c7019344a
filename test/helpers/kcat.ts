/**
 * kcat (librdkafka 2.0.2, Debian's package) in tests: `kcat` runs it and returns its output;
 * `kcatProduce` produces KEY:VALUE lines (acks=all) from a temporary file; `kcatConsume` reads a topic from
 * the beginning to its end, one line per record in a `-f` format.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './cleanup.ts';

const run = promisify(execFile);

/** Runs `kcat args…` (5 minutes at most); resolves with its standard output. */
export async function kcat(args: string[]): Promise<string> {
  const { stdout } = await run('kcat', args, { maxBuffer: 1 << 30, timeout: 300_000 });
  return stdout;
}

/** `kcat -P -K : -X acks=all` of `lines` (KEY:VALUE each) to `topic`; `args` add options (-z, -H, -X …). */
export async function kcatProduce(bootstrap: string, topic: string, lines: string[], args: string[] = []): Promise<void> {
  const input = join(await tempDir('floe-kcat-'), 'input.txt');
  await writeFile(input, lines.join('\n') + '\n');
  await kcat(['-b', bootstrap, ...args, '-t', topic, '-P', '-K', ':', '-X', 'acks=all', '-l', input]);
}

/** `kcat -C -e -o beginning -q -f FORMAT` of `topic`: one line per record (empty lines dropped). */
export async function kcatConsume(bootstrap: string, topic: string, format: string, args: string[] = []): Promise<string[]> {
  const stdout = await kcat(['-b', bootstrap, ...args, '-t', topic, '-C', '-e', '-o', 'beginning', '-q', '-f', format]);
  return stdout.split('\n').filter((l) => l.length > 0);
}
