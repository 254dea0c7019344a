/**
 * Starts the web console (src/console/) when `console.listener` is set: it reads the cluster through this
 * broker's own Kafka listeners, objects from the coordinator, counters from this broker's metrics.
 *
 * Without security configured the console connects to the first listener as any client would. With an
 * authorizer or a SASL listener, it asks for a login and works as the logged-in principal: each session logs
 * in with SASL on one of this broker's SASL listeners (console-sessions.ts), and what it reads outside the
 * Kafka protocol is checked with this broker's authorizer.
 */
import { X509Certificate } from 'node:crypto';
import { AdminClient } from '../client/admin-client.ts';
import type { ClientTls } from '../client/client-security.ts';
import { consoleConfig } from '../config/console-config.ts';
import type { BrokerConfig } from '../config/broker-config.ts';
import type { TlsSettings } from '../config/security-config.ts';
import { ConsoleApi, type MetricsSource, type ObjectInventory } from '../console/console-api.ts';
import { startConsoleServer, type ConsoleServer } from '../console/console-server.ts';
import { ConsoleSessions, type LoginListener } from '../console/console-sessions.ts';
import type { Authorizer } from '../security/authorizer.ts';
import { secureContextOptions } from '../security/tls.ts';

export interface ConsoleWiring {
  /** The bound port of every listener, by name. */
  ports: Readonly<Record<string, number>>;
  objects: ObjectInventory;
  credentials: { describeScramCredentials(users: readonly string[] | null): Promise<{ user: string; mechanism: number; iterations: number }[]> };
  metrics: MetricsSource;
  authorizer: Authorizer;
}

/** host:port to reach a listener from this process (loopback when it binds every interface). */
function loopback(host: string, port: number): string {
  const h = host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}

/** TLS to this broker's own SASL_SSL listener: its own certificate pinned (and presented, when it asks for one). */
function ownTls(tls: TlsSettings): ClientTls {
  const opts = secureContextOptions(tls);
  const chain = String(opts.cert);
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(chain)![0];
  return {
    checkHostname: false,
    pinnedCertificate: new X509Certificate(leaf).raw,
    ...(tls.clientAuth !== 'none' ? { cert: chain, key: String(opts.key), ...(opts.passphrase ? { passphrase: opts.passphrase } : {}) } : {}),
  };
}

export async function startConsole(config: BrokerConfig, wiring: ConsoleWiring): Promise<ConsoleServer | null> {
  const c = consoleConfig(config);
  if (c.listener === '') return null;
  const security = config.security;
  const saslListeners = config.listeners.filter((l) => (security?.listeners[l.name]?.saslMechanisms.length ?? 0) > 0);
  if (!security?.authorizerEnabled && saslListeners.length === 0) {
    // A PLAINTEXT listener if there is one, else an SSL one (the broker's own certificate pinned).
    const target = config.listeners.find((l) => l.securityProtocol === 'PLAINTEXT') ?? config.listeners[0]!;
    const bootstrap = loopback(target.host, wiring.ports[target.name]!);
    const tls = target.securityProtocol === 'SSL' ? security?.listeners[target.name]?.tls ?? null : null;
    const connect = () => AdminClient.connect(bootstrap, { timeoutMs: 15_000, ...(tls ? { security: { protocol: 'SSL' as const, tls: ownTls(tls), sasl: null } } : {}) });
    return startConsoleServer(c.listener, { open: new ConsoleApi(connect, wiring.objects, wiring.metrics, c) });
  }
  // SASL_PLAINTEXT first: over loopback it needs no TLS.
  const ordered = [...saslListeners].sort((a, b) => Number(a.securityProtocol === 'SASL_SSL') - Number(b.securityProtocol === 'SASL_SSL'));
  const listeners: LoginListener[] = ordered.map((l) => {
    const s = security!.listeners[l.name]!;
    return {
      name: l.name,
      protocol: l.securityProtocol as 'SASL_PLAINTEXT' | 'SASL_SSL',
      bootstrap: loopback(l.host, wiring.ports[l.name]!),
      mechanisms: s.saslMechanisms,
      plainUsers: s.plainUsers,
      tls: () => (s.tls ? ownTls(s.tls) : null),
    };
  });
  const sessions = new ConsoleSessions<ConsoleApi>(
    listeners,
    async (user) => (await wiring.credentials.describeScramCredentials([user])).map((r) => r.mechanism),
    (bootstrap, clientSecurity) => AdminClient.connect(bootstrap, { timeoutMs: 15_000, security: clientSecurity }),
    (admin, principal) => new ConsoleApi(admin, wiring.objects, wiring.metrics, c, {
      principal,
      // The browser's address is not the Kafka connection's (loopback): host-restricted ACLs see 127.0.0.1 there too.
      authorize: (type, name, op) => wiring.authorizer.authorize({ principal, host: '127.0.0.1' }, type, name, op),
    }),
  );
  return startConsoleServer(c.listener, { sessions });
}
