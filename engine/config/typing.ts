/**
 * Types of columns and of the values compared with them, at load: a `$input`
 * that an operator compares with a column (OperatorDefinition.compares) takes
 * that column's type in the request schema, and a literal that can never equal
 * the column's values is a load error rather than an empty result per request.
 */
import type { Column, ColumnType, JsonSchema, ValueSite } from '../api.js';
import { isNumeric } from '../api.js';
import type { Table } from '../dataset.js';
import { pathToPointer, pointerToPath, type RefSite } from './refs.js';
import { alwaysAfter, INSTANT_PATTERN, looksLikeTime, parseInstant, parseTimeBound, TIME_GRAMMAR } from '../time.js';

export function columnType(col: Column): ColumnType {
  if (col instanceof Int32Array) return 'integer';
  return isNumeric(col) ? 'number' : 'string';
}

/** A column as a site sees it: its type, and its values when they are at hand (datasets). */
export interface TypedColumn {
  readonly type: ColumnType;
  readonly values?: Column;
  /** For messages: "column 'price' of dataset 'catalog'". */
  readonly label: string;
}

export function datasetColumn(ds: Table | undefined, column: string): TypedColumn | undefined {
  if (!ds || !ds.has(column)) return undefined;
  const values = ds.column(column);
  return { type: ds.holdsInstants(column) ? 'timestamp' : columnType(values), values, label: `column '${column}' of dataset '${ds.name}'` };
}

/** Keywords of a parameter's schema that constrain the value (a default is not one: the input stays required). */
const CONSTRAINTS = ['type', 'enum', 'const', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'pattern', 'format', 'items', 'minItems', 'maxItems', 'uniqueItems'];

/** The request schema of an input used where `sub` (the parameter's schema) governs the value. */
export function inputSchemaFromParameter(sub: JsonSchema | undefined): JsonSchema {
  const out: Record<string, unknown> = {};
  for (const k of CONSTRAINTS) if (sub && sub[k] !== undefined) out[k] = sub[k];
  if (out['type'] === undefined && out['enum'] === undefined && out['const'] === undefined) out['type'] = ['string', 'number', 'integer', 'boolean'];
  return out;
}

function typesOf(sub: JsonSchema | undefined): string[] {
  const t = sub?.['type'];
  return Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : [];
}

/**
 * The request schema of an instant input (`type: timestamp`, or one compared with a timestamp
 * column): ISO 8601 text (the pattern; the calendar is checked with the inputs, engine/inputs.ts)
 * or epoch milliseconds.
 */
export const INSTANT_INPUT: JsonSchema = { type: ['string', 'integer'], pattern: INSTANT_PATTERN, description: 'an instant: an ISO 8601 date or date-time (2024-10-01, 2024-10-01T12:30:00Z) or epoch milliseconds' };

/** Whether an input's request schema is an instant's (a query value of digits then reads as epoch ms). */
export function isInstantSchema(s: JsonSchema | undefined): boolean {
  return s?.['pattern'] === INSTANT_PATTERN;
}

/** The request schema of an input compared with a column of type `type`; `list`: a list of such values is accepted too. */
export function inputSchemaFromColumn(type: ColumnType, list: boolean): JsonSchema {
  if (type === 'timestamp') return INSTANT_INPUT;
  return list ? { type: [type, 'array'], items: { type } } : { type };
}

/**
 * An input as `inputs:` declares it, over the schema its uses gave (`used`, undefined when no step
 * reads it): `type: timestamp` (or `date`) is the instant schema, and is refused (`refuse`) where a use
 * takes another type (`min: $since` on a price column would compare epoch ms with prices).
 */
export function declaredInput(name: string, spec: Readonly<Record<string, unknown>>, used: JsonSchema | undefined, refuse: (message: string) => void): JsonSchema {
  if (spec['type'] !== 'timestamp' && spec['type'] !== 'date') {
    // A declared type without `array` takes no list: the list keywords a use gave (`where: {anchor:
    // $id}` takes `an integer or a list of integers`) no longer apply, and left in they made two
    // pipelines that declare `{type: integer}` alike look different (an experiment's arms).
    const declared = typesOf(spec);
    if (used === undefined || declared.length === 0 || declared.includes('array')) return { ...used, ...spec };
    const { items: _i, minItems: _n, maxItems: _x, uniqueItems: _u, ...scalar } = used as Record<string, unknown>;
    return { ...scalar, ...spec };
  }
  const { type: _type, ...rest } = spec;
  if (used !== undefined && !isInstantSchema(used)) {
    const words: Record<string, string> = { integer: 'an integer', number: 'a number', string: 'text', boolean: 'a boolean' };
    const takes = [...new Set(typesOf(used).flatMap((t) => words[t] ?? []))].join(' or ') || 'another type';
    refuse(`input '${name}' is declared ${String(spec['type'])}, but a step takes it as ${takes}, not a time: only a bound on a timestamp column takes an instant`);
  }
  return { ...INSTANT_INPUT, ...rest };
}

/** Where a reference sits relative to a site: the site's value itself, or one element of its list. */
function placeOf(site: ValueSite, ref: RefSite): 'value' | 'element' | undefined {
  const p = pathToPointer(ref.path);
  if (p === site.path) return 'value';
  if (p.startsWith(`${site.path}/`) && /^\d+$/.test(p.slice(site.path.length + 1))) return 'element';
  return undefined;
}

function valueAtPointer(root: unknown, pointer: string): unknown {
  let v = root;
  for (const seg of pointer.split('/').slice(1)) {
    const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

const isNumericText = (s: string): boolean => s.trim() !== '' && Number.isFinite(Number(s));

/** The first non-null value of a text column that is not a number, or undefined when every value is one. */
function firstNonNumeric(col: Column | undefined): string | undefined {
  if (!col || isNumeric(col)) return undefined;
  const values = col.kind === 'dict' ? col.dictionary : col.values;
  for (const v of values) if (v !== null && v !== undefined && !isNumericText(v)) return v;
  return undefined;
}

const TYPE_WORD: Record<ColumnType, string> = { integer: 'integers', number: 'numbers', string: 'text', timestamp: 'timestamps' };

/** An item id written as a number past ±(2^53 − 1): YAML and JSON have already rounded it. */
function unsafeIdLiteral(literal: unknown): string | undefined {
  if (typeof literal !== 'number' || Math.abs(literal) <= Number.MAX_SAFE_INTEGER) return undefined;
  return `item id ${JSON.stringify(literal)} is past ±9007199254740991, where a number stops counting by one: the id written was read as this neighbour; ids that large must be text ("9007199254740993") in a text key`;
}

/**
 * A text value of `col` that reads as the number `literal` but is not spelt as it ("007" for 7,
 * "1e3" for 1000), when no value is spelt as it: the literal was meant as that text, unquoted.
 */
function unquotedNumber(literal: number, col: Column | undefined): string | undefined {
  if (!col || isNumeric(col)) return undefined;
  const values = col.kind === 'dict' ? col.dictionary : col.values;
  const exact = String(literal);
  let near: string | undefined;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (v === exact) return undefined;
    if (near === undefined && isNumericText(v) && Number(v) === literal) near = v;
  }
  return near;
}

/** Why `literal` can never match a column of this type at this site, or undefined. */
function literalProblem(literal: unknown, col: TypedColumn, as: NonNullable<ValueSite['as']>): string | undefined {
  if (literal === undefined) return undefined;
  // YAML reads `null`, `~` and an empty value as null, which no cell ever equals (a null cell matches nothing).
  if (literal === null) return `the value is null (YAML reads null, ~ and an empty value as null), and no row of ${col.label} ever equals null; if you meant the text, quote it: "null"`;
  const shown = JSON.stringify(literal);
  const numericCol = col.type !== 'string';
  if (as === 'id') {
    const unsafe = unsafeIdLiteral(literal);
    if (unsafe) return unsafe;
    if (numericCol && typeof literal !== 'number') return `item id ${shown} is ${typeof literal === 'string' ? 'text' : `a ${typeof literal}`}, but the item ids (${col.label}) are ${TYPE_WORD[col.type]}: it can never match one`;
    if (col.type === 'integer' && typeof literal === 'number' && !Number.isInteger(literal)) return `item id ${shown} is not an integer, but the item ids (${col.label}) are integers`;
    if (!numericCol && typeof literal !== 'string') return `item id ${shown} is a ${typeof literal}, but the item ids (${col.label}) are text: write it as a string`;
    return undefined;
  }
  if (numericCol && typeof literal === 'string' && !isNumericText(literal)) return `${shown} is text, but ${col.label} holds ${TYPE_WORD[col.type]}: no row can equal it`;
  if (!numericCol && typeof literal === 'number') {
    const quoted = unquotedNumber(literal, col.values);
    if (quoted !== undefined) return `${shown} is a number (YAML reads an unquoted ${quoted} as ${shown}), but ${col.label} holds text such as ${JSON.stringify(quoted)}, which it can never equal: quote it, "${quoted}"`;
  }
  if (!numericCol && typeof literal === 'boolean') return `${shown} is a boolean, but ${col.label} holds text: no row can equal it`;
  if (typeof literal === 'object') return `${shown} is not a single value, and ${col.label} holds ${TYPE_WORD[col.type]}`;
  return undefined;
}

export interface SiteOutcome {
  /** Request schemas for inputs referenced at column-typed sites. */
  readonly inputs: { readonly name: string; readonly schema: JsonSchema }[];
  /** Literals (or columns) that can never match: pointer relative to the parameters, and a sentence. */
  readonly problems: { readonly path: string; readonly message: string }[];
  /** Time bounds compared with a timestamp column: references resolved per request (refs.ts `time`). */
  readonly times: RefSite[];
}

/**
 * Checks the literal values of a step's compared parameters against their columns and types the
 * inputs referenced there. `resolve` gives the column a site names (undefined: not typed, skip).
 */
export function typeSites(
  params: unknown,
  sites: readonly ValueSite[],
  refs: readonly RefSite[],
  paramSchema: (path: readonly (string | number)[]) => JsonSchema | undefined,
  resolve: (site: ValueSite) => TypedColumn | undefined,
  contextColumn?: (context: string, column: string) => TypedColumn | undefined,
): SiteOutcome {
  const inputs: { name: string; schema: JsonSchema }[] = [];
  const problems: { path: string; message: string }[] = [];
  const times: RefSite[] = [];
  const said = new Set<string>();
  for (const site of sites) {
    const as = site.as ?? 'equals';
    if (as === 'number') {
      // A reference read as a number (a ModelScore feature `$client.c0`): a context row's time is no number either.
      const ref = refs.find((r) => placeOf(site, r) === 'value');
      const ctx = ref?.ref.kind === 'context' ? contextColumn?.(ref.ref.context, ref.ref.column) : undefined;
      if (ref && ctx?.type === 'timestamp') problems.push({ path: site.path, message: `${ref.text} is read as a number, but ${ctx.label} holds timestamps: a time is not a model feature (to give a model an age, put it in the data as a number, e.g. days since)` });
      if (ref) continue;
    }
    const col = resolve(site);
    if (!col) {
      // No column to take a type from (no items dataset): an item id is still a number or a string.
      if (as !== 'id') continue;
      // `items: $ids` takes a list of them, as it does where a column gives the type.
      for (const r of refs) {
        if (r.ref.kind !== 'input' || placeOf(site, r) === undefined) continue;
        const list = placeOf(site, r) === 'value' && typesOf(paramSchema(r.path)).includes('array');
        const id: JsonSchema = { type: ['number', 'string'] };
        inputs.push({ name: r.ref.name, schema: list ? { type: 'array', items: id } : id });
      }
      const value = valueAtPointer(params, site.path);
      const literals: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [`${site.path}/${i}`, v]) : [[site.path, value]];
      for (const [path, v] of literals) {
        const message = unsafeIdLiteral(v);
        if (message) problems.push({ path, message });
      }
      continue;
    }
    if (as === 'range') {
      const p = rangeBound(params, site, col, refs, inputs, times, contextColumn);
      if (p !== undefined) { problems.push({ path: site.path, message: p }); continue; }
      if (col.type !== 'string') continue;
    }
    if (col.type === 'timestamp' && (as === 'equals' || as === 'id')) {
      problems.push({ path: site.path, message: `${col.label} holds timestamps, which are compared by a window, never by equality: write {min: ..., max: ...} with ${TIME_GRAMMAR}` });
      continue;
    }
    if (col.type === 'timestamp' && as === 'number') {
      problems.push({ path: site.path, message: `reads numbers, but ${col.label} holds timestamps: a time is neither a score nor a model feature (to rank newest first, Sort by ${site.column} with desc: true; to give a model an age, put it in the data as a number, e.g. days since)` });
      continue;
    }
    if (as === 'range' || as === 'number') {
      const bad = col.type === 'string' ? firstNonNumeric(col.values) ?? (col.values ? undefined : '') : undefined;
      if (bad !== undefined) {
        const example = bad ? ` (e.g. ${JSON.stringify(bad)})` : '';
        const message = as === 'range'
          ? `compares numbers, but ${col.label} holds text${example}: no row can pass`
          : `reads numbers, but ${col.label} holds text${example}: its values are not numbers, so every row would get a null score`;
        if (!said.has(message)) problems.push({ path: site.path, message });
        said.add(message);
      }
      continue;
    }
    const here = refs.filter((r) => placeOf(site, r) !== undefined);
    for (const r of here) {
      if (r.ref.kind !== 'input') continue;
      const list = placeOf(site, r) === 'value' && typesOf(paramSchema(r.path)).includes('array');
      inputs.push({ name: r.ref.name, schema: inputSchemaFromColumn(col.type, list) });
    }
    const refPointers = new Set(here.map((r) => pathToPointer(r.path)));
    const value = valueAtPointer(params, site.path);
    const literals: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [`${site.path}/${i}`, v]) : [[site.path, value]];
    for (const [path, v] of literals) {
      if (refPointers.has(path)) continue;
      const message = literalProblem(v, col, as);
      if (message) problems.push({ path, message });
    }
  }
  return { inputs, problems: [...problems, ...windowOrderProblems(times)], times };
}

/**
 * A window whose `min` comes after its `max` at every now (`min: now-7d, max: now-30d`, or two
 * instants the wrong way round) selects nothing, ever: a load error naming both bounds.
 */
function windowOrderProblems(times: readonly RefSite[]): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  for (const min of times) {
    if (min.path[min.path.length - 1] !== 'min' || min.ref.kind !== 'time') continue;
    const parent = JSON.stringify(min.path.slice(0, -1));
    const max = times.find((t) => t.path[t.path.length - 1] === 'max' && JSON.stringify(t.path.slice(0, -1)) === parent);
    if (max?.ref.kind !== 'time' || !alwaysAfter(min.ref.bound, max.ref.bound)) continue;
    const at = min.path.length > 1 ? ` of ${min.path.slice(0, -1).join('.')}` : '';
    const when = min.ref.bound.kind === 'relative' ? ' at every now' : '';
    out.push({ path: pathToPointer(min.path), message: `min${at} (${min.text}) comes after max (${max.text})${when}: the window is empty and no row can ever pass; swap them` });
  }
  return out;
}

/**
 * A `range` site: a time bound on a timestamp column becomes a `time` reference (resolved per
 * request), a number bound there or a time bound on a number column is a problem (returned), and an
 * input there takes the column's type (ISO text on a timestamp column, a number on a number one).
 */
function rangeBound(params: unknown, site: ValueSite, col: TypedColumn, refs: readonly RefSite[], inputs: { name: string; schema: JsonSchema }[], times: RefSite[], contextColumn?: (context: string, column: string) => TypedColumn | undefined): string | undefined {
  const ref = refs.find((r) => placeOf(site, r) === 'value');
  if (ref) {
    if (ref.ref.kind === 'input' && col.type !== 'string') inputs.push({ name: ref.ref.name, schema: col.type === 'timestamp' ? INSTANT_INPUT : { type: 'number' } });
    // Its value (ISO text, epoch ms) is shown as an instant in reasons, debug and why (execute.ts shownParams).
    if (col.type === 'timestamp') Object.assign(ref, { instant: true });
    const ctx = ref.ref.kind === 'context' ? contextColumn?.(ref.ref.context, ref.ref.column) : undefined;
    return ctx && ref.ref.kind === 'context' ? contextBoundProblem(ref.text, ref.ref.column, ctx, col) : undefined;
  }
  const v = valueAtPointer(params, site.path);
  if (col.type === 'timestamp') {
    const bound = typeof v === 'string' ? parseTimeBound(v) : undefined;
    if (bound) { times.push({ path: pointerToPath(site.path), ref: { kind: 'time', bound }, text: v as string }); return undefined; }
    return `${JSON.stringify(v)} is not a time, but ${col.label} holds timestamps: write ${TIME_GRAMMAR}`;
  }
  if (typeof v === 'string') {
    return looksLikeTime(v)
      ? `${JSON.stringify(v)} is a time bound, but ${col.label} holds ${TYPE_WORD[col.type]}, not timestamps (declare it in the dataset: columns: {${site.column}: timestamp})`
      : col.type === 'string' ? undefined : `${JSON.stringify(v)} is neither a number nor a time: ${col.label} holds ${TYPE_WORD[col.type]}`;
  }
  return undefined;
}

/**
 * A context row's value as a bound (`min: $client.signup_at`): a time on a timestamp column, a number
 * on a number one. Else every request would compare epoch ms with prices, or fail on a row's text.
 */
function contextBoundProblem(text: string, column: string, ctx: TypedColumn, col: TypedColumn): string | undefined {
  if (col.type === 'timestamp') {
    if (ctx.type === 'timestamp') return undefined;
    if (ctx.type === 'string') {
      const values = ctx.values === undefined || isNumeric(ctx.values) ? [] : ctx.values.kind === 'dict' ? ctx.values.dictionary : ctx.values.values;
      const bad = values.find((v): v is string => typeof v === 'string' && typeof parseInstant(v) !== 'number');
      if (bad === undefined) return undefined;
      return `${text} is a bound on ${col.label}, which holds timestamps, but ${ctx.label} holds text that is not a time (${JSON.stringify(bad.slice(0, 40))}): declare it in its dataset (columns: {${column}: timestamp}) so a bad cell is found when it loads`;
    }
    return `${text} is a bound on ${col.label}, which holds timestamps, but ${ctx.label} holds ${TYPE_WORD[ctx.type]}: declare it in its dataset (columns: {${column}: timestamp}) if it holds times`;
  }
  if (ctx.type === 'timestamp') return `${text} is a time (${ctx.label} holds timestamps), but ${col.label} holds ${TYPE_WORD[col.type]}, not timestamps: a time cannot bound it`;
  return undefined;
}
