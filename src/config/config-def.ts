/**
 * The machinery shared by the broker table (`broker-config.ts`) and the topic table (`topic-config.ts`):
 * Kafka's config types, their parsing and normalisation (Kafka's `ConfigDef.parseType` and
 * `convertToString`), and validators with Kafka's wording (`Range.atLeast`, `ValidString.in`, `ValidList.in`).
 *
 * Values stay strings everywhere outside this file: a config is stored, compared and described as the
 * normalised string Kafka would show (`TRUE` → `true`, ` 007` → `7`, `delete , compact` → `delete,compact`).
 *
 * Kafka longs: parsed exactly (BigInt) and range-checked against int64, then handed to the code as a JS
 * `number` clamped to ±Number.MAX_SAFE_INTEGER. Every long Floe reads is a duration, a size or a count for
 * which 2^53 means "unlimited" just as Long.MAX_VALUE does in Kafka (e.g. the default of
 * `log.message.timestamp.before.max.ms`). The normalised string keeps the exact value, so DescribeConfigs
 * still reports `9223372036854775807`.
 */

/** Kafka's ConfigDef.Type names, as DescribeConfigs v3+ reports them. */
export type ConfigType = 'BOOLEAN' | 'STRING' | 'INT' | 'SHORT' | 'LONG' | 'DOUBLE' | 'LIST' | 'CLASS' | 'PASSWORD';

/** DescribeConfigsResponse `configType` codes (KIP-569). */
export const CONFIG_TYPE_CODES: Readonly<Record<ConfigType, number>> = {
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
};

export type ConfigSource =
  | 'DYNAMIC_TOPIC_CONFIG'
  | 'DYNAMIC_BROKER_CONFIG'
  | 'DYNAMIC_DEFAULT_BROKER_CONFIG'
  | 'STATIC_BROKER_CONFIG'
  | 'DEFAULT_CONFIG'
  | 'GROUP_CONFIG';

/** One config as DescribeConfigs describes it (a topic's, a broker's or a group's). */
export interface DescribedConfig {
  name: string;
  value: string | null;
  source: ConfigSource;
  readOnly: boolean;
  isSensitive: boolean;
  type: ConfigType;
  documentation: string | null;
  /** Where the value could come from, most specific first (DescribeConfigs includeSynonyms). */
  synonyms?: { name: string; value: string | null; source: ConfigSource }[];
}

/** DescribeConfigsResponse `configSource` codes (v1+). */
export const CONFIG_SOURCE_CODES: Readonly<Record<ConfigSource, number>> = {
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  GROUP_CONFIG: 8,
};

/** A parsed value: INT/SHORT/LONG/DOUBLE → number, BOOLEAN → boolean, LIST → string[], others → string. */
export type ConfigValue = number | boolean | string | string[];

/** Checks a parsed value; returns null when valid, else Kafka's reason ("Value must be at least -1"). */
export interface Validator {
  check(value: ConfigValue): string | null;
  /** Human description of the accepted values, for docs and error messages ("[-1,...]"). */
  describe: string;
}

/** A bad value: the message is Kafka's "Invalid value V for configuration K: reason". */
export class ConfigValueError extends Error {
  constructor(
    readonly key: string,
    readonly value: string,
    readonly reason: string,
  ) {
    super(`Invalid value ${value} for configuration ${key}: ${reason}`);
    this.name = 'ConfigValueError';
  }
}

const INT_RE = /^[+-]?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

function parseInteger(key: string, raw: string, bits: 16 | 32 | 64, typeName: ConfigType): { n: number; text: string } {
  if (!INT_RE.test(raw)) throw new ConfigValueError(key, raw, `Not a number of type ${typeName}`);
  const big = BigInt(raw);
  const lim = bits === 64 ? [INT64_MIN, INT64_MAX] : bits === 32 ? [-(2n ** 31n), 2n ** 31n - 1n] : [-(2n ** 15n), 2n ** 15n - 1n];
  if (big < lim[0]! || big > lim[1]!) throw new ConfigValueError(key, raw, `Not a number of type ${typeName}`);
  const clamped = big > SAFE_MAX ? SAFE_MAX : big < -SAFE_MAX ? -SAFE_MAX : big;
  return { n: Number(clamped), text: big.toString() };
}

/** Kafka's list parsing: split on commas with surrounding whitespace; an empty string is an empty list. */
export function splitList(raw: string): string[] {
  const t = raw.trim();
  return t === '' ? [] : t.split(/\s*,\s*/);
}

/**
 * Parses `raw` as `type` (after trimming, like Kafka) and returns the value and its normalised string.
 * Throws ConfigValueError with Kafka's wording when the text is not of the type.
 */
export function parseConfigValue(key: string, type: ConfigType, raw: string): { value: ConfigValue; normalized: string } {
  const t = raw.trim();
  switch (type) {
    case 'BOOLEAN': {
      const l = t.toLowerCase();
      if (l === 'true') return { value: true, normalized: 'true' };
      if (l === 'false') return { value: false, normalized: 'false' };
      throw new ConfigValueError(key, raw, 'Expected value to be either true or false');
    }
    case 'INT': {
      const { n, text } = parseInteger(key, t, 32, type);
      return { value: n, normalized: text };
    }
    case 'SHORT': {
      const { n, text } = parseInteger(key, t, 16, type);
      return { value: n, normalized: text };
    }
    case 'LONG': {
      const { n, text } = parseInteger(key, t, 64, type);
      return { value: n, normalized: text };
    }
    case 'DOUBLE': {
      // Java's Double.parseDouble accepts more (hex floats, "NaN"); decimal and exponent forms are what configs use.
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) throw new ConfigValueError(key, raw, 'Not a number of type DOUBLE');
      const n = Number(t);
      return { value: n, normalized: Number.isInteger(n) ? n.toFixed(1) : String(n) };
    }
    case 'LIST': {
      const list = splitList(t);
      return { value: list, normalized: list.join(',') };
    }
    case 'STRING':
    case 'CLASS':
    case 'PASSWORD':
      return { value: t, normalized: t };
  }
}

/** Parses and validates; throws ConfigValueError. */
export function parseAndValidate(
  key: string,
  type: ConfigType,
  raw: string,
  validator: Validator | undefined,
): { value: ConfigValue; normalized: string } {
  const parsed = parseConfigValue(key, type, raw);
  if (validator) {
    const reason = validator.check(parsed.value);
    if (reason !== null) throw new ConfigValueError(key, raw.trim(), reason);
  }
  return parsed;
}

// ---- validators (Kafka's wording) ----

/** Kafka's Range.atLeast / Range.between. Works on the clamped number, exact for every bound used here. */
export function range(min: number | null, max: number | null = null): Validator {
  return {
    describe: min !== null && max !== null ? `[${min},...,${max}]` : min !== null ? `[${min},...]` : `[...,${max}]`,
    check(v) {
      const n = v as number;
      if (min !== null && n < min) return `Value must be at least ${min}`;
      if (max !== null && n > max) return `Value must be no more than ${max}`;
      return null;
    },
  };
}

/** Kafka's ValidString.in (case-sensitive). */
export function oneOf(...values: string[]): Validator {
  return {
    describe: `[${values.join(', ')}]`,
    check(v) {
      return values.includes(v as string) ? null : `String must be one of: ${values.join(', ')}`;
    },
  };
}

/** Kafka's ValidList.in: every element is one of `values`; no duplicates; empty allowed when `allowEmpty`. */
export function listOf(values: string[], allowEmpty: boolean): Validator {
  return {
    describe: `[${values.join(', ')}]`,
    check(v) {
      const list = v as string[];
      if (!allowEmpty && list.length === 0) return 'Configuration must not be empty';
      for (const item of list) if (!values.includes(item)) return `String must be one of: ${values.join(', ')}`;
      if (new Set(list).size !== list.length) return 'Configuration must not contain duplicate values';
      return null;
    },
  };
}

/** A free-form validator. */
export function custom(describe: string, check: (v: ConfigValue) => string | null): Validator {
  return { describe, check };
}

/** Kafka's Long.MAX_VALUE, as text (the normalised form of the long defaults that mean "unlimited"). */
export const LONG_MAX = '9223372036854775807';
