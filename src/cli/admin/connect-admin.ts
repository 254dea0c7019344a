/**
 * Connects an admin command to `--bootstrap-server`, over TLS and SASL when `--command-config FILE` (Kafka's
 * client properties: security.protocol, sasl.mechanism, sasl.jaas.config, ssl.truststore.location, …) says so.
 */
import { AdminClient } from '../../client/admin-client.ts';
import { loadClientSecurity } from '../../client/client-security.ts';
import { required, str, type Flags } from './admin-args.ts';

export async function connectAdmin(flags: Flags, command: string): Promise<AdminClient> {
  const bootstrap = required(flags, 'bootstrap-server', command);
  const file = str(flags, 'command-config');
  return AdminClient.connect(bootstrap, file === undefined ? {} : { security: loadClientSecurity(file) });
}
