/**
 * Cleanups that run when the test file ends: `onCleanup` registers one, `tempDir` makes a fresh temporary
 * folder that is removed then. Brokers, servers and stores started by the other helpers register here too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

// Cleanups run when the test file ends. They are registered with one top-level `after` (at import time):
// an `after` called from inside a `before` hook would run as soon as that hook finished.
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

export function onCleanup(cleanup: () => Promise<unknown> | unknown): void {
  cleanups.push(cleanup);
}

/** A new empty folder under the system's temporary folder, removed when the test file ends. */
export async function tempDir(prefix = 'floe-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
