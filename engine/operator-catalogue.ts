/**
 * The operator catalogue: what a config may name in a step, read from a loaded snapshot. Every
 * installed operator (built-in, or from an `operator_paths` folder) with its parameters as its JSON
 * Schema declares them, and every preset (`operators:`) of the loaded configs. Served as
 * GET /operators and printed by `airmail operators`, so nobody has to read the source to learn them.
 */
import { relative } from 'node:path';
import type { JsonSchema, OperatorDefinition } from './api.js';
import type { Snapshot } from './config/load.js';
import { closest } from './config/validators.js';
import { AirmailError, clip } from './errors.js';
import { redactParams } from './redact.js';

export interface ParameterInfo {
  readonly name: string;
  /** The JSON Schema type(s), `a | b` for several; `any` when the schema does not say. */
  readonly type: string;
  readonly required: boolean;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly description?: string;
}

export interface OperatorInfo {
  readonly name: string;
  readonly kind: OperatorDefinition['kind'];
  readonly summary: string;
  /** `built-in`, or the file that defines it, relative to the configs directory. */
  readonly source: string;
  readonly parameters: readonly ParameterInfo[];
  /**
   * Alternatives the schema requires at least one of (its top-level `anyOf`/`oneOf` of `required`
   * lists): Sort's `[["by"], ["score"]]`; absent when there are none.
   */
  readonly required_one_of?: readonly (readonly string[])[];
  /** Whether a parameter outside `parameters` is refused. */
  readonly additional_parameters: boolean;
  /** The presets that use it. */
  readonly presets: readonly string[];
}

export interface PresetInfo {
  readonly name: string;
  /** The operator it runs. */
  readonly use: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly description?: string;
  /** Its config file, relative to the configs directory (absent for one sent over HTTP). */
  readonly file?: string;
}

export interface OperatorCatalogue {
  readonly operators: readonly OperatorInfo[];
  readonly presets: readonly PresetInfo[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A schema's type in a word or a few: its `type`, else what its `enum`, `const` or alternatives say. */
function typeOf(s: unknown): string {
  if (!isObject(s)) return 'any';
  const t = s['type'];
  if (t === 'array' && isObject(s['items'])) {
    const item = typeOf(s['items']);
    return item === 'any' ? 'array' : item.includes(' ') ? `(${item})[]` : `${item}[]`;
  }
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return t.map(String).join(' | ');
  const alts = s['oneOf'] ?? s['anyOf'];
  if (Array.isArray(alts)) return [...new Set(alts.map(typeOf))].join(' | ');
  const values = Array.isArray(s['enum']) ? s['enum'] : 'const' in s ? [s['const']] : undefined;
  if (values) return [...new Set(values.map((v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)))].join(' | ');
  return 'any';
}

export function parametersOf(schema: JsonSchema): ParameterInfo[] {
  if (!isObject(schema)) return [];
  const props = isObject(schema['properties']) ? schema['properties'] : {};
  const required = new Set(Array.isArray(schema['required']) ? schema['required'].map(String) : []);
  return Object.entries(props).map(([name, s]) => {
    const p = isObject(s) ? s : {};
    return {
      name,
      type: typeOf(p),
      required: required.has(name),
      ...('default' in p ? { default: p['default'] } : {}),
      ...(Array.isArray(p['enum']) ? { enum: p['enum'] } : {}),
      ...(typeof p['description'] === 'string' ? { description: p['description'] } : {}),
    };
  });
}

/** The `required` lists of a schema's top-level `anyOf` or `oneOf`, when every branch is one. */
function alternativesOf(schema: JsonSchema): string[][] | undefined {
  const alts = schema['anyOf'] ?? schema['oneOf'];
  if (!Array.isArray(alts) || alts.length === 0) return undefined;
  const lists = alts.map((a) => (isObject(a) && Array.isArray(a['required']) ? a['required'].map(String) : undefined));
  return lists.every((l): l is string[] => l !== undefined && l.length > 0) ? lists : undefined;
}

type CatalogueSource = Pick<Snapshot, 'operators' | 'presets' | 'operatorFiles'>;

/** The catalogue of a snapshot; files are shown relative to `configsDir`. */
export function operatorCatalogue(snap: CatalogueSource, configsDir: string): OperatorCatalogue {
  const rel = (file: string): string => relative(configsDir, file) || file;
  const presets: PresetInfo[] = [...snap.presets].sort(([a], [b]) => a.localeCompare(b)).map(([name, p]) => ({
    name,
    use: p.use,
    // As explain, debug and reasons show them: a URL's user info and query string, and header values, hidden.
    parameters: redactParams(p.parameters ?? {}) as Record<string, unknown>,
    ...(p.description !== undefined ? { description: p.description } : {}),
    ...(p.file !== undefined ? { file: rel(p.file) } : {}),
  }));
  const operators: OperatorInfo[] = [...snap.operators.values()].sort((a, b) => a.name.localeCompare(b.name)).map((d) => {
    const file = snap.operatorFiles?.get(d.name);
    const schema = d.parameters as unknown;
    const oneOf = isObject(schema) ? alternativesOf(schema) : undefined;
    return {
      name: d.name,
      kind: d.kind,
      summary: d.summary,
      source: file === undefined ? 'built-in' : rel(file),
      parameters: parametersOf(d.parameters),
      ...(oneOf ? { required_one_of: oneOf } : {}),
      additional_parameters: !(isObject(schema) && schema['additionalProperties'] === false),
      presets: presets.filter((p) => p.use === d.name).map((p) => p.name),
    };
  });
  return { operators, presets };
}

/** One operator, or one preset with the operator it uses; OPERATOR_NOT_FOUND (with the nearest name) otherwise. */
export function catalogueEntry(cat: OperatorCatalogue, name: string): { operator: OperatorInfo } | { preset: PresetInfo; operator: OperatorInfo | null } {
  const op = cat.operators.find((o) => o.name === name);
  if (op) return { operator: op };
  const preset = cat.presets.find((p) => p.name === name);
  if (preset) return { preset, operator: cat.operators.find((o) => o.name === preset.use) ?? null };
  const names = [...cat.operators.map((o) => o.name), ...cat.presets.map((p) => p.name)];
  const near = closest(name, names);
  throw new AirmailError('OPERATOR_NOT_FOUND', `no operator or preset named '${clip(name, 60)}' is installed${near ? ` (did you mean '${near}'?)` : ''}; GET /operators or \`airmail operators\` lists them`);
}
