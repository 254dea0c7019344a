/**
 * ACLs and the authorizer, with Kafka's codes and StandardAuthorizer's rules:
 * - an ACL binds a resource pattern (type; LITERAL name, the LITERAL wildcard `*`, or a PREFIXED name) to a
 *   principal (`User:alice`, or `User:*`), a host (an address, or `*`), an operation and ALLOW or DENY;
 * - a request is allowed for super users; else any matching DENY refuses it, any matching ALLOW allows it;
 *   with no ACL at all on the resource, `allow.everyone.if.no.acl.found` decides;
 * - ALLOW of READ, WRITE, DELETE or ALTER implies DESCRIBE, and ALLOW of ALTER_CONFIGS implies
 *   DESCRIBE_CONFIGS; ALL matches every operation.
 * The bindings are cached here and reloaded from the coordinator when it announces a change (`floe_security`)
 * and after every change made through this broker, so all brokers enforce the same ACLs.
 */
import type { AclBinding } from '../coordinator/security-store.ts';

export const ResourceType = { UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7 } as const;
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export const AclOperation = {
  UNKNOWN: 0, ANY: 1, ALL: 2, READ: 3, WRITE: 4, CREATE: 5, DELETE: 6, ALTER: 7, DESCRIBE: 8, CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11, IDEMPOTENT_WRITE: 12, CREATE_TOKENS: 13, DESCRIBE_TOKENS: 14, TWO_PHASE_COMMIT: 15,
} as const;
export const PermissionType = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

/** The name of the cluster resource, as Kafka spells it. */
export const CLUSTER_NAME = 'kafka-cluster';
export const WILDCARD = '*';

/** The operations that exist per resource type (Kafka's supported operations; authorized-operation bitfields use them). */
export const RESOURCE_OPERATIONS: Readonly<Record<number, readonly number[]>> = {
  [ResourceType.TOPIC]: [AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS],
  [ResourceType.GROUP]: [AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS],
  [ResourceType.CLUSTER]: [AclOperation.CREATE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER, AclOperation.DESCRIBE],
  [ResourceType.TRANSACTIONAL_ID]: [AclOperation.DESCRIBE, AclOperation.WRITE, AclOperation.TWO_PHASE_COMMIT],
};

/** A filter of DescribeAcls/DeleteAcls (ANY and null match everything; MATCH matches what would apply to a name). */
export interface AclFilter {
  resourceTypeFilter: number;
  resourceNameFilter: string | null;
  patternTypeFilter: number;
  principalFilter: string | null;
  hostFilter: string | null;
  operation: number;
  permissionType: number;
}

/** Who asks: the connection's principal and the client's address. */
export interface Requester {
  principal: string;
  host: string;
}

export interface AuthorizerSettings {
  enabled: boolean;
  superUsers: readonly string[];
  allowEveryoneIfNoAclFound: boolean;
}

export function patternMatches(acl: Pick<AclBinding, 'resourceName' | 'patternType'>, name: string): boolean {
  if (acl.patternType === PatternType.LITERAL) return acl.resourceName === name || acl.resourceName === WILDCARD;
  if (acl.patternType === PatternType.PREFIXED) return name.startsWith(acl.resourceName);
  return false;
}

export function filterMatches(f: AclFilter, b: AclBinding): boolean {
  if (f.resourceTypeFilter !== ResourceType.ANY && f.resourceTypeFilter !== b.resourceType) return false;
  if (f.patternTypeFilter === PatternType.MATCH) {
    if (f.resourceNameFilter !== null && !patternMatches(b, f.resourceNameFilter)) return false;
  } else {
    if (f.patternTypeFilter !== PatternType.ANY && f.patternTypeFilter !== b.patternType) return false;
    if (f.resourceNameFilter !== null && f.resourceNameFilter !== b.resourceName) return false;
  }
  if (f.principalFilter !== null && f.principalFilter !== b.principal) return false;
  if (f.hostFilter !== null && f.hostFilter !== b.host) return false;
  if (f.operation !== AclOperation.ANY && f.operation !== b.operation) return false;
  if (f.permissionType !== PermissionType.ANY && f.permissionType !== b.permissionType) return false;
  return true;
}

/** Whether an ALLOW binding of `granted` allows `wanted` (ALL, and Kafka's implied DESCRIBE / DESCRIBE_CONFIGS). */
function allowCovers(granted: number, wanted: number): boolean {
  if (granted === wanted || granted === AclOperation.ALL) return true;
  if (wanted === AclOperation.DESCRIBE) return granted === AclOperation.READ || granted === AclOperation.WRITE || granted === AclOperation.DELETE || granted === AclOperation.ALTER;
  if (wanted === AclOperation.DESCRIBE_CONFIGS) return granted === AclOperation.ALTER_CONFIGS;
  return false;
}

export class Authorizer {
  private bindings: readonly AclBinding[] = [];
  /** Bindings by resource type, for the checks. */
  private byType = new Map<number, AclBinding[]>();
  private readonly superUsers: Set<string>;

  constructor(readonly settings: AuthorizerSettings) {
    this.superUsers = new Set(settings.superUsers);
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** Replaces the cached bindings (a reload from the coordinator). */
  setBindings(bindings: readonly AclBinding[]): void {
    this.bindings = bindings;
    const byType = new Map<number, AclBinding[]>();
    for (const b of bindings) {
      let list = byType.get(b.resourceType);
      if (!list) byType.set(b.resourceType, (list = []));
      list.push(b);
    }
    this.byType = byType;
  }

  all(): readonly AclBinding[] {
    return this.bindings;
  }

  /** May `who` perform `operation` on the resource? Always true when the authorizer is off. */
  authorize(who: Requester, resourceType: number, name: string, operation: number): boolean {
    if (!this.settings.enabled || this.superUsers.has(who.principal)) return true;
    const candidates = this.byType.get(resourceType);
    let anyAcl = false;
    let allowed = false;
    if (candidates) {
      for (const b of candidates) {
        if (!patternMatches(b, name)) continue;
        anyAcl = true;
        if (b.principal !== who.principal && b.principal !== 'User:*') continue;
        if (b.host !== WILDCARD && b.host !== who.host) continue;
        if (b.permissionType === PermissionType.DENY) {
          if (b.operation === operation || b.operation === AclOperation.ALL) return false;
        } else if (b.permissionType === PermissionType.ALLOW && allowCovers(b.operation, operation)) {
          allowed = true;
        }
      }
    }
    if (allowed) return true;
    return !anyAcl && this.settings.allowEveryoneIfNoAclFound;
  }

  /**
   * Could `who` perform `operation` on some resource of the type (Kafka's authorizeByResourceType: an
   * idempotent producer without IDEMPOTENT_WRITE on the cluster needs WRITE on any topic)? A matching ALLOW
   * that is not cancelled by a DENY of the same pattern counts.
   */
  authorizeAny(who: Requester, resourceType: number, operation: number): boolean {
    if (!this.settings.enabled || this.superUsers.has(who.principal)) return true;
    const candidates = this.byType.get(resourceType) ?? [];
    const applies = (b: AclBinding) => (b.principal === who.principal || b.principal === 'User:*') && (b.host === WILDCARD || b.host === who.host);
    const denied = candidates.filter((b) => applies(b) && b.permissionType === PermissionType.DENY && (b.operation === operation || b.operation === AclOperation.ALL));
    if (denied.some((d) => d.patternType === PatternType.LITERAL && d.resourceName === WILDCARD)) return false;
    return candidates.some((b) => applies(b) && b.permissionType === PermissionType.ALLOW && (b.operation === operation || b.operation === AclOperation.ALL)
      && !denied.some((d) => d.patternType === b.patternType && d.resourceName === b.resourceName))
      || (candidates.length === 0 && this.settings.allowEveryoneIfNoAclFound);
  }

  /** Kafka's authorized-operations bitfield for a resource: bit n set when operation n is allowed. */
  authorizedOperations(who: Requester, resourceType: number, name: string): number {
    let bits = 0;
    for (const op of RESOURCE_OPERATIONS[resourceType] ?? []) {
      if (this.authorize(who, resourceType, name, op)) bits |= 1 << op;
    }
    return bits;
  }
}
