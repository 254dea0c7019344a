/**
 * The batch coordinator's schema migrations, in version order, and how they are recorded.
 *
 * SqlCoordinator.init applies them in order, each in its own transaction together with its
 * `schema_migrations` row, under an advisory lock so brokers starting at the same time do not race.
 * What a migration may contain, and why a released one is never edited: migration.ts.
 */
import type { Migration } from './migration.ts';
import { MIGRATION_1 } from './migration-1-initial.ts';
import { MIGRATION_2 } from './migration-2-groups.ts';
import { MIGRATION_3 } from './migration-3-producers-retention.ts';
import { MIGRATION_4 } from './migration-4-commit-once.ts';
import { MIGRATION_5 } from './migration-5-classic.ts';
import { MIGRATION_6 } from './migration-6-brokers.ts';
import { MIGRATION_7 } from './migration-7-notify.ts';
import { MIGRATION_8 } from './migration-8-commit-plan.ts';
import { MIGRATION_9 } from './migration-9-transactions.ts';
import { MIGRATION_10 } from './migration-10-compaction.ts';
import { MIGRATION_11 } from './migration-11-security.ts';
import { MIGRATION_12 } from './migration-12-consumer-groups.ts';
import { MIGRATION_13 } from './migration-13-broker-configs.ts';
import { MIGRATION_15 } from './migration-15-merging.ts';
import { MIGRATION_16 } from './migration-16-compaction-transactions.ts';
import { MIGRATION_17 } from './migration-17-share-groups.ts';
import { MIGRATION_18 } from './migration-18-group-configs.ts';
import { MIGRATION_19 } from './migration-19-offset-commit-timestamps.ts';

/** Advisory-lock key taken while migrating ("floe" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x666c6f65;

export const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** The row that records a migration as applied, in the migration's transaction: parameters (version, name). */
export const RECORD_MIGRATION = 'INSERT INTO schema_migrations (version, name) VALUES ($1, $2)';

export const MIGRATIONS: readonly Migration[] = [
  MIGRATION_1,
  MIGRATION_2,
  MIGRATION_3,
  MIGRATION_4,
  MIGRATION_5,
  MIGRATION_6,
  MIGRATION_7,
  MIGRATION_8,
  MIGRATION_9,
  MIGRATION_10,
  MIGRATION_11,
  MIGRATION_12,
  MIGRATION_13,
  MIGRATION_15,
  MIGRATION_16,
  MIGRATION_17,
  MIGRATION_18,
  MIGRATION_19,
];
