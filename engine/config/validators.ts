/**
 * ajv, configured once: operator parameter schemas are compiled on first use
 * and cached per definition; every error of a document is reported.
 */
import { INSTANT_PATTERN, TIME_BOUND_PATTERN } from '../time.js';
import { basename } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsMod from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import type { JsonSchema, OperatorDefinition } from '../api.js';
import { clip } from '../errors.js';

const addFormats = addFormatsMod.default;

export interface Problem {
  /** JSON pointer inside the validated value. */
  readonly path: string;
  readonly message: string;
}

export function newAjv(opts: { coerceTypes?: boolean; useDefaults?: boolean } = {}): Ajv {
  // verbose: errors carry the offending value and the failing schema, which the messages quote.
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, useDefaults: opts.useDefaults ?? true, coerceTypes: opts.coerceTypes ?? false });
  addFormats(ajv);
  return ajv;
}

const TYPE_WORDS: Record<string, string> = { string: 'a string', number: 'a number', integer: 'an integer', boolean: 'true or false', object: 'a mapping', array: 'a list', null: 'null' };

function typeWords(types: readonly string[]): string {
  const words = [...new Set(types.map((t) => TYPE_WORDS[t] ?? t))];
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

function typesOfSchema(schema: unknown): string[] {
  const t = schema && typeof schema === 'object' ? (schema as Record<string, unknown>)['type'] : undefined;
  return Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : [];
}

/** The property a `{required: [x]}` branch asks for, when that is all the branch says. */
function requiredOnly(schema: unknown): string | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  const keys = Object.keys(schema);
  const req = (schema as Record<string, unknown>)['required'];
  return keys.length === 1 && Array.isArray(req) && req.length === 1 ? String(req[0]) : undefined;
}

/** Patterns of the config schema, said in words (a raw regex tells a user little). */
const PATTERN_WORDS: Readonly<Record<string, string>> = {
  '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$': 'must be a name of letters, digits, _ . and - that starts with a letter or _ (at most 128 characters)',
  '^rediss?://': 'must be a redis:// or rediss:// URL',
  '^https?://': 'must be an http:// or https:// URL',
  '^(rediss?://|\\{env:)': 'must be a redis:// or rediss:// URL, or start with {env:NAME}',
  '^(https?://|\\{env:)': 'must be an http:// or https:// URL, or start with {env:NAME}',
  [TIME_BOUND_PATTERN]: "must be a number, or a time ('2024-10-01', '2024-10-01T12:30:00Z', 'now-30d', 'now-1w/d'; units s, m, h, d, w)",
  [INSTANT_PATTERN]: 'must be an ISO 8601 date or date-time (2024-10-01, 2024-10-01T12:30:00Z, 2024-10-01T12:30:00+02:00) or epoch milliseconds',
};

/** How a value is named in a message: the last pointer segment, with its parent for a list index (`'includes[0]'`). */
function nameOf(path: string): string {
  if (path === '') return 'the value';
  const segs = path.split('/').slice(1);
  const last = segs[segs.length - 1]!;
  return /^\d+$/.test(last) && segs.length > 1 ? `'${clip(segs[segs.length - 2]!)}[${last}]'` : `'${clip(last)}'`;
}

/** The properties an object schema names: what a misspelt key may have meant. */
function knownProperties(e: ErrorObject): string[] {
  const props = (e.parentSchema as { properties?: unknown } | undefined)?.properties;
  return props && typeof props === 'object' ? Object.keys(props) : [];
}

function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * A oneOf / anyOf failure, said once: the errors of the branches whose type the value does not have
 * are noise ("'0' must be string" for a step written as a mapping). Returns the branch errors to drop
 * and, when no single branch explains the failure, one sentence that replaces them.
 */
function combinator(c: ErrorObject, all: readonly ErrorObject[]): { drop: ErrorObject[]; replace?: Problem } {
  const inside = all.filter((e) => e !== c && e.schemaPath.startsWith(`${c.schemaPath}/`) && e.instancePath.startsWith(c.instancePath));
  const branches = Array.isArray(c.schema) ? (c.schema as unknown[]) : [];
  const name = nameOf(c.instancePath);
  const passing = (c.params as { passingSchemas?: number[] | null }).passingSchemas;
  const reqs = branches.map(requiredOnly);
  const list = (xs: readonly (string | undefined)[], and: 'and' | 'or'): string => {
    const q = xs.map((x) => `'${x}'`);
    return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} ${and} ${q[q.length - 1]}`;
  };
  if (Array.isArray(passing) && passing.length > 1) {
    const both = passing.map((i) => reqs[i]);
    const message = both.every((x) => x !== undefined)
      ? `${list(both, 'and')} are ${both.length === 2 ? 'both' : 'all'} given; give only one of them`
      : `${name} matches ${passing.length} of the allowed forms; it must match exactly one`;
    return { drop: inside, replace: { path: c.instancePath, message } };
  }
  if (branches.length > 0 && reqs.every((x) => x !== undefined)) {
    return { drop: inside, replace: { path: c.instancePath, message: `give one of ${list(reqs, 'or')}` } };
  }
  const branchOf = (e: ErrorObject): number => Number(e.schemaPath.slice(c.schemaPath.length + 1).split('/')[0]);
  const typeMiss = new Set(inside.filter((e) => e.keyword === 'type' && e.instancePath === c.instancePath).map(branchOf));
  const fitting = branches.map((_, i) => i).filter((i) => !typeMiss.has(i));
  if (fitting.length === 0) {
    const types = branches.flatMap(typesOfSchema);
    return { drop: inside, replace: { path: c.instancePath, message: `${name} must be ${types.length ? typeWords(types) : 'one of the allowed forms'}, not ${shown(c.data)}` } };
  }
  // The branches the value could be meant as explain it; the others' errors and the generic one go.
  return { drop: [c, ...inside.filter((e) => !fitting.includes(branchOf(e)))] };
}

/** The candidate nearest to a misspelt name (edit distance, case-insensitive), when one is near enough. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  // Near enough: a few edits, and at least half of the longer name kept ('x' does not suggest 'n').
  const limit = Math.max(2, Math.floor(name.length / 3));
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const cl = c.toLowerCase();
    // Names come from requests too (a 15,000-character /pipelines/{name}): one too long or too short
    // to be within the limit is not compared at all, and a comparison stops once past the limit.
    if (Math.abs(cl.length - lower.length) > limit) continue;
    const d = editDistance(lower, cl, limit);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= limit && bestD * 2 <= Math.max(name.length, best.length) ? best : undefined;
}

/**
 * Edits between two names, a swap of two neighbours counting as one ('prot' is one from 'port', two
 * from 'root'). Past `max` it returns as soon as no later row can come back under it (a row's least
 * is at least the smaller of the row before's and the one before that plus one), with a value over `max`.
 */
function editDistance(a: string, b: string, max = Infinity): number {
  const n = b.length;
  let before = new Int32Array(n + 1);
  let prev = Int32Array.from({ length: n + 1 }, (_, j) => j);
  let row = new Int32Array(n + 1);
  let prevLeast = 0;
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    let least = i;
    for (let j = 1; j <= n; j++) {
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row[j] = d;
      if (d < least) least = d;
    }
    if (least > max && prevLeast + 1 > max) return least;
    prevLeast = least;
    [before, prev, row] = [prev, row, before];
  }
  return prev[n]!;
}

/**
 * Where a value was written: a hint says how to write it there. A config or a YAML body has quotes
 * to drop; a JSON body has JSON's number grammar (no `01`, `0x2`, `+1`); a query string or
 * `airmail run --input` has no quotes at all, only text read by that grammar.
 */
export type ValueSource = 'yaml' | 'json' | 'query' | 'cli';

const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** What the text would be unquoted in YAML (1.2 core, as configs and bodies are read). */
function yamlReads(text: string): unknown {
  try {
    return parseYaml(text, { version: '1.2', schema: 'core' }) as unknown;
  } catch {
    return undefined;
  }
}

/** How to write the shape that was wanted where it was written, when the one given is the usual slip. */
function shapeHint(types: readonly string[], data: unknown, parent: unknown, source: ValueSource): string {
  const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  // The list hints are YAML's ('- ' entries), and only where a list of what was given would pass.
  const itemTypes = typesOfSchema(isMap(parent) ? parent['items'] : undefined);
  const itemFits = (t: string): boolean => itemTypes.length === 0 || itemTypes.includes(t);
  if (source === 'yaml' && types.includes('object') && !types.includes('array') && Array.isArray(data) && data.length > 0 && data.every((v) => isMap(v) && Object.keys(v).length === 1)) {
    return ": write each 'key: value' without the '- ' in front of it";
  }
  if (source === 'yaml' && types.includes('array') && !types.includes('object') && isMap(data) && itemFits('object')) return ": start each entry of a list with '- '";
  // `[5]` for an input or parameter that takes one value: the value, unwrapped, when its type fits.
  if (Array.isArray(data) && data.length === 1 && !types.includes('array')) {
    const v: unknown = data[0];
    const t = typeof v === 'number' ? (Number.isInteger(v) ? ['integer', 'number'] : ['number']) : typeof v === 'string' || typeof v === 'boolean' ? [typeof v] : [];
    if (t.some((x) => types.includes(x))) return `: write ${source === 'yaml' ? String(v) : JSON.stringify(v)} itself, not a list of it`;
  }
  if (typeof data !== 'string' || types.includes('string')) return '';
  if (types.includes('array') && !types.includes('object') && itemFits('string') && /^[\w.-]+$/.test(data)) {
    if (source === 'yaml') return `: write it as a list, [${data}]`;
    if (source === 'json') return `: write it as a list, ${JSON.stringify([data])}`;
  }
  if (types.includes('boolean')) {
    if (source === 'yaml' && /^(yes|no|on|off|y|n)$/i.test(data)) return ': YAML reads it as text; write true or false';
    if (/^(true|false)$/i.test(data)) return source === 'json' && /^(true|false)$/.test(data) ? ': write it without the quotes' : `: write ${data.toLowerCase()}`;
  }
  const n = Number(data);
  const fits = types.includes('number') || (types.includes('integer') && Number.isInteger(n));
  if (!fits || data.trim() === '' || !Number.isFinite(n)) return '';
  if (source === 'yaml' && yamlReads(data) === n) return ': write it without the quotes';
  if (source === 'json' && JSON_NUMBER.test(data)) return ': write it without the quotes';
  return `: write it as ${String(n)}${source === 'json' ? ', a number without quotes' : ''}`;
}

/** ` (did you mean 'x'?)` for the candidate nearest to `name`, or nothing. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const c = closest(name, candidates);
  return c && c !== name ? ` (did you mean '${c}'?)` : '';
}

/**
 * An operator's "no dataset named 'x'" with the nearest dataset the config defines; for a dataset
 * that is defined but failed to load (`failed`: name → its file), that, instead of a wrong guess.
 */
export function withDatasetHint(code: string | undefined, message: string, names: Iterable<string>, failed?: ReadonlyMap<string, string>): string {
  const named = code === 'UNKNOWN_DATASET' && !message.includes('did you mean') ? /'([^']+)'/.exec(message)?.[1] : undefined;
  if (named === undefined) return message;
  const file = failed?.get(named);
  return file !== undefined ? message.replace(`no dataset named '${named}'`, `dataset '${named}'${failedToLoad(file)}`) : `${message}${didYouMean(named, names)}`;
}

/** Said of a dataset that is defined in `file` but did not load (its own problem is reported there). */
export function failedToLoad(file: string): string {
  return ` failed to load (its problem is reported in ${basename(file)})`;
}

/** Why a dataset a context or `items:` names is not there: it failed to load, or no config defines it. */
export function missingDataset(name: string, names: Iterable<string>, failed?: ReadonlyMap<string, string>): string {
  const file = failed?.get(name);
  return file !== undefined ? `, which${failedToLoad(file)}` : `, which no config defines${didYouMean(name, names)}`;
}

/** One sentence per ajv error, pointing at the offending value; `source`: where the value was written (hints say how to write it there). */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined, source: ValueSource = 'yaml'): Problem[] {
  const all = errors ?? [];
  const dropped = new Set<ErrorObject>();
  const replaced: Problem[] = [];
  // Outermost combinators first: an inner one inside a dropped branch says nothing.
  const combinators = all.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const c of combinators) {
    if (dropped.has(c)) continue;
    const r = combinator(c, all);
    for (const e of r.drop) dropped.add(e);
    dropped.add(c);
    if (r.replace) replaced.push(r.replace);
  }
  const out: Problem[] = [];
  const seen = new Set<string>();
  const push = (p: Problem): void => {
    const k = `${p.path}|${p.message}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push(p);
  };
  for (const e of all) {
    if (dropped.has(e)) continue;
    // "must match 'then' schema" only repeats the error the branch itself gave.
    if (e.keyword === 'if') {
      const parent = e.schemaPath.slice(0, -'/if'.length);
      if (all.some((x) => !dropped.has(x) && (x.schemaPath.startsWith(`${parent}/then/`) || x.schemaPath.startsWith(`${parent}/else/`)))) continue;
    }
    let path = e.instancePath;
    let message: string;
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'required':
        path = `${path}/${clip(String(p['missingProperty']))}`;
        message = `'${clip(String(p['missingProperty']))}' is required`;
        break;
      case 'additionalProperties':
        path = `${path}/${clip(String(p['additionalProperty']))}`;
        message = `'${clip(String(p['additionalProperty']))}' is not a known property${didYouMean(String(p['additionalProperty']), knownProperties(e))}`;
        break;
      case 'pattern':
        message = `${e.propertyName !== undefined ? `the key '${clip(e.propertyName)}' in ${nameOf(path)}` : nameOf(path)} ${PATTERN_WORDS[String(p['pattern'])] ?? `must match the pattern ${JSON.stringify(p['pattern'])}`}, not ${shown(e.data)}`;
        break;
      case 'enum':
        message = `${nameOf(path)} must be one of ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'type':
        message = `${nameOf(path)} must be ${typeWords(String(p['type']).split(','))}, not ${shown(e.data)}${shapeHint(String(p['type']).split(','), e.data, e.parentSchema, source)}`;
        break;
      default:
        message = `${nameOf(path)} ${e.message ?? e.keyword}`;
    }
    push({ path, message });
  }
  for (const r of replaced) push(r);
  return out;
}

export class ParamValidator {
  private readonly ajv = newAjv();
  private readonly cache = new WeakMap<OperatorDefinition, ValidateFunction>();

  /**
   * Validates (and fills defaults into) `params`; returns every problem. `partial`: the parameters
   * are a preset's, which a use completes, so a missing top-level parameter is not one.
   */
  check(def: OperatorDefinition, params: unknown, opts: { readonly partial?: boolean } = {}): Problem[] {
    const cache = opts.partial ? this.partial : this.cache;
    let fn = cache.get(def);
    if (!fn) {
      fn = this.ajv.compile((opts.partial ? withoutTopRequired(def.parameters) : def.parameters) as JsonSchema & object);
      cache.set(def, fn);
    }
    return fn(params) ? [] : describeErrors(fn.errors);
  }

  private readonly partial = new WeakMap<OperatorDefinition, ValidateFunction>();
}

/**
 * The schema with nothing required at the top, in it or in its top-level alternatives (a preset's
 * parameters, which each use completes). Alternatives become `anyOf`: without what made them
 * exclusive, several may match.
 */
function withoutTopRequired(schema: JsonSchema): JsonSchema {
  const strip = (x: unknown): unknown => {
    if (!x || typeof x !== 'object' || Array.isArray(x)) return x;
    const { required: _required, ...rest } = x as Record<string, unknown>;
    return rest;
  };
  const out = strip(schema) as Record<string, unknown>;
  const all = Array.isArray(out['allOf']) ? (out['allOf'] as unknown[]).map(strip) : [];
  for (const k of ['oneOf', 'anyOf']) {
    if (Array.isArray(out[k])) all.push({ anyOf: (out[k] as unknown[]).map(strip) });
    delete out[k];
  }
  if (all.length > 0) out['allOf'] = all;
  return out as JsonSchema;
}
