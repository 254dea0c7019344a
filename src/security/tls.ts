/**
 * TLS of SSL and SASL_SSL listeners from Kafka's PEM keys (security-config.ts): the node:tls server options,
 * their reload when the PEM files change, and the principal of a client certificate.
 *
 * The principal follows Kafka's DefaultKafkaPrincipalBuilder: `User:` + the certificate subject in RFC 2253
 * form (most specific RDN first, `CN=alice,OU=eng,O=example`), rewritten by `ssl.principal.mapping.rules`.
 */
import { readFileSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { SecureContextOptions, TLSSocket, TlsOptions } from 'node:tls';
import type { TlsSettings } from '../config/security-config.ts';

/** Thrown when the PEM material cannot be read. */
export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
}

/** The key, certificates and trust store of one listener. Throws TlsConfigError. */
export function secureContextOptions(tls: TlsSettings): SecureContextOptions {
  let key: string;
  let cert: string;
  if (tls.keystoreLocation !== null) {
    const pem = readPem(tls.keystoreLocation, 'ssl.keystore.location');
    const keys = pem.match(/-----BEGIN (?:[A-Z ]+ )?PRIVATE KEY-----[\s\S]+?-----END (?:[A-Z ]+ )?PRIVATE KEY-----/g);
    const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (!keys || keys.length !== 1) throw new TlsConfigError(`ssl.keystore.location ${tls.keystoreLocation} must hold exactly one PEM private key (found ${keys?.length ?? 0})`);
    if (!certs) throw new TlsConfigError(`ssl.keystore.location ${tls.keystoreLocation} holds no PEM certificate`);
    key = keys[0]!;
    cert = certs.join('\n');
  } else {
    key = tls.keystoreKey!;
    cert = tls.keystoreCertificateChain!;
  }
  const ca = tls.truststoreLocation !== null ? readPem(tls.truststoreLocation, 'ssl.truststore.location') : tls.truststoreCertificates ?? undefined;
  return {
    key,
    cert,
    ...(tls.keyPassword !== null ? { passphrase: tls.keyPassword } : {}),
    ...(ca !== undefined ? { ca } : {}),
    minVersion: tls.enabledProtocols.includes('TLSv1.2') ? 'TLSv1.2' : 'TLSv1.3',
    maxVersion: tls.enabledProtocols.includes('TLSv1.3') ? 'TLSv1.3' : 'TLSv1.2',
    ...(tls.cipherSuites !== null ? { ciphers: tls.cipherSuites.join(':') } : {}),
  };
}

/** Server options: the secure context plus the client-certificate policy (ssl.client.auth). */
export function tlsServerOptions(tls: TlsSettings): TlsOptions {
  return {
    ...secureContextOptions(tls),
    requestCert: tls.clientAuth !== 'none',
    // `requested`: a client without a certificate (or with an untrusted one) is still served, as in Kafka.
    rejectUnauthorized: tls.clientAuth === 'required',
  };
}

/**
 * Calls `onChange` with new options whenever a PEM file of the listener changes (polled every `intervalMs`).
 * Returns a stop function. Inline PEM text never changes.
 */
export function watchTlsFiles(tls: TlsSettings, onChange: (options: SecureContextOptions) => void, onError: (err: Error) => void, intervalMs = 5000): () => void {
  const files = [tls.keystoreLocation, tls.truststoreLocation].filter((f): f is string => f !== null);
  if (files.length === 0) return () => {};
  const stamp = () => files.map((f) => {
    try {
      const s = statSync(f);
      return `${s.mtimeMs}:${s.size}`;
    } catch {
      return 'missing';
    }
  }).join('|');
  let last = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === last) return;
    last = now;
    try {
      onChange(secureContextOptions(tls));
    } catch (err) {
      onError(err as Error);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function readPem(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TlsConfigError(`cannot read ${key} ${path}: ${(err as Error).message}`);
  }
}

/** The client's principal from its verified certificate, or null when it presented none (or an untrusted one). */
export function certificatePrincipal(socket: TLSSocket, rules: string): string | null {
  if (!socket.authorized) return null;
  const raw = socket.getPeerX509Certificate?.();
  if (!raw) return null;
  return `User:${applyPrincipalMappingRules(rfc2253Subject(raw), rules)}`;
}

/** X509Certificate.subject lists RDNs most general first, one per line; RFC 2253 is the reverse, comma-joined. */
export function rfc2253Subject(cert: X509Certificate): string {
  return cert.subject.split('\n').filter((l) => l !== '').reverse().map((rdn) => {
    const eq = rdn.indexOf('=');
    const value = rdn.slice(eq + 1).replace(/([,+"\\<>;])/g, '\\$1');
    return `${rdn.slice(0, eq)}=${value}`;
  }).join(',');
}

/**
 * Kafka's SslPrincipalMapper: rules `RULE:pattern/replacement/[LU]` and `DEFAULT`, separated by commas
 * outside the rules; the first rule whose pattern matches the whole name gives the result.
 */
export function applyPrincipalMappingRules(name: string, rules: string): string {
  for (const rule of parseRules(rules)) {
    if (rule === 'DEFAULT') return name;
    const m = rule.pattern.exec(name);
    if (!m || m[0] !== name) continue;
    let out = name.replace(rule.pattern, rule.replacement);
    if (rule.caseChange === 'L') out = out.toLowerCase();
    if (rule.caseChange === 'U') out = out.toUpperCase();
    return out;
  }
  return name;
}

type MappingRule = 'DEFAULT' | { pattern: RegExp; replacement: string; caseChange: '' | 'L' | 'U' };

const RULE_RE = /\s*(DEFAULT|RULE:((?:\\.|[^\\/])*)\/((?:\\.|[^\\/])*)\/([LU]?))\s*(?:,|$)/gy;

function parseRules(text: string): MappingRule[] {
  const rules: MappingRule[] = [];
  RULE_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (RULE_RE.lastIndex < text.length && (m = RULE_RE.exec(text)) !== null) {
    if (m[1] === 'DEFAULT') rules.push('DEFAULT');
    // Java's $1 group references are JavaScript's too.
    else rules.push({ pattern: new RegExp(m[2]!), replacement: m[3]!, caseChange: m[4] as '' | 'L' | 'U' });
    if (m[0] === '') break;
  }
  return rules;
}
