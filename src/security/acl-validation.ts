/**
 * What Kafka accepts in CreateAcls bindings and in DescribeAcls/DeleteAcls filters; each check returns the
 * message the client sees, or null.
 */
import type { AclBinding } from '../coordinator/security-store.ts';
import { AclOperation, CLUSTER_NAME, PatternType, PermissionType, ResourceType, type AclFilter } from './authorizer.ts';

const CONCRETE_TYPES = new Set<number>([ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER, ResourceType.TRANSACTIONAL_ID, ResourceType.DELEGATION_TOKEN, ResourceType.USER]);

export function aclBindingError(b: AclBinding): string | null {
  if (!CONCRETE_TYPES.has(b.resourceType)) return `Invalid resource type ${b.resourceType}`;
  if (b.patternType !== PatternType.LITERAL && b.patternType !== PatternType.PREFIXED) return `Invalid pattern type ${b.patternType}: an ACL is LITERAL or PREFIXED`;
  if (b.operation <= AclOperation.ANY || b.operation > AclOperation.TWO_PHASE_COMMIT) return `Invalid operation ${b.operation}`;
  if (b.permissionType !== PermissionType.ALLOW && b.permissionType !== PermissionType.DENY) return `Invalid permission type ${b.permissionType}`;
  if (b.resourceName === '') return 'Resource name must not be empty';
  if (b.resourceType === ResourceType.CLUSTER && (b.resourceName !== CLUSTER_NAME || b.patternType !== PatternType.LITERAL)) return `The cluster resource must be LITERAL ${CLUSTER_NAME}`;
  if (!/^[^:]+:.+$/.test(b.principal)) return `Could not parse principal from \`${b.principal}\` (no colon is present separating the principal type from the principal name)`;
  if (b.host === '') return 'Host must not be empty (use * for any host)';
  return null;
}

export function aclFilterError(f: AclFilter): string | null {
  if (f.resourceTypeFilter === ResourceType.UNKNOWN || f.resourceTypeFilter > ResourceType.USER || f.resourceTypeFilter < 0) return `Invalid resource type filter ${f.resourceTypeFilter}`;
  if (f.patternTypeFilter === PatternType.UNKNOWN || f.patternTypeFilter > PatternType.PREFIXED || f.patternTypeFilter < 0) return `Invalid pattern type filter ${f.patternTypeFilter}`;
  if (f.operation === AclOperation.UNKNOWN || f.operation > AclOperation.TWO_PHASE_COMMIT || f.operation < 0) return `Invalid operation filter ${f.operation}`;
  if (f.permissionType === PermissionType.UNKNOWN || f.permissionType > PermissionType.ALLOW || f.permissionType < 0) return `Invalid permission type filter ${f.permissionType}`;
  return null;
}
