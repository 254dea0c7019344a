/**
 * DescribeUserScramCredentials (key 50), version 0.
 *
 * Behavior: as Kafka: the mechanisms and iterations of each user's SCRAM credentials, kept in the
 * coordinator (never the keys). Null or empty `users`: every user with a credential. A user named twice:
 * DUPLICATE_RESOURCE; a user without credentials: RESOURCE_NOT_FOUND (per user).
 * Needs DESCRIBE on the cluster when the authorizer is on.
 */
import type { DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse, DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResult } from '../../protocol/gen/messages/describe-user-scram-credentials.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { defineHandler } from '../handler.ts';

type Result = Init<DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResult>;

export const describeUserScramCredentials = defineHandler<DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse>({
  key: 50,
  name: 'DescribeUserScramCredentials',
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, req) {
    const all = req.users === null || req.users.length === 0;
    const names = all ? null : req.users!.map((u) => u.name);
    const rows = await ctx.credentials.describeScramCredentials(names === null ? null : [...new Set(names)]);
    const byUser = new Map<string, { mechanism: number; iterations: number }[]>();
    for (const r of rows) {
      let list = byUser.get(r.user);
      if (!list) byUser.set(r.user, (list = []));
      list.push({ mechanism: r.mechanism, iterations: r.iterations });
    }
    const results: Result[] = [];
    if (names === null) {
      for (const [user, credentialInfos] of byUser) results.push({ user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos });
    } else {
      const counts = new Map<string, number>();
      for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
      for (const [user, count] of counts) {
        if (count > 1) {
          results.push({ user, errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: 'Cannot describe SCRAM credentials for the same user twice in a single request', credentialInfos: [] });
          continue;
        }
        const infos = byUser.get(user);
        results.push(infos
          ? { user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos: infos }
          : { user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: 'Attempt to describe a user credential that does not exist', credentialInfos: [] });
      }
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
  },
  errorResponse: (_req, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, results: [] }),
});
