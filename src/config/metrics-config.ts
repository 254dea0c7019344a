/**
 * Broker keys that secure the Prometheus endpoint (`metrics.listener`): TLS with the same PEM keys as the
 * Kafka listeners (`metrics.ssl.*`, read by security/tls.ts, files reloaded when they change) and HTTP basic
 * authentication (`metrics.basic.auth.users`). The rows are spread into BROKER_CONFIG_KEYS (broker-config.ts)
 * after metrics.listener; `metricsSecurity()` reads them typed from a BrokerConfig and throws
 * MetricsConfigError for a combination that cannot be served (https without a key, users on plain http
 * are allowed but warned about by the caller).
 */
import { oneOf } from './config-def.ts';
import type { BrokerConfigKey } from './broker-config-key.ts';
import type { TlsSettings } from './security-config.ts';

export const METRICS_CONFIG_KEYS: readonly BrokerConfigKey[] = [
  { group: 'Listeners and network', key: 'metrics.ssl.keystore.location', type: 'STRING', default: null,
    doc: 'With metrics.listener=https://…: a PEM file holding the private key and certificate chain of the metrics endpoint (read again when it changes, like ssl.keystore.location).' },
  { group: 'Listeners and network', key: 'metrics.ssl.keystore.key', type: 'PASSWORD', default: null,
    doc: 'The metrics endpoint\'s private key as PEM text (instead of metrics.ssl.keystore.location).' },
  { group: 'Listeners and network', key: 'metrics.ssl.keystore.certificate.chain', type: 'PASSWORD', default: null,
    doc: 'The metrics endpoint\'s certificate chain as PEM text (with metrics.ssl.keystore.key).' },
  { group: 'Listeners and network', key: 'metrics.ssl.key.password', type: 'PASSWORD', default: null,
    doc: 'Pass phrase of an encrypted private key of the metrics endpoint.' },
  { group: 'Listeners and network', key: 'metrics.ssl.truststore.location', type: 'STRING', default: null,
    doc: 'A PEM file of the CA certificates that scrapers\' client certificates are checked against (metrics.ssl.client.auth).' },
  { group: 'Listeners and network', key: 'metrics.ssl.client.auth', type: 'STRING', default: 'none', validate: oneOf('none', 'requested', 'required'),
    doc: 'Client certificates on the https metrics endpoint: required refuses scrapers without a certificate signed by metrics.ssl.truststore.location.' },
  { group: 'Listeners and network', key: 'metrics.basic.auth.users', type: 'PASSWORD', default: null,
    doc: 'When set, /metrics asks for HTTP basic authentication with one of these users, given as comma-separated user:password pairs (a password cannot contain a comma). Use it with https, so passwords do not cross the network in clear.' },
];

export class MetricsConfigError extends Error {
  override name = 'MetricsConfigError';
}

export interface MetricsSecurity {
  /** For https listeners. */
  tls: TlsSettings | null;
  /** user → password; empty: no authentication. */
  basicAuthUsers: Map<string, string>;
}

export function metricsSecurity(listener: string, config: { values?: Readonly<Record<string, string | null>> }): MetricsSecurity {
  const get = (key: string): string | null => {
    const v = config.values?.[key];
    return v === undefined ? (METRICS_CONFIG_KEYS.find((k) => k.key === key)?.default ?? null) : v;
  };
  const basicAuthUsers = new Map<string, string>();
  const users = get('metrics.basic.auth.users');
  for (const entry of (users ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1) throw new MetricsConfigError(`metrics.basic.auth.users: expected user:password pairs separated by commas, got an entry without user or password`);
    basicAuthUsers.set(entry.slice(0, colon), entry.slice(colon + 1));
  }
  const https = listener.startsWith('https:');
  if (!https) return { tls: null, basicAuthUsers };
  const tls: TlsSettings = {
    keystoreLocation: get('metrics.ssl.keystore.location'),
    keystoreKey: get('metrics.ssl.keystore.key'),
    keystoreCertificateChain: get('metrics.ssl.keystore.certificate.chain'),
    keyPassword: get('metrics.ssl.key.password'),
    truststoreLocation: get('metrics.ssl.truststore.location'),
    truststoreCertificates: null,
    clientAuth: (get('metrics.ssl.client.auth') ?? 'none') as TlsSettings['clientAuth'],
    enabledProtocols: ['TLSv1.2', 'TLSv1.3'],
    cipherSuites: null,
    principalMappingRules: 'DEFAULT',
  };
  if (tls.keystoreLocation === null && (tls.keystoreKey === null || tls.keystoreCertificateChain === null)) {
    throw new MetricsConfigError(`metrics.listener ${listener} is https but has no key: set metrics.ssl.keystore.location (a PEM file with the key and the certificate chain) or metrics.ssl.keystore.key and metrics.ssl.keystore.certificate.chain`);
  }
  if (tls.clientAuth !== 'none' && tls.truststoreLocation === null) {
    throw new MetricsConfigError(`metrics.ssl.client.auth=${tls.clientAuth} needs metrics.ssl.truststore.location`);
  }
  return { tls, basicAuthUsers };
}
