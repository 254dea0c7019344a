/**
 * `npm run build` (and `npm start`, which builds first): bundles the broker's TypeScript sources into one
 * ES module, dist/cli/floe.js, with the npm packages left as imports. Plain JS run by node, because running the
 * sources through tsx costs a running broker ~65 MB of RSS (tsx's loader thread and its transforms) and
 * its start-up time; bin/floe.js still runs the sources directly, so a checkout works with no build.
 *
 * The bundle (floe.js and its chunks) sits two levels under the package root, like src/cli/floe.ts, so the
 * sources' paths relative to import.meta.url (package.json, the console's web/ folder, copied next to it)
 * hold in both.
 */
import { build } from 'esbuild';
import { cp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}dist/cli/`;

await rm(`${root}dist`, { recursive: true, force: true });
await build({
  entryPoints: [`${root}src/cli/floe.ts`],
  outdir: out,
  // The sources' dynamic imports (the broker after its config is valid, the S3 store, the PostgreSQL
  // coordinator) stay dynamic: each is a chunk of its own next to floe.js, so the packages they import
  // (@aws-sdk/client-s3, pg) load only when used. In one file, esbuild would hoist those imports to its top.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});
await cp(`${root}src/console/web`, `${out}web`, { recursive: true });
