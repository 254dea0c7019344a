/**
 * Migration 11: security (issue 16).
 *
 * - `brokers.endpoints`: every listener of a broker as `NAME://host:port,…`, so Metadata and FindCoordinator
 *   name, for each broker, the endpoint of the listener the client came through (Kafka's per-listener
 *   advertised endpoints). Empty for brokers that registered before this migration: their host and port
 *   stand for every listener.
 * - `scram_credentials`: SCRAM-SHA-256/512 credentials (RFC 5802: salt, StoredKey, ServerKey, iterations)
 *   per user and mechanism, as Kafka keeps them in its metadata log; never the password.
 * - `acls`: Kafka's ACL bindings (resource type, name, pattern type; principal, host, operation, permission),
 *   with Kafka's numeric codes.
 * - `client_quotas`: quota values per entity (`entity` is the canonical `type=name|…` text, types sorted,
 *   `name` empty for the type's default entity) and key.
 * - `security_version`: grows on every change of ACLs or quotas, announced on `floe_security`, so brokers
 *   reload their caches (and a broker that missed a notification sees the version move).
 */
import type { Migration } from './migration.ts';

export const MIGRATION_11: Migration = {
  version: 11,
  name: 'security',
  statements: [
    `ALTER TABLE brokers ADD COLUMN endpoints text NOT NULL DEFAULT ''`,
    `CREATE TABLE scram_credentials (
       user_name  text     NOT NULL,
       mechanism  smallint NOT NULL,
       salt       bytea    NOT NULL,
       stored_key bytea    NOT NULL,
       server_key bytea    NOT NULL,
       iterations integer  NOT NULL,
       PRIMARY KEY (user_name, mechanism)
     )`,
    `CREATE TABLE acls (
       resource_type   smallint NOT NULL,
       resource_name   text     NOT NULL,
       pattern_type    smallint NOT NULL,
       principal       text     NOT NULL,
       host            text     NOT NULL,
       operation       smallint NOT NULL,
       permission_type smallint NOT NULL,
       PRIMARY KEY (resource_type, resource_name, pattern_type, principal, host, operation, permission_type)
     )`,
    `CREATE TABLE client_quotas (
       entity     text             NOT NULL,
       quota_key  text             NOT NULL,
       value      double precision NOT NULL,
       PRIMARY KEY (entity, quota_key)
     )`,
    `CREATE TABLE security_version (version bigint NOT NULL)`,
    `INSERT INTO security_version (version) VALUES (0)`,
  ],
};
