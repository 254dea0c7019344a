/**
 * The `floe` command line, run as a child process like a user runs it. None of these start a broker.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function floe(args: string[], env: Record<string, string> = {}): Promise<Run> {
  // A clean environment: no FLOE_* variables from the caller.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOE_')));
  const child = spawn(process.execPath, [resolve(ROOT, 'bin/floe.js'), ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`floe ${args.join(' ')} did not exit in 30 s\n${stdout}\n${stderr}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // 'exit' can come before the pipes are drained.
      setImmediate(() => res({ code, stdout, stderr }));
    });
  });
}

const noStack = (text: string) => assert.doesNotMatch(text, /^\s+at /m, `a stack trace was printed:\n${text}`);

test('start with a bad value: exit 2 and one clear line naming key, value and what is accepted', async () => {
  const r = await floe(['start', '--override', 'node.id=abc']);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(
    r.stderr,
    'floe: invalid configuration: Invalid value abc for configuration node.id (from --override node.id=abc): Not a number of type INT. Accepted: INT [-1,...,2147483647]\n',
  );
  assert.equal(r.stdout, '');
});

test('start with a bad env value names the variable', async () => {
  const r = await floe(['start'], { FLOE_DISKLESS_COMMIT_INTERVAL_MS: '0' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /diskless\.commit\.interval\.ms \(from env FLOE_DISKLESS_COMMIT_INTERVAL_MS\): Value must be at least 1/);
  noStack(r.stderr);
});

test('start with a missing config file (positional, like kafka-server-start.sh): exit 2', async () => {
  const r = await floe(['start', 'no/such/server.properties']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^floe: invalid configuration: cannot read config file no\/such\/server\.properties: no such file\n$/);
});

test('start with a TLS listener but no key, or a JKS key store: exit 2', async () => {
  const r = await floe(['start', '--override=listeners=SSL://:9093']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /listener SSL uses TLS but has no key/);
  noStack(r.stderr);
  const jks = await floe(['start', '--override=listeners=SSL://:9093', '--override=ssl.keystore.type=JKS', '--override=ssl.keystore.location=/k.jks']);
  assert.equal(jks.code, 2);
  assert.match(jks.stderr, /ssl\.keystore\.type=JKS is not supported; Floe reads PEM/);
  noStack(jks.stderr);
});

test('add-scram: a bad spec is a usage error (exit 2)', async () => {
  const r = await floe(['add-scram', 'SCRAM-SHA-1=[name=x,password=y]']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--add-scram expects SCRAM-SHA-256=\[name=alice,password=secret\]/);
  noStack(r.stderr);
});

test('usage errors: exit 2 with a hint', async () => {
  for (const args of [['start', 'a.properties', 'b.properties'], ['start', '--bogus'], ['start', 'x', '--config', 'y'], ['frobnicate'], ['start', '--override']]) {
    const r = await floe(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^floe: .*\nRun 'floe --help' for usage\.\n$/, args.join(' '));
  }
});

test('--help and --version', async () => {
  const help = await floe(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: floe <command>/);
  assert.match(help.stdout, /--override key=value/);
  const startHelp = await floe(['start', '--help']);
  assert.equal(startHelp.code, 0);
  assert.equal(startHelp.stdout, help.stdout);
  const version = await floe(['--version']);
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(version.code, 0);
  assert.equal(version.stdout, `floe ${pkg.version}\n`);
});

test('config lists every key with its effective value and source', async () => {
  const r = await floe(['config', '--override', 'num.partitions=3', '--override', 'foo=1'], { FLOE_NODE_ID: '7' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^node\.id = 7 {3}\[env\]$/m);
  assert.match(r.stdout, /^num\.partitions = 3 {3}\[override\]$/m);
  assert.match(r.stdout, /^log\.diskless\.enable = true {3}\[default\]$/m);
  assert.match(r.stdout, /^retention\.ms$/m);
  assert.match(r.stderr, /warning: unknown config key 'foo'/);
});
