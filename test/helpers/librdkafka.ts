/**
 * A modern librdkafka (2.15.1: KIP-848 `group.protocol=consumer`, the share consumer) for client tests.
 * Debian's confluent-kafka (librdkafka 2.0.2) runs on it with LD_LIBRARY_PATH (TOOLING.md).
 *
 * `modernLibrdkafka()` resolves with the install prefix (holding lib/librdkafka.so.1):
 * - FLOE_TEST_LIBRDKAFKA_DIR when set (a library built beforehand, to save the build);
 * - else `.cache/librdkafka-2.15/` in the clone (git-ignored), built once per clone and reused: the only
 *   download is the npm tarball of @confluentinc/kafka-javascript@1.10.1 (`npm pack`), which carries
 *   librdkafka's source in deps/librdkafka; it is configured with --no-download and without curl, and
 *   built with the system's gcc, OpenSSL, SASL, zstd, lz4 and zlib (about 90 s on 2 cores). Concurrent
 *   test files wait for one build (a lock directory). scripts/test.sh runs this file as a script first
 *   (`node --import tsx test/helpers/librdkafka.ts`), so the build is not counted in a test's timeout.
 */
import { execFile } from 'node:child_process';
import { access, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const CACHE = join(ROOT, '.cache');
const PREFIX = join(CACHE, 'librdkafka-2.15');
const PACKAGE = '@confluentinc/kafka-javascript@1.10.1';
const LOCK = join(CACHE, 'librdkafka-2.15.lock');

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

let building: Promise<string> | null = null;

export function modernLibrdkafka(): Promise<string> {
  const given = process.env.FLOE_TEST_LIBRDKAFKA_DIR;
  if (given) return Promise.resolve(given);
  building ??= build();
  return building;
}

/** The environment for a Python confluent-kafka process on the modern library. */
export async function modernLibrdkafkaEnv(): Promise<NodeJS.ProcessEnv> {
  const prefix = await modernLibrdkafka();
  return { ...process.env, LD_LIBRARY_PATH: join(prefix, 'lib') };
}

async function build(): Promise<string> {
  const library = join(PREFIX, 'lib', 'librdkafka.so.1');
  if (await exists(library)) return PREFIX;
  await mkdir(CACHE, { recursive: true });
  // One build per clone: whoever creates the lock builds; the others wait for the library.
  for (;;) {
    try {
      await mkdir(LOCK);
      break;
    } catch {
      if (await exists(library)) return PREFIX;
      const age = Date.now() - (await stat(LOCK).then((s) => s.mtimeMs, () => Date.now()));
      if (age > 15 * 60_000) await rm(LOCK, { recursive: true, force: true }); // a build that died
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
  try {
    if (await exists(library)) return PREFIX;
    const work = join(CACHE, 'librdkafka-build');
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    await run('npm', ['pack', PACKAGE, '--silent'], { cwd: work, maxBuffer: 16 << 20 });
    const tarball = (await readdir(work)).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${PACKAGE} left no tarball`);
    await run('tar', ['xzf', tarball, 'package/deps/librdkafka'], { cwd: work });
    const src = join(work, 'package/deps/librdkafka');
    const opts = { cwd: src, maxBuffer: 256 << 20 };
    await run('./configure', [`--prefix=${PREFIX}`, '--no-download', '--disable-curl'], opts);
    await run('make', ['-j2', 'libs'], opts);
    // Only the C library (the npm source has no examples/, which the top-level install target wants).
    await run('make', ['-C', 'src', 'install'], opts);
    await rm(work, { recursive: true, force: true });
    if (!(await exists(library))) throw new Error(`the librdkafka build left no ${library}`);
    return PREFIX;
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // No top-level await: test files import this module, and tsx may load it as CommonJS.
  const started = Date.now();
  modernLibrdkafka().then(
    (prefix) => console.log(`librdkafka 2.15 in ${prefix} (${((Date.now() - started) / 1000).toFixed(0)} s)`),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
