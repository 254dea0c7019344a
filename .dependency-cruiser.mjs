/**
 * Import rules of src/, checked by dependency-cruiser: `npm run check:imports` (scripts/test.sh runs it
 * first when it runs the whole suite). Every rule is an error.
 *
 * - No import cycles anywhere in src/. Type-only imports (`import type`, `import { type X }`) count: they
 *   vanish from the JavaScript but a cycle through them is still a cycle in the design
 *   (options.tsPreCompilationDeps). Dynamic `import()` counts too.
 * - Layers, lowest first: protocol (gen/ is generated code) < network < the subsystems (observability, security,
 *   storage, coordinator, objectstore, groups, cluster, config) < broker < cli. A layer never imports one
 *   above it; the rules below spell out which imports that forbids.
 * - src/ never imports the tests, benchmarks or tools.
 * - Every import in src/ resolves: an import the resolver cannot follow would escape every rule above.
 *
 * Paths are relative to the repository root, as `depcruise src` reports them. Imports keep their `.ts`
 * extension (tsconfig.json's allowImportingTsExtensions) and resolve as written.
 */
const SUBSYSTEMS = '^src/(observability|storage|coordinator|objectstore|groups|cluster|config|security)/';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle in src/ (type-only imports included). Move what both sides need into a file of its own, below both.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'protocol-gen-only-itself',
      severity: 'error',
      comment: 'src/protocol/gen/ is generated (tools/codegen/): it imports only itself and the codec primitives reader.ts and writer.ts.',
      from: { path: '^src/protocol/gen/' },
      to: { path: '^src/', pathNot: '^src/protocol/(gen/|reader\\.ts$|writer\\.ts$)' },
    },
    {
      name: 'protocol-only-itself',
      severity: 'error',
      comment: 'src/protocol/ is the bottom layer: it imports nothing else of src/. (gen/ has the stricter rule above.)',
      from: { path: '^src/protocol/', pathNot: '^src/protocol/gen/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },
    {
      name: 'network-only-protocol',
      severity: 'error',
      comment: 'src/network/ imports only src/protocol/ (and itself).',
      from: { path: '^src/network/' },
      to: { path: '^src/', pathNot: '^src/(network|protocol)/' },
    },
    {
      name: 'subsystems-not-broker-or-cli',
      severity: 'error',
      comment: 'observability, storage, coordinator, objectstore, groups, cluster and config sit below the broker: they never import src/broker/ or src/cli/. Pass what they need in (an interface, a callback) instead.',
      from: { path: SUBSYSTEMS },
      to: { path: '^src/(broker|cli)/' },
    },
    {
      name: 'broker-not-cli',
      severity: 'error',
      comment: 'src/cli/ starts the broker; src/broker/ never imports src/cli/.',
      from: { path: '^src/broker/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'src-not-test-bench-tools',
      severity: 'error',
      comment: 'src/ never imports test/, bench/ or tools/.',
      from: { path: '^src/' },
      to: { path: '^(test|bench|tools)/' },
    },
    {
      name: 'src-resolvable',
      severity: 'error',
      comment: 'An import in src/ that cannot be resolved (a typo, a missing package) would escape the rules above.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports are dependencies too (see no-circular).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Report an import of test/, bench/ or tools/, but do not cruise those trees; nor node_modules.
    doNotFollow: { path: ['node_modules', '^(test|bench|tools)/'] },
    // Tests belong under test/ (scripts/test.sh refuses a *.test.ts under src/); one left there is not a module of src/.
    exclude: { path: ['\\.test\\.ts$'] },
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      exportsFields: ['exports'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
