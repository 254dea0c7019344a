/**
 * How Floe's own tools reach a secured listener: the security protocol, SASL credentials and TLS trust, read
 * from Kafka's client properties (the `--command-config FILE` of Kafka's tools), with Kafka's key names:
 *
 *   security.protocol=SASL_SSL                     PLAINTEXT (default), SSL, SASL_PLAINTEXT, SASL_SSL
 *   sasl.mechanism=SCRAM-SHA-512                   PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (Kafka's default GSSAPI is not supported)
 *   sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="…";
 *   sasl.username=alice / sasl.password=…          librdkafka's names, accepted too
 *   ssl.truststore.type=PEM, ssl.truststore.location=ca.pem | ssl.truststore.certificates=-----BEGIN…  (ssl.ca.location too)
 *   ssl.keystore.type=PEM, ssl.keystore.location=client.pem (key + chain) | ssl.keystore.key + ssl.keystore.certificate.chain
 *   ssl.key.password=…                             passphrase of an encrypted key
 *   ssl.endpoint.identification.algorithm=         empty: no host name check (default https: checked)
 *
 * Other keys (client.id, request.timeout.ms, …) are accepted and ignored, as a Kafka tool passes them on.
 * Bad or missing values throw ClientSecurityError with the key's name.
 */
import { readFileSync } from 'node:fs';
import { parseProperties } from '../config/properties.ts';
import { JaasSyntaxError, parseJaas, type JaasLogin } from '../config/jaas.ts';

export type ClientSecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export type ClientSaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface ClientTls {
  /** Trusted CA certificates (PEM); undefined: Node's default CAs. */
  ca?: string;
  /** A client certificate chain and key (PEM), for listeners with ssl.client.auth. */
  cert?: string;
  key?: string;
  passphrase?: string;
  /** Whether the server certificate must name the host connected to (ssl.endpoint.identification.algorithm=https). */
  checkHostname: boolean;
  /**
   * Trust exactly this certificate (DER) instead of a CA: the console connecting to its own broker's
   * listener knows that broker's certificate.
   */
  pinnedCertificate?: Buffer;
}

export interface ClientSasl {
  mechanism: ClientSaslMechanism;
  username: string;
  password: string;
}

export interface ClientSecurity {
  protocol: ClientSecurityProtocol;
  tls: ClientTls | null;
  sasl: ClientSasl | null;
}

export const PLAINTEXT_SECURITY: ClientSecurity = { protocol: 'PLAINTEXT', tls: null, sasl: null };

export class ClientSecurityError extends Error {
  override name = 'ClientSecurityError';
}

/** Reads a `--command-config` file (java.util.Properties format). */
export function loadClientSecurity(file: string): ClientSecurity {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ClientSecurityError(`cannot read --command-config ${file}: ${(err as Error).message}`);
  }
  const props = new Map<string, string>();
  for (const e of parseProperties(text)) props.set(e.key, e.value.trim());
  return clientSecurity(props);
}

/** Client security from Kafka client properties. */
export function clientSecurity(props: ReadonlyMap<string, string>): ClientSecurity {
  const get = (k: string): string | undefined => {
    const v = props.get(k);
    return v === undefined || v === '' ? undefined : v;
  };
  const protocol = (get('security.protocol') ?? 'PLAINTEXT').toUpperCase();
  if (!['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].includes(protocol)) {
    throw new ClientSecurityError(`security.protocol=${protocol}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL`);
  }
  const out: ClientSecurity = { protocol: protocol as ClientSecurityProtocol, tls: null, sasl: null };
  if (protocol === 'SSL' || protocol === 'SASL_SSL') out.tls = tlsFrom(get, props.has('ssl.endpoint.identification.algorithm') ? props.get('ssl.endpoint.identification.algorithm')! : 'https');
  if (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL') out.sasl = saslFrom(get);
  return out;
}

function readPemFile(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ClientSecurityError(`${key}=${file}: ${(err as Error).message}`);
  }
}

function tlsFrom(get: (k: string) => string | undefined, endpointIdentification: string): ClientTls {
  for (const k of ['ssl.truststore.type', 'ssl.keystore.type']) {
    const t = get(k);
    if (t !== undefined && t.toUpperCase() !== 'PEM') throw new ClientSecurityError(`${k}=${t} is not supported: Floe's tools read PEM only (convert the store with openssl and set ${k}=PEM)`);
  }
  const tls: ClientTls = { checkHostname: endpointIdentification.trim().toLowerCase() === 'https' };
  const trustFile = get('ssl.truststore.location') ?? get('ssl.ca.location');
  if (trustFile !== undefined) tls.ca = readPemFile(trustFile, get('ssl.truststore.location') ? 'ssl.truststore.location' : 'ssl.ca.location');
  else if (get('ssl.truststore.certificates') !== undefined) tls.ca = get('ssl.truststore.certificates')!;
  if (tls.ca !== undefined && !tls.ca.includes('-----BEGIN CERTIFICATE-----')) throw new ClientSecurityError('the trust store holds no PEM certificate');
  const keystore = get('ssl.keystore.location');
  if (keystore !== undefined) {
    const pem = readPemFile(keystore, 'ssl.keystore.location');
    const key = pem.match(/-----BEGIN (?:[A-Z ]+ )?PRIVATE KEY-----[\s\S]+?-----END (?:[A-Z ]+ )?PRIVATE KEY-----/);
    const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (!key || !certs) throw new ClientSecurityError(`ssl.keystore.location=${keystore} must hold a PEM private key and its certificate chain`);
    tls.key = key[0];
    tls.cert = certs.join('\n');
  } else if (get('ssl.keystore.key') !== undefined || get('ssl.keystore.certificate.chain') !== undefined) {
    if (get('ssl.keystore.key') === undefined || get('ssl.keystore.certificate.chain') === undefined) throw new ClientSecurityError('set both ssl.keystore.key and ssl.keystore.certificate.chain');
    tls.key = get('ssl.keystore.key')!;
    tls.cert = get('ssl.keystore.certificate.chain')!;
  }
  const passphrase = get('ssl.key.password');
  if (passphrase !== undefined) tls.passphrase = passphrase;
  return tls;
}

function saslFrom(get: (k: string) => string | undefined): ClientSasl {
  const mechanism = (get('sasl.mechanism') ?? get('sasl.mechanisms') ?? 'GSSAPI').toUpperCase();
  if (mechanism !== 'PLAIN' && mechanism !== 'SCRAM-SHA-256' && mechanism !== 'SCRAM-SHA-512') {
    throw new ClientSecurityError(`sasl.mechanism=${mechanism}${get('sasl.mechanism') === undefined ? ' (the default)' : ''} is not supported: set PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`);
  }
  let username = get('sasl.username');
  let password = get('sasl.password');
  const jaas = get('sasl.jaas.config');
  if (jaas !== undefined) {
    const parsed = parseJaasLogin(jaas);
    const expected = mechanism === 'PLAIN' ? 'PlainLoginModule' : 'ScramLoginModule';
    if (!parsed.module.endsWith(expected)) throw new ClientSecurityError(`sasl.jaas.config: sasl.mechanism=${mechanism} needs ${expected === 'PlainLoginModule' ? 'org.apache.kafka.common.security.plain.PlainLoginModule' : 'org.apache.kafka.common.security.scram.ScramLoginModule'}, not ${parsed.module}`);
    username = parsed.options.get('username') ?? username;
    password = parsed.options.get('password') ?? password;
  }
  if (username === undefined || password === undefined) throw new ClientSecurityError(`SASL needs a user and password: set sasl.jaas.config (username="…" password="…") or sasl.username and sasl.password`);
  return { mechanism, username, password };
}

/** `<LoginModule> required key="value" key=value …;` → the module and its options. */
export function parseJaasLogin(text: string): JaasLogin {
  try {
    return parseJaas(text);
  } catch (err) {
    if (err instanceof JaasSyntaxError) throw new ClientSecurityError(`sasl.jaas.config: ${err.message}`);
    throw err;
  }
}
