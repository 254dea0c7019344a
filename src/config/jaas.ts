/**
 * The JAAS login entry Kafka's `sasl.jaas.config` holds: `<LoginModule class> required key="value" key=value …;`.
 * Read by the broker (its PLAIN users, `user_<name>` options) and by the CLI's client (its username and
 * password). Values are quoted (with `\` escapes) or bare words.
 */

export class JaasSyntaxError extends Error {}

export interface JaasLogin {
  /** The login module's class name, e.g. org.apache.kafka.common.security.plain.PlainLoginModule. */
  module: string;
  options: Map<string, string>;
}

/** Parses one login entry; a JaasSyntaxError says what could not be read (callers prefix the config key). */
export function parseJaas(text: string): JaasLogin {
  const m = /^\s*([\w.$]+)\s+(required|requisite|sufficient|optional)\s+(.*?);?\s*$/s.exec(text);
  if (!m) throw new JaasSyntaxError(`expected '<LoginModule class> required key="value" ...;'`);
  const options = new Map<string, string>();
  const option = /\s*([^\s=]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))/gy;
  const body = m[3]!;
  let at = 0;
  while (at < body.length) {
    option.lastIndex = at;
    const o = option.exec(body);
    if (!o) {
      if (body.slice(at).trim() === '') break;
      throw new JaasSyntaxError(`cannot read the options from '${body.slice(at).trim().slice(0, 40)}'`);
    }
    at = option.lastIndex;
    options.set(o[1]!, o[2] !== undefined ? o[2].replace(/\\(.)/g, '$1') : o[3]!);
  }
  return { module: m[1]!, options };
}
