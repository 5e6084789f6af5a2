/**
 * Request inputs before the pipeline's schema sees them. A query string holds
 * only text, so each value is read as the type its input's schema names, by
 * the JSON grammar (`6` is an integer; ` `, `0x2` and `2e0` are not), and
 * nothing else: what does not parse stays text and the schema rejects it with
 * its pointer. A name given twice is refused unless the input takes a list.
 */
import type { JsonSchema } from './api.js';
import type { Problem } from './config/validators.js';
import { isInstantSchema } from './config/typing.js';
import { formatInstant, INSTANT_PATTERN, parseInstant } from './time.js';

const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

function typesOf(schema: JsonSchema | undefined): string[] {
  const t = schema?.['type'];
  return Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : [];
}

/** `text` as the first of `types` it parses as; text itself when it parses as none (or a string is allowed). */
function scalar(text: string, types: readonly string[], instant = false): unknown {
  // An instant takes ISO text or epoch ms: `?since=1727740800000` is the number.
  if (instant && INTEGER.test(text)) return Number(text);
  if (types.length === 0 || types.includes('string')) return text;
  // An integer past 2^53 is read too, rounded as JSON.parse reads a body's: unrepresentableInputs refuses both alike.
  if (types.includes('integer') && INTEGER.test(text)) return Number(text);
  if (types.includes('number') && NUMBER.test(text) && Number.isFinite(Number(text))) return Number(text);
  if (types.includes('boolean') && (text === 'true' || text === 'false')) return text === 'true';
  if (types.includes('null') && text === 'null') return null;
  return text;
}

const INSTANT = new RegExp(INSTANT_PATTERN);
const SCALARS = ['string', 'integer', 'number', 'boolean', 'null'];

/** Query values (one or more per name) → inputs typed by `schema`'s properties, and the names given more than once. */
export function coerceQueryInputs(schema: JsonSchema, raw: Readonly<Record<string, string | readonly string[]>>, where: 'query' | 'cli' = 'query'): { inputs: Record<string, unknown>; problems: Problem[] } {
  const props = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  const inputs: Record<string, unknown> = {};
  const problems: Problem[] = [];
  for (const [name, given] of Object.entries(raw)) {
    const values = typeof given === 'string' ? [given] : given;
    const prop = Object.hasOwn(props, name) ? props[name] : undefined;
    const types = typesOf(prop);
    const list = types.includes('array');
    const itemTypes = typesOf(prop?.['items'] as JsonSchema | undefined);
    if (values.length > 1 && !list) {
      // The first value stands in, so that the schema does not also call the input missing.
      problems.push({ path: `/${name}`, message: `'${name}' is given ${values.length} times ${where === 'cli' ? 'by --input' : 'in the query'}; it takes one value` });
    }
    const v = list && (values.length > 1 || !types.some((t) => SCALARS.includes(t))) ? values.map((x) => scalar(x, itemTypes)) : scalar(values[0] ?? '', types, isInstantSchema(prop));
    // Defined, not assigned: a query name `__proto__` stays a key (an unknown input the schema refuses), not a prototype set and dropped.
    Object.defineProperty(inputs, name, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return { inputs, problems };
}

const SAFE_RANGE = `from -${Number.MAX_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER}`;

/**
 * Numbers the inputs cannot hold, which no schema type check catches: a body's `1e400` parses as
 * Infinity, and an integer input's `12345678901234567890123` as 1.2345678901234568e22, an integer
 * by JSON Schema's rule that names a different id (2^53 and past it, not every whole number is a
 * double). An input (or a list input's element) typed integer, not number, must be a safe integer.
 */
export function unrepresentableInputs(schema: JsonSchema, inputs: unknown): Problem[] {
  const out: Problem[] = [];
  const props = schema['properties'] as Record<string, JsonSchema> | undefined;
  const wholeOnly = (s: JsonSchema | undefined): boolean => {
    const t = typesOf(s);
    return t.includes('integer') && !t.includes('number');
  };
  const walk = (v: unknown, path: string, name: string, item: boolean): void => {
    if (typeof v === 'number') {
      // Cheap first: a safe integer or a fraction (the schema judges those) needs no schema lookup.
      if (Number.isSafeInteger(v) || (Number.isFinite(v) && !Number.isInteger(v))) return;
      const prop = props && Object.hasOwn(props, name) ? props[name] : undefined;
      if (wholeOnly(item ? (prop?.['items'] as JsonSchema | undefined) : prop)) out.push({ path, message: `'${name}' must be a whole number ${SAFE_RANGE} (a larger one is rounded to another number)` });
      else if (!Number.isFinite(v)) out.push({ path, message: `'${name}' must be a finite number` });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}/${i}`, name, true));
  };
  if (inputs && typeof inputs === 'object') for (const [k, v] of Object.entries(inputs)) walk(v, `/${k}`, k, false);
  return out;
}

/**
 * An input the pipeline does not take is told which ones it does: "'n' is not a known property"
 * alone left a user guessing the names (a misspelling already gets "did you mean").
 */
export function withInputNames(schema: JsonSchema, problems: Problem[]): Problem[] {
  const names = Object.keys((schema['properties'] as Record<string, unknown> | undefined) ?? {});
  const takes = names.length > 0 ? `the pipeline's inputs are ${names.map((n) => `'${n}'`).join(', ')}` : 'the pipeline takes no inputs';
  return problems.map((p) => (/^\/[^/]*$/.test(p.path) && p.message.endsWith('is not a known property') ? { path: p.path, message: `${p.message}: ${takes}` } : p));
}

/**
 * A body's `null` for an input that has a default is the input left out: clients that write every
 * field of a form or a typed object send `"n": null` for one they did not set, and a 422 for it
 * said nothing the user meant. An input whose schema takes `null` keeps it; one without a default
 * is still refused (null is no value of its type). Mutates and returns `inputs`, a copy.
 */
export function nullsAsDefaults(schema: JsonSchema, inputs: Record<string, unknown>): Record<string, unknown> {
  const props = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  for (const [name, v] of Object.entries(inputs)) {
    if (v !== null || !Object.hasOwn(props, name)) continue;
    const prop = props[name]!;
    if (Object.hasOwn(prop, 'default') && !typesOf(prop).includes('null')) delete inputs[name];
  }
  return inputs;
}

/** The instant inputs of each compiled input schema, found once (a request checks only those). */
const instantInputs = new WeakMap<JsonSchema, readonly string[]>();
function instantNames(schema: JsonSchema): readonly string[] {
  let names = instantInputs.get(schema);
  if (!names) {
    const props = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
    names = Object.keys(props).filter((n) => isInstantSchema(props[n]));
    instantInputs.set(schema, names);
  }
  return names;
}

/**
 * Instant inputs (`type: timestamp`, or compared with a timestamp column) that the schema's pattern
 * lets through but that name no instant: a day past the month's end (`2024-02-30`), and a number
 * below 1e11 (as milliseconds, a time before March 1973): epoch seconds (`1727740800`, the same rule
 * as a dataset's JSON numbers) or a date written as digits (`20240920`), never meant as 1970.
 */
export function instantInputProblems(schema: JsonSchema, inputs: unknown): Problem[] {
  const names = instantNames(schema);
  if (names.length === 0 || !inputs || typeof inputs !== 'object') return [];
  const out: Problem[] = [];
  for (const name of names) {
    if (!Object.hasOwn(inputs, name)) continue;
    const v: unknown = (inputs as Record<string, unknown>)[name];
    if (typeof v === 'string' && INSTANT.test(v)) {
      const ms = parseInstant(v);
      if (typeof ms === 'string') out.push({ path: `/${name}`, message: `'${name}' must be an instant, and ${JSON.stringify(v.slice(0, 40))} ${ms}` });
    } else if (typeof v === 'number' && Math.abs(v) > 1e8 && Math.abs(v) < 1e11) {
      out.push({ path: `/${name}`, message: `'${name}' is epoch milliseconds, but ${v} looks like epoch seconds (${formatInstant(v)} as ms, ${formatInstant(v * 1000)} as seconds): multiply by 1000 or send ISO text` });
    } else if (typeof v === 'number' && Math.abs(v) < 1e11) {
      out.push({ path: `/${name}`, message: `'${name}' is epoch milliseconds, but ${v} is ${formatInstant(v)}, too early to be meant: send ISO text (2024-10-01, 2024-10-01T12:30:00Z) or epoch milliseconds (1727740800000)` });
    }
  }
  return out;
}
