/**
 * AlterUserScramCredentials (key 51), version 0.
 *
 * Behavior: as Kafka's controller: upsertions carry the salt, the salted password and the iterations (the
 * client salts, the broker never sees the password); the broker keeps StoredKey and ServerKey (RFC 5802) in
 * the coordinator, where every broker reads them at login. Per user, all of its changes apply or none:
 * empty name or iterations outside 4096-16384 → UNACCEPTABLE_CREDENTIAL; unknown mechanism →
 * UNSUPPORTED_SASL_MECHANISM; the same user and mechanism twice → DUPLICATE_RESOURCE; deleting a credential
 * that does not exist → RESOURCE_NOT_FOUND. Needs ALTER on the cluster when the authorizer is on.
 */
import type { AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse } from '../../protocol/gen/messages/alter-user-scram-credentials.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import type { ScramCredential } from '../../coordinator/security-store.ts';
import { SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS, scramKeys, scramMechanism } from '../../security/sasl-server.ts';
import { defineHandler } from '../handler.ts';

interface UserChanges {
  error: { code: number; message: string } | null;
  upserts: ScramCredential[];
  deletions: { user: string; mechanism: number }[];
  seen: Set<number>;
}

export const alterUserScramCredentials = defineHandler<AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse>({
  key: 51,
  name: 'AlterUserScramCredentials',
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, req) {
    const users = new Map<string, UserChanges>();
    const entry = (name: string): UserChanges => {
      let u = users.get(name);
      if (!u) users.set(name, (u = { error: null, upserts: [], deletions: [], seen: new Set() }));
      return u;
    };
    const check = (u: UserChanges, name: string, mechanism: number): boolean => {
      if (u.error) return false;
      if (name === '') u.error = { code: ErrorCode.UNACCEPTABLE_CREDENTIAL, message: 'Username must not be empty' };
      else if (!scramMechanism(mechanism)) u.error = { code: ErrorCode.UNSUPPORTED_SASL_MECHANISM, message: 'Unknown SCRAM mechanism' };
      else if (u.seen.has(mechanism)) u.error = { code: ErrorCode.DUPLICATE_RESOURCE, message: 'A user credential cannot be altered twice in the same request' };
      u.seen.add(mechanism);
      return u.error === null;
    };
    for (const d of req.deletions) {
      const u = entry(d.name);
      if (check(u, d.name, d.mechanism)) u.deletions.push({ user: d.name, mechanism: d.mechanism });
    }
    for (const up of req.upsertions) {
      const u = entry(up.name);
      if (!check(u, up.name, up.mechanism)) continue;
      const mechanism = scramMechanism(up.mechanism)!;
      if (up.iterations < SCRAM_MIN_ITERATIONS) u.error = { code: ErrorCode.UNACCEPTABLE_CREDENTIAL, message: `Too few iterations: ${up.iterations} (at least ${SCRAM_MIN_ITERATIONS})` };
      else if (up.iterations > SCRAM_MAX_ITERATIONS) u.error = { code: ErrorCode.UNACCEPTABLE_CREDENTIAL, message: `Too many iterations: ${up.iterations} (at most ${SCRAM_MAX_ITERATIONS})` };
      else if (up.salt.length === 0 || up.saltedPassword.length === 0) u.error = { code: ErrorCode.UNACCEPTABLE_CREDENTIAL, message: 'Salt and salted password must not be empty' };
      else u.upserts.push({ user: up.name, mechanism: up.mechanism, iterations: up.iterations, salt: Buffer.from(up.salt), ...scramKeys(mechanism, up.saltedPassword) });
    }
    const ok = [...users.values()].filter((u) => u.error === null);
    const deletions = ok.flatMap((u) => u.deletions);
    // Deletions of credentials that do not exist fail their user; the rest apply in one transaction.
    if (deletions.length > 0) {
      const existing = new Set((await ctx.credentials.describeScramCredentials([...new Set(deletions.map((d) => d.user))])).map((c) => `${c.mechanism} ${c.user}`));
      for (const u of ok) {
        if (u.deletions.some((d) => !existing.has(`${d.mechanism} ${d.user}`))) u.error = { code: ErrorCode.RESOURCE_NOT_FOUND, message: 'Attempt to delete a user credential that does not exist' };
      }
    }
    const apply = ok.filter((u) => u.error === null);
    if (apply.length > 0) await ctx.credentials.alterScramCredentials(apply.flatMap((u) => u.upserts), apply.flatMap((u) => u.deletions));
    return {
      throttleTimeMs: 0,
      results: [...users].map(([user, u]) => ({ user, errorCode: u.error?.code ?? ErrorCode.NONE, errorMessage: u.error?.message ?? null })),
    };
  },
  errorResponse: (req, errorCode) => ({
    throttleTimeMs: 0,
    results: [...new Set([...req.deletions, ...req.upsertions].map((c) => c.name))].map((user) => ({ user, errorCode, errorMessage: null })),
  }),
});
