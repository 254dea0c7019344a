/**
 * `floe config`: every broker key with its effective value, where it came from, its type, default, accepted
 * values and documentation, then every topic key with its broker synonyms. With --config/--override it
 * shows what `floe start` with the same options would use (warnings go to stderr).
 */
import {
  BROKER_CONFIG_KEYS,
  envVarName,
  loadBrokerConfig,
  redactUrlPassword,
  type LoadedBrokerConfig,
} from '../../config/broker-config.ts';
import { TOPIC_CONFIG_KEYS } from '../../config/topic-config.ts';
import type { CommandOptions } from '../command-options.ts';

export function runConfig(opts: CommandOptions): number {
  const loaded = loadBrokerConfig({ file: opts.file, overrides: opts.overrides, env: process.env });
  for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(renderConfigListing(loaded));
  return 0;
}

function wrap(text: string, indent: string, width = 100): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line !== '' && indent.length + line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line === '' ? w : `${line} ${w}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

/** The text `floe config` prints. */
export function renderConfigListing(loaded: LoadedBrokerConfig): string {
  const out: string[] = ['# Broker configuration (floe start; server.properties, FLOE_<KEY>, --override key=value)', ''];
  let group = '';
  for (const def of BROKER_CONFIG_KEYS) {
    if (def.group !== group) {
      group = def.group;
      out.push(`## ${group}`, '');
    }
    const r = loaded.raw.get(def.key);
    const value = r ? (def.type === 'PASSWORD' ? '(hidden)' : redactUrlPassword(r.value)) : '(unset)';
    const source = r ? r.source : 'default';
    out.push(`${def.key} = ${value}   [${source}]`);
    const facts: string[] = [def.type, `default: ${def.default ?? '(unset)'}`];
    if (def.validate) facts.push(`valid: ${def.validate.describe}`);
    facts.push(`env: ${envVarName(def.key)}`);
    out.push(`    ${facts.join(' | ')}`);
    out.push(wrap(def.doc, '    '), '');
  }
  out.push('# Topic configuration (CreateTopics, AlterConfigs, IncrementalAlterConfigs)', '');
  for (const def of TOPIC_CONFIG_KEYS) {
    out.push(def.key);
    const facts: string[] = [def.type];
    if (def.synonyms.length > 0) facts.push(`broker default: ${def.synonyms.map((s) => s.key).join(' > ')}`);
    else facts.push(`default: ${def.default === '' ? '(empty)' : def.default}`);
    if (def.validate) facts.push(`valid: ${def.validate.describe}`);
    out.push(`    ${facts.join(' | ')}`);
    out.push(wrap(def.doc, '    '), '');
  }
  return out.join('\n');
}
