/**
 * Checks on a config document before it compiles, beyond the schema:
 *
 * - every config source refuses names that every JavaScript object already has
 *   (`__proto__`, `constructor`, `toString`, ...): a pipeline, preset, dataset or context
 *   named so would collide with `Object.prototype` wherever a name indexes a plain object;
 * - a *sealed* config (one sent over HTTP: `/execute`, `/validate`, admin `POST /pipelines`)
 *   may not read the server's environment (`{env:NAME}` is expanded only in the configs
 *   directory), and may not point an operator that connects to other services (one that
 *   declares `connects:`, e.g. HttpSource's url, RedisSource's key) at an address of its own:
 *   such an operator is reachable only through a preset defined in the configs directory,
 *   without overriding those parameters.
 *
 * Messages never repeat a value that could hold a secret.
 */
import type { OperatorDefinition } from '../api.js';
import type { ConfigFile, PipelineConfig, PresetConfig, StepConfig } from './schema.js';
import { FIXED_LABELS } from '../observe/labels.js';

export interface DocumentProblem {
  readonly code: 'CONFIG_INVALID';
  readonly pointer: string;
  readonly message: string;
}

/** Names no config may give a pipeline, preset, dataset or context. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

const ENV = /\{env:/;

function esc(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function problem(pointer: string, message: string): DocumentProblem {
  return { code: 'CONFIG_INVALID', pointer, message };
}

/** A mapping of the document (these checks run before the schema's: any section may be of the wrong shape). */
function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A list of the document, or none when it is missing or of the wrong shape (the schema reports that). */
function listOf<T>(v: readonly T[] | undefined): readonly T[] {
  return Array.isArray(v) ? v : [];
}

function pipelinesOf(c: ConfigFile): { cfg: PipelineConfig; ptr: string }[] {
  const out = isMap(c.pipeline) ? [{ cfg: c.pipeline, ptr: '/pipeline' }] : [];
  listOf(c.pipelines).forEach((cfg, i) => {
    if (isMap(cfg)) out.push({ cfg, ptr: `/pipelines/${i}` });
  });
  return out;
}

/**
 * Numbers JSON has no value for, which JSON.parse makes of `1e309`: ajv takes Infinity for an
 * integer, and the workers would get null (every run of `Limit: {n: 1e309}` a 500). A YAML text is
 * checked as it is parsed (config/parse.ts); a JSON body is checked here, at its pointer.
 */
export function nonFiniteProblems(doc: unknown): DocumentProblem[] {
  const out: DocumentProblem[] = [];
  const stack: { v: unknown; ptr: string }[] = [{ v: doc, ptr: '' }];
  while (stack.length > 0 && out.length < 20) {
    const { v, ptr } = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) out.push(problem(ptr, 'is past the largest JSON number (about 1.8e308)'));
    else if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, ptr: `${ptr}/${i}` }));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) stack.push({ v: x, ptr: `${ptr}/${esc(k)}` });
  }
  return out;
}

/** Reserved names (see RESERVED_NAMES), in any config source. */
export function reservedNameProblems(c: ConfigFile): DocumentProblem[] {
  const out: DocumentProblem[] = [];
  const why = 'it is a property every JavaScript object has (Object.prototype); choose another name';
  for (const { cfg, ptr } of pipelinesOf(c)) {
    if (typeof cfg.name === 'string' && RESERVED_NAMES.has(cfg.name)) out.push(problem(`${ptr}/name`, `'${cfg.name}' cannot be a pipeline name: ${why}`));
    // Its metrics, logs and /ui/stats row would merge with the server's own label of that name.
    if (typeof cfg.name === 'string' && FIXED_LABELS.has(cfg.name)) {
      out.push(problem(`${ptr}/name`, `'${cfg.name}' cannot be a pipeline name: the metrics and logs use it as a label of their own (${[...FIXED_LABELS].join(', ')}); choose another name`));
    }
  }
  for (const [section, what] of [['datasets', 'dataset'], ['operators', 'operator preset'], ['contexts', 'context']] as const) {
    const names = c[section];
    if (!isMap(names)) continue;
    for (const name of Object.keys(names)) {
      if (RESERVED_NAMES.has(name)) out.push(problem(`/${section}/${esc(name)}`, `'${name}' cannot be a ${what} name: ${why}`));
    }
  }
  return out;
}

/**
 * What a sealed config may not do (see the file comment). `presets` are every preset the
 * config can name; those from the configs directory carry their `file`.
 */
export function sealedProblems(
  c: ConfigFile,
  operators: ReadonlyMap<string, OperatorDefinition>,
  presets: ReadonlyMap<string, PresetConfig & { readonly file?: string }>,
): DocumentProblem[] {
  const out: DocumentProblem[] = [];
  const walk = (v: unknown, ptr: string): void => {
    if (typeof v === 'string') {
      if (ENV.test(v)) out.push(problem(ptr, "'{env:...}' reads the server's environment, which only configs in the configs directory may do; a config sent over HTTP cannot"));
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${ptr}/${i}`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${ptr}/${esc(k)}`);
  };
  walk(c, '');

  const own: Readonly<Record<string, PresetConfig>> = isMap(c.operators) ? c.operators : {};
  const remote = (def: OperatorDefinition | undefined): def is OperatorDefinition & { connects: readonly string[] } => (def?.connects?.length ?? 0) > 0;
  const onlyPreset = (name: string): string => `${name} connects to other services; a config sent over HTTP can use it only through a preset defined in the configs directory`;
  for (const [name, p] of Object.entries(own)) {
    const def = isMap(p) && typeof p.use === 'string' ? operators.get(p.use) : undefined;
    if (remote(def)) out.push(problem(`/operators/${esc(name)}/use`, `preset '${name}': ${onlyPreset(def.name)}`));
  }
  const step = (raw: StepConfig | string, ptr: string): void => {
    if (typeof raw !== 'string' && !isMap(raw)) return;
    const s: StepConfig = typeof raw === 'string' ? { name: raw } : raw;
    if (typeof s.name !== 'string' || Object.hasOwn(own, s.name)) return; // its own presets are checked above
    const preset = presets.get(s.name);
    const def = operators.get(preset ? preset.use : s.name);
    if (!remote(def)) return;
    const at = typeof raw === 'string' ? ptr : `${ptr}/name`;
    if (!preset || preset.file === undefined) {
      out.push(problem(at, `'${s.name}': ${onlyPreset(def.name)}`));
      return;
    }
    for (const k of Object.keys(isMap(s.parameters) ? s.parameters : {})) {
      if (def.connects.includes(k)) out.push(problem(`${ptr}/parameters/${esc(k)}`, `'${s.name}' (${def.name}): a config sent over HTTP may not set '${k}', which says where it connects; the preset in the configs directory decides that`));
      else if (def.bounds?.includes(k)) out.push(problem(`${ptr}/parameters/${esc(k)}`, `'${s.name}' (${def.name}): a config sent over HTTP may not set '${k}', which bounds how much it reads; the preset in the configs directory decides that`));
    }
  };
  for (const { cfg, ptr } of pipelinesOf(c)) {
    const init = isMap(cfg.initialization) ? cfg.initialization : {};
    for (const key of ['includes', 'excludes', 'scorer', 'scores'] as const) listOf(init[key]).forEach((s, i) => step(s, `${ptr}/initialization/${key}/${i}`));
    listOf(cfg.operations).forEach((s, i) => step(s, `${ptr}/operations/${i}`));
  }
  return out;
}
