/**
 * The object-store conformance suite through FaultyObjectStore (latency on, no faults): the wrapper must
 * not change what a store does, only when. Its faults are tested in test/objectstore/faulty.test.ts.
 */
import { join } from 'node:path';
import { FaultyObjectStore, type LatencyProfile } from '../../src/objectstore/faulty.ts';
import { FsObjectStore } from '../../src/objectstore/fs.ts';
import { tempDir } from '../helpers/cleanup.ts';
import { objectStoreConformance } from './object-store.conformance.ts';

const dir = await tempDir('floe-faulty-');

/** s3-standard's shape at a hundredth of its delays, to keep the suite fast. */
const FAST: LatencyProfile = { name: 'fast', sample: (_op, _bytes, rng) => rng.lognormal(1, 0.5) };

objectStoreConformance('FaultyObjectStore(FsObjectStore), latency only', {
  open: async () => new FaultyObjectStore(new FsObjectStore(join(dir, 'conformance')), { latency: FAST, seed: 42, timeoutMs: 10_000 }),
});
