/**
 * The security records the coordinator keeps for every broker (migration 11): SCRAM credentials, ACL
 * bindings and client quotas (migration 11), dynamic broker configs (migration 13), plus a version that grows on every ACL or quota change and is announced on
 * `floe_security` (brokers cache ACLs and quotas and reload them when it moves). SQL over the coordinator's
 * connection; PostgreSQL and PGlite alike. Matching and validation are the broker's (src/security/); these
 * are plain reads and writes, each one transaction.
 */

export const SECURITY_CHANNEL = 'floe_security';
/** Announces a change of dynamic broker configs (migration 13); payload: the broker id, -1 for the cluster default. */
export const BROKER_CONFIGS_CHANNEL = 'floe_broker_configs';

/** One dynamic broker config (migration 13): `brokerId` -1 is the cluster-wide default. */
export interface DynamicBrokerConfig {
  brokerId: number;
  name: string;
  value: string;
}

/** RFC 5802 credential of one user for one mechanism (1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512, Kafka's codes). */
export interface ScramCredential {
  user: string;
  mechanism: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
  iterations: number;
}

/** One ACL binding with Kafka's numeric codes (resource type, pattern type, operation, permission type). */
export interface AclBinding {
  resourceType: number;
  resourceName: string;
  patternType: number;
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}

/** One quota value: `entity` is the canonical entity text (see security/quotas.ts), `key` e.g. producer_byte_rate. */
export interface QuotaValue {
  entity: string;
  key: string;
  value: number;
}

/** The operations (part of the Coordinator interface). */
export interface SecurityStore {
  scramCredential(user: string, mechanism: number): Promise<ScramCredential | null>;
  /** Every credential's user, mechanism and iterations (never the keys); `users` null = all users. */
  describeScramCredentials(users: readonly string[] | null): Promise<{ user: string; mechanism: number; iterations: number }[]>;
  /** Upserts and deletes in one transaction; returns, per deletion, whether it existed. */
  alterScramCredentials(upserts: readonly ScramCredential[], deletions: readonly { user: string; mechanism: number }[]): Promise<boolean[]>;
  listAcls(): Promise<AclBinding[]>;
  /** Adds bindings (existing ones are kept once). */
  createAcls(bindings: readonly AclBinding[]): Promise<void>;
  /** Removes exactly these bindings. */
  deleteAcls(bindings: readonly AclBinding[]): Promise<void>;
  listClientQuotas(): Promise<QuotaValue[]>;
  /** Sets and removes quota values in one transaction. */
  alterClientQuotas(set: readonly QuotaValue[], remove: readonly { entity: string; key: string }[]): Promise<void>;
  /** Grows on every ACL or quota change. */
  securityVersion(): Promise<number>;
  /** Every dynamic broker config (migration 13). */
  listDynamicBrokerConfigs(): Promise<DynamicBrokerConfig[]>;
  /**
   * Changes one entity's dynamic configs (brokerId -1: the cluster default) in one transaction: with
   * `replace` every key of the entity not in `set` is removed first (AlterConfigs), else only `remove` is.
   */
  alterDynamicBrokerConfigs(brokerId: number, set: Readonly<Record<string, string>>, remove: readonly string[], replace: boolean): Promise<void>;
}

interface Queryable {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

const bytes = (v: Uint8Array): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));

async function bumpVersion(tx: Queryable): Promise<void> {
  const res = await tx.query<{ version: string | number }>('UPDATE security_version SET version = version + 1 RETURNING version');
  await tx.query('SELECT pg_notify($1::text, $2::text)', [SECURITY_CHANNEL, String(res.rows[0]!.version)]);
}

export class SqlSecurityStore implements SecurityStore {
  constructor(private readonly db: Queryable) {}

  async scramCredential(user: string, mechanism: number): Promise<ScramCredential | null> {
    const res = await this.db.query<{ salt: Uint8Array; stored_key: Uint8Array; server_key: Uint8Array; iterations: number }>(
      'SELECT salt, stored_key, server_key, iterations FROM scram_credentials WHERE user_name = $1::text AND mechanism = $2::smallint',
      [user, mechanism],
    );
    const r = res.rows[0];
    if (!r) return null;
    return { user, mechanism, salt: bytes(r.salt), storedKey: bytes(r.stored_key), serverKey: bytes(r.server_key), iterations: Number(r.iterations) };
  }

  async describeScramCredentials(users: readonly string[] | null): Promise<{ user: string; mechanism: number; iterations: number }[]> {
    const res = await this.db.query<{ user_name: string; mechanism: number; iterations: number }>(
      `SELECT user_name, mechanism, iterations FROM scram_credentials
        WHERE $1::text[] IS NULL OR user_name = ANY($1::text[]) ORDER BY user_name, mechanism`,
      [users === null ? null : [...users]],
    );
    return res.rows.map((r) => ({ user: r.user_name, mechanism: Number(r.mechanism), iterations: Number(r.iterations) }));
  }

  alterScramCredentials(upserts: readonly ScramCredential[], deletions: readonly { user: string; mechanism: number }[]): Promise<boolean[]> {
    return this.db.transaction(async (tx) => {
      const existed: boolean[] = [];
      if (deletions.length > 0) {
        const res = await tx.query<{ user_name: string; mechanism: number }>(
          `DELETE FROM scram_credentials c USING unnest($1::text[], $2::smallint[]) AS d(user_name, mechanism)
            WHERE c.user_name = d.user_name AND c.mechanism = d.mechanism RETURNING c.user_name, c.mechanism`,
          [deletions.map((d) => d.user), deletions.map((d) => d.mechanism)],
        );
        const gone = new Set(res.rows.map((r) => `${Number(r.mechanism)} ${r.user_name}`));
        for (const d of deletions) existed.push(gone.has(`${d.mechanism} ${d.user}`));
      }
      if (upserts.length > 0) {
        await tx.query(
          `INSERT INTO scram_credentials AS c (user_name, mechanism, salt, stored_key, server_key, iterations)
           SELECT * FROM unnest($1::text[], $2::smallint[], $3::bytea[], $4::bytea[], $5::bytea[], $6::integer[])
           ON CONFLICT (user_name, mechanism) DO UPDATE
              SET salt = EXCLUDED.salt, stored_key = EXCLUDED.stored_key, server_key = EXCLUDED.server_key, iterations = EXCLUDED.iterations`,
          [upserts.map((u) => u.user), upserts.map((u) => u.mechanism), upserts.map((u) => u.salt), upserts.map((u) => u.storedKey),
            upserts.map((u) => u.serverKey), upserts.map((u) => u.iterations)],
        );
      }
      return existed;
    });
  }

  async listAcls(): Promise<AclBinding[]> {
    const res = await this.db.query<{ resource_type: number; resource_name: string; pattern_type: number; principal: string; host: string; operation: number; permission_type: number }>(
      'SELECT resource_type, resource_name, pattern_type, principal, host, operation, permission_type FROM acls',
    );
    return res.rows.map((r) => ({
      resourceType: Number(r.resource_type), resourceName: r.resource_name, patternType: Number(r.pattern_type),
      principal: r.principal, host: r.host, operation: Number(r.operation), permissionType: Number(r.permission_type),
    }));
  }

  createAcls(bindings: readonly AclBinding[]): Promise<void> {
    return this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO acls (resource_type, resource_name, pattern_type, principal, host, operation, permission_type)
         SELECT * FROM unnest($1::smallint[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::smallint[], $7::smallint[])
         ON CONFLICT DO NOTHING`,
        aclColumns(bindings),
      );
      await bumpVersion(tx);
    });
  }

  deleteAcls(bindings: readonly AclBinding[]): Promise<void> {
    return this.db.transaction(async (tx) => {
      await tx.query(
        `DELETE FROM acls a USING unnest($1::smallint[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::smallint[], $7::smallint[])
           AS d(resource_type, resource_name, pattern_type, principal, host, operation, permission_type)
          WHERE a.resource_type = d.resource_type AND a.resource_name = d.resource_name AND a.pattern_type = d.pattern_type
            AND a.principal = d.principal AND a.host = d.host AND a.operation = d.operation AND a.permission_type = d.permission_type`,
        aclColumns(bindings),
      );
      await bumpVersion(tx);
    });
  }

  async listClientQuotas(): Promise<QuotaValue[]> {
    const res = await this.db.query<{ entity: string; quota_key: string; value: number }>('SELECT entity, quota_key, value FROM client_quotas');
    return res.rows.map((r) => ({ entity: r.entity, key: r.quota_key, value: Number(r.value) }));
  }

  alterClientQuotas(set: readonly QuotaValue[], remove: readonly { entity: string; key: string }[]): Promise<void> {
    return this.db.transaction(async (tx) => {
      if (remove.length > 0) {
        await tx.query(
          `DELETE FROM client_quotas q USING unnest($1::text[], $2::text[]) AS d(entity, quota_key)
            WHERE q.entity = d.entity AND q.quota_key = d.quota_key`,
          [remove.map((r) => r.entity), remove.map((r) => r.key)],
        );
      }
      if (set.length > 0) {
        await tx.query(
          `INSERT INTO client_quotas AS q (entity, quota_key, value)
           SELECT * FROM unnest($1::text[], $2::text[], $3::double precision[])
           ON CONFLICT (entity, quota_key) DO UPDATE SET value = EXCLUDED.value`,
          [set.map((s) => s.entity), set.map((s) => s.key), set.map((s) => s.value)],
        );
      }
      await bumpVersion(tx);
    });
  }

  async securityVersion(): Promise<number> {
    const res = await this.db.query<{ version: string | number }>('SELECT version FROM security_version');
    return Number(res.rows[0]?.version ?? 0);
  }

  async listDynamicBrokerConfigs(): Promise<DynamicBrokerConfig[]> {
    const res = await this.db.query<{ broker_id: number; name: string; value: string }>('SELECT broker_id, name, value FROM dynamic_broker_configs ORDER BY broker_id, name');
    return res.rows.map((r) => ({ brokerId: Number(r.broker_id), name: r.name, value: r.value }));
  }

  alterDynamicBrokerConfigs(brokerId: number, set: Readonly<Record<string, string>>, remove: readonly string[], replace: boolean): Promise<void> {
    const names = Object.keys(set);
    return this.db.transaction(async (tx) => {
      if (replace) {
        await tx.query('DELETE FROM dynamic_broker_configs WHERE broker_id = $1::integer AND NOT (name = ANY($2::text[]))', [brokerId, names]);
      } else if (remove.length > 0) {
        await tx.query('DELETE FROM dynamic_broker_configs WHERE broker_id = $1::integer AND name = ANY($2::text[])', [brokerId, [...remove]]);
      }
      if (names.length > 0) {
        await tx.query(
          `INSERT INTO dynamic_broker_configs AS c (broker_id, name, value)
           SELECT $1::integer, * FROM unnest($2::text[], $3::text[])
           ON CONFLICT (broker_id, name) DO UPDATE SET value = EXCLUDED.value`,
          [brokerId, names, names.map((n) => set[n]!)],
        );
      }
      await tx.query('SELECT pg_notify($1::text, $2::text)', [BROKER_CONFIGS_CHANNEL, String(brokerId)]);
    });
  }
}

function aclColumns(bindings: readonly AclBinding[]): unknown[] {
  return [
    bindings.map((b) => b.resourceType), bindings.map((b) => b.resourceName), bindings.map((b) => b.patternType),
    bindings.map((b) => b.principal), bindings.map((b) => b.host), bindings.map((b) => b.operation), bindings.map((b) => b.permissionType),
  ];
}
