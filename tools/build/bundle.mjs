/**
 * `npm run build` (and `npm start`, which builds first): bundles the broker's TypeScript sources into one
 * ES module, dist/cli/floe.js, with the npm packages left as imports. Plain JS run by node, because running the
 * sources through tsx costs a running broker ~65 MB of RSS (tsx's loader thread and its transforms) and
 * its start-up time; bin/floe.js still runs the sources directly, so a checkout works with no build.
 *
 * The bundle sits two levels under the package root, like src/cli/floe.ts, so the sources' paths relative
 * to import.meta.url (package.json, the console's web/ folder, copied next to it) hold in both.
 */
import { build } from 'esbuild';
import { cp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}dist/cli/`;

await rm(`${root}dist`, { recursive: true, force: true });
await build({
  entryPoints: [`${root}src/cli/floe.ts`],
  outfile: `${out}floe.js`,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});
await cp(`${root}src/console/web`, `${out}web`, { recursive: true });
