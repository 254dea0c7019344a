/**
 * Runs one admin command (`floe topics|groups|configs|acls|users|objects …`) and maps its failures to exit codes:
 * usage errors print the problem and exit 2; Kafka error codes (by Kafka's name), connection failures and
 * refused actions print `Error: …` and exit 1. Separate from floe.ts so tests can run commands in-process.
 */
import { KafkaError } from '../../client/admin-client.ts';
import { ConnectionError } from '../../client/kafka-connection.ts';
import { ConfigError } from '../../config/broker-config.ts';
import { ClientSecurityError } from '../../client/client-security.ts';
import { runAcls } from '../commands/acls.ts';
import { runConfigs } from '../commands/configs.ts';
import { runGroups } from '../commands/groups.ts';
import { runObjects } from '../commands/objects.ts';
import { runTopics } from '../commands/topics.ts';
import { runUsers } from '../commands/users.ts';
import { AdminUsageError } from './admin-args.ts';
import { CommandFailure } from './output.ts';

export const ADMIN_COMMANDS = ['topics', 'groups', 'configs', 'acls', 'users', 'objects'] as const;
export type AdminCommand = (typeof ADMIN_COMMANDS)[number];

export function isAdminCommand(command: string | undefined): command is AdminCommand {
  return (ADMIN_COMMANDS as readonly string[]).includes(command ?? '');
}

/**
 * `confirm` answers kafka-acls.sh's "Are you sure …? (y/n)" (default: a line read from stdin).
 */
export async function runAdminCommand(command: AdminCommand, args: string[], out: (s: string) => void, err: (s: string) => void, confirm?: (question: string) => Promise<boolean>): Promise<number> {
  try {
    switch (command) {
      case 'topics': return await runTopics(args, out);
      case 'groups': return await runGroups(args, out);
      case 'configs': return await runConfigs(args, out);
      case 'acls': return await runAcls(args, out, confirm);
      case 'users': return await runUsers(args, out);
      default: return await runObjects(args, out);
    }
  } catch (e) {
    if (e instanceof AdminUsageError) {
      err(`floe ${command}: ${e.message}\nRun 'floe ${command} --help' for usage.\n`);
      return 2;
    }
    if (e instanceof ConfigError || e instanceof ClientSecurityError) {
      err(`floe ${command}: invalid configuration: ${e.message}\n`);
      return 2;
    }
    if (e instanceof KafkaError || e instanceof ConnectionError || e instanceof CommandFailure) {
      err(`floe ${command}: Error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
