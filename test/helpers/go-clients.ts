/**
 * The old Go clients of the client tests (test/clients/old/*.go: sarama 1.22 and kafka-go 0.2.1, Debian's
 * packages), built offline in GOPATH mode into `.cache/go-clients/` (git-ignored), with Go's build cache
 * beside them, once per clone: `goClients()` resolves with the binaries, building those missing or older
 * than their source. A cold build (sarama's cgo parts) takes one to two minutes on 2 cores, so
 * scripts/test.sh runs this file as a script first (`node --import tsx test/helpers/go-clients.ts`) and the
 * build is not counted in a test's timeout.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const SOURCES = join(ROOT, 'test', 'clients', 'old');
const OUT = join(ROOT, '.cache', 'go-clients');
const CLIENTS = { sarama: 'sarama_client.go', kafkago: 'kafka_go_client.go' } as const;

export type GoClient = keyof typeof CLIENTS;

async function mtime(path: string): Promise<number> {
  return stat(path).then((s) => s.mtimeMs, () => -1);
}

/** Builds test/clients/old/<file> as GOPATH package floetest/<name> into .cache/go-clients/bin/<name>. */
async function build(name: GoClient): Promise<string> {
  const source = join(SOURCES, CLIENTS[name]);
  const bin = join(OUT, 'bin', name);
  if ((await mtime(bin)) >= (await mtime(source))) return bin;
  const dir = join(OUT, 'src', 'floetest', name);
  await mkdir(dir, { recursive: true });
  await copyFile(source, join(dir, 'main.go'));
  await run('go', ['build', '-o', bin, `floetest/${name}`], {
    cwd: OUT,
    env: { ...process.env, GOPATH: `${OUT}:/usr/share/gocode`, GO111MODULE: 'off', GOFLAGS: '', GOCACHE: join(OUT, 'go-build'), CGO_CFLAGS: '-w' },
    timeout: 600_000,
  });
  return bin;
}

let building: Promise<Record<GoClient, string>> | null = null;

export function goClients(): Promise<Record<GoClient, string>> {
  building ??= Promise.all([build('sarama'), build('kafkago')]).then(([sarama, kafkago]) => ({ sarama, kafkago }));
  return building;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const began = Date.now();
  const bins = await goClients();
  console.error(`Go clients in ${join(OUT, 'bin')} (${Math.round((Date.now() - began) / 1000)} s): ${Object.keys(bins).join(', ')}`);
}
