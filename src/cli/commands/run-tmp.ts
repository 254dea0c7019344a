import { runStart } from './start-tmp.ts';
const c = await runStart({ file: undefined, overrides: [] });
console.error('runStart ->', c);
