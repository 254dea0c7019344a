/** The coordinator conformance suite on PGlite, persisted in a temporary folder (one instance per file). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openPGliteCoordinator } from '../../src/coordinator/pglite.ts';
import { coordinatorConformance, sqlDeleteRecords, sqlObjectStates } from './coordinator.conformance.ts';

const dir = await mkdtemp(join(tmpdir(), 'floe-coordinator-'));
after(() => rm(dir, { recursive: true, force: true }));

coordinatorConformance('PGlite', {
  open: () => openPGliteCoordinator(join(dir, 'coordinator')),
  reopen: async (current) => {
    await current.close();
    return openPGliteCoordinator(join(dir, 'coordinator'));
  },
  objectStates: sqlObjectStates,
  deleteRecords: sqlDeleteRecords,
});
