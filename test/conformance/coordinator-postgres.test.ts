/**
 * The coordinator conformance suite on a real PostgreSQL server. Skipped unless FLOE_TEST_POSTGRES_URL
 * is set, e.g. postgres://postgres@127.0.0.1:5544/postgres (see TOOLING.md for a throwaway server).
 * The suite isolates itself by random topic names, so the database may be shared.
 */
import { test } from 'node:test';
import { openPostgresCoordinator } from '../../src/coordinator/pg.ts';
import { coordinatorConformance, sqlDeleteRecords, sqlObjectStates } from './coordinator.conformance.ts';

const url = process.env.FLOE_TEST_POSTGRES_URL;

if (url === undefined || url === '') {
  test('Coordinator conformance: PostgreSQL (set FLOE_TEST_POSTGRES_URL)', { skip: 'FLOE_TEST_POSTGRES_URL not set' }, () => {});
} else {
  coordinatorConformance('PostgreSQL', {
    open: () => openPostgresCoordinator(url),
    reopen: async (current) => {
      await current.close();
      return openPostgresCoordinator(url);
    },
    objectStates: sqlObjectStates,
    deleteRecords: sqlDeleteRecords,
  });
}
