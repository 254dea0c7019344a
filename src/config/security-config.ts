/**
 * Security keys of the broker (Kafka's names): TLS through PEM keys and certificates, SASL mechanisms and
 * PLAIN users from JAAS text, re-authentication, and the authorizer. The table rows are spread into
 * BROKER_CONFIG_KEYS (broker-config.ts), which also captures the per-listener `listener.name.<l>.<key>`
 * settings; `resolveListenerSecurity` merges them into one ListenerSecurity per listener (a listener's own
 * setting wins over the global one, as in Kafka).
 *
 * Decisions:
 * - Only PEM key stores and trust stores (`ssl.keystore.type=PEM`, by file or inline): JKS and PKCS12 are
 *   refused at start with a clear message. An unset type means PEM.
 * - `sasl.enabled.mechanisms` defaults to PLAIN,SCRAM-SHA-256,SCRAM-SHA-512 (Kafka's default is GSSAPI, which
 *   Floe does not implement); GSSAPI in the list is ignored with a warning.
 * - PLAIN users come from `listener.name.<l>.plain.sasl.jaas.config` in Kafka's JAAS syntax:
 *   `...PlainLoginModule required user_alice="secret";`.
 * - OAUTHBEARER validates signed JWTs against `sasl.oauthbearer.jwks.endpoint.url` (Kafka's
 *   BrokerJwtValidator, KIP-768); a listener offering it without a JWKS is refused at start. Kafka would then
 *   accept unsecured (`alg: none`) tokens from anyone, which no production broker should do.
 *   Per listener: `listener.name.<l>.sasl.oauthbearer.*`, or Kafka's mechanism-prefixed
 *   `listener.name.<l>.oauthbearer.sasl.oauthbearer.*`.
 */
import type { BrokerConfigKey } from './broker-config-key.ts';
import { oneOf, range } from './config-def.ts';
import { JaasSyntaxError, parseJaas } from './jaas.ts';

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export const SECURITY_PROTOCOLS: readonly SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const;
export type SaslMechanismName = (typeof SASL_MECHANISMS)[number];

/** Kafka's names of its authorizers; any of them turns Floe's on. */
export const AUTHORIZER_CLASS_NAMES = [
  'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
  'kafka.security.authorizer.AclAuthorizer',
  'kafka.security.auth.SimpleAclAuthorizer',
  'floe.authorizer',
];

export const SECURITY_CONFIG_KEYS: readonly BrokerConfigKey[] = [
  { group: 'Security', key: 'ssl.keystore.type', type: 'STRING', default: null,
    doc: 'Format of the key store of SSL and SASL_SSL listeners. Floe reads PEM only (unset means PEM).' },
  { group: 'Security', key: 'ssl.keystore.location', type: 'STRING', default: null,
    doc: 'A PEM file holding the broker\'s private key and its certificate chain. The file is read again when it changes (checked every 5 s), so certificates renew without a restart.' },
  { group: 'Security', key: 'ssl.keystore.key', type: 'PASSWORD', default: null,
    doc: 'The broker\'s private key as PEM text (instead of ssl.keystore.location).' },
  { group: 'Security', key: 'ssl.keystore.certificate.chain', type: 'PASSWORD', default: null,
    doc: 'The broker\'s certificate chain as PEM text (with ssl.keystore.key).' },
  { group: 'Security', key: 'ssl.key.password', type: 'PASSWORD', default: null,
    doc: 'Pass phrase of an encrypted private key.' },
  { group: 'Security', key: 'ssl.keystore.password', type: 'PASSWORD', default: null,
    doc: 'Pass phrase of an encrypted private key in ssl.keystore.location when ssl.key.password is unset.' },
  { group: 'Security', key: 'ssl.truststore.type', type: 'STRING', default: null,
    doc: 'Format of the trust store. Floe reads PEM only (unset means PEM).' },
  { group: 'Security', key: 'ssl.truststore.location', type: 'STRING', default: null,
    doc: 'A PEM file of the CA certificates client certificates are checked against (ssl.client.auth).' },
  { group: 'Security', key: 'ssl.truststore.certificates', type: 'PASSWORD', default: null,
    doc: 'The trusted CA certificates as PEM text (instead of ssl.truststore.location).' },
  { group: 'Security', key: 'ssl.truststore.password', type: 'PASSWORD', default: null,
    doc: 'Accepted for compatibility; PEM trust stores have no password.' },
  { group: 'Security', key: 'ssl.client.auth', type: 'STRING', default: 'none', validate: oneOf('none', 'requested', 'required'),
    doc: 'Client certificates (mutual TLS): required refuses clients without a certificate signed by the trust store, requested asks for one, none does not. A client authenticated by its certificate gets the principal User:<subject> (see ssl.principal.mapping.rules).' },
  { group: 'Security', key: 'ssl.enabled.protocols', type: 'LIST', default: 'TLSv1.2,TLSv1.3',
    doc: 'TLS versions accepted.' },
  { group: 'Security', key: 'ssl.protocol', type: 'STRING', default: 'TLSv1.3',
    doc: 'Accepted for compatibility; ssl.enabled.protocols decides.' },
  { group: 'Security', key: 'ssl.cipher.suites', type: 'LIST', default: null,
    doc: 'Cipher suites allowed for TLS 1.2 (OpenSSL or IANA names). When unset, Node\'s defaults.' },
  { group: 'Security', key: 'ssl.principal.mapping.rules', type: 'STRING', default: 'DEFAULT',
    doc: 'How a client certificate\'s subject (RFC 2253, e.g. CN=alice,O=example) becomes a user name: a comma-separated list of RULE:pattern/replacement/[LU] and DEFAULT (the whole subject), first match wins, as in Kafka.' },
  { group: 'Security', key: 'sasl.enabled.mechanisms', type: 'LIST', default: 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    doc: 'SASL mechanisms offered on SASL_PLAINTEXT and SASL_SSL listeners: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (with sasl.oauthbearer.jwks.endpoint.url).' },
  { group: 'Security', key: 'sasl.oauthbearer.jwks.endpoint.url', type: 'STRING', default: null,
    doc: 'OAUTHBEARER: where the keys that sign the clients\' JWTs are published (a JWKS): https:// or http:// (fetched and refreshed, see sasl.oauthbearer.jwks.endpoint.refresh.ms), or file:// (read again when the file changes). Required to offer OAUTHBEARER.' },
  { group: 'Security', key: 'sasl.oauthbearer.jwks.endpoint.refresh.ms', type: 'LONG', default: '3600000', validate: range(1),
    doc: 'OAUTHBEARER: how long keys fetched from an http(s) JWKS are used before they are fetched again (a token signed by an unknown key id triggers a fetch at once, at most every 30 s).' },
  { group: 'Security', key: 'sasl.oauthbearer.expected.audience', type: 'LIST', default: null,
    doc: 'OAUTHBEARER: when set, a token must name one of these audiences in its aud claim.' },
  { group: 'Security', key: 'sasl.oauthbearer.expected.issuer', type: 'STRING', default: null,
    doc: 'OAUTHBEARER: when set, a token\'s iss claim must be exactly this.' },
  { group: 'Security', key: 'sasl.oauthbearer.sub.claim.name', type: 'STRING', default: 'sub',
    doc: 'OAUTHBEARER: the claim whose value names the principal (User:<value>).' },
  { group: 'Security', key: 'sasl.oauthbearer.scope.claim.name', type: 'STRING', default: 'scope',
    doc: 'OAUTHBEARER: the claim holding the token\'s scope (read, not enforced: ACLs decide).' },
  { group: 'Security', key: 'sasl.oauthbearer.clock.skew.seconds', type: 'INT', default: '30', validate: range(0),
    doc: 'OAUTHBEARER: leeway allowed between the broker\'s clock and the token issuer\'s (exp, nbf, iat).' },
  { group: 'Security', key: 'connection.failed.authentication.delay.ms', type: 'INT', default: '100', validate: range(0),
    doc: 'A failed SASL login is answered after this delay, then the connection is closed: password guessing stays slow and cheap for the broker.' },
  { group: 'Security', key: 'connections.max.reauth.ms', type: 'LONG', default: '0', validate: range(0),
    doc: 'When positive, a SASL session lasts at most this long (KIP-368): clients re-authenticate before it ends, and a connection that does not is closed at its next request.' },
  { group: 'Security', key: 'quota.window.num', type: 'INT', default: '11', validate: range(1),
    doc: 'Client quotas: the number of samples over which a client\'s rate is measured.' },
  { group: 'Security', key: 'quota.window.size.seconds', type: 'INT', default: '1', validate: range(1),
    doc: 'Client quotas: the length of one sample.' },
  { group: 'Security', key: 'authorizer.class.name', type: 'STRING', default: '',
    doc: 'Turns ACLs on when set to one of Kafka\'s authorizers (org.apache.kafka.metadata.authorizer.StandardAuthorizer, kafka.security.authorizer.AclAuthorizer). ACLs are kept in the coordinator and shared by every broker. Empty: every request is allowed.' },
  { group: 'Security', key: 'super.users', type: 'STRING', default: '',
    doc: 'Principals allowed everything, semicolon-separated: User:admin;User:CN=broker,O=example.' },
  { group: 'Security', key: 'allow.everyone.if.no.acl.found', type: 'BOOLEAN', default: 'false',
    doc: 'With the authorizer on: whether a resource without any ACL is open to everyone.' },
];

export interface TlsSettings {
  keystoreLocation: string | null;
  keystoreKey: string | null;
  keystoreCertificateChain: string | null;
  keyPassword: string | null;
  truststoreLocation: string | null;
  truststoreCertificates: string | null;
  clientAuth: 'none' | 'requested' | 'required';
  enabledProtocols: string[];
  cipherSuites: string[] | null;
  principalMappingRules: string;
}

export interface ListenerSecurity {
  name: string;
  protocol: SecurityProtocol;
  /** For SSL and SASL_SSL. */
  tls: TlsSettings | null;
  /** For SASL_PLAINTEXT and SASL_SSL: the mechanisms offered, in configuration order. */
  saslMechanisms: SaslMechanismName[];
  /** PLAIN users (name → password) from the JAAS config. */
  plainUsers: Map<string, string>;
  /** When OAUTHBEARER is offered: how tokens are validated. */
  oauthbearer: OAuthBearerSettings | null;
}

export interface OAuthBearerSettings {
  jwksEndpointUrl: string;
  jwksRefreshMs: number;
  expectedAudience: string[];
  expectedIssuer: string | null;
  subClaimName: string;
  scopeClaimName: string;
  clockSkewSeconds: number;
}

export interface SecurityConfig {
  /** By listener name. */
  listeners: Record<string, ListenerSecurity>;
  connectionsMaxReauthMs: number;
  authorizerEnabled: boolean;
  superUsers: string[];
  allowEveryoneIfNoAclFound: boolean;
}

/** A key's value for a listener: `listener.name.<l>.<key>` first, then the global key. */
type Lookup = (key: string) => string | null;

export class SecurityConfigError extends Error {
  constructor(message: string, readonly key: string) {
    super(message);
  }
}

/** Builds one listener's security settings; throws SecurityConfigError. */
export function resolveListenerSecurity(name: string, protocol: SecurityProtocol, get: Lookup, warnings: string[]): ListenerSecurity {
  const out: ListenerSecurity = { name, protocol, tls: null, saslMechanisms: [], plainUsers: new Map(), oauthbearer: null };
  if (protocol === 'SSL' || protocol === 'SASL_SSL') out.tls = resolveTls(name, get);
  if (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL') {
    const mechanisms = splitList(get('sasl.enabled.mechanisms') ?? 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512');
    for (const m of mechanisms) {
      const upper = m.toUpperCase();
      if ((SASL_MECHANISMS as readonly string[]).includes(upper)) out.saslMechanisms.push(upper as SaslMechanismName);
      else warnings.push(`listener ${name}: SASL mechanism ${m} is not supported by Floe and is not offered (supported: ${SASL_MECHANISMS.join(', ')})`);
    }
    if (out.saslMechanisms.length === 0) {
      throw new SecurityConfigError(`listener ${name} uses ${protocol} but sasl.enabled.mechanisms names no mechanism Floe supports (${SASL_MECHANISMS.join(', ')})`, 'sasl.enabled.mechanisms');
    }
    if (out.saslMechanisms.includes('PLAIN')) {
      const jaas = get('plain.sasl.jaas.config');
      if (jaas === null) warnings.push(`listener ${name} offers PLAIN but has no listener.name.${name.toLowerCase()}.plain.sasl.jaas.config: no PLAIN user can log in`);
      else out.plainUsers = parsePlainJaas(jaas, `listener.name.${name.toLowerCase()}.plain.sasl.jaas.config`);
    }
    if (out.saslMechanisms.includes('OAUTHBEARER')) out.oauthbearer = resolveOAuthBearer(name, get);
  }
  return out;
}

function resolveOAuthBearer(name: string, get: Lookup): OAuthBearerSettings {
  const url = get('sasl.oauthbearer.jwks.endpoint.url');
  if (url === null || url.trim() === '') {
    throw new SecurityConfigError(`listener ${name} offers OAUTHBEARER but sasl.oauthbearer.jwks.endpoint.url is not set: Floe validates signed JWTs only (set it to the https:// or file:// JWKS of your token issuer)`, 'sasl.oauthbearer.jwks.endpoint.url');
  }
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new SecurityConfigError(`listener ${name}: sasl.oauthbearer.jwks.endpoint.url ${url} is not a URL`, 'sasl.oauthbearer.jwks.endpoint.url');
  }
  if (!['https:', 'http:', 'file:'].includes(parsed.protocol)) {
    throw new SecurityConfigError(`listener ${name}: sasl.oauthbearer.jwks.endpoint.url must be an https://, http:// or file:// URL, not ${url}`, 'sasl.oauthbearer.jwks.endpoint.url');
  }
  const audience = get('sasl.oauthbearer.expected.audience');
  return {
    jwksEndpointUrl: parsed.href,
    jwksRefreshMs: Number(get('sasl.oauthbearer.jwks.endpoint.refresh.ms') ?? 3_600_000),
    expectedAudience: audience === null ? [] : splitList(audience),
    expectedIssuer: get('sasl.oauthbearer.expected.issuer'),
    subClaimName: get('sasl.oauthbearer.sub.claim.name') ?? 'sub',
    scopeClaimName: get('sasl.oauthbearer.scope.claim.name') ?? 'scope',
    clockSkewSeconds: Number(get('sasl.oauthbearer.clock.skew.seconds') ?? 30),
  };
}

function resolveTls(name: string, get: Lookup): TlsSettings {
  for (const key of ['ssl.keystore.type', 'ssl.truststore.type']) {
    const type = get(key);
    if (type !== null && type.toUpperCase() !== 'PEM') {
      throw new SecurityConfigError(`listener ${name}: ${key}=${type} is not supported; Floe reads PEM key and trust stores only (set ${key}=PEM and convert the store with openssl)`, key);
    }
  }
  const tls: TlsSettings = {
    keystoreLocation: get('ssl.keystore.location'),
    keystoreKey: get('ssl.keystore.key'),
    keystoreCertificateChain: get('ssl.keystore.certificate.chain'),
    keyPassword: get('ssl.key.password') ?? get('ssl.keystore.password'),
    truststoreLocation: get('ssl.truststore.location'),
    truststoreCertificates: get('ssl.truststore.certificates'),
    clientAuth: (get('ssl.client.auth') ?? 'none').toLowerCase() as TlsSettings['clientAuth'],
    enabledProtocols: splitList(get('ssl.enabled.protocols') ?? 'TLSv1.2,TLSv1.3'),
    cipherSuites: get('ssl.cipher.suites') === null ? null : splitList(get('ssl.cipher.suites')!),
    principalMappingRules: get('ssl.principal.mapping.rules') ?? 'DEFAULT',
  };
  if (!['none', 'requested', 'required'].includes(tls.clientAuth)) {
    throw new SecurityConfigError(`listener ${name}: ssl.client.auth must be none, requested or required`, 'ssl.client.auth');
  }
  if (tls.keystoreLocation === null && (tls.keystoreKey === null || tls.keystoreCertificateChain === null)) {
    throw new SecurityConfigError(`listener ${name} uses TLS but has no key: set ssl.keystore.location (a PEM file with the key and the certificate chain) or ssl.keystore.key and ssl.keystore.certificate.chain`, 'ssl.keystore.location');
  }
  if (tls.keystoreLocation !== null && tls.keystoreKey !== null) {
    throw new SecurityConfigError(`listener ${name}: set either ssl.keystore.location or ssl.keystore.key, not both`, 'ssl.keystore.key');
  }
  if (tls.clientAuth !== 'none' && tls.truststoreLocation === null && tls.truststoreCertificates === null) {
    throw new SecurityConfigError(`listener ${name}: ssl.client.auth=${tls.clientAuth} needs a trust store (ssl.truststore.location or ssl.truststore.certificates)`, 'ssl.truststore.location');
  }
  for (const p of tls.enabledProtocols) {
    if (!['TLSv1.2', 'TLSv1.3'].includes(p)) throw new SecurityConfigError(`listener ${name}: ssl.enabled.protocols may name TLSv1.2 and TLSv1.3, not ${p}`, 'ssl.enabled.protocols');
  }
  return tls;
}

/**
 * PLAIN users of a JAAS entry: `org.apache.kafka.common.security.plain.PlainLoginModule required
 * username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`.
 * Only the `user_<name>` options define users (username/password are the broker's own client login).
 */
export function parsePlainJaas(text: string, key: string): Map<string, string> {
  let login;
  try {
    login = parseJaas(text);
  } catch (err) {
    if (err instanceof JaasSyntaxError) throw new SecurityConfigError(`${key}: ${err.message}`, key);
    throw err;
  }
  if (!login.module.endsWith('PlainLoginModule')) throw new SecurityConfigError(`${key}: the PLAIN mechanism needs org.apache.kafka.common.security.plain.PlainLoginModule, not ${login.module}`, key);
  const users = new Map<string, string>();
  for (const [name, value] of login.options) if (name.startsWith('user_')) users.set(name.slice(5), value);
  return users;
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}
