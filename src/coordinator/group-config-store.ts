/**
 * Per-group configs in the coordinator (migration 18): plain reads and writes, each one transaction, over
 * the coordinator's connection (PostgreSQL and PGlite alike). A change is announced on
 * `floe_group_configs` so that every broker reloads them (src/groups/group-configs.ts). Validation is the
 * broker's (src/config/group-config.ts).
 */

/** Announces a change of group configs; payload: the group id. */
export const GROUP_CONFIGS_CHANNEL = 'floe_group_configs';

/** One config set on a group. */
export interface StoredGroupConfig {
  groupId: string;
  name: string;
  value: string;
}

/** The operations (part of the Coordinator interface). */
export interface GroupConfigStore {
  /** Every group's configs. */
  listGroupConfigs(): Promise<StoredGroupConfig[]>;
  /**
   * Changes one group's configs in one transaction: with `replace` every key not in `set` is removed first
   * (AlterConfigs), else only `remove` is.
   */
  alterGroupConfigs(groupId: string, set: Readonly<Record<string, string>>, remove: readonly string[], replace: boolean): Promise<void>;
}

interface Queryable {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

export class SqlGroupConfigStore implements GroupConfigStore {
  constructor(private readonly db: Queryable) {}

  async listGroupConfigs(): Promise<StoredGroupConfig[]> {
    const res = await this.db.query<{ group_id: string; name: string; value: string }>('SELECT group_id, name, value FROM group_configs ORDER BY group_id, name');
    return res.rows.map((r) => ({ groupId: r.group_id, name: r.name, value: r.value }));
  }

  alterGroupConfigs(groupId: string, set: Readonly<Record<string, string>>, remove: readonly string[], replace: boolean): Promise<void> {
    const names = Object.keys(set);
    return this.db.transaction(async (tx) => {
      if (replace) {
        await tx.query('DELETE FROM group_configs WHERE group_id = $1::text AND NOT (name = ANY($2::text[]))', [groupId, names]);
      } else if (remove.length > 0) {
        await tx.query('DELETE FROM group_configs WHERE group_id = $1::text AND name = ANY($2::text[])', [groupId, [...remove]]);
      }
      if (names.length > 0) {
        await tx.query(
          `INSERT INTO group_configs AS c (group_id, name, value)
           SELECT $1::text, * FROM unnest($2::text[], $3::text[])
           ON CONFLICT (group_id, name) DO UPDATE SET value = EXCLUDED.value`,
          [groupId, names, names.map((n) => set[n]!)],
        );
      }
      await tx.query('SELECT pg_notify($1::text, $2::text)', [GROUP_CONFIGS_CHANNEL, groupId]);
    });
  }
}
